"""Analyses over grading results: the reward-hacking probe and grader comparison.

No Jupyter imports here; the results show themselves through :mod:`rft_jupyter.widgets` lazily.
"""

from __future__ import annotations

from .compare import Comparison, compare
from .probe import PROBE_KINDS, ProbeReport, probe

__all__ = ["PROBE_KINDS", "Comparison", "ProbeReport", "compare", "probe"]
