"""``mimebundle``: how results display — the ScoreTable widget in a kernel, static elsewhere.

Called lazily from ``GradeResult`` / ``Comparison`` / ``ProbeReport._repr_mimebundle_`` so that
the engine never imports widgets. One widget per displayed object is kept and reused.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

_TABLES: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
DEFAULTS: dict[str, Any] = {"page_size": 25}  # set by %config RftMagics.page_size


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where a widget can render), False in a terminal/script."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def table_for(obj: Any, **options: Any) -> Any:
    """The ScoreTable showing ``obj`` (created once per object and reused)."""
    from .score_table import ScoreTable

    table = _TABLES.get(id(obj))
    if table is None or table.source is not obj or options:
        table = ScoreTable(obj, **{**DEFAULTS, **options})
        _TABLES[id(obj)] = table
    return table


def mimebundle(obj: Any, include: Any = None, exclude: Any = None) -> Any:
    """The widget bundle (with fallbacks) in a kernel; text/HTML/JSON only elsewhere."""
    if in_kernel():
        try:
            return table_for(obj)._repr_mimebundle_(include=include, exclude=exclude)
        except ImportError:
            pass
    from .fallbacks import static_bundle
    from .sources import view_of

    return static_bundle(view_of(obj))
