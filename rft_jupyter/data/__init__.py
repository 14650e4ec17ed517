"""RFT data checks: :func:`validate_dataset` and its :class:`DatasetReport`."""

from __future__ import annotations

from .dataset import KINDS, ROW_LIMITS, validate_dataset
from .report import DatasetReport, DatasetValidationError, Problem

__all__ = [
    "KINDS",
    "ROW_LIMITS",
    "DatasetReport",
    "DatasetValidationError",
    "Problem",
    "validate_dataset",
]
