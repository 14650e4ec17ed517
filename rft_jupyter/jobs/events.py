"""The job event model every source speaks: metrics, eval_run, checkpoint, status, message.

An :class:`Event` is what the service's events endpoint returns (``fine_tuning.job.event``),
widened with three kinds of our own (``eval_run``, ``checkpoint``, ``status``) so that the
evals API, the checkpoints API, a job's status and the local trainer all fit one stream.
``Event.to_service()`` writes the endpoint's JSON shape (``type`` carries the kind), which
``Event.from_service`` and replay read back.

Metric data is nested (``scores.graders[] {name, train_reward_mean}``); :func:`flatten` joins
keys with ``/`` and names list entries by their ``name`` (as the service's results CSV does:
``errors/graders/<name>/train_sample_parse_error_count``). :func:`metrics_row` adds the
canonical ``train_reward_mean`` / ``valid_reward_mean`` columns from wherever the event put them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("metrics", "eval_run", "checkpoint", "status", "message")
# Statuses after which nothing changes. ``replayed``: a replay whose file ends without one of
# the service's terminal statuses. Anything else (paused, pausing, statuses the SDK does not
# know yet) is live.
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "replayed"})
LEVELS = ("info", "warn", "error")

# Canonical column -> the keys (flattened) the service uses for it, in order of preference.
CANONICAL = {
    "train_reward_mean": ("scores/train_reward_mean", "train_reward_mean", "train_mean_reward"),
    "valid_reward_mean": (
        "scores/valid_reward_mean",
        "valid_reward_mean",
        "full_valid_mean_reward",
        "valid_mean_reward",
    ),
}
_NOT_METRICS = frozenset({"step", "total_steps"})


@dataclass(frozen=True)
class Event:
    """One thing that happened to a job.

    ``kind`` is one of :data:`KINDS`; ``created_at`` is Unix time in seconds (None when the
    source does not say, e.g. a results CSV); ``step`` the training step it belongs to;
    ``data`` the payload: metrics as the service sends them, an eval run (``run_id``,
    ``reward_mean``, ``samples``), a checkpoint (``id``, ``metrics``, ``model`` or ``path``,
    ``deleted``), a status (``status``).
    """

    id: str
    kind: str
    created_at: float | None = None
    step: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""
    level: str = "info"

    @property
    def status(self) -> str | None:
        """The job status a ``status`` event announces."""
        return str(self.data.get("status")) if self.kind == "status" else None

    def to_service(self) -> dict[str, Any]:
        """The events endpoint's JSON shape (``type`` holds the kind)."""
        out: dict[str, Any] = {
            "id": self.id,
            "object": "fine_tuning.job.event",
            "created_at": self.created_at,
            "level": self.level,
            "message": self.message,
            "type": self.kind,
        }
        if self.data or self.kind != "message":
            data = dict(self.data)
            if self.step is not None and self.kind != "message":
                data.setdefault("step", self.step)
            out["data"] = data
        return out

    @classmethod
    def from_service(cls, raw: Mapping[str, Any]) -> Event:
        """An event from the endpoint's JSON (or what :meth:`to_service` wrote).

        ``type: metrics`` is a metrics event; our own kinds come back as themselves; anything
        else (``message``, none, ``moderation_checks``...) is a message.
        """
        kind = raw.get("type")
        data = raw.get("data")
        data = dict(data) if isinstance(data, Mapping) else {}
        if kind not in KINDS:
            kind = "message"
        step = _int_or_none(data.get("step")) if kind != "message" else None
        level = raw.get("level") if raw.get("level") in LEVELS else "info"
        created = raw.get("created_at")
        return cls(
            id=str(raw.get("id") or ""),
            kind=kind,
            created_at=float(created) if isinstance(created, (int, float)) else None,
            step=step,
            data=data,
            message=str(raw.get("message") or ""),
            level=level,
        )


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        v = float(value)
        return v if not math.isnan(v) else None
    return None


def flatten(data: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested metric data, keys joined with ``/``.

    Dicts nest by key; a list of dicts with a ``name`` nests by that name (``scores/graders/
    exact/train_reward_mean``), other lists by position. Strings and nulls are left out.
    """
    out: dict[str, float] = {}
    _flatten_into(data, prefix, out)
    return out


def _flatten_into(data: Any, prefix: str, out: dict[str, float]) -> None:
    if isinstance(data, Mapping):
        for key, value in data.items():
            _flatten_into(value, f"{prefix}/{key}" if prefix else str(key), out)
    elif isinstance(data, (list, tuple)):
        used: set[str] = set()
        for i, value in enumerate(data):
            name = value.get("name") if isinstance(value, Mapping) else None
            label = name if isinstance(name, str) and name else str(i)
            if label in used:  # two graders with one name: keep both
                label = f"{label}#{i}"
            used.add(label)
            _flatten_into(value, f"{prefix}/{label}" if prefix else label, out)
    else:
        number = _number(data)
        if number is not None and prefix:
            out[prefix] = number


def metrics_row(data: Mapping[str, Any]) -> dict[str, float]:
    """One metrics event's values: flattened, plus the canonical reward columns."""
    flat = {k: v for k, v in flatten(data).items() if k not in _NOT_METRICS}
    for column, keys in CANONICAL.items():
        for key in keys:
            if key in flat:
                flat[column] = flat[key]
                break
    return flat


# ---------------------------------------------------------------- statuses from messages

# The service's message events, as seen in its guides and monitors (INF: wording may change).
_STATUS_PATTERNS = (
    (re.compile(r"successfully completed|fine-tuned model created|job completed", re.I),
     "succeeded"),
    (re.compile(r"\bcancel+ed\b", re.I), "cancelled"),
    (re.compile(r"\bfailed\b", re.I), "failed"),
    (re.compile(r"\bpausing\b", re.I), "pausing"),
    (re.compile(r"\bpaused\b", re.I), "paused"),
    (re.compile(r"\bresumed\b|fine-tuning job started|job started", re.I), "running"),
    (re.compile(r"moving job to queued|\bqueued\b", re.I), "queued"),
    (re.compile(r"validating (training )?file", re.I), "validating_files"),
)


def status_from_message(text: str) -> str | None:
    """The status a service message announces ("The job has successfully completed" ->
    ``succeeded``), or None. Used by replay when a file carries no status events."""
    for pattern, status in _STATUS_PATTERNS:
        if pattern.search(text):
            return status
    return None


def is_terminal(status: str | None) -> bool:
    """Whether nothing more will happen to a job in this status."""
    return status in TERMINAL


__all__ = [
    "CANONICAL",
    "KINDS",
    "TERMINAL",
    "Event",
    "flatten",
    "is_terminal",
    "metrics_row",
    "status_from_message",
]
