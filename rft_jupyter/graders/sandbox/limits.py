"""The service's limits for python graders, as the sandbox applies them."""

from __future__ import annotations

from dataclasses import dataclass

GIB = 2**30

# Sandboxed processes run as this uid/gid (Debian's "nobody").
SANDBOX_UID = 65534
SANDBOX_GID = 65534


@dataclass(frozen=True)
class Limits:
    """What one sample may use (service-facts §5: 2 GB RAM, 1 GB disk, 1 CPU, 2 minutes).

    - ``timeout``: wall-clock seconds per sample, enforced by the parent; the CPU-time limit
      (RLIMIT_CPU, re-armed per sample) is the same number of seconds, rounded up.
    - ``memory``: address space of the worker process (RLIMIT_AS).
    - ``disk``: largest file (RLIMIT_FSIZE) and size of the private /tmp.
    - ``processes``: processes and threads in one sandbox (RLIMIT_NPROC), where enforced.
    - ``start_timeout``: seconds for a sandbox to start, before the grader's own code runs.
    """

    timeout: float = 120.0
    memory: int = 2 * GIB
    disk: int = 1 * GIB
    processes: int = 64
    start_timeout: float = 30.0
