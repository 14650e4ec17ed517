"""Which panel a metric column is drawn in, and under what label (monitor, plot, snapshot).

Panels: ``reward`` (train / valid reward), ``graders`` (per-grader rewards of a multigrader),
``tokens`` (completion / reasoning token means), ``errors`` (error and unresponsive rates),
``other`` (loss, entropy, timings, ...). Aliases of the canonical reward columns
(``scores/train_reward_mean``, ``train_mean_reward``...) are hidden: they would draw twice.
"""

from __future__ import annotations

import re

from .events import CANONICAL

GROUPS = ("reward", "graders", "tokens", "errors", "other")
TITLES = {
    "reward": "Reward",
    "graders": "Per-grader reward",
    "tokens": "Tokens",
    "errors": "Error rates",
    "other": "Other metrics",
}
_ALIASES = frozenset(k for keys in CANONICAL.values() for k in keys) - set(CANONICAL)
_GRADER = re.compile(r"^scores/graders/(?P<name>.+)/(?P<split>train|valid)_reward_mean$")
_TOKENS = frozenset(
    {
        "completion_tokens_mean",
        "reasoning_tokens_mean",
        "valid_reasoning_tokens_mean",
        "valid_completion_tokens_mean",
    }
)
_ERROR_GRADER = re.compile(r"^errors/graders/(?P<name>[^/]+)/(?P<rest>.+?)(?:_mean)?$")


def describe(column: str) -> tuple[str | None, str]:
    """``(group, label)`` for a metrics column; group None means "do not draw"."""
    if column == "train_reward_mean":
        return "reward", "train"
    if column == "valid_reward_mean":
        return "reward", "valid"
    if column in _ALIASES:
        return None, column
    m = _GRADER.match(column)
    if m:
        return "graders", f"{m['name']} {m['split']}"
    if column in _TOKENS or (column.startswith("usage/samples/") and column.endswith("_mean")):
        return "tokens", column.removeprefix("usage/samples/")
    if ("error" in column or "unresponsive" in column) and not column.endswith("_count"):
        m = _ERROR_GRADER.match(column)
        if m:
            return "errors", f"{m['name']} {m['rest']}"
        return "errors", column
    if column.endswith("_count"):
        return None, column
    return "other", column


def grouped(columns: list[str]) -> dict[str, list[tuple[str, str]]]:
    """``{group: [(column, label), ...]}`` in panel order, empty groups left out."""
    out: dict[str, list[tuple[str, str]]] = {}
    for column in columns:
        group, label = describe(column)
        if group is not None:
            out.setdefault(group, []).append((column, label))
    return {g: out[g] for g in GROUPS if g in out}


__all__ = ["GROUPS", "TITLES", "describe", "grouped"]
