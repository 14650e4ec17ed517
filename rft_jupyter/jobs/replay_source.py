"""Replay a job from a file: an events JSONL or a results CSV, at once or streamed.

- **Events JSONL**: one event per line as the events endpoint returns them (any order: newest
  first as listed, or oldest first as :meth:`Job.save` writes), optionally led by the
  ``{"object": "rft_jupyter.job", ...}`` line ``Job.save`` writes. Lines holding a whole page
  (``{"object": "list", "data": [...]}``) and a JSON array file are read too. Without status
  events, statuses are read from the service's messages ("The job has successfully completed").
- **Results CSV** (the job's result file): one row per step; the columns are flattened metric
  keys (``train_mean_reward``, ``errors/graders/<name>/train_sample_parse_error_count``...), read
  as they come, blanks left out. A CSV has no times: each step counts as one second.

``speed=None`` releases everything on the first refresh. ``speed=x`` releases events as the
job's own clock runs ``x`` times faster than real time (``duration=s`` picks the speed that
spreads the whole file over ``s`` seconds), so a monitor shows the curves growing; pause,
resume and cancel act on that clock. A replay that ends without a terminal status ends as
``replayed``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .events import TERMINAL, Event, status_from_message
from .job import Job

POLL_INTERVAL = 0.2


def read_events(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[Event]]:
    """``(header, events)`` from an events JSONL / JSON file or a results CSV, oldest first."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{os.fspath(path)} does not exist")
    text = path.read_text(encoding="utf-8-sig")
    head = text.lstrip()[:1]
    if path.suffix.lower() == ".csv" or (head and head not in "{["):
        return {"id": path.stem}, _csv_events(text, path)
    return _json_events(text, path)


def _json_events(text: str, path: Path) -> tuple[dict[str, Any], list[Event]]:
    header: dict[str, Any] = {}
    raw: list[Mapping[str, Any]] = []
    stripped = text.strip()
    if stripped.startswith("["):
        items = json.loads(stripped)
        lines = [(i + 1, item) for i, item in enumerate(items)]
    else:
        lines = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                lines.append((number, json.loads(line)))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
    for number, obj in lines:
        if not isinstance(obj, Mapping):
            raise ValueError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
        if obj.get("object") == "rft_jupyter.job":
            header = {k: v for k, v in obj.items() if k != "object"}
        elif obj.get("object") == "list" and isinstance(obj.get("data"), list):
            raw.extend(e for e in obj["data"] if isinstance(e, Mapping))
        else:
            raw.append(obj)
    return header, _chronological([Event.from_service(r) for r in raw])


def _chronological(events: list[Event]) -> list[Event]:
    """Oldest first: a newest-first listing is reversed, then sorted by time (stable)."""
    times = [e.created_at for e in events if e.created_at is not None]
    down = sum(1 for a, b in zip(times, times[1:]) if b < a)
    up = sum(1 for a, b in zip(times, times[1:]) if b > a)
    if down > up:
        events = events[::-1]
    seen: set[str] = set()
    unique = []
    for i, e in enumerate(events):
        key = e.id or f"line-{i}"
        if key in seen:
            continue
        seen.add(key)
        unique.append(e if e.id else Event(key, e.kind, e.created_at, e.step, e.data, e.message,
                                           e.level))
    return sorted(unique, key=lambda e: e.created_at if e.created_at is not None else -math.inf)


def _csv_events(text: str, path: Path) -> list[Event]:
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames:
        raise ValueError(f"{path}: no header row")
    fields = [f.strip() for f in reader.fieldnames]
    step_col = next((f for f in fields if f.lower() == "step"), None)
    if step_col is None:
        raise ValueError(f"{path}: no 'step' column (columns: {', '.join(fields[:8])}...)")
    events = []
    for number, row in enumerate(reader, 2):
        data: dict[str, Any] = {}
        for key, value in row.items():
            if key is None or value is None:
                continue
            key = key.strip()
            value = value.strip()
            if not value:
                continue
            try:
                data[key] = float(value)
            except ValueError:
                continue
        step = data.pop(step_col, None)
        if step is None:
            continue
        data["step"] = int(step)
        events.append(Event(f"csv-{number}", "metrics", None, int(step), data,
                            f"Step {int(step)}"))
    return events


