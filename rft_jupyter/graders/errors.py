"""Exceptions raised by the grader engine."""

from __future__ import annotations


class GraderValidationError(ValueError):
    """A grader spec is invalid.

    ``path`` is the JSON path of the offending field (``graders.sim.evaluation_metric``;
    empty for the whole grader) and the message says what is allowed.
    """

    def __init__(self, message: str, path: str = "", line: int | None = None) -> None:
        self.path = path
        self.reason = message
        self.line = line  # the text's line, when JSON/YAML text did not parse
        super().__init__(f"{path}: {message}" if path else message)


class MetricUnavailableError(RuntimeError):
    """A metric cannot run on this machine (e.g. METEOR without WordNet); says how to fix it."""


class TemplateError(ValueError):
    """A template variable could not be resolved (``invalid_variable_error`` at run time)."""

    def __init__(self, message: str, path: str = "") -> None:
        self.path = path
        super().__init__(message)
