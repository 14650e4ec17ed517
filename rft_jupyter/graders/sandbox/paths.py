"""The host paths a sandboxed interpreter needs: everything else stays invisible.

The view is the interpreter (``sys.base_prefix``), the environment's packages (``sys.prefix``,
site-packages), the system's programs and libraries (``/usr`` and the ``/lib*`` links) and the
dynamic loader's files in ``/etc``. Never the home directories, the project, or ``/``.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from dataclasses import dataclass
from functools import lru_cache

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
)


@dataclass(frozen=True)
class View:
    """Read-only binds (host path = sandbox path) and symlinks (target, path) to recreate."""

    binds: tuple[str, ...]
    symlinks: tuple[tuple[str, str], ...]


def _covered(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def interpreter_dirs() -> list[str]:
    """Directories the running interpreter and its packages live in (outermost first)."""
    found: set[str] = set()
    names = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    paths = sysconfig.get_paths()
    names += [paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    names += site.getsitepackages()
    names += [os.path.dirname(sys.executable), os.path.dirname(os.path.realpath(sys.executable))]
    for name in names:
        if name and os.path.isdir(name):
            found.add(os.path.realpath(name))
            found.add(os.path.abspath(name))
    # Keep only the outermost directories; /usr is bound as a whole anyway.
    ordered = sorted(found, key=len)
    kept: list[str] = []
    for path in ordered:
        if path == "/" or _covered(path, kept) or _covered(path, ["/usr"]):
            continue
        kept.append(path)
    return kept


@lru_cache(maxsize=1)
def sandbox_view() -> View:
    """What the sandbox binds read-only from the host."""
    binds: list[str] = []
    symlinks: list[tuple[str, str]] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            symlinks.append((os.readlink(path), path))
        elif os.path.isdir(path):
            binds.append(path)
    binds += [p for p in ETC_FILES if os.path.exists(p)]
    binds += [p for p in interpreter_dirs() if not _covered(p, binds)]
    return View(tuple(binds), tuple(symlinks))


def sandbox_executable() -> str:
    """The interpreter path to run inside the sandbox (the environment's, so its packages load)."""
    return os.path.abspath(sys.executable)
