"""Notebook widgets (anywidget ESM, no build step) and their static fallbacks.

Names load lazily: importing this package does not import ipywidgets.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "ScoreTable": "rft_jupyter.widgets.score_table",
    "JobMonitor": "rft_jupyter.widgets.job_monitor",
    "MIME_TYPE": "rft_jupyter.widgets.fallbacks",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rft_jupyter.widgets' has no attribute {name!r}")
