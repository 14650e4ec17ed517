"""JobMonitor's kernel side (payloads, deltas, rate, freeze, bundle), ``%rft job`` through a real
InteractiveShell, and a notebook run headless (nbclient) whose saved output is the snapshot."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import comm
import nbformat
import openai
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from servers.ft_server import FtServer
from test_jobs_replay import Clock, service_events, write_jsonl
from traitlets.config import Config

import rft_jupyter.jobs as jobs
from rft_jupyter.jobs.events import Event
from rft_jupyter.jobs.replay_source import ReplaySource
from rft_jupyter.jobs.snapshot import MIME
from rft_jupyter.widgets.job_monitor import JobMonitor

WIDGET = "application/vnd.jupyter.widget-view+json"


class RecordingComm(comm.base_comm.BaseComm):
    """A comm that keeps what the widget sends (no kernel needed)."""

    sent: list[dict] = []

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        RecordingComm.sent.append({"type": msg_type, "data": data})


@pytest.fixture
def sent(monkeypatch):
    RecordingComm.sent = []
    monkeypatch.setattr(comm, "create_comm", lambda **kw: RecordingComm(**kw))
    return RecordingComm.sent


def customs(sent: list[dict]) -> list[dict]:
    return [m["data"]["content"] for m in sent
            if m["type"] == "comm_msg" and m["data"].get("method") == "custom"]


def deltas(sent: list[dict]) -> list[dict]:
    return [c for c in customs(sent) if c.get("kind") == "delta" and c.get("points")]


def streaming(speed: float = 30.0) -> tuple[jobs.Job, Clock]:
    clock = Clock()
    events = [Event.from_service(e) for e in service_events()[::-1]]
    eval_event = Event("ev-run", "eval_run", events[5].created_at + 1, 5,
                       {"run_id": "run-5", "reward_mean": 0.5,
                        "samples": [{"index": i, "reward": i % 2, "output": f"o{i}"}
                                    for i in range(8)]}, "eval")
    ckpt = Event("ck", "checkpoint", events[5].created_at + 2, 5,
                 {"id": "ck-5", "metrics": {"valid_reward_mean": 0.5}, "model": "ft:x"}, "c")
    events = sorted([*events, eval_event, ckpt], key=lambda e: e.created_at)
    job = jobs.Job(ReplaySource(events, {"id": "demo", "model": "o4-mini"}, speed=speed,
                                clock=clock))
    job.refresh()  # starts the replay clock
    return job, clock


def test_base_then_append_only_deltas_then_freeze(sent):
    job, clock = streaming()
    job.refresh()
    clock.now += 3.01
    job.refresh()
    monitor = JobMonitor(job, max_rate=5)
    base = monitor.base
    assert base["from"] == 0 and base["to"] == len(job.events)
    assert [p[0] for p in base["points"]["train_reward_mean"]] == [1, 2, 3]
    assert base["series"]["train_reward_mean"] == {"group": "reward", "label": "train"}
    assert base["progress"]["status"] == "running" and base["progress"]["job"]["id"] == "demo"
    assert monitor.status == "running" and not monitor.frozen

    clock.now += 4
    job.refresh()
    assert monitor.flush(force=True)
    d = deltas(sent)[-1]
    assert d["from"] == base["to"] and d["to"] == len(job.events)
    assert [p[0] for p in d["points"]["train_reward_mean"]] == [4, 5, 6, 7]
    assert d["points"]["valid_reward_mean"] == [[5, pytest.approx(5 / 30)]]
    assert [e["id"] for e in d["evals"]] == ["run-5"] and d["evals"][0]["step"] == 5
    assert d["checkpoints"] == [{"id": "ck-5", "step": 5, "valid_reward_mean": 0.5,
                                 "model": "ft:x"}]
    assert "samples" not in d["evals"][0]  # per-sample rows only on request

    # Nothing new: no delta with points (a progress tick at most once a second).
    assert not monitor.flush(force=True)

    # Rate limit: a second delta within 1/max_rate seconds waits.
    clock.now += 1
    job.refresh()
    assert not monitor.flush()
    monitor._last_send -= 1
    assert monitor.flush()

    clock.now += 100
    monitor.update()  # refresh + flush + freeze (the job ended)
    assert monitor.frozen and monitor.status == "succeeded"
    assert [p[0] for p in monitor.base["points"]["train_reward_mean"]] == list(range(1, 21))
    bundle = monitor.snapshot
    assert {"text/plain", "text/html", "image/png", MIME} <= set(bundle)
    assert monitor._repr_mimebundle_() is bundle
    assert bundle[MIME]["series"]["train_reward_mean"]["points"][-1] == [20, 0.5]
    json.dumps(monitor.get_state(), default=str)


def test_frontend_messages_resync_samples_and_control(sent):
    job, clock = streaming()
    clock.now += 6.01
    job.refresh()
    monitor = JobMonitor(job)
    monitor._on_msg(monitor, {"kind": "resync", "seq": 2}, [])
    reply = customs(sent)[-1]
    assert reply["from"] == 2 and reply["to"] == len(job.events)
    monitor._on_msg(monitor, {"kind": "eval_samples", "run": "run-5"}, [])
    rows = customs(sent)[-1]
    assert rows["kind"] == "eval_samples" and rows["total"] == 8
    assert [r["output"] for r in rows["rows"]][:2] == ["o0", "o1"]
    monitor._on_msg(monitor, {"kind": "control", "action": "pause"}, [])
    assert job.state()["status"] == "paused"
    monitor._on_msg(monitor, {"kind": "control", "action": "resume"}, [])
    assert job.state()["status"] == "running"
    monitor._on_msg(monitor, {"kind": "control", "action": "format-disk"}, [])
    assert job.state()["status"] == "running"
    monitor._on_msg(monitor, {"kind": "control", "action": "cancel"}, [])
    monitor.update()
    assert monitor.frozen and monitor.status == "cancelled"


def test_a_new_monitor_of_the_same_job_takes_over(sent):
    job, clock = streaming()
    first = JobMonitor(job)
    second = JobMonitor(job)
    assert first.frozen and first.snapshot is not None and not second.frozen


def test_mime_bundle_of_a_live_monitor_has_fallbacks(sent):
    job, _ = streaming()
    data, _meta = JobMonitor(job)._repr_mimebundle_()
    assert WIDGET in data and "text/html" in data and "text/plain" in data
    saved = data[MIME]  # for a notebook saved before the job ends, reopened without the kernel
    assert saved["status"] == job.status and saved["source"] == job.kind
    assert json.loads(json.dumps(saved)) == saved
    with pytest.raises(TypeError):
        JobMonitor("not a job")
    with pytest.raises(ValueError):
        JobMonitor(job, max_rate=50)


def test_polling_task_streams_deltas_at_a_bounded_rate(sent, tmp_path):
    """On an event loop (as in a kernel): deltas arrive at 2-5 Hz while a replay streams."""
    path = write_jsonl(tmp_path / "e.jsonl", service_events())

    async def main() -> tuple[JobMonitor, float]:
        job = jobs.replay(path, duration=3.0)
        monitor = JobMonitor(job, max_rate=4)
        start = time.monotonic()
        assert monitor.start()
        status = await monitor.wait(timeout=20)
        assert status == "succeeded"
        return monitor, time.monotonic() - start

    monitor, elapsed = asyncio.run(main())
    times = monitor.deltas_sent
    assert monitor.frozen
    gaps = [b - a for a, b in zip(times, times[1:])]
    rate = len(times) / elapsed
    print(f"monitor: {len(times)} deltas in {elapsed:.2f} s = {rate:.1f} Hz, "
          f"min gap {min(gaps):.3f} s")
    assert min(gaps) >= 0.24  # never above max_rate
    assert 2.0 <= rate <= 5.0
    steps = sorted({p[0] for d in deltas(sent) for p in d["points"].get("train_reward_mean",
                                                                          [])})
    assert steps == list(range(1, 21))  # every point sent once the stream ended


# ---------------------------------------------------------------- %rft job


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    config = Config()
    config.HistoryAccessor.enabled = False
    return InteractiveShell.instance(config=config)


@pytest.fixture
def ip(shell, sent, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import rft_jupyter

    name = "rft_jupyter" if hasattr(rft_jupyter, "load_ipython_extension") else \
        "rft_jupyter.magics"
    if name not in shell.extension_manager.loaded:
        shell.run_line_magic("load_ext", name)
    write_jsonl(tmp_path / "events.jsonl", service_events())
    return shell


def test_rft_job_replay_returns_the_job_and_shows_a_monitor(ip, capsys):
    from rft_jupyter.magics.job import run_job_command

    result = ip.run_cell("job = %rft job replay events.jsonl -o stored")
    assert result.error_in_exec is None
    job = ip.user_ns["job"]
    assert isinstance(job, jobs.Job) and ip.user_ns["stored"] is job
    assert job.status == "succeeded"
    result = ip.run_cell("%rft job replay events.jsonl --speed 1000")
    assert isinstance(result.result, JobMonitor)  # the displayhook shows it once
    assert run_job_command(ip, "pause job") is None
    assert "events: succeeded" in capsys.readouterr().out
    shown = run_job_command(ip, "watch")
    assert shown is not None


def test_rft_job_errors_are_one_line_usage_errors(ip):
    from rft_jupyter.magics.job import run_job_command

    for line, pattern in [
        ("replay missing.jsonl", "does not exist"),
        ("frobnicate", "unknown subcommand 'frobnicate'"),
        ("replai x", "did you mean 'replay'"),
        ("replay events.jsonl --speed 2 --duration 3", "not allowed with"),
        ("pause nosuchvar", "no Job variable 'nosuchvar'"),
        ("local nograder events.jsonl", "no grader named 'nograder'"),
        ("create g events.jsonl", "--model"),
    ]:
        with pytest.raises(UsageError, match=pattern):
            run_job_command(ip, line)
    assert run_job_command(ip, "") is None  # help


def test_rft_job_attach_and_pause_through_the_server(ip):
    from rft_jupyter.jobs.openai_source import _REGISTRY
    from rft_jupyter.magics.job import run_job_command

    _REGISTRY.clear()
    with FtServer(api_key="sk-magic-test-123456") as server:
        job_id = server.add_job()
        server.add_metrics(job_id, 1, {"scores": {"train_reward_mean": 0.25}})
        ip.user_ns["client"] = openai.OpenAI(base_url=server.base_url,
                                             api_key="sk-magic-test-123456")
        job = run_job_command(ip, f"attach {job_id} --client client --budget 5 --no-watch")
        assert job.metrics["train_reward_mean"].tolist() == [0.25] and job.budget == 5
        run_job_command(ip, "pause")
        assert server.jobs[job_id]["status"] == "paused"
        run_job_command(ip, f"cancel {job_id}")  # by id: the same attached job
        assert server.jobs[job_id]["status"] == "cancelled"
        with pytest.raises(UsageError, match="no variable 'nope'"):
            run_job_command(ip, "attach ftjob-x --client nope")
    _REGISTRY.clear()


def test_complete():
    from rft_jupyter.magics.job import complete

    assert "replay" in complete(None, [], "")
    assert "--speed" in complete(None, ["replay", "x"], "")


# ---------------------------------------------------------------- Run All, headless


def test_notebook_run_all_leaves_the_frozen_snapshot_in_the_saved_notebook(tmp_path):
    from nbclient import NotebookClient

    path = write_jsonl(tmp_path / "events.jsonl", service_events())
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import rft_jupyter.jobs as jobs\n"
                                  "from rft_jupyter.widgets.job_monitor import JobMonitor\n"
                                  f"job = jobs.replay({str(path)!r}, duration=2.0)"),
        nbformat.v4.new_code_cell("monitor = JobMonitor(job)\nmonitor"),
        nbformat.v4.new_code_cell("print('while it streams:', job.status)"),
        nbformat.v4.new_code_cell("status = await monitor.wait(30)\nprint(status, "
                                  "len(monitor.deltas_sent))"),
        nbformat.v4.new_code_cell("job.plot()"),
    ]
    client = NotebookClient(nb, timeout=90, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    out = nb.cells[1].outputs
    assert len(out) == 1 and out[0].output_type == "display_data"
    data = out[0]["data"]
    assert WIDGET not in data  # the live widget was replaced by the snapshot
    assert {"text/plain", "text/html", "image/png", MIME} <= set(data)
    assert data[MIME]["status"] == "succeeded"
    assert data[MIME]["series"]["train_reward_mean"]["points"][-1] == [20, 0.5]
    assert nb.cells[3].outputs[0]["text"].startswith("succeeded")
    assert "image/png" in nb.cells[4].outputs[0]["data"]
    nbformat.write(nb, Path(tmp_path / "saved.ipynb"))
    reread = nbformat.read(tmp_path / "saved.ipynb", as_version=4)
    assert MIME in reread.cells[1].outputs[0]["data"]
