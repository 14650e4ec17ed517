"""``python`` graders: the user's ``grade(sample, item)`` in a sandbox with the service's limits.

The sandbox (``rft_jupyter.graders.sandbox``) gives each sample ``settings.python_timeout``
seconds, 2 GB of address space, one core, no network, an empty working directory, no inherited
environment variables and no view of the caller's files. A sample that raises, returns something
other than a finite int/float, times out or kills its worker scores 0 with
``python_grader_runtime_error`` (details: the traceback or the reason, and the end of what it
printed); a sandbox that cannot start at all gives ``python_grader_server_error``.
"""

from __future__ import annotations

import datetime
import json
import threading
import warnings
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from .outcome import Outcome
from .runners import Context, Runner
from .sandbox import Failure, Limits, SandboxPool, isolation, warn_if_weak
from .sandbox.image import IMAGE_TAG, missing_from_image
from .sandbox.modes import outside_stacklevel
from .warnings import RftWarning

__all__ = ["PythonGrader", "RftWarning"]


def _jsonable(value: Any) -> Any:
    """JSON for what DataFrames hold: numpy scalars and arrays, timestamps, sets."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_encoder = json.JSONEncoder(separators=(",", ":"), default=_jsonable)


def dumps(value: Any) -> bytes:
    """One JSON line (without the newline) for the worker."""
    return _encoder.encode(value).encode()


def to_outcome(result: float | Failure) -> Outcome:
    """The engine's Outcome for one sandbox result."""
    if not isinstance(result, Failure):
        return Outcome(result)
    if result.server:
        return Outcome.failed(
            "python_grader_server_error",
            result.reason,
            python_grader_server_error_type=result.kind or "sandbox_error",
        )
    details = result.details
    if "Traceback (most recent call last)" not in details:
        details = f"{result.reason}\n\n{details}" if details else result.reason
    return Outcome.failed(
        "python_grader_runtime_error", result.reason, python_grader_runtime_error_details=details
    )


class PythonGrader(Runner):
    """Runs a python grader's ``grade(sample, item)`` in sandboxed worker processes.

    ``options``: ``workers`` caps the worker processes (default: one per core); ``sandbox``
    forces an isolation mode (see :func:`rft_jupyter.graders.sandbox.isolation`).
    """

    process_pool_ok = False

    def __init__(
        self,
        spec: Mapping[str, Any],
        settings=None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(spec, settings, options)
        self.source: str = spec["source"]
        self.rendered: dict[str, str] = {}
        self.limits = Limits(timeout=float(self.settings.python_timeout))
        self.workers: int | None = self.options.get("workers")
        self.isolation = isolation(self.options.get("sandbox"))
        warn_if_weak(self.isolation)
        missing = missing_from_image(self.source)
        if missing:
            names = " and ".join(", ".join(repr(m) for m in missing).rsplit(", ", 1))
            warnings.warn(
                f"python grader {self.name!r} imports {names}, which the service's image "
                f"({IMAGE_TAG}) does not have: it will fail there",
                RftWarning,
                stacklevel=outside_stacklevel(),
            )
        self._pool: SandboxPool | None = None
        self._lock = threading.Lock()

    @property
    def mode(self) -> str | None:
        """The isolation mode the workers run in (None: no sandbox can start here)."""
        return self.isolation.mode

    def _ensure_pool(self) -> SandboxPool | Failure:
        if self.isolation.mode is None:
            return Failure(
                f"no sandbox can start on this machine ({self.isolation.error})",
                server=True,
                kind="sandbox_unavailable",
            )
        if self._pool is None:
            self._pool = SandboxPool(self.source, self.isolation.mode, self.limits, self.workers)
            self._finalizer = weakref.finalize(self, self._pool.close)
        return self._pool

    def run_many(self, contexts: Sequence[Context]) -> list[Outcome]:
        pairs = [[ctx["sample"], ctx["item"]] for ctx in contexts]
        with self._lock:
            pool = self._ensure_pool()
            if isinstance(pool, Failure):
                return [to_outcome(pool) for _ in contexts]
            results = pool.run(pairs, dumps)
        return [to_outcome(r) for r in results]

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
