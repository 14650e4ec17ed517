"""Text metrics under non-default settings (another tokenizer, fuzzy scorer or ROUGE stemming).

The defaults take the fast path of :mod:`rft_jupyter.graders.metrics`; these are the plain
library calls with the setting applied, for users who calibrate against the service and find that
it differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from ..settings import Settings
from .reference import _ROUGE_KEYS, _smoothing, reference_tokens


@cache
def _rouge(key: str, stemmer: bool) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([key], use_stemmer=stemmer)


def configured_score(metric: str, input: str, reference: str, settings: Settings) -> float:
    """``metric`` with ``settings`` applied; empty text scores 0.0 as always."""
    if not input or not reference:
        return 0.0
    if metric == "fuzzy_match":
        from rapidfuzz import fuzz, utils

        scorer = getattr(fuzz, settings.fuzzy_scorer)
        return scorer(input, reference, processor=utils.default_process) / 100
    if metric in _ROUGE_KEYS:
        key = _ROUGE_KEYS[metric]
        return float(_rouge(key, settings.rouge_stemmer).score(reference, input)[key].fmeasure)
    tokens = str.split if settings.tokenizer == "whitespace" else reference_tokens
    hyp, ref = tokens(input), tokens(reference)
    if metric == "bleu":
        from nltk.translate.bleu_score import sentence_bleu

        return float(sentence_bleu([ref], hyp, smoothing_function=_smoothing()))
    if metric == "gleu":
        from nltk.translate.gleu_score import sentence_gleu

        return float(sentence_gleu([ref], hyp))
    from nltk.translate.meteor_score import meteor_score

    return float(meteor_score([ref], hyp))


def configured_batch(
    metric: str, inputs: Sequence[str], references: Sequence[str], settings: Settings
) -> list[float]:
    """:func:`configured_score` over pairs."""
    return [configured_score(metric, a, b, settings) for a, b in zip(inputs, references)]
