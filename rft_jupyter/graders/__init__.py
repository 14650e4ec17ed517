"""The grader engine: specs and validation, templates, every grader type, batch grading.

No Jupyter imports here: the engine runs in scripts, CI and inside the local GRPO trainer.
"""

from .batch import grade
from .errors import GraderValidationError, MetricUnavailableError, TemplateError
from .result import GradeResult
from .run import run_grader
from .spec import load_grader, validate_grader
from .templates import grader_variables, render

__all__ = [
    "GradeResult",
    "GraderValidationError",
    "MetricUnavailableError",
    "TemplateError",
    "grade",
    "grader_variables",
    "load_grader",
    "render",
    "run_grader",
    "validate_grader",
]
