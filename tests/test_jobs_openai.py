"""The OpenAI / Azure OpenAI job source: the real openai SDK against a real local HTTP server
(tests/servers/ft_server.py) with injected 429s, 500s, dropped connections and events that
arrive while the client pages."""

from __future__ import annotations

import json

import openai
import pytest
from servers.ft_server import FtServer

import rft_jupyter.jobs as jobs
from rft_jupyter.data.report import DatasetValidationError
from rft_jupyter.jobs.job import JobConnectionError
from rft_jupyter.jobs.openai_source import _REGISTRY
from rft_jupyter.jobs.retry import RetryPolicy

KEY = "sk-test-VERYSECRET-0123456789abcdef"


class Sleeps:
    """A RetryPolicy sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def server():
    with FtServer(api_key=KEY) as s:
        yield s


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=3)


@pytest.fixture(autouse=True)
def _fresh_registry():
    _REGISTRY.clear()
    yield
    _REGISTRY.clear()


def policy(sleeps: Sleeps | None = None, retries: int = 4) -> RetryPolicy:
    return RetryPolicy(retries=retries, base=0.01, sleep=sleeps or Sleeps())


def reward(step: int) -> float:
    return round(step / 64, 6)


def add_steps(server: FtServer, job_id: str, steps: range) -> None:
    for step in steps:
        data = {"scores": {"train_reward_mean": reward(step),
                           "graders": [{"name": "exact", "type": "string_check",
                                        "train_reward_mean": reward(step) / 2}]},
                "completion_tokens_mean": 100 + step}
        if step % 10 == 0:
            data["scores"]["valid_reward_mean"] = reward(step) + 0.1
        server.add_metrics(job_id, step, data, total_steps=60)


def events_requests(server: FtServer) -> list:
    return server.received("/events")


# ---------------------------------------------------------------- events: incremental, exact


def test_attach_pages_new_events_through_faults_and_keeps_the_exact_series(server, client):
    job_id = server.add_job()
    add_steps(server, job_id, range(1, 26))
    server.retry_after = "7"
    server.fail("/events", 429, 500, "drop", 503)
    sleeps = Sleeps()
    job = jobs.attach(job_id, client, page_size=7, retry=policy(sleeps))
    assert job.kind == "openai" and job.status == "running"
    assert job.metrics["train_reward_mean"].tolist() == [reward(s) for s in range(1, 26)]
    assert job.metrics["scores/graders/exact/train_reward_mean"].tolist() == [
        reward(s) / 2 for s in range(1, 26)]
    assert job.metrics["valid_reward_mean"].dropna().to_dict() == {10: reward(10) + 0.1,
                                                                   20: reward(20) + 0.1}
    assert job.total_steps == 60
    assert sleeps.delays[0] == 7.0  # Retry-After honoured
    assert len(sleeps.delays) == 4
    statuses = [r.status for r in events_requests(server)]
    assert statuses[:4] == [429, 500, -1, 503] and set(statuses[4:]) == {200}
    # newest first, after= pages toward older events: 25..19, 18..12, 11..5, 4..1
    afters = [r.query.get("after", [None])[0] for r in events_requests(server)[4:]]
    assert len(afters) == 4 and afters[0] is None

    # Nothing new: one request, the first page's newest event is known.
    server.requests.clear()
    assert job.refresh() == []
    assert len(events_requests(server)) == 1

    # 15 new events; 5 more arrive while the client pages through them.
    add_steps(server, job_id, range(26, 41))
    server.during_paging(job_id, lambda: add_steps(server, job_id, range(41, 46)))
    server.requests.clear()
    new = job.refresh()
    assert [e.step for e in new if e.kind == "metrics"] == list(range(26, 41))
    assert job.metrics.index.tolist() == list(range(1, 41))
    pages = events_requests(server)
    assert [r.query.get("after", [None])[0] is None for r in pages] == [True, False, False]
    new = job.refresh()
    assert [e.step for e in new if e.kind == "metrics"] == list(range(41, 46))
    m = job.metrics
    assert m.index.tolist() == list(range(1, 46))
    assert m["train_reward_mean"].tolist() == [reward(s) for s in range(1, 46)]
    assert m["completion_tokens_mean"].tolist() == [100 + s for s in range(1, 46)]
    ids = [e.id for e in job.events]
    assert len(ids) == len(set(ids))


def test_an_outage_longer_than_the_retries_keeps_the_state_and_the_next_refresh_catches_up(
        server, client):
    job_id = server.add_job()
    add_steps(server, job_id, range(1, 31))
    job = jobs.attach(job_id, client, page_size=5, retry=policy(retries=2))
    before = job.metrics.copy()

    # The job endpoint is down for good: nothing changes, the error says why, no key.
    server.fail(f"/fine_tuning/jobs/{job_id}", 500, 500, 500)
    add_steps(server, job_id, range(31, 51))
    with pytest.raises(JobConnectionError, match=r"HTTP 500.*gave up after 2 retries") as info:
        job.refresh()
    assert KEY not in str(info.value)
    assert job.metrics.equals(before) and job.last_error

    # The second events page fails for good: the first page is kept, the gap filled later.
    original = server._take_fault
    paged_failures = {"left": 3}  # the first attempt and its 2 retries

    def fail_paging(path):
        paging = server.requests and server.requests[-1].query.get("after")
        if "/events" in path and paging and paged_failures["left"]:
            paged_failures["left"] -= 1
            return 500
        return original(path)

    server._take_fault = fail_paging
    with pytest.raises(JobConnectionError):
        job.refresh()
    got = job.metrics.index.tolist()
    assert got == list(range(1, 31)) + list(range(46, 51))  # the newest page arrived
    server._take_fault = original
    assert job.last_error
    job.refresh()
    m = job.metrics
    assert m.index.tolist() == list(range(1, 51))
    assert m["train_reward_mean"].tolist() == [reward(s) for s in range(1, 51)]
    assert job.last_error is None
    ids = [e.id for e in job.events]
    assert len(ids) == len(set(ids))


def test_reattaching_returns_the_same_job_and_fetches_only_new_events(server, client):
    job_id = server.add_job()
    add_steps(server, job_id, range(1, 6))
    job = jobs.attach(job_id, client)
    server.requests.clear()
    again = jobs.attach(job_id, openai.OpenAI(base_url=server.base_url, api_key=KEY),
                        budget=99.0)
    assert again is job and job.budget == 99.0
    assert len(events_requests(server)) == 1


def test_a_missing_job_is_a_clear_error(server, client):
    with pytest.raises(JobConnectionError, match="HTTP 404"):
        jobs.attach("ftjob-nope", client, retry=policy())
    assert not _REGISTRY


# ---------------------------------------------------------------- statuses and control


def test_statuses_paused_is_live_unknown_passes_through_and_control_works(server, client):
    job_id = server.add_job(status="queued")
    job = jobs.attach(job_id, client)
    assert job.status == "queued" and not job.done
    for status in ("running", "pausing", "paused", "rebalancing_shards"):
        server.set_status(job_id, status)
        job.refresh()
        assert job.status == status and not job.done
    server.set_status(job_id, "running")
    assert job.pause() == "paused" and not job.done
    assert job.resume() == "running"
    assert job.cancel() == "cancelled" and job.done
    posts = [r.path.rsplit("/", 1)[1] for r in server.received("/fine_tuning/jobs/",
                                                               method="POST")]
    assert posts == ["pause", "resume", "cancel"]
    status_events = [e.status for e in job.events if e.kind == "status"]
    assert status_events == ["queued", "running", "pausing", "paused", "rebalancing_shards",
                             "paused", "running", "cancelled"]


def test_a_failed_job_carries_the_services_error(server, client):
    job_id = server.add_job()
    job = jobs.attach(job_id, client)
    server.jobs[job_id]["error"] = {"code": "invalid_grader", "message": "the grader raised",
                                    "param": None}
    server.set_status(job_id, "failed")
    job.refresh()
    assert job.done and job.status == "failed"
    last = [e for e in job.events if e.kind == "status"][-1]
    assert last.level == "error" and "the grader raised" in last.message


# ---------------------------------------------------------------- checkpoints, eval runs


def test_checkpoints_come_and_go(server, client):
    job_id = server.add_job()
    job = jobs.attach(job_id, client)
    a = server.add_checkpoint(job_id, 10, {"full_valid_mean_reward": 0.4,
                                           "train_mean_reward": 0.3})
    b = server.add_checkpoint(job_id, 20, {"full_valid_mean_reward": 0.6})
    job.refresh()
    ck = job.checkpoints
    assert ck["id"].tolist() == [a, b] and ck["step"].tolist() == [10, 20]
    assert ck["valid_reward_mean"].tolist() == [0.4, 0.6]
    assert ck["model"].tolist() == ["ft:o4-mini:test:ckpt-step-10", "ft:o4-mini:test:ckpt-step-20"]
    server.remove_checkpoint(job_id, a)
    job.refresh()
    assert job.checkpoints["id"].tolist() == [b]


def test_eval_runs_and_their_output_items(server, client):
    job_id = server.add_job(eval_id="eval-abc")
    add_steps(server, job_id, range(1, 11))
    run = server.add_eval_run("eval-abc", 10, [(1.0, "42"), (0.0, "41"), (0.5, "forty-two")])
    pending = server.add_eval_run("eval-abc", 20, [(1.0, "x")], status="in_progress")
    job = jobs.attach(job_id, client)
    assert job.notices == []
    runs = job.eval_runs
    assert [(r.id, r.step) for r in runs] == [(run, 10)]
    assert runs[0].reward_mean == pytest.approx(0.5)
    frame = runs[0].to_pandas()
    assert frame["reward"].tolist() == [1.0, 0.0, 0.5]
    assert frame["output"].tolist() == ["42", "41", "forty-two"]
    assert frame["passed"].tolist() == [True, False, True]
    server.set_run_status("eval-abc", pending, "completed")
    job.refresh()
    assert [r.step for r in job.eval_runs] == [10, 20]
    requested = server.received("/output_items")
    assert [r.path.split("/")[4] for r in requested] == [run, pending]  # each fetched once


def test_without_eval_id_or_evals_api_the_monitor_is_told(server, client):
    job_id = server.add_job()
    job = jobs.attach(job_id, client)
    job.refresh()
    assert len(job.notices) == 1 and "no eval_id" in job.notices[0]

    other = server.add_job(eval_id="eval-gone")
    server.evals_error = 404
    job2 = jobs.attach(other, client)
    assert len(job2.notices) == 1
    assert "evals API did not answer" in job2.notices[0] and "HTTP 404" in job2.notices[0]
    job2.refresh()
    assert len(job2.notices) == 1 and len(server.received("/evals/")) == 1  # asked once

    third = server.add_job(eval_id="eval-flaky")
    server.evals_error = None
    server.add_eval_run("eval-flaky", 5, [(1.0, "a")])
    server.fail("/evals/", 500)
    job3 = jobs.attach(third, client, retry=policy())
    assert job3.notices == [] and len(job3.eval_runs) == 1


# ---------------------------------------------------------------- create


ROWS = [{"messages": [{"role": "user", "content": f"What is {i} + 1?"}], "answer": str(i + 1)}
        for i in range(6)]
GRADER = {
    "type": "multi", "name": "quality",
    "graders": {
        "exact": {"type": "string_check", "name": "exact", "operation": "eq",
                  "input": "{{ sample.output_json.answer }}", "reference": "{{ item.answer }}"},
        "close": {"type": "text_similarity", "name": "close", "evaluation_metric": "fuzzy_match",
                  "input": "{{ sample.output_json.answer }}", "reference": "{{ item.answer }}"},
    },
    "calculate_output": "0.8 * exact + 0.2 * close",
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": {
    "type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
    "additionalProperties": False}}}


def test_create_validates_uploads_and_starts_a_reinforcement_job(server, client, tmp_path):
    valid_path = tmp_path / "valid.jsonl"
    valid_path.write_text("".join(json.dumps(r) + "\n" for r in ROWS[:3]))
    job = jobs.create(GRADER, ROWS, valid_path, model="o4-mini-2025-04-16", client=client,
                      hyperparameters={"n_epochs": 2}, eval_interval=5, response_format=FORMAT,
                      suffix="demo", seed=7)
    assert job.status == "validating_files"
    uploads = server.received("/files", method="POST")
    assert [u.body["purpose"] for u in uploads] == ["fine-tune", "fine-tune"]
    sent = [server.file_bytes[f] for f in server.files]
    assert [json.loads(line) for line in sent[0].decode().splitlines()] == ROWS
    assert sent[1] == valid_path.read_bytes()
    assert uploads[1].body["file"]["filename"] == "valid.jsonl"
    body = server.received("/fine_tuning/jobs", method="POST")[0].body
    assert body["model"] == "o4-mini-2025-04-16" and body["suffix"] == "demo"
    assert body["seed"] == 7
    assert body["training_file"] in server.files and body["validation_file"] in server.files
    assert body["method"] == {"type": "reinforcement", "reinforcement": {
        "grader": GRADER, "hyperparameters": {"n_epochs": 2, "eval_interval": 5},
        "response_format": FORMAT}}
    assert job.info["eval_id"].startswith("eval-")


def test_create_uploads_nothing_when_the_data_is_invalid(server, client):
    bad = [{"messages": [{"role": "user", "content": "hi"}]}]  # no item.answer for the grader
    with pytest.raises(DatasetValidationError, match="answer"):
        jobs.create(GRADER, bad, model="o4-mini", client=client)
    with pytest.raises(ValueError, match="calculate_output|graders"):
        jobs.create({"type": "multi", "name": "x", "graders": {}, "calculate_output": "a"},
                    ROWS, model="o4-mini", client=client)
    assert server.received("/files") == [] and server.received("/fine_tuning") == []


def test_create_with_the_shared_countdown_data(server, client, datasets):
    base = datasets / "countdown"
    grader = json.loads((base / "grader_config_aoai.json").read_text())
    schema = json.loads((base / "response_schema.json").read_text())
    job = jobs.create(grader, base / "countdown_train_100.jsonl",
                      base / "countdown_valid_50.jsonl", model="o4-mini-2025-04-16",
                      client=client, response_format=schema)
    body = server.received("/fine_tuning/jobs", method="POST")[0].body
    assert body["method"]["reinforcement"]["grader"]["type"] == "score_model"
    assert body["method"]["reinforcement"]["response_format"] == schema
    assert job.id in server.jobs


# ---------------------------------------------------------------- Azure, cost, secrets


def test_azure_client(server):
    az = openai.AzureOpenAI(azure_endpoint=server.url, api_key=KEY,
                            api_version="2025-04-01-preview")
    job_id = server.add_job()
    add_steps(server, job_id, range(1, 4))
    job = jobs.attach(job_id, az)
    assert job.kind == "azure"
    assert job.metrics["train_reward_mean"].tolist() == [reward(s) for s in (1, 2, 3)]
    last = server.requests[-1]
    assert last.query["api-version"] == ["2025-04-01-preview"]
    assert last.headers.get("api-key") == KEY
    with pytest.raises(ValueError, match="Azure OpenAI requires a validation file"):
        jobs.create(GRADER, ROWS, model="o4-mini", client=az)


def test_an_async_client_works_too(server):
    job_id = server.add_job()
    add_steps(server, job_id, range(1, 13))
    aclient = openai.AsyncOpenAI(base_url=server.base_url, api_key=KEY)
    server.fail("/events", 500)
    job = jobs.attach(job_id, aclient, page_size=5, retry=policy())
    assert job.metrics["train_reward_mean"].tolist() == [reward(s) for s in range(1, 13)]
    assert job.pause() == "paused"


def test_the_cost_guard_pauses_the_job_before_the_budget(server, client):
    job_id = server.add_job()
    job = jobs.attach(job_id, client, budget=40.0, price_per_hour=100.0)
    for step in range(1, 10):
        # 6 minutes of training per step: $10 a step at $100/h
        server.add_metrics(job_id, step, {"scores": {"train_reward_mean": 0.1},
                                          "timing": {"step": {"full_iteration": 360.0}}})
        job.refresh()
        if job.status == "paused":
            break
    assert job.status == "paused" and job.step == 2  # $20 spent; 2 more steps would be $40
    assert server.received("/pause", method="POST")
    note = [e for e in job.events if "Cost guard" in e.message]
    assert len(note) == 1 and "$20.00 spent" in note[0].message
    assert job.cost.spent == pytest.approx(20.0)


def test_keys_never_appear_in_outputs(server, client, tmp_path):
    from rft_jupyter.jobs.snapshot import snapshot_bundle
    from rft_jupyter.widgets.job_monitor import JobMonitor

    job_id = server.add_job(eval_id="eval-k")
    add_steps(server, job_id, range(1, 4))
    job = jobs.attach(job_id, client)
    server.fail("/checkpoints", "leak")
    with pytest.raises(JobConnectionError) as info:
        job.refresh()
    message = str(info.value)
    assert "bad credentials Bearer ***" in message and KEY not in message
    saved = job.save(tmp_path / "job.jsonl").read_text()
    monitor = JobMonitor(job)
    outputs = [repr(job), json.dumps(job.info), saved, json.dumps(snapshot_bundle(job)),
               json.dumps(monitor.get_state(), default=str), str(job.last_error),
               repr(monitor)]
    for text in outputs:
        assert KEY not in text and "VERYSECRET" not in text
    assert "bad credentials" in str(job.last_error)
