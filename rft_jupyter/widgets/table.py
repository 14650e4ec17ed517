"""``Table``: the kernel side of a paged table — sort, filter and slice with numpy, no widgets.

A table has numeric columns (numpy float arrays; booleans are 1.0 / 0.0 / NaN), categorical
columns (integer codes, -1 for "none", and their labels) and text columns computed per row on
demand (so 100,000 rows cost nothing until a text column is sorted or searched). A *request*
(sort, direction, reward range, yes/no flag, category, text, page) selects one page of rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CELL_CHARS = 240
NONE, ANY = "__none__", "__any__"  # category filter values: no category / any category
KINDS = ("label", "text", "number", "bool", "status", "category")


@dataclass(frozen=True)
class Column:
    """One column of a table.

    ``kind``: ``label`` (the row label; sorts by position), ``text``, ``number``, ``bool``,
    ``status`` (an error flag shown as "unscored (flag)", empty when scored) or ``category``.
    """

    key: str
    label: str
    kind: str
    title: str = ""
    sortable: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "kind": self.kind,
            "title": self.title,
            "sortable": self.sortable,
        }


@dataclass
class Table:
    """Rows ``0..n-1`` of a score table, with everything the browser may ask about them.

    ``numbers`` and ``categories`` hold whole columns; ``texts`` produce a cell from a row
    position. ``range_key`` / ``flag_key`` / ``category_key`` name the columns the filters act
    on; ``search`` the text columns a text query looks into; ``detail(pos)`` the expanded row.
    """

    n: int
    columns: list[Column]
    numbers: dict[str, np.ndarray] = field(default_factory=dict)
    categories: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)
    texts: dict[str, Callable[[int], str]] = field(default_factory=dict)
    titles: dict[str, Callable[[int], str | None]] = field(default_factory=dict)
    search: list[str] = field(default_factory=list)
    range_key: str | None = None
    flag_key: str | None = None
    category_key: str | None = None
    default_sort: tuple[str | None, bool] = (None, False)
    tone: Callable[[int], str] | None = None
    detail: Callable[[int], list[dict[str, Any]]] | None = None
    _orders: dict[tuple[str, bool], np.ndarray] = field(default_factory=dict, repr=False)
    _text_cache: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _haystack: Any = field(default=None, repr=False)
    _last_mask: tuple[tuple, np.ndarray] | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- whole columns

    def column_texts(self, key: str) -> list[str]:
        """Every cell of a text column (computed once)."""
        if key not in self._text_cache:
            fn = self.texts[key]
            self._text_cache[key] = [fn(i) for i in range(self.n)]
        return self._text_cache[key]

    def order(self, key: str | None, desc: bool) -> np.ndarray:
        """Row positions sorted by ``key`` (stable; NaN / empty last in both directions)."""
        if key is None or self._kind(key) == "label":
            base = np.arange(self.n)
            return base[::-1].copy() if desc else base
        cache = (key, desc)
        if cache not in self._orders:
            self._orders[cache] = self._sort(key, desc)
        return self._orders[cache]

    def _kind(self, key: str) -> str | None:
        return next((c.kind for c in self.columns if c.key == key), None)

    def _sort(self, key: str, desc: bool) -> np.ndarray:
        if key in self.numbers:
            values = self.numbers[key]
            missing = np.isnan(values)
            filled = np.where(missing, 0.0, values)
            return np.lexsort((-filled if desc else filled, missing))
        if key in self.categories:
            codes, _ = self.categories[key]
            missing = codes < 0
            return np.lexsort((-codes if desc else codes, missing))
        if key in self.texts:
            texts = np.array([t.casefold() for t in self.column_texts(key)], dtype=object)
            _, ranks = np.unique(texts, return_inverse=True)
            ranks = ranks.astype(np.int64).ravel()
            empty = np.fromiter((not t for t in texts), bool, self.n)
            return np.lexsort((-ranks if desc else ranks, empty))
        return np.arange(self.n)

    def mask(self, request: Mapping[str, Any]) -> np.ndarray | None:
        """Rows kept by the request's filters (None: all)."""
        key = (
            _num(request.get("min")),
            _num(request.get("max")),
            request.get("flag"),
            request.get("category") or "",
            (request.get("text") or "").strip().casefold(),
        )
        if self._last_mask is not None and self._last_mask[0] == key:
            return self._last_mask[1]
        lo, hi, flag, category, text = key
        mask = None

        def both(m: np.ndarray) -> np.ndarray:
            return m if mask is None else mask & m

        if self.range_key and (lo is not None or hi is not None):
            values = self.numbers[self.range_key]
            m = ~np.isnan(values)
            if lo is not None:
                m &= values >= lo - 1e-12
            if hi is not None:
                m &= values <= hi + 1e-12
            mask = both(m)
        if self.flag_key and flag in (True, False):
            mask = both(self.numbers[self.flag_key] == (1.0 if flag else 0.0))
        if self.category_key and category:
            codes, labels = self.categories[self.category_key]
            if category == NONE:
                m = codes < 0
            elif category == ANY:
                m = codes >= 0
            elif category in labels:
                m = codes == labels.index(category)
            else:
                m = np.zeros(self.n, bool)
            mask = both(m)
        if text:
            mask = both(self._search(text))
        self._last_mask = (key, mask)
        return mask

    def _search(self, text: str) -> np.ndarray:
        if self._haystack is None:
            import pandas as pd

            columns = [self.column_texts(k) for k in self.search]
            joined = ["\x00".join(parts).casefold() for parts in zip(*columns)]
            self._haystack = pd.Series(joined, dtype=object)
        if not len(self._haystack):
            return np.zeros(0, bool)
        return self._haystack.str.contains(text, regex=False).to_numpy(dtype=bool)

    # ---------------------------------------------------------------- pages

    def page(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The rows of the requested page and how many rows the filters keep."""
        size = max(1, min(int(request.get("page_size") or 25), 100_000))
        sort = request.get("sort") or None
        desc = bool(request.get("desc"))
        order = self.order(sort, desc)
        mask = self.mask(request)
        kept = order if mask is None else order[mask[order]]
        total = int(len(kept))
        pages = max(1, math.ceil(total / size))
        page = min(max(0, int(request.get("page") or 0)), pages - 1)
        chosen = kept[page * size : (page + 1) * size]
        return {
            "seq": request.get("seq", 0),
            "page": page,
            "page_size": size,
            "pages": pages,
            "total": total,
            "rows": [self.row(int(i)) for i in chosen],
        }

    def row(self, pos: int) -> dict[str, Any]:
        """One row as the browser draws it: cells, tooltips and a tone (ok / warn / error)."""
        cells: dict[str, Any] = {}
        for col in self.columns:
            key = col.key
            if key in self.numbers:
                value = float(self.numbers[key][pos])
                if math.isnan(value):
                    cells[key] = None
                elif col.kind == "bool":
                    cells[key] = bool(value)
                else:
                    cells[key] = value
            elif key in self.categories:
                codes, labels = self.categories[key]
                code = int(codes[pos])
                cells[key] = labels[code] if code >= 0 else None
            elif key in self.texts:
                cells[key] = _clip(self.texts[key](pos))
        titles = {}
        for key, fn in self.titles.items():
            title = fn(pos)
            if title:
                titles[key] = _clip(title, 600)
        return {
            "pos": pos,
            "cells": cells,
            "titles": titles,
            "tone": self.tone(pos) if self.tone else "",
        }

    def first_rows(self, count: int) -> list[dict[str, Any]]:
        """The first rows in the default order (for static fallbacks)."""
        key, desc = self.default_sort
        return [self.row(int(i)) for i in self.order(key, desc)[:count]]

    def detail_of(self, pos: int) -> dict[str, Any]:
        """Everything about row ``pos`` for the expanded view."""
        if not 0 <= pos < self.n:
            return {"pos": pos, "sections": []}
        sections = self.detail(pos) if self.detail else []
        return {"pos": pos, "sections": sections}


def _num(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _clip(text: str, limit: int = CELL_CHARS) -> str:
    text = text if isinstance(text, str) else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def category_codes(values: Sequence[str | None]) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 for None) and the sorted labels of a categorical column."""
    labels = sorted({v for v in values if v is not None})
    where = {label: i for i, label in enumerate(labels)}
    codes = np.fromiter((where[v] if v is not None else -1 for v in values), np.int64, len(values))
    return codes, labels


def histogram(values: np.ndarray, bins: int = 20, lo: float | None = None,
              hi: float | None = None) -> dict[str, Any] | None:
    """Counts of the non-NaN values in ``bins`` equal bins (edges included), or None."""
    v = values[~np.isnan(values)]
    if not len(v):
        return None
    low = float(v.min()) if lo is None else min(lo, float(v.min()))
    high = float(v.max()) if hi is None else max(hi, float(v.max()))
    if high <= low:
        high = low + 1.0
    counts, edges = np.histogram(v, bins=bins, range=(low, high))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}
