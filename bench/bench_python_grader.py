"""Python-grader throughput: rft.grade through the sandbox vs one interpreter per sample.

10,000 samples of a trivial ``grade`` go through ``rft.grade`` with the full sandbox (workers
started inside the timed call; the isolation probe, once per process, is timed apart). The naive
way, ``subprocess.run([sys.executable, "-c", ...])`` per sample, runs on 100 samples and is
extrapolated. Prints samples/s both ways, the ratio, and a worker's start time. Target: at least
15,000 samples/s through the sandbox. Run: ``.venv/bin/python bench/bench_python_grader.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import rft_jupyter as rft
from rft_jupyter.graders import sandbox
from rft_jupyter.graders.runners import compile_runner

SOURCE = """
def grade(sample, item):
    return 1.0 if sample["output_text"] == item["answer"] else 0.0
"""
GRADER = {"type": "python", "name": "exact", "source": SOURCE}
TARGET = 15_000


def rows(n: int) -> list[dict]:
    return [{"output_text": f"answer {i % 7}", "answer": f"answer {i % 5}"} for i in range(n)]


def expected(row: dict) -> float:
    return 1.0 if row["output_text"] == row["answer"] else 0.0


def through_sandbox(data: list[dict], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = rft.grade(GRADER, data, progress=False)
        best = min(best, time.perf_counter() - start)
        rewards = [o.reward for o in result.outcomes]
        assert rewards == [expected(r) for r in data], "wrong rewards"
    return len(data) / best


def one_interpreter_per_sample(data: list[dict]) -> float:
    program = SOURCE + (
        "\nimport json, sys\ns, i = json.loads(sys.argv[1])\nprint(grade(s, i))\n"
    )
    start = time.perf_counter()
    for row in data:
        arg = json.dumps([{"output_text": row["output_text"]}, row])
        out = subprocess.run(
            [sys.executable, "-c", program, arg], capture_output=True, text=True, check=True
        )
        assert float(out.stdout) == expected(row)
    return len(data) / (time.perf_counter() - start)


def worker_start(repeat: int = 5) -> float:
    """Seconds from starting a worker to its first reward (best of ``repeat``)."""
    best = float("inf")
    for _ in range(repeat):
        runner = compile_runner(GRADER, options={"workers": 1})
        start = time.perf_counter()
        runner.run_many([{"sample": {"output_text": "a"}, "item": {"answer": "a"}}])
        best = min(best, time.perf_counter() - start)
        runner.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--naive-rows", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    iso = sandbox.isolation()
    probe = time.perf_counter() - start
    print(f"isolation mode: {iso.mode} (probe {probe * 1000:.0f} ms, once per process)")
    for mode, why in iso.skipped.items():
        print(f"  not {mode}: {why}")
    print(f"worker start to first reward: {worker_start() * 1000:.0f} ms")

    fast = through_sandbox(rows(args.rows), args.repeat)
    naive = one_interpreter_per_sample(rows(args.naive_rows))
    print(f"rft.grade, sandboxed workers:     {fast:12,.0f} samples/s ({args.rows:,} samples)")
    print(f"one interpreter per sample:       {naive:12,.0f} samples/s "
          f"({args.naive_rows} samples, extrapolated)")
    print(f"ratio: {fast / naive:,.0f}x; target >= {TARGET:,} samples/s: "
          f"{'met' if fast >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
