"""Model-grader throughput: rft.grade (concurrent requests + cache) vs a sequential SDK loop.

A local OpenAI-compatible server (tests/servers/chat_server.py) answers every chat completion
after 100 ms. We grade 200 samples with a score_model grader through ``rft.grade`` and compare
with a plain loop of ``client.chat.completions.create`` calls (20 samples, extrapolated), then
time a re-run served from the cache. Run: ``.venv/bin/python bench/bench_model_grader.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import openai  # noqa: E402
from servers.chat_server import ChatServer  # noqa: E402

import rft_jupyter as rft  # noqa: E402
from rft_jupyter.graders import model_client  # noqa: E402

N_GRADE = 200
N_LOOP = 20
DELAY = 0.1
KEY = "sk-bench"

GRADER = {
    "type": "score_model",
    "name": "judge",
    "model": "gpt-4o-mini",
    "input": [
        {"role": "developer", "content": "Score the answer from 0 to 1. RESULT:{{ item.r }}"},
        {"role": "user", "content": "Question: {{ item.q }}\nAnswer: {{ sample.output_text }}"},
    ],
    "sampling_params": {"seed": 1, "max_completions_tokens": 200},
}


def rows(n: int, tag: str) -> list[dict]:
    return [
        {"q": f"question {i} {tag}", "r": (i % 10) / 10, "output_text": f"answer {i}"}
        for i in range(n)
    ]


def sequential(server: ChatServer, n: int) -> float:
    """The reference: one SDK call after another, parsing the JSON result."""
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY)
    schema = {
        "type": "object",
        "properties": {"result": {"type": "number"}},
        "required": ["result"],
        "additionalProperties": False,
    }
    start = time.perf_counter()
    for row in rows(n, "loop"):
        answer = client.chat.completions.create(
            model=GRADER["model"],
            messages=[
                {"role": "developer", "content": f"Score. RESULT:{row['r']}"},
                {"role": "user", "content": f"Question: {row['q']}\nAnswer: {row['output_text']}"},
            ],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "s", "strict": True, "schema": schema},
            },
            seed=1,
            max_completion_tokens=200,
        )
        json.loads(answer.choices[0].message.content)["result"]
    return time.perf_counter() - start


def main() -> None:
    with ChatServer(delay=DELAY) as server, tempfile.TemporaryDirectory() as cache:
        model_client.configure_client(base_url=server.base_url, api_key=KEY, cache_dir=cache)
        loop_s = sequential(server, N_LOOP)
        loop_rate = N_LOOP / loop_s

        data = rows(N_GRADE, "grade")
        server.reset()
        start = time.perf_counter()
        result = rft.grade(GRADER, data)
        grade_s = time.perf_counter() - start
        assert len(server.chat_requests) == N_GRADE and result.error_counts() == {}
        grade_rate = N_GRADE / grade_s
        peak = server.max_in_flight

        start = time.perf_counter()
        again = rft.grade(GRADER, data)
        cached_s = time.perf_counter() - start
        assert len(server.chat_requests) == N_GRADE  # nothing sent
        assert again.rewards == result.rewards

    print(f"model grader, server answering after {DELAY * 1000:.0f} ms")
    print(
        f"  sequential SDK loop : {N_LOOP} requests in {loop_s:.2f} s = {loop_rate:.1f} req/s "
        f"(extrapolated to {N_GRADE}: {N_GRADE / loop_rate:.1f} s)"
    )
    print(
        f"  rft.grade           : {N_GRADE} requests in {grade_s:.2f} s = {grade_rate:.1f} req/s "
        f"(peak {peak} in flight)"
    )
    print(f"  ratio               : {grade_rate / loop_rate:.1f}x (target >= 10x)")
    print(f"  cached re-run       : {N_GRADE} samples in {cached_s * 1000:.1f} ms, 0 requests")
    print(f"  {model_client.usage()}".replace("\n", "\n  "))


if __name__ == "__main__":
    main()
