"""The JobMonitor in a real JupyterLab (Chromium): curves grow while a replayed job streams,
pause / resume / cancel work, eval runs open their samples, and when a job ends the frozen
snapshot replaces the widget and stays in the saved notebook (also after a reload)."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

MIME = "application/vnd.rft-jupyter.job+json"
WIDGET = "application/vnd.jupyter.widget-view+json"
T0 = 1_750_000_000


def job_events(steps: int) -> list[dict]:
    """A job as the events endpoint returns it: metrics every 30 s, an eval run and a
    checkpoint every 10 steps, newest first."""
    out = [{"id": "ev-start", "object": "fine_tuning.job.event", "created_at": T0,
            "level": "info", "message": "Fine-tuning job started", "type": "message"}]
    for step in range(1, steps + 1):
        t = T0 + 30 * step
        data = {"step": step, "total_steps": steps,
                "scores": {"train_reward_mean": 0.2 + 0.6 * step / steps,
                           "graders": [{"name": "exact", "train_reward_mean": 0.5 * step / steps},
                                       {"name": "close", "train_reward_mean": 0.4}]},
                "completion_tokens_mean": 200 - step,
                "errors": {"graders": [{"name": "exact",
                                        "train_sample_parse_error_mean": 0.2 / step}]}}
        if step % 10 == 0:
            data["scores"]["valid_reward_mean"] = 0.25 + 0.6 * step / steps
            out.append({"id": f"ev-run-{step}", "type": "eval_run", "created_at": t + 1,
                        "message": f"eval at {step}",
                        "data": {"step": step, "run_id": f"run-{step}",
                                 "samples": [{"index": i, "reward": (i + step) % 3 / 2,
                                              "output": f"answer {i} at {step}"}
                                             for i in range(6)]}})
            out.append({"id": f"ev-ck-{step}", "type": "checkpoint", "created_at": t + 2,
                        "message": "checkpoint", "data": {"step": step, "id": f"ck-{step}",
                        "model": f"ft:o4-mini:ckpt-step-{step}",
                        "metrics": {"full_valid_mean_reward": 0.25 + 0.6 * step / steps}}})
        out.append({"id": f"ev-{step}", "object": "fine_tuning.job.event", "created_at": t,
                    "level": "info", "message": f"Step {step}/{steps}", "type": "metrics",
                    "data": data})
    out.append({"id": "ev-done", "created_at": T0 + 30 * steps + 5, "type": "message",
                "message": "The job has successfully completed"})
    return sorted(out, key=lambda e: -e["created_at"])


CELLS = [
    """import rft_jupyter.jobs as jobs
