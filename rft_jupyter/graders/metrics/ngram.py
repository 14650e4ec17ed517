"""BLEU, GLEU and ROUGE-N/L on token lists, with the float operations of nltk / rouge-score.

Each function mirrors its library counterpart step by step (same integer counts, same float
expressions in the same order), so the results are bit-identical, not merely close:

- ``bleu``: ``nltk.translate.bleu_score.sentence_bleu([ref], hyp,
  smoothing_function=SmoothingFunction().method4)`` (uniform weights, one reference);
- ``gleu``: ``nltk.translate.gleu_score.sentence_gleu([ref], hyp)`` (1- to 4-grams);
- ``rouge_n`` / ``rouge_l``: the ``fmeasure`` of ``rouge_score.rouge_scorer`` for one pair.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence

from rapidfuzz.distance import LCSseq

try:  # the C helper behind Counter(iterable); counting into a plain dict skips Counter's layers
    from collections import _count_elements  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Pythons

    def _count_elements(mapping: dict, iterable: Iterable[Hashable]) -> None:
        get = mapping.get
        for elem in iterable:
            mapping[elem] = get(elem, 0) + 1


__all__ = ["bleu", "gleu", "rouge_l", "rouge_n"]

_lcs_similarity = LCSseq.similarity


def _grams(tokens: Sequence[str], n: int) -> dict[Hashable, int]:
    """Counts of the n-grams of ``tokens`` (n-tuples; the tokens themselves for n = 1)."""
    counts: dict[Hashable, int] = {}
    if n == 1:
        _count_elements(counts, tokens)
    elif n == 2:
        _count_elements(counts, zip(tokens, tokens[1:]))
    else:
        _count_elements(counts, zip(*[tokens[i:] for i in range(n)]))
    return counts


def _clipped(hyp: dict[Hashable, int], ref: dict[Hashable, int]) -> int:
    """``sum(min(hyp[g], ref[g]))`` over the hypothesis' n-grams."""
    get = ref.get
    total = 0
    for gram, count in hyp.items():
        other = get(gram)
        if other:
            total += count if count < other else other
    return total


def bleu(hyp: Sequence[str], ref: Sequence[str]) -> float:
    """Sentence BLEU-4 with Chen & Cherry's method4 smoothing (nltk's float arithmetic)."""
    hyp_len = len(hyp)
    ref_len = len(ref)
    if hyp_len == 0 or ref_len == 0:
        return 0.0  # no unigram can match: nltk returns 0
    num1 = _clipped(_grams(hyp, 1), _grams(ref, 1))
    if num1 == 0:
        return 0.0
    nums = [num1]
    for n in (2, 3, 4):
        if hyp_len >= n and ref_len >= n:
            nums.append(_clipped(_grams(hyp, n), _grams(ref, n)))
        else:
            nums.append(0)
    log = math.log
    terms = []
    incvnt = 1
    log_len = log(hyp_len) if hyp_len > 1 else 0.0
    for n, num in enumerate(nums, 1):
        den = hyp_len - n + 1
        if den < 1:
            den = 1
        if num == 0:
            if hyp_len > 1:  # method4
                terms.append(0.25 * log((1 / (2**incvnt * 5 / log_len)) / den))
                incvnt += 1
            # else: the precision stays 0 and nltk leaves it out of the sum
        else:
            terms.append(0.25 * log(num / den))
    if hyp_len > ref_len:
        return math.exp(math.fsum(terms))
    return math.exp(1 - ref_len / hyp_len) * math.exp(math.fsum(terms))


def gleu(hyp: Sequence[str], ref: Sequence[str]) -> float:
    """Sentence GLEU (1- to 4-grams): matches / max(hypothesis n-grams, reference n-grams)."""
    hyp_len = len(hyp)
    ref_len = len(ref)
    n_all = max(
        sum(hyp_len - n + 1 for n in (1, 2, 3, 4) if hyp_len >= n),
        sum(ref_len - n + 1 for n in (1, 2, 3, 4) if ref_len >= n),
    )
    if n_all == 0:
        return 0.0
    tp = 0
    for n in (1, 2, 3, 4):
        if hyp_len < n or ref_len < n:
            break
        tp += _clipped(_grams(hyp, n), _grams(ref, n))
    return tp / n_all


def _fmeasure(precision: float, recall: float) -> float:
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def rouge_n(prediction: Sequence[str], target: Sequence[str], n: int) -> float:
    """ROUGE-N F-measure (rouge-score tokens: ``prediction`` = input, ``target`` = reference)."""
    pred_count = len(prediction) - n + 1
    target_count = len(target) - n + 1
    if pred_count <= 0 or target_count <= 0:
        return 0.0  # no common n-gram: precision = recall = 0
    inter = _clipped(_grams(target, n), _grams(prediction, n))
    precision = inter / pred_count
    recall = inter / target_count
    return _fmeasure(precision, recall)


def rouge_l(prediction: Sequence[int], target: Sequence[int]) -> float:
    """ROUGE-L F-measure; tokens are given as ints (equal ids iff equal tokens)."""
    if not prediction or not target:
        return 0.0
    lcs = _lcs_similarity(target, prediction)
    precision = lcs / len(prediction)
    recall = lcs / len(target)
    return _fmeasure(precision, recall)
