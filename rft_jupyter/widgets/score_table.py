"""``ScoreTable``: one anywidget for a whole score table, paged by the kernel.

The browser never holds more than a page: it sets ``request`` (sort, filters, page) and
``selected`` (the expanded row); the kernel answers with ``view`` and ``detail``. The mime
bundle also carries text, static HTML and ``application/vnd.rft-jupyter.scores+json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .fallbacks import static_bundle
from .sources import TableView, view_of

STATIC = Path(__file__).parent / "static"
DEFAULT_PAGE_SIZE = 25


class ScoreTable(anywidget.AnyWidget):
    """A sortable, filterable, expandable table of a GradeResult, Comparison or ProbeReport.

    ``ScoreTable(result, page_size=25)``. Sorting and filtering run in the kernel (numpy);
    the browser asks for one page at a time, so 100,000 rows cost one page to draw. Use
    :meth:`sort`, :meth:`filter`, :meth:`go_to` and :meth:`expand` from Python too; ``rows``
    is the current page.
    """

    _esm = STATIC / "score_table.js"
    _css = STATIC / "score_table.css"

    meta = traitlets.Dict().tag(sync=True)
    request = traitlets.Dict().tag(sync=True)
    view = traitlets.Dict().tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)
    detail = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        source: Any,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        title: str | None = None,
        **kwargs: Any,
    ) -> None:
        table_view = source if isinstance(source, TableView) else view_of(source, title)
        self.source = source
        self.table_view = table_view
        self.table = table_view.table
        sort, desc = table_view.table.default_sort
        request = {
            "seq": 0,
            "page": 0,
            "page_size": int(page_size),
            "sort": sort,
            "desc": desc,
            "min": None,
            "max": None,
            "flag": None,
            "category": "",
            "text": "",
        }
        super().__init__(meta=table_view.meta(), **kwargs)
        self.request = request  # the observer computes the first page

    # ------------------------------------------------------------ kernel side of the protocol

    @traitlets.observe("request")
    def _on_request(self, change: dict[str, Any]) -> None:
        request = change["new"] or {}
        try:
            self.view = self.table.page(request)
        except Exception as exc:  # a bad request must not kill the view
            self.view = {**self.view, "seq": request.get("seq", 0),
                         "error": f"{type(exc).__name__}: {exc}"}

    @traitlets.observe("selected")
    def _on_selected(self, change: dict[str, Any]) -> None:
        pos = change["new"]
        if pos is None or pos < 0:
            return
        try:
            self.detail = self.table.detail_of(int(pos))
        except Exception as exc:
            self.detail = {"pos": pos, "sections": [
                {"title": "error", "kind": "pre", "text": f"{type(exc).__name__}: {exc}",
                 "tone": "error"}]}

    # ------------------------------------------------------------ the same from Python

    def _ask(self, **changes: Any) -> ScoreTable:
        request = {**self.request, **changes}
        if "page" not in changes:
            request["page"] = 0
        request["seq"] = int(self.request.get("seq", 0)) + 1
        self.request = request
        return self

    def sort(self, key: str | None, desc: bool = False) -> ScoreTable:
        """Sort by a column key (``reward``, ``output``, ``sub.exact``…); None: row order."""
        known = {c.key for c in self.table.columns} | set(self.table.numbers)
        if key is not None and key not in known:
            import difflib

            hint = difflib.get_close_matches(key, sorted(known), n=1)
            did = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ValueError(f"no column {key!r}{did} (columns: {', '.join(sorted(known))})")
        return self._ask(sort=key, desc=bool(desc))

    def filter(
        self,
        *,
        min: float | None = None,
        max: float | None = None,
        flag: bool | None = None,
        category: str = "",
        text: str = "",
    ) -> ScoreTable:
        """Keep rows in a reward (range column) interval, with a yes/no flag, a category
        (``"__none__"`` scored, ``"__any__"`` unscored, or a flag / kind name) and a text."""
        return self._ask(min=min, max=max, flag=flag, category=category, text=text)

    def go_to(self, page: int) -> ScoreTable:
        """Show page ``page`` (0-based; clamped)."""
        return self._ask(page=int(page))

    def expand(self, pos: int) -> dict[str, Any]:
        """Expand row ``pos`` (a position in the source) and return its detail."""
        self.selected = int(pos)
        if self.detail.get("pos") != pos:
            self.detail = self.table.detail_of(int(pos))
        return self.detail

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows of the current page, as sent to the browser."""
        return list(self.view.get("rows", []))

    # ------------------------------------------------------------ display

    def __repr__(self) -> str:
        return self.table_view.text

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict]:
        data, metadata = super()._repr_mimebundle_(**kwargs)
        fallbacks = static_bundle(self.table_view)  # text/plain replaces the widget's repr
        return {**data, **fallbacks}, metadata
