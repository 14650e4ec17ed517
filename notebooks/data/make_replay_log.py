"""Make ``sevens_job.jsonl``, the job log that 03_data_and_jobs replays.

A short local GRPO run (the tiny default model, nothing downloaded) rewarded by a multigrader,
saved with ``Job.save``: the same events JSONL shape the fine-tuning events endpoint returns.
Run from the repository root: ``.venv/bin/python notebooks/data/make_replay_log.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import rft_jupyter as rft

GRADER = {
    "type": "multi",
    "name": "sevens",
    "graders": {
        "has7": {"type": "string_check", "name": "has7", "operation": "like",
                 "input": "{{ sample.output_text }}", "reference": "7"},
        "close": {"type": "text_similarity", "name": "close", "evaluation_metric": "fuzzy_match",
                  "input": "{{ sample.output_text }}", "reference": "{{ item.target }}"},
    },
    "calculate_output": "0.5 * has7 + 0.5 * close",
}


def rows(n: int, offset: int = 0) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"What is {(i + offset) % 7} + "
                           f"{(i + offset) % 5}? Answer with digits:"}],
             "target": "7777777777"} for i in range(n)]


def main() -> None:
    out = Path(__file__).with_name("sevens_job.jsonl")
    with tempfile.TemporaryDirectory() as run_dir:
        job = rft.jobs.local(GRADER, rows(32), rows(8, offset=3), run_dir=run_dir,
                             max_steps=60, eval_interval=10, seed=0)
        status = job.wait(timeout=300, interval=0.5)
        assert status == "succeeded", job.source.log_tail()
        job.save(out)
        # the run's temporary folder means nothing elsewhere: name it plainly
        text = out.read_text(encoding="utf-8").replace(run_dir, "sevens-run")
        text = text.replace(f', "pid": {job.info["pid"]}', "")
        out.write_text(text, encoding="utf-8")
    print(f"{out}: {out.stat().st_size / 1024:.0f} KB, {job!r}")


if __name__ == "__main__":
    main()
