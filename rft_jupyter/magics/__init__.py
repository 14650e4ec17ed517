"""IPython magics: ``%%grader``, ``%grade``, ``%rft``. Load with ``%load_ext rft_jupyter``.

Loading imports no pandas, numpy or widgets (they load when a magic needs them).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

_MATCHERS: dict[int, Any] = {}  # id(shell) -> the completion matcher installed on it
_KEEP = "_rft_jupyter_graders"  # shell attribute keeping the graders through %reload_ext


def _current(ip: Any) -> Any:
    return ip.magics_manager.registry.get("RftMagics")


def load_ipython_extension(ip: Any) -> None:
    """Register the magics on ``ip`` (again on ``%reload_ext``, keeping defined graders)."""
    from .completion import install
    from .config import load_pyproject
    from .core import RftMagics

    if _current(ip) is not None:
        unload_ipython_extension(ip)
    magics = RftMagics(shell=ip)
    kept = ip.__dict__.pop(_KEEP, None)
    if kept is not None:  # %reload_ext keeps the graders defined so far
        magics.graders = kept
    ip.register_magics(magics)
    _MATCHERS[id(ip)] = install(magics)
    changed, problems, path = load_pyproject(magics)
    for key in changed:
        magics.sources[key.split("=", 1)[0]] = f"{path}"
    for problem in problems:
        print(f"rft_jupyter: {problem}", file=sys.stderr)
    if changed:
        print(f"rft_jupyter: settings from {path}: {', '.join(changed)}")


def unload_ipython_extension(ip: Any) -> None:
    """Remove the magics, the completer and the settings hook from ``ip``."""
    from .completion import uninstall

    magics = _current(ip)
    if magics is None:
        return
    ip.__dict__[_KEEP] = magics.graders
    matcher = _MATCHERS.pop(id(ip), None)
    if matcher is not None:
        uninstall(magics, matcher)
    table = ip.magics_manager.magics
    for kind, names in (("line", ("grade", "rft")), ("cell", ("grader",))):
        for name in names:
            fn = table[kind].get(name)
            if getattr(fn, "__self__", None) is magics:
                del table[kind][name]
    ip.magics_manager.registry.pop("RftMagics", None)
    if magics in getattr(ip, "configurables", []):
        ip.configurables.remove(magics)
