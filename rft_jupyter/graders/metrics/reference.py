"""The reference definition of every text metric: the plain library calls of the semantics spec.

Tests and benchmarks compare the fast path (:mod:`rft_jupyter.graders.metrics`) against
:func:`reference_score`. Only stateless helper objects are reused between calls (the tokenizer,
the smoothing function, one ``RougeScorer`` per key); the numbers are those of the literal calls.
"""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["reference_score", "reference_tokens"]

_ROUGE_KEYS = {
    "rouge_1": "rouge1",
    "rouge_2": "rouge2",
    "rouge_3": "rouge3",
    "rouge_4": "rouge4",
    "rouge_5": "rouge5",
    "rouge_l": "rougeL",
}


@cache
def _tokenizer() -> Any:
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


@cache
def _smoothing() -> Any:
    from nltk.translate.bleu_score import SmoothingFunction

    return SmoothingFunction().method4


@cache
def _rouge(key: str) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([key], use_stemmer=False)


@cache
def _wordnet_ready() -> None:
    from ..wordnet import ensure_wordnet

    ensure_wordnet()


def reference_tokens(text: str) -> list[str]:
    """``NLTKWordTokenizer().tokenize(text)``: the tokens of bleu, gleu and meteor."""
    return _tokenizer().tokenize(text)


def reference_score(metric: str, input: str, reference: str) -> float:
    """``metric`` between ``input`` (the model's output) and ``reference``, by the library calls."""
    from . import METRICS

    if metric not in METRICS:
        raise ValueError(f"unknown text metric {metric!r}; allowed: {', '.join(METRICS)}")
    if not input or not reference:
        return 0.0
    if metric == "fuzzy_match":
        from rapidfuzz import fuzz, utils

        return fuzz.WRatio(input, reference, processor=utils.default_process) / 100
    if metric in _ROUGE_KEYS:
        key = _ROUGE_KEYS[metric]
        return float(_rouge(key).score(reference, input)[key].fmeasure)
    hyp = reference_tokens(input)
    ref = reference_tokens(reference)
    if metric == "bleu":
        from nltk.translate.bleu_score import sentence_bleu

        return float(sentence_bleu([ref], hyp, smoothing_function=_smoothing()))
    if metric == "gleu":
        from nltk.translate.gleu_score import sentence_gleu

        return float(sentence_gleu([ref], hyp))
    # meteor
    _wordnet_ready()
    from nltk.translate.meteor_score import meteor_score

    return float(meteor_score([ref], hyp))
