"""Local GRPO for real: TRL's GRPOTrainer in a subprocess on the tiny default model, rewarded by
a multigrader through the engine; the reward must rise. Pause, resume and cancel work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sevens import GRADER, rows

import rft_jupyter.jobs as jobs

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240),
              pytest.mark.usefixtures("one_grpo_at_a_time")]

def wait_for(job: jobs.Job, predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh()
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_local_grpo_learns_evaluates_checkpoints_and_pauses(tmp_path):
    start = time.monotonic()
    job = jobs.local(GRADER, rows(32), rows(8, offset=3), run_dir=tmp_path / "run",
                     max_steps=60, eval_interval=20, seed=0)
    assert job.kind == "local" and job.info["model"].startswith("tiny")
    assert wait_for(job, lambda: (job.step or 0) >= 8, 60), job.source.log_tail()
    job.pause()
    assert wait_for(job, lambda: job.state()["status"] == "paused", 20)
    paused_at = job.step
    time.sleep(1.5)
    job.refresh()
    assert job.step == paused_at and job.state()["status"] == "paused"
    job.resume()
    status = job.wait(timeout=120, interval=0.2)
    elapsed = time.monotonic() - start
    assert status == "succeeded", job.source.log_tail()

    m = job.metrics
    assert m.index.max() == 60 and job.total_steps == 60
    train = m["train_reward_mean"].dropna()
    first, last = train.iloc[:10].mean(), train.iloc[-10:].mean()
    valid = m["valid_reward_mean"].dropna()
    print(f"local GRPO: {elapsed:.1f} s, train reward {first:.3f} -> {last:.3f}, "
          f"valid {valid.iloc[0]:.3f} -> {valid.iloc[-1]:.3f}")
    assert last > first + 0.2
    assert valid.index.tolist() == [0, 20, 40, 60]
    assert valid.iloc[-1] > valid.iloc[0] + 0.2
    for column in ("scores/graders/has7/train_reward_mean",
                   "scores/graders/close/train_reward_mean",
                   "scores/graders/close/valid_reward_mean",
                   "errors/graders/sevens/train_sample_parse_error_mean",
                   "completion_tokens_mean", "valid_completion_tokens_mean", "loss"):
        assert column in m.columns, column
    assert m["scores/graders/close/train_reward_mean"].iloc[-5:].mean() > \
        m["scores/graders/close/train_reward_mean"].iloc[:5].mean()

    runs = job.eval_runs
    assert [r.step for r in runs] == [0, 20, 40, 60]
    samples = runs[-1].to_pandas()
    assert len(samples) == 8 and {"reward", "output", "sub.has7", "sub.close"} <= set(samples)
    assert samples["reward"].mean() == pytest.approx(runs[-1].reward_mean)

    ck = job.checkpoints
    assert 1 <= len(ck) <= 3
    assert ck["valid_reward_mean"].max() == pytest.approx(valid.loc[[20, 40, 60]].max())
    for path in ck["path"]:
        assert (Path(path) / "config.json").is_file()
    statuses = [e.status for e in job.events if e.kind == "status"]
    assert statuses[-1] == "succeeded" and "pausing" in statuses and "paused" in statuses
    assert statuses.index("paused") < len(statuses) - statuses[::-1].index("running")
    assert elapsed < 90


def test_local_grpo_cancel_and_a_bad_hyperparameter(tmp_path):
    job = jobs.local(GRADER, rows(16), None, run_dir=tmp_path / "c", max_steps=500)
    assert wait_for(job, lambda: (job.step or 0) >= 3, 60), job.source.log_tail()
    assert job.cancel() == "cancelling"
    assert job.wait(timeout=30, interval=0.2) == "cancelled"
    assert job.step < 500 and job.source.process.wait(timeout=10) == 0

    bad = jobs.local(GRADER, rows(8), None, run_dir=tmp_path / "b", max_steps=2,
                     learning_rat=0.1)
    assert bad.wait(timeout=60, interval=0.2) == "failed"
    last = [e for e in bad.events if e.kind == "status"][-1]
    assert "unknown hyperparameter 'learning_rat'" in last.message

    # any local Hugging Face model directory works (here: a tiny one saved to disk)
    from rft_jupyter.jobs.tiny_model import build_model, train_tokenizer

    tokenizer = train_tokenizer(["What is 1 + 2? Answer with digits:", "7777777777"], 300)
    model_dir = tmp_path / "model"
    build_model(tokenizer, max_positions=128).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    saved = jobs.local(GRADER, rows(8), rows(4), model=model_dir, run_dir=tmp_path / "m",
                       max_steps=3, eval_interval=3, max_completion_length=16)
    assert saved.wait(timeout=90, interval=0.2) == "succeeded", saved.source.log_tail()
    assert saved.info["model"] == str(model_dir)
    assert [r.step for r in saved.eval_runs] == [0, 3] and saved.metrics.index.max() == 3

    with pytest.raises(FileNotFoundError, match="not a local model directory"):
        jobs.local(GRADER, rows(4), None, model=tmp_path / "nope")
    with pytest.raises(ValueError, match="max_steps"):
        jobs.local(GRADER, rows(4), None, max_steps=-1)
