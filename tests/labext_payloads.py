"""Real payloads of the project's two saved-result mime types, for the labextension's tests.

``python tests/labext_payloads.py DIR`` writes ``scores.json``, ``probe.json`` and ``job.json``:
full mime bundles made by the Python side as it is now, so the TypeScript tests (run by
``make test`` right after this script) cannot drift from what the kernel emits.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

T0 = 1_750_000_000
GRADER = {"type": "multi", "name": "combo",
          "graders": {"exact": {"type": "string_check", "name": "exact",
                                "input": "{{ sample.output_text }}",
                                "reference": "{{ item.answer }}", "operation": "eq"},
                      "close": {"type": "text_similarity", "name": "close",
                                "input": "{{ sample.output_text }}",
                                "reference": "{{ item.answer }}",
                                "evaluation_metric": "fuzzy_match"}},
          "calculate_output": "0.5 * exact + 0.5 * close"}


def rows() -> list[dict[str, Any]]:
    """Twelve rows with known answers; one lacks `answer` (an unscored row)."""
    answers = ["Paris", "Berlin", "Madrid", "Rome", "Lisbon", "Vienna", "Prague", "Warsaw",
               "Dublin", "Oslo", "Bern"]
    outputs = ["Paris", "berlin", "Madrid, Spain", "Roma", "Lisbon", "Wien", "Prague",
               "Warszawa", "Dublin", "Stockholm", "Bern"]
    data = [{"answer": a, "output": o} for a, o in zip(answers, outputs)]
    data.append({"output": "no answer column"})
    return data


def scores_payload() -> dict[str, Any]:
    import rft_jupyter as rft
    from rft_jupyter.widgets.bundle import table_for
    from rft_jupyter.widgets.fallbacks import static_bundle

    result = rft.grade(GRADER, rows(), sample="output")
    return static_bundle(table_for(result).table_view)


def probe_payload() -> dict[str, Any]:
    import rft_jupyter as rft
    from rft_jupyter.widgets.bundle import table_for
    from rft_jupyter.widgets.fallbacks import static_bundle

    report = rft.probe(GRADER, rows()[:4], sample="output")
    return static_bundle(table_for(report).table_view)


def job_events(n: int = 20) -> list[dict[str, Any]]:
    """A finished job as the service lists it, with an eval run and a checkpoint."""
    events: list[dict[str, Any]] = [
        {"id": "ev-start", "object": "fine_tuning.job.event", "created_at": T0, "level": "info",
         "message": "Fine-tuning job started", "type": "message"}]
    for step in range(1, n + 1):
        scores: dict[str, Any] = {"train_reward_mean": step / 40, "graders": [
            {"name": "exact", "type": "string_check", "train_reward_mean": step / 50}]}
        if step % 5 == 0:
            scores["valid_reward_mean"] = step / 30
        events.append({"id": f"ev-{step}", "object": "fine_tuning.job.event",
                       "created_at": T0 + 30 * step, "level": "info",
                       "message": f"Step {step}/{n}", "type": "metrics",
                       "data": {"step": step, "total_steps": n, "scores": scores,
                                "completion_tokens_mean": 100 + step}})
    events.append({"id": "ev-run-1", "type": "eval_run", "created_at": T0 + 151,
                   "message": "eval", "data": {
                       "step": 5, "run_id": "run-1", "reward_mean": 0.5,
                       "samples": [{"index": 0, "reward": 1.0, "output": "7"},
                                   {"index": 1, "reward": 0.0, "output": "x",
                                    "error": "sample_parse_error"}]}})
    events.append({"id": "ck-1", "type": "checkpoint", "created_at": T0 + 152,
                   "message": "ckpt", "data": {"step": 5, "id": "ftckpt-1",
                                               "model": "ft:o4-mini:ckpt-step-5",
                                               "metrics": {"full_valid_mean_reward": 0.17}}})
    events.append({"id": "ev-done", "object": "fine_tuning.job.event",
                   "created_at": T0 + 30 * n + 5, "level": "info",
                   "message": "The job has successfully completed", "type": "message"})
    return events


def job_payload() -> dict[str, Any]:
    import rft_jupyter.jobs as jobs
    from rft_jupyter.jobs.snapshot import snapshot_bundle

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in job_events()))
        return snapshot_bundle(jobs.replay(path), png=False)


def write_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in (("scores", scores_payload), ("probe", probe_payload),
                       ("job", job_payload)):
        path = out / f"{name}.json"
        path.write_text(json.dumps(make(), indent=1))
        written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/labext_payloads.py OUT_DIR")
    for p in write_all(Path(sys.argv[1])):
        print(p)