from rft_jupyter.widgets.job_monitor import JobMonitor
long_job = jobs.replay("long.jsonl", duration=14.0)
short_job = jobs.replay("short.jsonl", duration=30.0)""",
    "JobMonitor(long_job)",
    "JobMonitor(short_job)",
]


SNAPSHOT = ".rft-saved-job"  # the labextension's renderer of the frozen snapshot


def points(cell, series: str = "train_reward_mean") -> int:
    line = cell.locator(f"polyline.rft-jm-line[data-series='{series}']")
    if line.count() == 0:
        return 0
    return int(line.first.get_attribute("data-n") or 0)


def status(cell) -> str:
    return cell.locator(".rft-jm-status").inner_text().strip()


def wait_until(predicate, timeout: float = 20.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def test_job_monitor_streams_controls_and_freezes(lab, notebook, page):
    for name, steps in (("long.jsonl", 40), ("short.jsonl", 60)):
        (lab.root / name).write_text("".join(json.dumps(e) + "\n" for e in job_events(steps)))
    path = lab.write_notebook("job_monitor.ipynb", CELLS)
    notebook.open("job_monitor.ipynb").run_all(timeout=60)
    cells = page.locator(".jp-Notebook .jp-Cell")
    long_cell, short_cell = cells.nth(1), cells.nth(2)
    long_cell.locator(".rft-jm").wait_for(state="visible")
    short_cell.locator(".rft-jm").wait_for(state="visible")
    assert notebook.errors() == []
    # the saved snapshot travels with the live widget (for a notebook saved mid-run) but stays
    # hidden while the widget is alive
    assert long_cell.locator(SNAPSHOT).count() == 1 and long_cell.locator(SNAPSHOT).is_hidden()

    # the curves grow while the replay streams
    assert wait_until(lambda: points(long_cell) >= 2)
    first = points(long_cell)
    assert wait_until(lambda: points(long_cell) >= first + 3, timeout=10)
    assert status(long_cell) == "running"
    panels = long_cell.locator(".rft-jm-panel").evaluate_all(
        "els => els.map(e => e.dataset.group)")
    assert panels[:4] == ["reward", "graders", "tokens", "errors"]
    progress = long_cell.locator(".rft-jm-progress").inner_text()
    assert "step" in progress and "/40" in progress and "elapsed" in progress
    notebook.screenshot(long_cell.locator(".rft-jm"), "job_monitor_live")

    # pause: the curve stops; resume: it grows again
    long_cell.locator("button.rft-jm-pause").click()
    assert wait_until(lambda: status(long_cell) == "paused", timeout=10)
    time.sleep(0.7)  # a delta of events released just before the pause may still arrive
    held = points(long_cell)
    time.sleep(1.5)
    assert points(long_cell) == held
    assert long_cell.locator("button.rft-jm-resume").is_enabled()
    long_cell.locator("button.rft-jm-resume").click()
    assert wait_until(lambda: points(long_cell) > held, timeout=10)
    assert status(long_cell) == "running"

    # readouts, log scale and smoothing redraw without errors
    legend = long_cell.locator(".rft-jm-panel[data-group='reward'] tr[data-series="
                               "'train_reward_mean'] td.rft-jm-max")
    assert float(legend.inner_text()) > 0.2
    long_cell.locator("input.rft-jm-log-toggle").check()
    long_cell.locator("input.rft-jm-smooth").fill("0.8")
    assert points(long_cell) > 0

    # eval runs: a chip per run, its per-sample table on click
    assert wait_until(lambda: long_cell.locator("button.rft-jm-chip").count() >= 1, timeout=15)
    long_cell.locator("button.rft-jm-chip").first.click()
    table = long_cell.locator("table.rft-jm-samples")
    table.wait_for(state="visible")
    assert table.locator("tr").count() == 7 and "answer 0 at 10" in table.inner_text()
    assert wait_until(lambda: long_cell.locator("path.rft-jm-ckpt").count() >= 1, timeout=10)
    assert "ft:o4-mini:ckpt-step-10" in long_cell.locator(".rft-jm-ckpts").inner_text()
    inside = long_cell.locator("circle.rft-jm-evaldot").evaluate_all(
        "els => els.every(e => +e.getAttribute('cy') >= 0 && +e.getAttribute('cy') <= 190)")
    assert inside  # eval markers are drawn inside the frame

    # cancel takes two clicks, then the monitor freezes into the snapshot
    cancel = short_cell.locator("button.rft-jm-cancel")
    cancel.click()
    assert cancel.inner_text() == "Confirm cancel"
    cancel.click()
    short_cell.locator(SNAPSHOT).wait_for(state="visible", timeout=20_000)
    assert short_cell.locator(".rft-jm").count() == 0
    assert "cancelled" in short_cell.locator(SNAPSHOT).inner_text()

    # the long job ends by itself: its widget is replaced by the snapshot, which the
    # labextension draws as charts (the PNG + HTML are for places without it)
    long_cell.locator(SNAPSHOT).wait_for(state="visible", timeout=40_000)
    snap = long_cell.locator(SNAPSHOT)
    assert "succeeded" in snap.inner_text()
    assert snap.locator(".rft-saved-chart svg path.rft-line").count() >= 2
    assert long_cell.locator(".rft-jm").count() == 0
    notebook.screenshot(snap, "job_monitor_frozen")

    # saved: the outputs are the snapshot (PNG, HTML, the project's JSON), not the widget
    notebook.command("docmanager:save")
    assert wait_until(lambda: MIME in path.read_text(), timeout=15)
    saved = json.loads(path.read_text())
    for i, expected in ((1, "succeeded"), (2, "cancelled")):
        outputs = saved["cells"][i]["outputs"]
        assert len(outputs) == 1
        data = outputs[0]["data"]
        assert WIDGET not in data and "image/png" in data and "text/html" in data
        assert data[MIME]["status"] == expected
    series = saved["cells"][1]["outputs"][0]["data"][MIME]["series"]["train_reward_mean"]
    assert [p[0] for p in series["points"]] == list(range(1, 41))

    # reopened without the kernel, the snapshot is still there
    lab.delete_sessions()
    page.reload()
    page.wait_for_function("() => !!window.jupyterapp")
    for i, expected in ((1, "succeeded"), (2, "cancelled")):
        cell = page.locator(".jp-Notebook .jp-Cell").nth(i)
        cell.scroll_into_view_if_needed()  # JupyterLab renders the cells in view
        snap = cell.locator(SNAPSHOT)
        snap.wait_for(state="visible", timeout=30_000)
        assert expected in snap.inner_text()
        assert snap.locator(".rft-saved-chart svg path.rft-line").count() >= 2
    assert notebook.errors() == []
