"""Benchmark the text_similarity metrics: reference library calls vs the fast path.

    .venv/bin/python bench/bench_text_metrics.py [--rows N] [--metrics bleu,rouge_l] [--seed S]
        [--repeat 3] [--ref-repeat 2] [--no-grade]

Rows are (reference, output) pairs of 1 to ~80 words. References are runs of real sentences from
the RFT datasets beside the repo (../shared/datasets/*/*.jsonl) when present, else sentences over
a generated Zipf vocabulary; every reference is distinct. Outputs are perturbed references (word
swaps, drops, insertions, replacements, case and punctuation changes), ~2% of them empty.

For each metric it prints the rows/s of a per-row loop over ``reference_score`` (the plain
library calls, one core), of ``score_batch`` in one process, of ``score_batch`` over two worker
processes (rows split in halves), and of ``rft.grade`` (which picks its own process pool), each
with its ratio to the reference loop, and the largest |difference| from the reference scores;
then a multi grader (0.5 * bleu + 0.5 * rouge_l) against the two reference calls. Every fast run
starts with cold caches (fresh memo tables / a fresh ``rft.grade`` pool, started and warmed on
a tiny unrelated batch, so WordNet is loaded); each figure is the best of N runs, the reference
loop's too (for METEOR that is its second pass, when nltk's own WordNet caches are warm).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import string
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rft_jupyter.graders.metrics import METRICS, clear_caches, score_batch  # noqa: E402
from rft_jupyter.graders.metrics.reference import reference_score  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
MAX_WORDS = 80
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+|\n\s*\n+")
_WORD_SPAN = re.compile(r"\S+")


# ----------------------------------------------------------------------------- the rows


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)


def dataset_sentences() -> list[str]:
    """Sentences of every string in ../shared/datasets/*/*.jsonl ([] when absent)."""
    texts: list[str] = []
    for path in sorted(DATASETS.glob("*/*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    _strings(json.loads(line), texts)
    sentences = []
    for text in texts:
        for piece in _SENTENCE_END.split(text):
            piece = piece.strip()
            if piece and len(piece.split()) <= MAX_WORDS:
                sentences.append(piece)
    return sentences


def zipf_sentences(rnd: random.Random, count: int = 20_000) -> list[str]:
    """Sentences over a generated vocabulary whose word frequencies follow Zipf's law."""
    syllables = [a + b for a in "bcdfghklmnprstvwz" for b in "aeiou"] + ["an", "er", "in", "on"]
    vocab: list[str] = []
    seen: set[str] = set()
    while len(vocab) < 8_000:
        word = "".join(rnd.choice(syllables) for _ in range(rnd.choice((1, 1, 2, 2, 3, 4))))
        if word not in seen:
            seen.add(word)
            vocab.append(word)
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    sentences = []
    for _ in range(count):
        words = rnd.choices(vocab, weights, k=rnd.randint(3, 30))
        words[0] = words[0].capitalize()
        for i in range(1, len(words) - 1):
            r = rnd.random()
            if r < 0.06:
                words[i] += ","
            elif r < 0.08:
                words[i] = str(rnd.randint(0, 2000))
            elif r < 0.10:
                words[i] = f"({words[i]})"
            elif r < 0.11:
                words[i] += "'s"
        sentences.append(" ".join(words) + rnd.choice(".....?!"))
    return sentences


def make_references(sentences: Sequence[str], n: int, rnd: random.Random) -> list[str]:
    """``n`` distinct references of 1..MAX_WORDS words: runs of consecutive sentences, cut."""
    refs: list[str] = []
    seen: set[str] = set()
    attempts = 0
    while len(refs) < n and attempts < 50 * n:
        attempts += 1
        target = rnd.choice((rnd.randint(1, 12), rnd.randint(5, 40), rnd.randint(20, MAX_WORDS)))
        i = rnd.randrange(len(sentences))
        text = sentences[i]
        while len(text.split()) < target and i + 1 < len(sentences):
            i += 1
            text += ("\n" if rnd.random() < 0.2 else " ") + sentences[i]
        spans = [m.end() for m in _WORD_SPAN.finditer(text)]
        text = text[: spans[min(target, len(spans)) - 1]]
        if text not in seen:
            seen.add(text)
            refs.append(text)
    return refs