class ReplaySource:
    """Releases a file's events on a virtual clock (see the module docstring)."""

    kind = "replay"

    def __init__(
        self,
        events: list[Event],
        header: Mapping[str, Any] | None = None,
        *,
        speed: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        name: str = "replay",
    ) -> None:
        if speed is not None and not (isinstance(speed, (int, float)) and speed > 0):
            raise ValueError("speed must be a number > 0 (job seconds per real second) or None")
        self.poll_interval = POLL_INTERVAL
        self._header = dict(header or {})
        self._header.setdefault("id", name)
        self._clock = clock
        self.speed = speed
        explicit = any(e.kind == "status" for e in events)
        self._events = events if explicit else _with_inferred_statuses(events)
        self._offsets = _offsets(self._events)
        self._i = 0
        self._started: float | None = None
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._cancelled = False
        self._finished = False
        self._n = 0
        self._t0 = next((e.created_at for e in self._events if e.created_at is not None), None)

    @property
    def length(self) -> float:
        """Job seconds from the first event to the last."""
        return self._offsets[-1] if self._offsets else 0.0

    def info(self) -> dict[str, Any]:
        out = {k: v for k, v in self._header.items() if k not in ("status", "source")}
        out["replay_of"] = self._header.get("source", "file")
        return out

    def _now(self) -> float:
        if self.speed is None:
            return math.inf
        if self._started is None:
            self._started = self._clock()
        now = self._paused_at if self._paused_at is not None else self._clock()
        return (now - self._started - self._paused_total) * self.speed

    def _time_at(self, offset: float) -> float | None:
        if self._t0 is None:
            return None
        return self._t0 + offset

    def _status(self, status: str, offset: float) -> Event:
        self._n += 1
        return Event(f"replay-status-{self._n}-{status}", "status", self._time_at(offset), None,
                     {"status": status}, f"replay: {status}")

    def fetch(self) -> list[Event]:
        out: list[Event] = []
        if self._n == 0:
            first = self._events[0] if self._events else None
            if first is None or first.kind != "status":
                out.append(self._status("running", 0.0))
        if self._cancelled or self._finished:
            return out
        now = self._now()
        n = len(self._events)
        while self._i < n and self._offsets[self._i] <= now:
            out.append(self._events[self._i])
            self._i += 1
        if self._i >= n:
            self._finished = True
            last = next((e.status for e in reversed(self._events) if e.kind == "status"), None)
            if last not in TERMINAL:
                out.append(self._status("replayed", self.length))
        return out

    def control(self, action: str) -> list[Event]:
        if self._finished or self._cancelled:
            return []
        offset = min(self._now(), self.length) if self.speed is not None else self.length
        if action == "pause" and self._paused_at is None:
            self._now()
            self._paused_at = self._clock()
            return [self._status("paused", offset)]
        if action == "resume" and self._paused_at is not None:
            self._paused_total += self._clock() - self._paused_at
            self._paused_at = None
            return [self._status("running", offset)]
        if action == "cancel":
            self._cancelled = True
            return [self._status("cancelled", offset)]
        return []

    def close(self) -> None:
        pass


def _with_inferred_statuses(events: list[Event]) -> list[Event]:
    out = []
    for e in events:
        out.append(e)
        status = status_from_message(e.message) if e.kind == "message" else None
        if status:
            out.append(Event(f"{e.id}-status", "status", e.created_at, None,
                             {"status": status, "from_message": e.id}, "", e.level))
    return out


def _offsets(events: list[Event]) -> list[float]:
    """Job seconds from the start for each event (steps as seconds when there are no times)."""
    t0 = next((e.created_at for e in events if e.created_at is not None), None)
    out = []
    last = 0.0
    for e in events:
        if t0 is not None and e.created_at is not None:
            value = e.created_at - t0
        elif e.step is not None:
            value = float(e.step)
        else:
            value = last
        last = max(last, value)
        out.append(last)
    return out


def replay(
    path: str | os.PathLike[str],
    speed: float | None = None,
    *,
    duration: float | None = None,
    budget: float | None = None,
    price_per_hour: float | None = None,
) -> Job:
    """A :class:`Job` replayed from an events JSONL or a results CSV (module docstring).

    ``speed``: job seconds per real second (None: everything at once); ``duration``: seconds
    the whole replay should take (sets the speed). The cost estimate uses ``price_per_hour``.
    """
    header, events = read_events(path)
    source = ReplaySource(events, header, speed=speed, name=Path(path).stem)
    if duration is not None:
        if not (isinstance(duration, (int, float)) and duration > 0):
            raise ValueError("duration must be a number of seconds > 0")
        source.speed = max(source.length, 1e-9) / duration
    job = Job(source, budget=budget, price_per_hour=price_per_hour)
    job.refresh()
    return job


__all__ = ["ReplaySource", "read_events", "replay"]
