"""The job event model, replay from events JSONL and results CSV, cost estimates, snapshots."""

from __future__ import annotations

import base64
import json
import math
import random
from pathlib import Path

import pytest

import rft_jupyter.jobs as jobs
from rft_jupyter.jobs.cost import configure_cost, cost_settings, estimate, step_seconds
from rft_jupyter.jobs.events import Event, flatten, metrics_row, status_from_message
from rft_jupyter.jobs.replay_source import ReplaySource, read_events
from rft_jupyter.jobs.series import describe, grouped
from rft_jupyter.jobs.snapshot import MIME, snapshot_bundle

T0 = 1_750_000_000


def metrics_event(step: int, t: float, **data) -> dict:
    return {"id": f"ftevent-{step:04d}", "object": "fine_tuning.job.event", "created_at": t,
            "level": "info", "message": f"Step {step}/20", "type": "metrics",
            "data": {"step": step, "total_steps": 20, **data}}


def service_events(n: int = 20) -> list[dict]:
    """A job as the events endpoint lists it: newest first, messages and metrics mixed."""
    events = [{"id": "ftevent-start", "object": "fine_tuning.job.event", "created_at": T0,
               "level": "info", "message": "Fine-tuning job started", "type": "message"}]
    for step in range(1, n + 1):
        data = {
            "scores": {
                "train_reward_mean": step / 40,
                "graders": [
                    {"name": "exact", "type": "string_check", "train_reward_mean": step / 50},
                    {"name": "close", "type": "text_similarity", "train_reward_mean": 0.5},
                ],
            },
            "completion_tokens_mean": 100 + step,
            "reasoning_tokens_mean": 300 - step,
            "errors": {"graders": [{"name": "exact", "type": "string_check",
                                    "train_sample_parse_error_mean": 0.1 / step,
                                    "train_sample_parse_error_count": 1}]},
            "timing": {"step": {"sampling": 20.0, "training": 10.0, "eval": 0.0,
                                "full_iteration": 36.0 if step % 5 == 0 else 30.0}},
        }
        if step % 5 == 0:
            data["scores"]["valid_reward_mean"] = step / 30
            data["scores"]["graders"][0]["valid_reward_mean"] = step / 35
            data["full_valid_mean_parse_error"] = 0.0
            data["timing"]["step"]["eval"] = 6.0
        events.append(metrics_event(step, T0 + 30 * step, **data))
    events.append({"id": "ftevent-done", "object": "fine_tuning.job.event",
                   "created_at": T0 + 30 * n + 5, "level": "info",
                   "message": "The job has successfully completed", "type": "message"})
    return events[::-1]


