"""rft-jupyter: prepare, test and watch reinforcement fine-tuning (RFT) graders and jobs.

``import rft_jupyter as rft`` then ``rft.validate_grader``, ``rft.run_grader``, ``rft.grade``,
``rft.validate_dataset``. Names load lazily so ``%load_ext rft_jupyter`` stays fast.
"""

from __future__ import annotations

from typing import Any

from . import jobs  # noqa: F401  (rft.jobs.attach / create / replay / local; loads lazily)
from .graders.errors import GraderValidationError, MetricUnavailableError
from .lazy import lazy_attributes

__version__ = "0.1.0"

_LAZY = {
    "validate_grader": "rft_jupyter.graders.spec",
    "load_grader": "rft_jupyter.graders.spec",
    "run_grader": "rft_jupyter.graders.run",
    "grade": "rft_jupyter.graders.batch",
    "GradeResult": "rft_jupyter.graders.result",
    "grader_variables": "rft_jupyter.graders.templates",
    "configure_engine": "rft_jupyter.graders.settings:configure",
    "engine_settings": "rft_jupyter.graders.settings:settings",
    "using_engine": "rft_jupyter.graders.settings:using",
    "configure_client": "rft_jupyter.graders.model_client",
    "reset_client": "rft_jupyter.graders.model_client",
    "usage": "rft_jupyter.graders.model_client",
    "reset_usage": "rft_jupyter.graders.model_client",
    "configure_endpoints": "rft_jupyter.graders.endpoint",
    "calibrate": "rft_jupyter.graders.calibration",
    "CalibrationReport": "rft_jupyter.graders.calibration",
    "RemoteGraderError": "rft_jupyter.graders.remote",
    "RftWarning": "rft_jupyter.graders.warnings",
    "validate_dataset": "rft_jupyter.data",
    "DatasetReport": "rft_jupyter.data",
    "probe": "rft_jupyter.analysis",
    "compare": "rft_jupyter.analysis",
    "ProbeReport": "rft_jupyter.analysis",
    "Comparison": "rft_jupyter.analysis",
    "ScoreTable": "rft_jupyter.widgets.score_table",
    "JobMonitor": "rft_jupyter.widgets.job_monitor",
}

__all__ = ["GraderValidationError", "MetricUnavailableError", "__version__", "jobs", *_LAZY]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext rft_jupyter``: the %%grader, %grade and %rft magics."""
    from .magics import load_ipython_extension as load

    load(ip)


def unload_ipython_extension(ip: Any) -> None:
    """``%unload_ext rft_jupyter``."""
    from .magics import unload_ipython_extension as unload

    unload(ip)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt labextension (``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "rft-jupyter"}]
