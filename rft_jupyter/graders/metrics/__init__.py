"""Text metrics of the ``text_similarity`` grader: fast, and equal to the reference library calls.

``score(metric, input, reference)`` scores one pair, ``score_batch(metric, inputs, references)``
many pairs in this process (tokenisation, Porter stems and WordNet synonyms are memoised, so
batches amortise them). Either returns what :func:`.reference.reference_score` returns (the
plain nltk / rouge-score / rapidfuzz calls of the semantics spec) to well within 1e-9; in
practice the numbers are bit-identical. An empty input or reference scores 0.0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

from ..metric_names import TEXT_METRICS
from .ngram import bleu, gleu, rouge_l, rouge_n
from .tokenize import nltk_tokens, rouge_token_bytes

__all__ = ["METRICS", "clear_caches", "score", "score_batch"]

METRICS: tuple[str, ...] = TEXT_METRICS

_ROUGE_N = {"rouge_1": 1, "rouge_2": 2, "rouge_3": 3, "rouge_4": 4, "rouge_5": 5}


def _check(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown text metric {metric!r}; allowed: {', '.join(METRICS)}")


@cache
def _meteor() -> Callable[[Sequence[str], Sequence[str]], float]:
    """The METEOR function, once WordNet 3.0 is known to load (an error is not cached)."""
    from ..wordnet import ensure_wordnet
    from .meteor import meteor

    ensure_wordnet()
    return meteor


def clear_caches() -> None:
    """Forget the memoised tokens, stems and synonym sets (they are bounded anyway)."""
    from . import meteor, tokenize

    tokenize.clear_caches()
    meteor.clear_caches()


def score(metric: str, input: str, reference: str) -> float:
    """``metric`` between ``input`` (the model's output) and ``reference``, in 0..1."""
    return score_batch(metric, [input], [reference])[0]


def score_batch(metric: str, inputs: Sequence[str], references: Sequence[str]) -> list[float]:
    """``score(metric, inputs[i], references[i])`` for every i, in this process."""
    _check(metric)
    if len(inputs) != len(references):
        raise ValueError(
            f"score_batch needs as many inputs as references ({len(inputs)} != {len(references)})"
        )
    if metric == "fuzzy_match":
        return _fuzzy_batch(inputs, references)
    if metric in _ROUGE_N:
        return _rouge_n_batch(inputs, references, _ROUGE_N[metric])
    if metric == "rouge_l":
        return _rouge_l_batch(inputs, references)
    fn = _meteor() if metric == "meteor" else bleu if metric == "bleu" else gleu
    memo: dict[str, list[str]] = {}
    out: list[float] = []
    append = out.append
    for a, b in zip(inputs, references):
        if not a or not b:
            append(0.0)
            continue
        ta = memo.get(a)
        if ta is None:
            ta = memo[a] = nltk_tokens(a)
        tb = memo.get(b)
        if tb is None:
            tb = memo[b] = nltk_tokens(b)
        append(fn(ta, tb))
    return out


def _fuzzy_batch(inputs: Sequence[str], references: Sequence[str]) -> list[float]:
    from rapidfuzz import fuzz, utils

    if len(inputs) < 8:
        wratio, proc = fuzz.WRatio, utils.default_process
        return [
            wratio(a, b, processor=proc) / 100 if a and b else 0.0
            for a, b in zip(inputs, references)
        ]
    import numpy as np
    from rapidfuzz.process import cpdist

    ratios = cpdist(
        inputs,
        references,
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        dtype=np.float64,
        workers=1,
    )
    scores = (ratios / 100).tolist()
    for i, (a, b) in enumerate(zip(inputs, references)):
        if not a or not b:
            scores[i] = 0.0
    return scores


def _rouge_n_batch(inputs: Sequence[str], references: Sequence[str], n: int) -> list[float]:
    memo: dict[str, list[bytes]] = {}
    out: list[float] = []
    for a, b in zip(inputs, references):
        if not a or not b:
            out.append(0.0)
            continue
        ta = memo.get(a)
        if ta is None:
            ta = memo[a] = rouge_token_bytes(a)
        tb = memo.get(b)
        if tb is None:
            tb = memo[b] = rouge_token_bytes(b)
        out.append(rouge_n(ta, tb, n))
    return out


def _rouge_l_batch(inputs: Sequence[str], references: Sequence[str]) -> list[float]:
    ids: dict[bytes, int] = {}
    memo: dict[str, list[int]] = {}

    def encode(text: str) -> list[int]:
        enc = memo.get(text)
        if enc is None:
            get = ids.get
            enc = []
            for tok in rouge_token_bytes(text):
                i = get(tok)
                if i is None:
                    i = ids[tok] = len(ids)
                enc.append(i)
            memo[text] = enc
        return enc

    return [rouge_l(encode(a), encode(b)) if a and b else 0.0 for a, b in zip(inputs, references)]