def perturb(reference: str, vocab: Sequence[str], rnd: random.Random) -> str:
    """A model-like output: the reference with some word-level edits (or empty, ~2%)."""
    if rnd.random() < 0.02:
        return ""
    words = reference.split(" ")
    for _ in range(rnd.randint(0, max(1, len(words) // 4))):
        op = rnd.random()
        i = rnd.randrange(len(words)) if words else 0
        if op < 0.18 and len(words) > 1:
            j = min(i + 1, len(words) - 1)
            words[i], words[j] = words[j], words[i]
        elif op < 0.36 and len(words) > 1:
            del words[i]
        elif op < 0.52:
            words.insert(i, rnd.choice(vocab))
        elif op < 0.64 and words:
            words[i] = rnd.choice(vocab)
        elif op < 0.80 and words:
            words[i] = rnd.choice((str.upper, str.lower, str.capitalize))(words[i])
        elif words:
            w = words[i].rstrip(string.punctuation)
            words[i] = w + rnd.choice(("", ",", ".", "!", "?", ";", ":", "...")) if w else "-"
    return " ".join(words)


def build_rows(n: int, seed: int) -> tuple[list[str], list[str], str]:
    """(outputs, references, description of the source)."""
    rnd = random.Random(seed)
    sentences = dataset_sentences()
    source = f"sentences of {DATASETS}/*/*.jsonl"
    if len(sentences) < 1_000:
        sentences = zipf_sentences(rnd)
        source = "generated Zipf vocabulary (datasets not found)"
    refs = make_references(sentences, n, rnd)
    vocab = [w for s in rnd.sample(sentences, min(len(sentences), 5_000)) for w in s.split()]
    outs = [perturb(r, vocab, rnd) for r in refs]
    return outs, refs, source


# ----------------------------------------------------------------------------- timing


def _worker_scores(metric: str, inputs: list[str], refs: list[str]) -> list[float]:
    clear_caches()
    return score_batch(metric, inputs, refs)


# Warm-up pairs with no exact match, so that METEOR reaches WordNet (loading it, ~2 s).
WARM_OUTPUT = "The dogs were running quickly."
WARM_REFERENCE = "A hound sprints, fast!"


def _warm(metric: str) -> int:
    score_batch(metric, [WARM_OUTPUT], [WARM_REFERENCE])
    time.sleep(0.3)  # so that each worker takes one warm-up task
    return os.getpid()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def best(run: Callable[[], tuple[float, list[float]]] | Callable[[], list[float]], repeat: int):
    """The fastest of ``repeat`` runs: (seconds, scores). ``run`` may time itself."""
    results = []
    for _ in range(max(1, repeat)):
        seconds, value = timed(run)
        if isinstance(value, tuple):  # (seconds, scores) measured inside, without set-up
            seconds, value = value
        results.append((seconds, value))
    return min(results, key=lambda r: r[0])


def two_process(
    pool: ProcessPoolExecutor, metric: str, outs: list[str], refs: list[str]
) -> tuple[float, list[float]]:
    """Half the rows to each of two warm worker processes (their memo tables cleared)."""
    half = (len(outs) + 1) // 2
    for fut in [pool.submit(_warm, metric) for _ in range(2)]:
        fut.result()

    def run() -> list[float]:
        a = pool.submit(_worker_scores, metric, outs[:half], refs[:half])
        b = pool.submit(_worker_scores, metric, outs[half:], refs[half:])
        return a.result() + b.result()

    return timed(run)


def ts_grader(metric: str, name: str = "t") -> dict[str, Any]:
    return {
        "type": "text_similarity",
        "name": name,
        "input": "{{ sample.output_text }}",
        "reference": "{{ item.reference }}",
        "evaluation_metric": metric,
    }


def grade_run(rft: Any, grader: dict, rows: list[dict]) -> tuple[float, list[float]]:
    """``rft.grade`` on a fresh pool (cold caches), after a tiny warm-up that starts it."""
    from rft_jupyter.graders import batch

    batch.shutdown_pool()
    warm = [{"reference": WARM_REFERENCE, "output": WARM_OUTPUT}] * 16
    rft.grade(grader, warm, sample="output", parallel=True, progress=False)
    seconds, result = timed(lambda: rft.grade(grader, rows, sample="output", progress=False))
    return seconds, list(result.rewards)


def max_diff(a: Sequence[float], b: Sequence[float]) -> float:
    return max((abs(x - y) for x, y in zip(a, b)), default=0.0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--metrics", default=",".join(METRICS), help="comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the fast paths")
    parser.add_argument("--ref-repeat", type=int, default=2, help="best of N for the reference")
    parser.add_argument("--no-grade", action="store_true", help="skip the rft.grade column")
    args = parser.parse_args(argv)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    for m in metrics:
        if m not in METRICS:
            parser.error(f"unknown metric {m!r}; allowed: {', '.join(METRICS)}")

    outs, refs, source = build_rows(args.rows, args.seed)
    n = len(refs)
    words = sum(len(r.split()) for r in refs) / max(n, 1)
    print(f"rows: {n} from {source}; reference words: mean {words:.1f}, 1..{MAX_WORDS}")
    print(
        f"python {platform.python_version()}, cores {os.cpu_count()}; "
        f"rows/s (ratio to the reference loop), wall-clock, best of {args.repeat} "
        f"(reference: best of {args.ref_repeat})"
    )
    rft = None
    if not args.no_grade:
        try:
            import rft_jupyter as rft
        except ImportError as exc:  # pragma: no cover
            print(f"(rft.grade column skipped: {exc})")
    rows = [{"reference": r, "output": o} for r, o in zip(refs, outs)]

    header = (
        f"{'metric':<16}{'reference loop':>16}{'score_batch 1 proc':>24}"
        f"{'score_batch 2 procs':>24}{'rft.grade':>22}{'max |diff|':>12}"
    )
    print()
    print(header)
    print("-" * len(header))

    def cell(seconds: float, base: float) -> str:
        return f"{n / seconds:>12,.0f} ({base / seconds:4.1f}x)"

    worst = 0.0
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        for metric in [*metrics, "multi"]:
            if metric == "multi":
                if not {"bleu", "rouge_l"} <= set(metrics):
                    continue
                label = "0.5 bleu+0.5 rL"

                def loop() -> list[float]:
                    return [
                        0.5 * reference_score("bleu", o, r) + 0.5 * reference_score("rouge_l", o, r)
                        for o, r in zip(outs, refs)
                    ]

                grader: dict[str, Any] = {
                    "type": "multi",
                    "name": "m",
                    "graders": {"b": ts_grader("bleu", "b"), "r": ts_grader("rouge_l", "r")},
                    "calculate_output": "0.5 * b + 0.5 * r",
                }
            else:
                label = metric
                grader = ts_grader(metric)
                reference_score(metric, WARM_OUTPUT, WARM_REFERENCE)  # loads WordNet for meteor

                def loop(m: str = metric) -> list[float]:
                    return [reference_score(m, o, r) for o, r in zip(outs, refs)]

            t_ref, ref = best(loop, args.ref_repeat)
            one = two = None
            if metric != "multi":

                def single(m: str = metric) -> list[float]:
                    clear_caches()
                    return score_batch(m, outs, refs)

                one = best(single, args.repeat)
                two = best(lambda m=metric: two_process(pool, m, outs, refs), args.repeat)
            graded = best(lambda g=grader: grade_run(rft, g, rows), args.repeat) if rft else None
            diffs = [max_diff(ref, r[1]) for r in (one, two, graded) if r is not None]
            diff = max(diffs, default=0.0)
            worst = max(worst, diff)
            cols = [cell(r[0], t_ref) if r is not None else f"{'-':>22}" for r in (one, two)]
            grade_col = cell(graded[0], t_ref) if graded else f"{'-':>22}"
            print(
                f"{label:<16}{n / t_ref:>16,.0f}{cols[0]:>24}{cols[1]:>24}{grade_col:>22}"
                f"{diff:>12.1e}",
                flush=True,
            )
    print()
    print(f"largest |difference| from the reference calls: {worst:.1e}")
    return 0 if worst <= 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
