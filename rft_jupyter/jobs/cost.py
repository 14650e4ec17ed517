"""Spend estimates and the cost guard that pauses a job before it passes a budget.

The service bills RFT by wall-clock time of the core training loop (OpenAI: $100 per hour for
o4-mini, prorated per second), not queueing, validation or safety evals; model-grader tokens
are billed apart (not counted here). Azure auto-pauses RFT jobs at $5,000 and has no cap after a
resume. The estimate takes each step's training time from the metrics events:
``timing/step/full_iteration`` minus ``timing/step/eval`` when the events carry timings, else
``sampling + training``, else the time between consecutive steps (a gap that spans a pause
counts as a typical step).

Settings for the session: :func:`configure_cost` (``price_per_hour``, ``budget``,
``margin_steps``); a job may override them (``attach(..., budget=50)``).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..graders.settings import replace_settings


@dataclass(frozen=True)
class CostSettings:
    """``price_per_hour``: USD per hour of training (OpenAI o4-mini: 100). ``budget``: USD at
    which the guard pauses the job (None: no guard). ``margin_steps``: pause when the spend plus
    this many typical steps would pass the budget (polling sees steps late)."""

    price_per_hour: float = 100.0
    budget: float | None = None
    margin_steps: float = 2.0

    def __post_init__(self) -> None:
        if not _nonneg(self.price_per_hour):
            raise ValueError("price_per_hour must be a number >= 0 (USD per training hour)")
        if self.budget is not None and not _nonneg(self.budget):
            raise ValueError("budget must be a number >= 0 (USD) or None")
        if not _nonneg(self.margin_steps):
            raise ValueError("margin_steps must be a number >= 0")


def _nonneg(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


_current = CostSettings()


def cost_settings() -> CostSettings:
    """The session's cost settings."""
    return _current


def configure_cost(**changes: Any) -> CostSettings:
    """Change the session's cost settings (``price_per_hour``, ``budget``, ``margin_steps``)."""
    global _current
    _current = replace_settings(_current, changes, "cost setting")
    return _current


@dataclass(frozen=True)
class CostEstimate:
    """Spend so far: ``hours`` of training, ``spent`` USD, ``per_step`` USD of a typical recent
    step, ``steps`` counted."""

    hours: float
    spent: float
    per_step: float
    steps: int
    price_per_hour: float

    def to_json(self) -> dict[str, float]:
        return {
            "hours": self.hours,
            "spent": self.spent,
            "per_step": self.per_step,
            "steps": self.steps,
            "price_per_hour": self.price_per_hour,
        }


def step_seconds(
    rows: Mapping[int, Mapping[str, float]],
    times: Mapping[int, float],
    pauses: list[tuple[float, float]] | None = None,
) -> dict[int, float]:
    """Training seconds per step (see the module docstring for the order of sources)."""
    out: dict[int, float] = {}
    steps = sorted(rows)
    gaps: dict[int, float] = {}
    previous: tuple[int, float] | None = None
    for step in steps:
        t = times.get(step)
        if t is None:
            continue
        if previous is not None and step > previous[0]:
            start = previous[1]
            spans_pause = any(a < t and b > start for a, b in pauses or [])
            if not spans_pause and t >= start:
                gaps[step] = (t - start) / (step - previous[0])
        previous = (step, t)
    typical = statistics.median(gaps.values()) if gaps else 0.0
    for step in steps:
        row = rows[step]
        full = row.get("timing/step/full_iteration")
        if full is not None:
            out[step] = max(0.0, full - row.get("timing/step/eval", 0.0))
        elif "timing/step/training" in row or "timing/step/sampling" in row:
            out[step] = row.get("timing/step/sampling", 0.0) + row.get("timing/step/training", 0.0)
        elif step in gaps:
            out[step] = gaps[step]
        elif step in times and gaps:
            out[step] = typical
    return out


def estimate(
    rows: Mapping[int, Mapping[str, float]],
    times: Mapping[int, float],
    price_per_hour: float,
    pauses: list[tuple[float, float]] | None = None,
) -> CostEstimate:
    """The spend so far at ``price_per_hour``."""
    seconds = step_seconds(rows, times, pauses)
    total = sum(seconds.values())
    recent = [seconds[s] for s in sorted(seconds)[-10:]]
    per_step = (statistics.median(recent) if recent else 0.0) / 3600 * price_per_hour
    hours = total / 3600
    return CostEstimate(hours, hours * price_per_hour, per_step, len(seconds), price_per_hour)


def guard_message(est: CostEstimate, budget: float) -> str:
    """What the guard says when it pauses a job."""
    return (
        f"Cost guard: about ${est.spent:,.2f} spent ({est.hours * 60:,.1f} training minutes at "
        f"${est.price_per_hour:,.2f}/h) of the ${budget:,.2f} budget; paused the job before the "
        f"next steps (~${est.per_step:,.2f} each) pass it. Raise the budget with "
        f"job.set_budget(...) and call job.resume() to go on."
    )


__all__ = [
    "CostEstimate",
    "CostSettings",
    "configure_cost",
    "cost_settings",
    "estimate",
    "guard_message",
    "step_seconds",
]
