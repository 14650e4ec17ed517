"""The sandbox python graders run in: the service's limits, no network, no host files.

``isolation_mode()`` says which isolation this machine allows ("bubblewrap", "namespaces" or
"python-only"); :class:`SandboxPool` runs one grader's source in long-lived workers. Standard
library only.
"""

from __future__ import annotations

from .launch import SandboxStartError
from .limits import Limits
from .modes import ENV_VAR, MODES, Isolation, isolation, isolation_mode, reset, warn_if_weak
from .pool import Failure, SandboxPool

__all__ = [
    "ENV_VAR",
    "MODES",
    "Failure",
    "Isolation",
    "Limits",
    "SandboxPool",
    "SandboxStartError",
    "isolation",
    "isolation_mode",
    "reset",
    "warn_if_weak",
]
