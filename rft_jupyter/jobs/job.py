"""``Job``: one RFT job seen through its events, whatever the source (service, replay, local).

A source (:class:`Source`) fetches *new* events; the job deduplicates them by id and keeps the
tables a user reads: ``metrics`` (one row per step), ``eval_runs``, ``checkpoints``, the
``status`` and an estimate of the ``cost``. Reading those refreshes a live job at most once per
poll interval (a failed refresh keeps what was there and is retried next time); ``refresh()``
fetches now and raises :class:`JobConnectionError` when the source cannot be reached, after
keeping every event it did get.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .cost import CostEstimate, cost_settings, estimate, guard_message
from .events import TERMINAL, Event, metrics_row

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

CONTROL_ACTIONS = ("pause", "resume", "cancel")


class JobConnectionError(RuntimeError):
    """The source could not be reached (after its retries); ``partial`` holds the events that
    did arrive before it failed (the job keeps them)."""

    def __init__(self, message: str, partial: list[Event] | None = None) -> None:
        super().__init__(message)
        self.partial = list(partial or [])


class Source(Protocol):
    """Where a job's events come from."""

    kind: str  # "openai", "azure", "replay", "local"
    poll_interval: float  # seconds between refreshes while the job is live

    def info(self) -> dict[str, Any]:
        """What identifies the job (id, model, ...): safe to show, never credentials."""

    def fetch(self) -> list[Event]:
        """Events not returned before (may raise JobConnectionError with ``partial``)."""

    def control(self, action: str) -> list[Event]:
        """Pause, resume or cancel; returns status events the action produced."""

    def close(self) -> None:
        """Release files, processes or connections."""


@dataclass
class EvalRun:
    """One evaluation on the validation rows: per-sample rewards and their mean."""

    id: str
    step: int | None
    status: str = "completed"
    reward_mean: float | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    created_at: float | None = None

    @classmethod
    def from_event(cls, event: Event) -> EvalRun:
        data = event.data
        samples = [dict(s) for s in data.get("samples") or [] if isinstance(s, Mapping)]
        mean = data.get("reward_mean")
        if mean is None:
            rewards = [s["reward"] for s in samples if isinstance(s.get("reward"), (int, float))]
            mean = sum(rewards) / len(rewards) if rewards else None
        return cls(
            id=str(data.get("run_id") or event.id),
            step=event.step,
            status=str(data.get("status") or "completed"),
            reward_mean=float(mean) if isinstance(mean, (int, float)) else None,
            samples=samples,
            created_at=event.created_at,
        )

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "step": self.step,
            "status": self.status,
            "reward_mean": self.reward_mean,
            "n": len(self.samples),
            "created_at": self.created_at,
        }

    def to_pandas(self) -> pd.DataFrame:
        """One row per sample: index, reward, passed, output, error and ``sub.<grader>``."""
        import pandas as pd

        rows = []
        for s in self.samples:
            row = {k: v for k, v in s.items() if k not in ("sub_rewards", "scores")}
            for key, value in (s.get("sub_rewards") or s.get("scores") or {}).items():
                row[f"sub.{key}"] = value
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        mean = "?" if self.reward_mean is None else f"{self.reward_mean:.4f}"
        return f"EvalRun({self.id}, step={self.step}, {len(self.samples)} samples, mean={mean})"


