"""Notebook widgets (anywidget ESM, no build step) and their static fallbacks.

Names load lazily: importing this package does not import ipywidgets.
"""

from __future__ import annotations

from ..lazy import lazy_attributes

_LAZY = {
    "ScoreTable": "rft_jupyter.widgets.score_table",
    "JobMonitor": "rft_jupyter.widgets.job_monitor",
    "MIME_TYPE": "rft_jupyter.widgets.fallbacks",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