def write_jsonl(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


# ---------------------------------------------------------------- the event model


def test_flatten_names_list_entries_and_keeps_numbers_only():
    data = {"step": 3, "scores": {"train_reward_mean": 0.5, "graders": [
        {"name": "a", "type": "string_check", "train_reward_mean": 1},
        {"name": "a", "type": "python", "train_reward_mean": 0.0},  # same name twice
        {"type": "x", "valid_reward_mean": 0.25},  # no name: by position
    ]}, "usage": {"graders": [{"name": "m", "model": "gpt", "train_prompt_tokens_mean": 12}]},
        "note": "text", "nothing": None, "flag": True}
    flat = flatten(data)
    assert flat == {
        "step": 3.0,
        "scores/train_reward_mean": 0.5,
        "scores/graders/a/train_reward_mean": 1.0,
        "scores/graders/a#1/train_reward_mean": 0.0,
        "scores/graders/2/valid_reward_mean": 0.25,
        "usage/graders/m/train_prompt_tokens_mean": 12.0,
        "flag": 1.0,
    }


def test_metrics_row_adds_canonical_columns_from_nested_or_flat_keys():
    nested = metrics_row({"step": 1, "scores": {"train_reward_mean": 0.2,
                                                "valid_reward_mean": 0.3}})
    assert nested["train_reward_mean"] == 0.2 and nested["valid_reward_mean"] == 0.3
    assert "step" not in nested
    legacy = metrics_row({"step": 1, "train_mean_reward": 0.4, "full_valid_mean_reward": 0.6})
    assert legacy["train_reward_mean"] == 0.4 and legacy["valid_reward_mean"] == 0.6
    assert "valid_reward_mean" not in metrics_row({"step": 2, "train_mean_reward": 0.1})


def test_event_round_trip_and_unknown_types_are_messages():
    e = Event("x1", "checkpoint", 12.5, 7, {"id": "ck", "metrics": {"a": 1}}, "saved", "info")
    back = Event.from_service(e.to_service())
    assert back == Event("x1", "checkpoint", 12.5, 7, {"id": "ck", "metrics": {"a": 1},
                                                        "step": 7}, "saved", "info")
    odd = Event.from_service({"id": "m", "type": "moderation_checks", "message": "ok",
                              "level": "debug", "data": {"x": 1}})
    assert odd.kind == "message" and odd.level == "info" and odd.step is None


@pytest.mark.parametrize("text,status", [
    ("The job has successfully completed", "succeeded"),
    ("Fine-tuning job started", "running"),
    ("Job paused", "paused"),
    ("Job cancelled", "cancelled"),
    ("The job failed due to an internal error", "failed"),
    ("Files validated, moving job to queued state", "queued"),
    ("Step 3/10: training loss=0.1", None),
])
def test_status_from_message(text, status):
    assert status_from_message(text) == status


def test_series_groups():
    assert describe("train_reward_mean") == ("reward", "train")
    assert describe("scores/train_reward_mean") == (None, "scores/train_reward_mean")
    assert describe("train_mean_reward") == (None, "train_mean_reward")
    assert describe("scores/graders/exact/valid_reward_mean") == ("graders", "exact valid")
    assert describe("completion_tokens_mean") == ("tokens", "completion_tokens_mean")
    assert describe("errors/graders/exact/train_sample_parse_error_mean") == (
        "errors", "exact train_sample_parse_error")
    assert describe("errors/graders/exact/train_sample_parse_error_count")[0] is None
    assert describe("timing/step/full_iteration")[0] == "other"
    assert list(grouped(["loss", "train_reward_mean", "completion_tokens_mean"])) == [
        "reward", "tokens", "other"]


# ---------------------------------------------------------------- replay: events JSONL


def test_replay_jsonl_newest_first_gives_the_exact_series(tmp_path):
    path = write_jsonl(tmp_path / "events.jsonl", service_events())
    job = jobs.replay(path)
    assert job.status == "succeeded"  # from the service's own message
    m = job.metrics
    assert list(m.index) == list(range(1, 21))
    assert m["train_reward_mean"].tolist() == [s / 40 for s in range(1, 21)]
    valid = m["valid_reward_mean"].dropna()
    assert valid.index.tolist() == [5, 10, 15, 20]
    assert valid.tolist() == [s / 30 for s in (5, 10, 15, 20)]
    assert m["scores/graders/exact/train_reward_mean"].tolist() == [s / 50 for s in range(1, 21)]
    assert m["scores/graders/exact/valid_reward_mean"].dropna().tolist() == [
        s / 35 for s in (5, 10, 15, 20)]
    assert m["completion_tokens_mean"].iloc[-1] == 120
    assert m["errors/graders/exact/train_sample_parse_error_mean"].iloc[1] == pytest.approx(0.05)
    assert job.total_steps == 20
    assert list(m.columns[:2]) == ["train_reward_mean", "valid_reward_mean"]


def test_replay_reads_any_order_pages_and_json_arrays(tmp_path):
    events = service_events()
    shuffled = events[:]
    random.Random(3).shuffle(shuffled)
    expected = jobs.replay(write_jsonl(tmp_path / "a.jsonl", events)).metrics
    for name, text in {
        "shuffled.jsonl": "".join(json.dumps(e) + "\n" for e in shuffled),
        "oldest_first.jsonl": "".join(json.dumps(e) + "\n" for e in events[::-1]),
        "pages.jsonl": "".join(json.dumps({"object": "list", "data": events[i:i + 7],
                                           "has_more": i + 7 < len(events)}) + "\n"
                               for i in range(0, len(events), 7)),
        "array.json": json.dumps(events),
        "duplicates.jsonl": "".join(json.dumps(e) + "\n" for e in events + events[:5]),
    }.items():
        path = tmp_path / name
        path.write_text(text)
        job = jobs.replay(path)
        assert job.metrics.equals(expected), name
        assert job.status == "succeeded", name


def test_replay_reports_a_bad_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(service_events()[0]) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not JSON"):
        jobs.replay(path)
    with pytest.raises(FileNotFoundError):
        jobs.replay(tmp_path / "missing.jsonl")


def test_save_then_replay_round_trips_everything(tmp_path):
    events = service_events()
    extra = [
        {"id": "ev-run-1", "type": "eval_run", "created_at": T0 + 151, "message": "eval",
         "data": {"step": 5, "run_id": "run-1", "reward_mean": 0.5,
                  "samples": [{"index": 0, "reward": 1.0, "output": "7"},
                              {"index": 1, "reward": 0.0, "output": "x"}]}},
        {"id": "ck-1", "type": "checkpoint", "created_at": T0 + 152, "message": "ckpt",
         "data": {"step": 5, "id": "ftckpt-1", "model": "ft:o4:ckpt-step-5",
                  "metrics": {"full_valid_mean_reward": 0.17}}},
    ]
    job = jobs.replay(write_jsonl(tmp_path / "e.jsonl", events + extra))
    saved = job.save(tmp_path / "saved" / "job.jsonl")
    header = json.loads(saved.read_text().splitlines()[0])
    assert header["object"] == "rft_jupyter.job" and header["status"] == "succeeded"
    again = jobs.replay(saved)
    assert again.metrics.equals(job.metrics)
    assert again.status == "succeeded"
    assert [r.summary()["reward_mean"] for r in again.eval_runs] == [0.5]
    assert again.eval_runs[0].to_pandas()["reward"].tolist() == [1.0, 0.0]
    ck = again.checkpoints
    assert ck["id"].tolist() == ["ftckpt-1"] and ck["valid_reward_mean"].tolist() == [0.17]
    assert ck["model"].tolist() == ["ft:o4:ckpt-step-5"]


# ---------------------------------------------------------------- replay: results CSV


CSV = """step,train_mean_reward,full_valid_mean_reward,completion_tokens_mean,reasoning_tokens_mean,mean_unresponsive_rewards,errors/graders/exact/train_sample_parse_error_count,errors/graders/exact/train_other_error_count,pg_loss_sum,note
1,0.10,,120,300,0.0,2,0,0.5,warmup
2,0.20,,118,290,0.0,1,0,0.4,
3,0.35,0.30,110,280,0.1,0,1,0.3,
4,0.45,,105,260,,0,0,0.2,
5,0.60,0.55,100,250,0.0,0,0,0.1,
"""  # noqa: E501 - a results file's header is one line


def test_replay_results_csv_parses_columns_dynamically(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text(CSV)
    job = jobs.replay(path)
    m = job.metrics
    assert m.index.tolist() == [1, 2, 3, 4, 5]
    assert m["train_reward_mean"].tolist() == [0.1, 0.2, 0.35, 0.45, 0.6]
    assert m["valid_reward_mean"].dropna().to_dict() == {3: 0.3, 5: 0.55}
    assert m["errors/graders/exact/train_sample_parse_error_count"].tolist() == [2, 1, 0, 0, 0]
    assert m["pg_loss_sum"].iloc[0] == 0.5
    assert "note" not in m.columns  # text cells are not metrics
    assert math.isnan(m["mean_unresponsive_rewards"].loc[4])
    assert job.status == "replayed"
    assert job.cost is not None  # one second per step when the CSV has no times
    header, events = read_events(path)
    assert header == {"id": "results"} and [e.step for e in events] == [1, 2, 3, 4, 5]


def test_csv_without_a_step_column_is_an_error(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no 'step' column"):
        jobs.replay(path)


# ---------------------------------------------------------------- streaming


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def streaming_job(events: list[dict], speed: float) -> tuple[jobs.Job, Clock]:
    clock = Clock()
    header, parsed = {}, [Event.from_service(e) for e in events[::-1]]
    source = ReplaySource(parsed, header, speed=speed, clock=clock)
    return jobs.Job(source), clock


def test_streaming_replay_releases_events_on_the_job_clock():
    job, clock = streaming_job(service_events(), speed=30.0)  # one step (30 s) per second
    job.refresh()
    assert job.status == "running" and job.step is None
    clock.now += 3.01
    job.refresh()
    assert job.step == 3
    clock.now += 5
    new = job.refresh()
    assert [e.step for e in new if e.kind == "metrics"] == [4, 5, 6, 7, 8]
    assert job.status == "running"
    clock.now += 100
    job.refresh()
    assert job.step == 20 and job.status == "succeeded"


def test_streaming_replay_pause_resume_cancel():
    job, clock = streaming_job(service_events(), speed=30.0)
    job.refresh()
    clock.now += 2.01
    job.refresh()
    assert job.step == 2
    assert job.pause() == "paused"
    clock.now += 10
    job.refresh()
    assert job.step == 2  # the clock stopped
    assert job.resume() == "running"
    clock.now += 1
    job.refresh()
    assert job.step == 3
    assert job.cancel() == "cancelled"
    clock.now += 100
    job.refresh()
    assert job.step == 3 and job.status == "cancelled" and job.done


def test_replay_duration_sets_the_speed(tmp_path):
    path = write_jsonl(tmp_path / "e.jsonl", service_events())
    job = jobs.replay(path, duration=2.0)
    assert job.source.speed == pytest.approx((30 * 20 + 5) / 2.0)
    with pytest.raises(ValueError, match="speed"):
        jobs.replay(path, speed=-1)


def test_replay_throughput(tmp_path):
    """Parse and apply 10,000 metric events: the events/s a replay sustains."""
    import time

    events = [metrics_event(s, T0 + s, scores={"train_reward_mean": s / 1e4, "graders": [
        {"name": "a", "train_reward_mean": 0.1}, {"name": "b", "train_reward_mean": 0.2}]},
        completion_tokens_mean=100.0) for s in range(1, 10_001)]
    path = write_jsonl(tmp_path / "big.jsonl", events)
    start = time.perf_counter()
    job = jobs.replay(path)
    frame = job.metrics
    elapsed = time.perf_counter() - start
    assert len(frame) == 10_000
    rate = 10_000 / elapsed
    print(f"replay: {rate:,.0f} events/s")
    assert rate > 5_000


# ---------------------------------------------------------------- cost


def test_step_seconds_prefers_timings_and_skips_pauses():
    rows = {1: {"timing/step/full_iteration": 30.0, "timing/step/eval": 5.0},
            2: {"timing/step/sampling": 20.0, "timing/step/training": 10.0},
            3: {}, 4: {}, 5: {}}
    times = {1: 0.0, 2: 30.0, 3: 60.0, 4: 3600.0, 5: 3630.0}
    secs = step_seconds(rows, times, pauses=[(100.0, 3500.0)])
    assert secs[1] == 25.0 and secs[2] == 30.0 and secs[3] == 30.0
    assert secs[4] == 30.0  # the gap spans a pause: a typical step instead
    assert secs[5] == 30.0
    est = estimate(rows, times, 120.0)
    assert est.spent == pytest.approx(sum(step_seconds(rows, times).values()) / 3600 * 120)


def test_cost_guard_pauses_a_replayed_job_before_the_budget(tmp_path):
    # each step: 30 s of training at $360/h = $3; the budget allows ~5 steps (margin 2 steps)
    job, clock = streaming_job(service_events(), speed=30.0)
    job.price_per_hour = 360.0
    job.set_budget(21.0)
    job.refresh()
    for _ in range(20):
        clock.now += 1
        job.refresh()
        if job.status == "paused":
            break
    assert job.status == "paused"
    cost = job.cost
    assert cost.spent < 21.0 and cost.spent + 2 * cost.per_step >= 21.0
    guard = [e for e in job.events if e.kind == "message" and "Cost guard" in e.message]
    assert len(guard) == 1 and "$21.00 budget" in guard[0].message
    job.resume()  # the guard stays off until the budget changes
    clock.now += 2
    job.refresh()
    assert job.status == "running"
    with pytest.raises(ValueError):
        job.set_budget(-1)


def test_cost_settings():
    before = cost_settings()
    try:
        configure_cost(price_per_hour=50, budget=10)
        assert cost_settings().price_per_hour == 50
        job, _ = streaming_job(service_events(), speed=30.0)
        assert job.budget == 10 and job.price_per_hour == 50
        with pytest.raises(ValueError, match="unknown cost setting 'budjet'"):
            configure_cost(budjet=3)
        with pytest.raises(ValueError):
            configure_cost(price_per_hour=-2)
    finally:
        configure_cost(**before.__dict__)


# ---------------------------------------------------------------- output


def test_snapshot_bundle_and_plot(tmp_path):
    job = jobs.replay(write_jsonl(tmp_path / "e.jsonl", service_events()))
    bundle = snapshot_bundle(job)
    assert set(bundle) == {"text/plain", "text/html", "image/png", MIME}
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    data = bundle[MIME]
    assert data["version"] == 1 and data["status"] == "succeeded"
    train = data["series"]["train_reward_mean"]
    assert train["group"] == "reward" and train["points"][:2] == [[1, 0.025], [2, 0.05]]
    json.dumps(data)  # JSON-serialisable as is
    html = bundle["text/html"]
    assert "<script" not in html and "data:image/png;base64," in html
    assert "succeeded" in html and "Per-grader reward: exact train" in html
    fig = job.plot()
    assert len(fig.axes) == 4  # reward, graders, tokens, errors
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == {"train", "valid"}
    one = job.plot(["completion_tokens_mean"])
    assert len(one.axes) == 1
    with pytest.raises(KeyError, match="no metric 'nope'"):
        job.plot(["nope"])
    assert "Job(e, replay, succeeded, step 20/20, train 0.5000" in repr(job)