class Job:
    """A fine-tuning job and everything its events said so far (see the module docstring)."""

    def __init__(
        self,
        source: Source,
        *,
        budget: float | None = None,
        price_per_hour: float | None = None,
        margin_steps: float | None = None,
    ) -> None:
        settings = cost_settings()
        self.source = source
        self._lock = threading.RLock()
        self._events: list[Event] = []
        self._ids: set[str] = set()
        self._rows: dict[int, dict[str, float]] = {}
        self._times: dict[int, float] = {}
        self._eval_runs: dict[str, EvalRun] = {}
        self._checkpoints: dict[str, dict[str, Any]] = {}
        self._status = "unknown"
        self._status_since: float | None = None
        self._pauses: list[tuple[float, float]] = []
        self._paused_at: float | None = None
        self._frame: pd.DataFrame | None = None
        self._last_refresh = 0.0
        self._synthetic = 0
        self.total_steps: int | None = None
        self.notices: list[str] = []
        self.last_error: str | None = None
        self.budget = settings.budget if budget is None else budget
        self.price_per_hour = settings.price_per_hour if price_per_hour is None else price_per_hour
        self.margin_steps = settings.margin_steps if margin_steps is None else margin_steps
        self._guard_fired = False
        self.started_at: float | None = None

    # ------------------------------------------------------------ identity

    @property
    def id(self) -> str:
        return str(self.source.info().get("id", ""))

    @property
    def kind(self) -> str:
        """The source: ``openai``, ``azure``, ``replay`` or ``local``."""
        return self.source.kind

    @property
    def info(self) -> dict[str, Any]:
        """Id, model and other facts of the source (never credentials)."""
        return dict(self.source.info())

    # ------------------------------------------------------------ refreshing

    def refresh(self) -> list[Event]:
        """Fetch new events now and return those not seen before.

        Raises :class:`JobConnectionError` when the source stays unreachable; the events that
        did arrive are kept, and the next refresh goes on from there.
        """
        with self._lock:
            self._last_refresh = time.monotonic()
            try:
                fetched = self.source.fetch()
            except JobConnectionError as exc:
                added = self._add_all(exc.partial)
                self.last_error = str(exc)
                self._check_budget()
                raise
            self.last_error = None
            added = self._add_all(fetched)
            added += self._check_budget()
            return added

    def _auto_refresh(self) -> None:
        if self._status in TERMINAL:
            return
        if time.monotonic() - self._last_refresh < self.source.poll_interval:
            return
        try:
            self.refresh()
        except JobConnectionError:
            pass  # kept in last_error; the data so far stays

    @property
    def done(self) -> bool:
        """Whether the job reached a terminal status."""
        self._auto_refresh()
        return self._status in TERMINAL

    def wait(self, timeout: float | None = None, interval: float | None = None) -> str:
        """Block until the job ends (or ``timeout`` seconds pass); returns the status.

        In a notebook prefer the monitor (``rft.JobMonitor(job)``) or ``await
        monitor.wait()``, which keep the kernel free.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = self.source.poll_interval if interval is None else interval
        while True:
            try:
                self.refresh()
            except JobConnectionError:
                pass
            if self._status in TERMINAL:
                return self._status
            if deadline is not None and time.monotonic() >= deadline:
                return self._status
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            time.sleep(pause if left is None else min(pause, left))

    # ------------------------------------------------------------ applying events

    def _add_all(self, events: list[Event]) -> list[Event]:
        added = []
        for event in events:
            if self._add(event):
                added.append(event)
        return added

    def _add(self, event: Event) -> bool:
        if event.id in self._ids:
            return False
        self._ids.add(event.id)
        if event.created_at is not None and (
            self.started_at is None or event.created_at < self.started_at
        ):
            self.started_at = event.created_at
        kind = event.kind
        if kind == "metrics":
            self._add_metrics(event)
        elif kind == "eval_run":
            event = self._with_eval_step(event)
            run = EvalRun.from_event(event)
            self._eval_runs[run.id] = run
        elif kind == "checkpoint":
            self._add_checkpoint(event)
        elif kind == "status":
            self._set_status(event)
        elif kind == "message" and event.data.get("notice") and event.message not in self.notices:
            self.notices.append(event.message)
        self._events.append(event)
        return True

    def _add_metrics(self, event: Event) -> None:
        data = event.data
        step = event.step if event.step is not None else data.get("step")
        if not isinstance(step, int):
            return
        total = data.get("total_steps")
        if isinstance(total, (int, float)) and not isinstance(total, bool) and total > 0:
            self.total_steps = int(total)
        row = self._rows.setdefault(step, {})
        row.update(metrics_row(data))
        if event.created_at is not None and step not in self._times:
            self._times[step] = event.created_at
        self._frame = None

    def _with_eval_step(self, event: Event) -> Event:
        if event.step is not None:
            return event
        t = event.created_at
        steps = [s for s, r in self._rows.items() if "valid_reward_mean" in r and s in self._times]
        if t is None or not steps:
            return event
        before = [s for s in steps if self._times[s] <= t]
        step = max(before) if before else min(steps)
        return Event(event.id, event.kind, event.created_at, step, event.data, event.message,
                     event.level)

    def _add_checkpoint(self, event: Event) -> None:
        data = event.data
        key = str(data.get("id") or event.id)
        if data.get("deleted"):
            self._checkpoints.pop(key, None)
            return
        metrics = data.get("metrics") if isinstance(data.get("metrics"), Mapping) else {}
        row: dict[str, Any] = {"id": key, "step": event.step}
        row.update(metrics_row(metrics))
        for extra in ("model", "path"):
            if data.get(extra):
                row[extra] = data[extra]
        row["created_at"] = event.created_at
        self._checkpoints[key] = row

    def _set_status(self, event: Event) -> None:
        status = event.status or "unknown"
        now = event.created_at if event.created_at is not None else time.time()
        if status in ("paused", "pausing") and self._paused_at is None:
            self._paused_at = now
        elif status not in ("paused", "pausing") and self._paused_at is not None:
            self._pauses.append((self._paused_at, now))
            self._paused_at = None
        if status != self._status:
            self._status_since = now
        self._status = status
        total = event.data.get("total_steps")
        if isinstance(total, int) and total > 0:
            self.total_steps = total

    def _synthetic_event(self, kind: str, message: str = "", level: str = "info",
                         data: Mapping[str, Any] | None = None) -> Event:
        self._synthetic += 1
        return Event(f"note-{self._synthetic}-{time.time():.6f}", kind, time.time(), None,
                     dict(data or {}), message, level)

    # ------------------------------------------------------------ cost

    @property
    def cost(self) -> CostEstimate | None:
        """Estimated spend so far at ``price_per_hour`` (None for local jobs)."""
        if self.kind == "local":
            return None
        with self._lock:
            if not self._rows:
                return None
            pauses = list(self._pauses)
            if self._paused_at is not None:
                pauses.append((self._paused_at, float("inf")))
            return estimate(self._rows, self._times, self.price_per_hour, pauses)

    def set_budget(self, budget: float | None) -> None:
        """Change the cost guard's budget (USD; None turns it off) and re-arm it."""
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))
                                   or budget < 0):
            raise ValueError("budget must be a number >= 0 (USD) or None")
        self.budget = budget
        self._guard_fired = False

    def _check_budget(self) -> list[Event]:
        if self.budget is None or self._guard_fired or self.kind == "local":
            return []
        if self._status in TERMINAL or self._status in ("paused", "pausing"):
            return []
        est = self.cost
        if est is None or not est.steps:
            return []
        if est.spent + self.margin_steps * est.per_step < self.budget:
            return []
        self._guard_fired = True
        message = guard_message(est, self.budget)
        try:
            added = self._control("pause")
        except Exception as exc:  # noqa: BLE001 - say so, the user must act
            added = []
            message += f" Pausing FAILED ({exc}): pause or cancel the job yourself."
        note = self._synthetic_event("message", message, "warn",
                                     {"cost": est.to_json(), "budget": self.budget,
                                      "notice": True})
        self._add(note)
        return [*added, note]

    # ------------------------------------------------------------ control

    def _control(self, action: str) -> list[Event]:
        if action not in CONTROL_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(CONTROL_ACTIONS)}, not {action!r}")
        with self._lock:
            return self._add_all(self.source.control(action))

    def pause(self) -> str:
        """Pause the job (the service snapshots the model); returns the status."""
        self._control("pause")
        return self._status

    def resume(self) -> str:
        """Resume a paused job; returns the status."""
        self._control("resume")
        return self._status

    def cancel(self) -> str:
        """Cancel the job; returns the status."""
        self._control("cancel")
        return self._status

    def close(self) -> None:
        """Release the source's files or processes (a local trainer keeps running)."""
        self.source.close()

    # ------------------------------------------------------------ reading

    @property
    def status(self) -> str:
        """The last status the source reported (``paused`` and unknown statuses are live)."""
        self._auto_refresh()
        return self._status

    @property
    def events(self) -> list[Event]:
        """Every event so far, in arrival order."""
        self._auto_refresh()
        with self._lock:
            return list(self._events)

    def events_since(self, cursor: int) -> tuple[list[Event], int]:
        """Events after position ``cursor`` and the new cursor (no refresh; for monitors)."""
        with self._lock:
            return self._events[cursor:], len(self._events)

    @property
    def step(self) -> int | None:
        """The latest step with metrics."""
        with self._lock:
            return max(self._rows) if self._rows else None

    @property
    def metrics(self) -> pd.DataFrame:
        """One row per step (index ``step``): every numeric metric, nested keys joined with
        ``/``, plus ``train_reward_mean`` / ``valid_reward_mean`` when the events carry them."""
        self._auto_refresh()
        return self._metrics_frame()

    def _metrics_frame(self) -> pd.DataFrame:
        import pandas as pd

        with self._lock:
            if self._frame is None:
                steps = sorted(self._rows)
                frame = pd.DataFrame([self._rows[s] for s in steps], index=pd.Index(steps,
                                     name="step"), dtype=float)
                first = [c for c in ("train_reward_mean", "valid_reward_mean") if c in frame]
                frame = frame[first + sorted(c for c in frame.columns if c not in first)]
                self._frame = frame
            return self._frame.copy()

    def rows(self) -> dict[int, dict[str, float]]:
        """The metrics as ``{step: {column: value}}`` (a copy; no refresh)."""
        with self._lock:
            return {s: dict(r) for s, r in self._rows.items()}

    def step_times(self) -> dict[int, float]:
        """Unix time at which each step's metrics arrived (when the source says)."""
        with self._lock:
            return dict(self._times)

    @property
    def eval_runs(self) -> list[EvalRun]:
        """Evaluations on the validation rows, by step."""
        self._auto_refresh()
        with self._lock:
            return sorted(self._eval_runs.values(),
                          key=lambda r: (r.step is None, r.step or 0, r.created_at or 0))

    @property
    def checkpoints(self) -> pd.DataFrame:
        """The checkpoints kept (the service keeps the 3 best by valid_reward_mean)."""
        import pandas as pd

        self._auto_refresh()
        with self._lock:
            rows = sorted(self._checkpoints.values(), key=lambda r: (r["step"] is None,
                                                                     r["step"] or 0))
        frame = pd.DataFrame(rows)
        if frame.empty:
            return pd.DataFrame(columns=["id", "step", "valid_reward_mean", "train_reward_mean"])
        return frame

    def get_eval_run(self, run_id: str) -> EvalRun | None:
        """One eval run by id (no refresh)."""
        with self._lock:
            return self._eval_runs.get(run_id)

    def state(self) -> dict[str, Any]:
        """Status, step, total steps, elapsed, ETA, cost, budget, last error and notices, as
        known now (no refresh): what a monitor shows."""
        with self._lock:
            est = self.cost
            return {
                "status": self._status,
                "step": self.step,
                "total_steps": self.total_steps,
                "elapsed": self.elapsed(),
                "eta": self.eta(),
                "cost": est.to_json() if est else None,
                "budget": self.budget,
                "error": self.last_error,
                "notices": list(self.notices),
            }

    def checkpoint_rows(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._checkpoints.values()]

    def elapsed(self) -> float | None:
        """Seconds from the first event to the last (or to now while running)."""
        with self._lock:
            if self.started_at is None:
                return None
            if self._status in TERMINAL or self.kind == "replay":
                last = max((e.created_at for e in self._events if e.created_at is not None),
                           default=self.started_at)
                return max(0.0, last - self.started_at)
            return max(0.0, time.time() - self.started_at)

    def eta(self) -> float | None:
        """Seconds left, from the pace of recent steps and ``total_steps``."""
        with self._lock:
            if self.total_steps is None or self._status in TERMINAL or len(self._times) < 2:
                return None
            steps = sorted(self._times)[-20:]
            span = self._times[steps[-1]] - self._times[steps[0]]
            if span <= 0 or steps[-1] == steps[0]:
                return None
            per_step = span / (steps[-1] - steps[0])
            return max(0.0, (self.total_steps - steps[-1]) * per_step)

    # ------------------------------------------------------------ output

    def save(self, path: str | Path) -> Path:
        """Write the events as JSONL (the events endpoint's shape, oldest first), preceded by
        one line describing the job; ``rft.jobs.replay(path)`` reads it back."""
        path = Path(path)
        with self._lock:
            header = {"object": "rft_jupyter.job", **self.source.info(), "source": self.kind,
                      "status": self._status, "total_steps": self.total_steps}
            lines = [json.dumps(header, default=str)]
            lines += [json.dumps(e.to_service(), default=str) for e in self._events]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def plot(self, columns: list[str] | None = None) -> Figure:
        """A matplotlib Figure of the curves (reward, per-grader, tokens, errors)."""
        from .plot import plot_job

        return plot_job(self, columns)

    def summary(self) -> dict[str, Any]:
        """Status, step, latest rewards, cost: what a one-line repr says."""
        with self._lock:
            latest: dict[str, float] = {}
            for step in sorted(self._rows):
                for col in ("train_reward_mean", "valid_reward_mean"):
                    if col in self._rows[step]:
                        latest[col] = self._rows[step][col]
            est = self.cost
            return {
                "id": self.id,
                "source": self.kind,
                "model": self.source.info().get("model"),
                "status": self._status,
                "step": self.step,
                "total_steps": self.total_steps,
                **latest,
                "eval_runs": len(self._eval_runs),
                "checkpoints": len(self._checkpoints),
                "cost": None if est is None else round(est.spent, 4),
            }

    def __repr__(self) -> str:
        s = self.summary()
        step = "" if s["step"] is None else f", step {s['step']}" + (
            f"/{s['total_steps']}" if s["total_steps"] else "")
        rewards = "".join(
            f", {label} {s[col]:.4f}" for col, label in
            (("train_reward_mean", "train"), ("valid_reward_mean", "valid")) if col in s)
        return f"Job({s['id']}, {s['source']}, {s['status']}{step}{rewards})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from .snapshot import snapshot_bundle

        return snapshot_bundle(self)


__all__ = ["CONTROL_ACTIONS", "EvalRun", "Job", "JobConnectionError", "Source"]
