"""``JobMonitor(job)``: a job's curves, live in the browser, frozen into the notebook at the end.

The curves are drawn by the widget's ES module (SVG, no CDN, no build step): train and valid
reward with eval runs and checkpoints marked, per-grader rewards, tokens, error rates, other
metrics; log/linear, smoothing and last-N-steps controls; min/max/current readouts; elapsed
time, ETA and cost; pause / resume / cancel buttons; the eval runs' per-sample tables.

The kernel side polls the job from an asyncio task on the kernel's own event loop: the
refresh (network or file I/O) runs in an executor thread that never touches the widget, and
the task sends append-only deltas (custom messages) at most ``max_rate`` times a second. A view
that missed a delta asks for it again. When the job ends, the monitor freezes: its displays are
replaced (``update_display``) by a static snapshot -- a matplotlib PNG, an HTML summary and the
``application/vnd.rft-jupyter.job+json`` series -- which stays in the saved notebook. A new
monitor of the same job (re-running the cell) takes over from the previous one.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import weakref
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..jobs.events import TERMINAL, Event, metrics_row
from ..jobs.job import Job, JobConnectionError
from ..jobs.series import describe

STATIC = Path(__file__).parent / "static"
MAX_SAMPLE_ROWS = 500
_ACTIVE: weakref.WeakValueDictionary[tuple[str, str], JobMonitor] = weakref.WeakValueDictionary()


class JobMonitor(anywidget.AnyWidget):
    """A live view of a :class:`~rft_jupyter.jobs.Job` (see the module docstring).

    ``interval``: seconds between refreshes (default: the source's, at least ``1/max_rate``);
    ``max_rate``: deltas per second at most (default 4). In a script (no running event loop)
    call :meth:`update` yourself, or use ``job.wait()``.
    """

    _esm = STATIC / "job_monitor.js"
    _css = STATIC / "job_monitor.css"

    job_id = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    frozen = traitlets.Bool(False).tag(sync=True)
    base = traitlets.Dict().tag(sync=True)

    def __init__(self, job: Job, *, interval: float | None = None, max_rate: float = 4.0,
                 **kwargs: Any) -> None:
        if not isinstance(job, Job):
            raise TypeError(f"JobMonitor needs a rft_jupyter Job, not {type(job).__name__}")
        if not (isinstance(max_rate, (int, float)) and 0 < max_rate <= 20):
            raise ValueError("max_rate must be a number of deltas per second in (0, 20]")
        super().__init__(**kwargs)
        self.job = job
        self.max_rate = float(max_rate)
        self.interval = max(float(interval if interval is not None else
                                  job.source.poll_interval), 1.0 / self.max_rate)
        self._cursor = 0
        self._handles: list[tuple[Any, dict | None]] = []
        self._task: asyncio.Task | None = None
        self._frozen_bundle: dict[str, Any] | None = None
        self._last_send = 0.0
        self._last_progress = 0.0
        self._control_error: str | None = None
        self.deltas_sent: list[float] = []  # monotonic times of the deltas with events
        key = (job.kind, job.id)
        previous = _ACTIVE.get(key)
        if previous is not None and previous is not self:
            previous.stop(freeze=True)
        _ACTIVE[key] = self
        self.on_msg(self._on_msg)
        events, cursor = job.events_since(0)
        state = job.state()
        with self.hold_sync():
            self.job_id = job.id
            self.status = state["status"]
            self.base = self._payload(events, 0, cursor, state)
        self._cursor = cursor
        if state["status"] in TERMINAL:
            self._freeze_now(update_displays=False)

    # ------------------------------------------------------------ payloads

    def _progress(self, state: dict[str, Any] | None = None) -> dict[str, Any]:
        state = state or self.job.state()
        info = self.job.info
        live_clock = self.job.kind != "replay" and state["status"] not in TERMINAL
        error = self._control_error or state["error"]
        return {
            **state,
            "error": error,
            "source": self.job.kind,
            "job": {k: info[k] for k in ("id", "model", "run_dir", "fine_tuned_model")
                    if isinstance(info.get(k), str)},
            "clock": "wall" if live_clock else "job",
        }

    def _payload(self, events: list[Event], start: int, end: int,
                 state: dict[str, Any] | None = None) -> dict[str, Any]:
        series: dict[str, dict[str, Any]] = {}
        points: dict[str, list[list[float]]] = {}
        evals: list[dict[str, Any]] = []
        checkpoints: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        for e in events:
            if e.kind == "metrics":
                step = e.step if e.step is not None else e.data.get("step")
                if not isinstance(step, int):
                    continue
                for column, value in metrics_row(e.data).items():
                    if not math.isfinite(value):
                        continue
                    if column not in series:
                        group, label = describe(column)
                        series[column] = {"group": group, "label": label}
                    points.setdefault(column, []).append([step, value])
            elif e.kind == "eval_run":
                run = self.job.get_eval_run(str(e.data.get("run_id") or e.id))
                if run is not None:
                    evals.append(run.summary())
            elif e.kind == "checkpoint":
                checkpoints.append(_checkpoint(e))
            elif e.kind in ("message", "status") and e.message:
                messages.append({"id": e.id, "level": e.level, "text": e.message,
                                 "time": e.created_at})
        return {"from": start, "to": end, "series": series, "points": points, "evals": evals,
                "checkpoints": checkpoints, "messages": messages,
                "progress": self._progress(state)}

    # ------------------------------------------------------------ sending

    def flush(self, force: bool = False) -> bool:
        """Send the events not sent yet as one delta (rate-limited unless ``force``);
        returns whether a delta went out."""
        events, cursor = self.job.events_since(self._cursor)
        now = time.monotonic()
        state = self.job.state()
        if state["status"] != self.status:
            self.status = state["status"]
        if events and (force or now - self._last_send >= 1.0 / self.max_rate):
            payload = self._payload(events, self._cursor, cursor, state)
            self.send({"kind": "delta", **payload})
            self._cursor = cursor
            self._last_send = self._last_progress = now
            self.deltas_sent.append(now)
            return True
        if not events and now - self._last_progress >= 1.0:
            self.send({"kind": "delta", "from": self._cursor, "to": self._cursor,
                       "progress": self._progress(state)})
            self._last_progress = now
        return False

    def update(self) -> list[Event]:
        """Refresh the job and send what is new (for scripts; the poller does it in a kernel).
        Freezes the monitor when the job has ended."""
        added: list[Event] = []
        with contextlib.suppress(JobConnectionError):
            added = self.job.refresh()
        self.flush(force=True)
        if self.job.state()["status"] in TERMINAL:
            self.freeze()
        return added

    # ------------------------------------------------------------ polling

    def start(self) -> bool:
        """Start polling on the running event loop (the kernel's); False without one."""
        if self.frozen or (self._task is not None and not self._task.done()):
            return self._task is not None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                loop = asyncio.get_event_loop()
            except RuntimeError:
                return False
            if not loop.is_running():
                return False
        self._task = loop.create_task(self._run())
        return True

    def stop(self, freeze: bool = False) -> None:
        """Stop polling (``freeze``: leave a static snapshot in the displays)."""
        task, self._task = self._task, None
        if task is not None and not task.done() and task is not _current_task():
            task.cancel()
        if freeze and not self.frozen:
            self._freeze_now(update_displays=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.frozen:
            try:
                await loop.run_in_executor(None, self._refresh)
                self.flush()
                if self.job.state()["status"] in TERMINAL:
                    self.freeze()
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep polling; show what broke
                self._control_error = f"monitor: {type(exc).__name__}: {exc}"
            await asyncio.sleep(self.interval)

    def _refresh(self) -> None:  # executor thread: the job only, never the widget
        with contextlib.suppress(JobConnectionError):
            self.job.refresh()

    async def wait(self, timeout: float | None = None) -> str:
        """Wait (without blocking the kernel) until the job ends and the monitor froze;
        returns the status. Starts polling if needed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self.frozen and (self._task is None or self._task.done()):
            self.start()
        while not self.frozen:
            if deadline is not None and time.monotonic() >= deadline:
                break
            await asyncio.sleep(min(0.1, self.interval))
        return self.status

    # ------------------------------------------------------------ freezing

    def freeze(self) -> None:
        """Send the last delta, store the whole series in ``base`` and replace every display
        by the static snapshot."""
        if self.frozen:
            return
        self._freeze_now(update_displays=True)

    def _freeze_now(self, update_displays: bool) -> None:
        from ..jobs.snapshot import snapshot_bundle

        with contextlib.suppress(Exception):
            self.flush(force=True)
        bundle = snapshot_bundle(self.job)
        events, cursor = self.job.events_since(0)
        state = self.job.state()
        with self.hold_sync():
            self.base = self._payload(events, 0, cursor, state)
            self.status = state["status"]
            self.frozen = True
        self._cursor = cursor
        self._frozen_bundle = bundle
        task, self._task = self._task, None
        if task is not None and not task.done() and task is not _current_task():
            task.cancel()
        if update_displays:
            self._update_displays(bundle)

    @property
    def snapshot(self) -> dict[str, Any] | None:
        """The static mime bundle once frozen."""
        return self._frozen_bundle

    def _update_displays(self, bundle: dict[str, Any]) -> None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover
            return
        shell = get_ipython()
        pub = getattr(shell, "display_pub", None)
        # JupyterLab routes an update to the output area of the request it answers (the cell
        # that displayed the monitor); nbclient / papermill only read messages of the cell
        # running now. Send it under both.
        running = getattr(pub, "_parent_header_global", None)
        for handle, parent in self._handles:
            parents = [parent]
            if running and running.get("msg_id") != (parent or {}).get("msg_id"):
                parents.append(dict(running))
            for header in parents:
                token = None
                if header and hasattr(pub, "set_thread_parent"):
                    token = pub.set_thread_parent(header)
                try:
                    handle.update(bundle, raw=True)
                except Exception:  # noqa: BLE001 - a closed display must not break the others
                    pass
                finally:
                    if token is not None:
                        pub.reset_thread_parent(token)

    # ------------------------------------------------------------ frontend messages

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("kind")
        if kind in ("hello", "resync"):
            seq = content.get("seq")
            seq = seq if isinstance(seq, int) and seq >= 0 else 0
            events, cursor = self.job.events_since(seq)
            self.send({"kind": "delta", **self._payload(events, seq, cursor)})
        elif kind == "control":
            self._control(str(content.get("action")))
        elif kind == "eval_samples":
            run = self.job.get_eval_run(str(content.get("run")))
            rows = run.samples[:MAX_SAMPLE_ROWS] if run is not None else []
            self.send({"kind": "eval_samples", "run": content.get("run"), "rows": rows,
                       "total": len(run.samples) if run is not None else 0})

    def _control(self, action: str) -> None:
        if action not in ("pause", "resume", "cancel"):
            return

        def act() -> None:
            try:
                getattr(self.job, action)()
                self._control_error = None
            except Exception as exc:  # noqa: BLE001 - shown in the monitor
                self._control_error = f"{action} failed: {exc}"

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            act()
            self.flush(force=True)
            return

        async def run() -> None:
            await loop.run_in_executor(None, act)
            self.flush(force=True)

        loop.create_task(run())

    # ------------------------------------------------------------ display

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self._frozen_bundle is not None:
            return self._frozen_bundle
        result = super()._repr_mimebundle_(**kwargs)
        data, metadata = result if isinstance(result, tuple) else (result, {})
        from ..jobs.snapshot import MIME, snapshot_data, snapshot_html

        data = dict(data)
        saved = snapshot_data(self.job)
        data["text/html"] = snapshot_html(self.job, data=saved)  # nbconvert, GitHub, no widgets
        # What the labextension draws if the notebook is saved before the job ends and reopened
        # without this kernel (the live widget takes over while it runs).
        data[MIME] = saved
        return data, metadata

    def _ipython_display_(self, **kwargs: Any) -> None:
        from IPython.display import display

        if self._frozen_bundle is not None:
            display(self._frozen_bundle, raw=True)
            return
        data, metadata = self._repr_mimebundle_()
        handle = display(data, metadata=metadata, raw=True, display_id=True)
        if handle is not None:
            self._handles.append((handle, _current_parent()))
        self.start()

    def __repr__(self) -> str:
        return f"JobMonitor({self.job!r}{', frozen' if self.frozen else ''})"


def _checkpoint(e: Event) -> dict[str, Any]:
    data = e.data
    out: dict[str, Any] = {"id": str(data.get("id") or e.id), "step": e.step}
    if data.get("deleted"):
        out["deleted"] = True
        return out
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    row = metrics_row(metrics)
    for key in ("valid_reward_mean", "train_reward_mean"):
        if key in row and math.isfinite(row[key]):
            out[key] = row[key]
    for key in ("model", "path"):
        if isinstance(data.get(key), str):
            out[key] = data[key]
    return out


def _current_task() -> asyncio.Task | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _current_parent() -> dict | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    pub = getattr(get_ipython(), "display_pub", None)
    parent = getattr(pub, "parent_header", None)
    return dict(parent) if parent else None


__all__ = ["JobMonitor"]
