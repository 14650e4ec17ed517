"""The default model of local GRPO runs: tiny, random, built here, nothing downloaded.

A byte-level BPE tokenizer is trained on the job's own texts (prompts and item values, 0.03 s)
and a Llama model (hidden 64, 2 layers) is built from a config. It knows nothing, but learns a
simple reward (digits, a keyword, a short fixed answer) within a minute on 2 CPU cores, which is
what demos and tests need. Imports torch / transformers / tokenizers: trainer side only.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from typing import Any

SPECIAL = ["<pad>", "<s>", "</s>"]
BASE_TEXT = string.digits + " " + string.ascii_letters + string.punctuation


def train_tokenizer(texts: Iterable[str], vocab_size: int = 400) -> Any:
    """A ``PreTrainedTokenizerFast`` (byte-level BPE) trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([BASE_TEXT, *texts], trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )


def build_model(tokenizer: Any, max_positions: int = 1024, seed: int = 0,
                hidden_size: int = 64, layers: int = 2) -> Any:
    """A random ``LlamaForCausalLM`` sized for CPU demos."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


__all__ = ["build_model", "train_tokenizer"]
