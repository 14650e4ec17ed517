"""Which isolation this machine allows, chosen once per process by starting a probe sandbox.

Preference: ``bubblewrap`` (bwrap: user, mount, PID, network, IPC and UTS namespaces, a
read-only view of the interpreter only), then ``namespaces`` (the same built by rft-jupyter
itself with ctypes), then ``python-only`` (no isolation from the OS: rlimits plus Python-level
guards against sockets, and against new processes when running as root). Force one with the
environment variable ``RFT_JUPYTER_SANDBOX``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass, field

from ..warnings import RftWarning
from .launch import SandboxStartError, bwrap_path
from .limits import SANDBOX_UID, Limits
from .pool import Failure, SandboxPool

MODES = ("bubblewrap", "namespaces", "python-only")
ENV_VAR = "RFT_JUPYTER_SANDBOX"

# The probe grader checks what each mode promises, so a mode that starts but does not isolate
# (say, a kernel that silently ignores a namespace) is not used.
PROBE_SOURCE = """
import os, socket

def grade(sample, item):
    problems = []
    if item["isolated"]:
        if os.getuid() != item["uid"]:
            problems.append(f"runs as uid {os.getuid()}, not {item['uid']}")
        names = sorted(name for _, name in socket.if_nameindex())
        if names != ["lo"]:
            problems.append(f"sees network interfaces {names}")
        if os.path.exists(item["hidden"]):
            problems.append(f"sees the host file {item['hidden']}")
    if problems:
        raise RuntimeError("; ".join(problems))
    return 1.0
"""


@dataclass(frozen=True)
class Isolation:
    """The mode in use and why each better mode was not."""

    mode: str | None
    skipped: dict[str, str] = field(default_factory=dict)
    forced: bool = False

    @property
    def error(self) -> str | None:
        """Why no sandbox can start (None when one can)."""
        if self.mode is not None:
            return None
        return "; ".join(f"{m}: {why}" for m, why in self.skipped.items())


_lock = threading.Lock()
_cache: dict[str, Isolation] = {}
_warned: set[str] = set()


def probe(mode: str) -> str | None:
    """None when ``mode`` starts and isolates as promised, else why not."""
    if mode == "bubblewrap" and bwrap_path() is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    fd, hidden = tempfile.mkstemp(prefix="rft-sandbox-probe-")
    os.close(fd)
    item = {"isolated": mode != "python-only", "uid": SANDBOX_UID, "hidden": hidden}
    pool = SandboxPool(PROBE_SOURCE, mode, Limits(timeout=30.0), workers=1)
    try:
        (result,) = pool.run([[{}, item]])
    except (OSError, SandboxStartError) as exc:
        return str(exc)
    finally:
        pool.close()
        os.unlink(hidden)
    if isinstance(result, Failure):
        text = result.reason
        if result.details:
            text += ": " + result.details.strip().splitlines()[-1][:300]
        return text
    return None


def isolation(forced: str | None = None) -> Isolation:
    """The isolation for python graders: ``forced`` (or ``$RFT_JUPYTER_SANDBOX``) if given, else
    the best mode that works here. Probed once per process and forced mode."""
    forced = (forced or os.environ.get(ENV_VAR, "")).strip().lower()
    with _lock:
        if forced in _cache:
            return _cache[forced]
        if forced and forced not in MODES:
            raise ValueError(
                f"sandbox mode {forced!r} (from {ENV_VAR} or the sandbox option) is not one of "
                f"{', '.join(MODES)}"
            )
        skipped: dict[str, str] = {}
        chosen = None
        for mode in (forced,) if forced else MODES:
            why = probe(mode)
            if why is None:
                chosen = mode
                break
            skipped[mode] = why
        result = Isolation(chosen, skipped, bool(forced))
        _cache[forced] = result
        return result


def isolation_mode() -> str | None:
    """``"bubblewrap"``, ``"namespaces"`` or ``"python-only"`` (None: nothing can start)."""
    return isolation().mode


def reset() -> None:
    """Forget the probes (after installing bubblewrap, or in tests)."""
    with _lock:
        _cache.clear()


def outside_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside rft_jupyter."""
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(package + os.sep):
        frame = frame.f_back
        level += 1
    return level


def warn_if_weak(iso: Isolation) -> None:
    """One loud warning per process when python graders run without OS isolation."""
    if iso.mode != "python-only" or "python-only" in _warned:
        return
    _warned.add("python-only")
    why = "; ".join(f"{m}: {r}" for m, r in iso.skipped.items()) or f"forced by {ENV_VAR}"
    warnings.warn(
        "python graders run WITHOUT an OS sandbox (python-only mode: " + why + "). "
        "The grader's code runs as your user with the service's rlimits, a private working "
        "directory and no environment variables, and Python-level blocks on sockets (and on "
        "new processes when running as root), but it can read your files and code using ctypes "
        "can bypass the blocks. Install bubblewrap (sudo apt-get install bubblewrap) for a "
        "real sandbox.",
        RftWarning,
        stacklevel=outside_stacklevel(),
    )
