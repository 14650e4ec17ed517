"""Static fallbacks of a score table: text, HTML and the project's JSON mime type.

They go into every mime bundle, so a result still reads where no widget can render: GitHub,
nbconvert, a notebook reopened without a kernel, a terminal.
"""

from __future__ import annotations

import html
import math
from typing import Any

from .sources import TableView

MIME_TYPE = "application/vnd.rft-jupyter.scores+json"
MIME_VERSION = 1
HTML_ROWS = 20
TEXT_ROWS = 10
JSON_ROWS = 200  # rows saved for the labextension's sortable table (a reopened notebook)
TEXT_CELL = 40


def _cell_text(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "number":
        return "–" if isinstance(value, float) and math.isnan(value) else f"{value:.4f}"
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "status":
        return f"unscored ({value})" if value not in (None, "") else ""
    return str(value)


def _status_label(view: TableView, kind: str, value: Any) -> str:
    return _cell_text(kind, value)


def _cards_line(view: TableView) -> str:
    parts = []
    for card in view.summary.get("cards", []):
        sub = f" ({card['sub']})" if card.get("sub") else ""
        parts.append(f"{card['label']} {card['value']}{sub}")
    return " · ".join(parts)


def static_text(view: TableView, rows: int = TEXT_ROWS) -> str:
    """The summary line and the first rows as a fixed-width text table."""
    columns = [c for c in view.table.columns if c.key != "prompt"]
    records = view.table.first_rows(rows)
    grid = [[c.label for c in columns]]
    for r in records:
        line = []
        for c in columns:
            text = _status_label(view, c.kind, r["cells"].get(c.key)).replace("\n", " ")
            line.append(text if len(text) <= TEXT_CELL else text[: TEXT_CELL - 1] + "…")
        grid.append(line)
    widths = [max(len(row[i]) for row in grid) for i in range(len(columns))]
    lines = [view.text]
    note = view.summary.get("note")
    if note:
        lines.append(note)
    for row in grid:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    more = view.table.n - len(records)
    if more > 0:
        lines.append(f"… {more:,} more rows")
    return "\n".join(lines)


_TONE = {"error": "#c62828", "warn": "#b26a00", "ok": "#2e7d32"}


def static_html(view: TableView, rows: int = HTML_ROWS) -> str:
    """A self-contained HTML summary and table of the first rows (no scripts, no CSS files)."""
    esc = html.escape
    table = view.table
    records = table.first_rows(rows)
    head = "".join(
        f"<th style='text-align:{'right' if c.kind in ('number', 'bool') else 'left'}'>"
        f"{esc(c.label)}</th>"
        for c in table.columns
    )
    body = []
    for r in records:
        tds = []
        for c in table.columns:
            value = r["cells"].get(c.key)
            text = _status_label(view, c.kind, value)
            align = "right" if c.kind in ("number", "bool") else "left"
            color = ""
            if c.kind == "status" and value not in (None, ""):
                color = f";color:{_TONE['error']}"
            tds.append(f"<td style='text-align:{align}{color}'>{esc(text)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    cards = []
    for card in view.summary.get("cards", []):
        color = _TONE.get(card.get("tone", ""), "")
        style = f" style='color:{color}'" if color else ""
        sub = f" <small>({esc(card['sub'])})</small>" if card.get("sub") else ""
        cards.append(f"{esc(card['label'])}: <b{style}>{esc(card['value'])}</b>{sub}")
    chips = view.summary.get("chips") or []
    chip_line = ""
    if chips:
        chip_line = "<p style='margin:2px 0'>unscored by flag: " + ", ".join(
            f"{esc(c['label'])} {c['count']}" for c in chips
        ) + "</p>"
    note = view.summary.get("note")
    note_html = ""
    if note:
        color = _TONE.get(view.summary.get("note_tone", ""), "")
        note_html = f"<p style='margin:2px 0;color:{color}'>{esc(note)}</p>"
    more = table.n - len(records)
    tail = f"<p style='margin:2px 0'>… {more:,} more rows (run the notebook to browse them)</p>" \
        if more > 0 else ""
    return (
        "<div class='rft-score-table-static'>"
        f"<p style='margin:0 0 4px 0'><b>{esc(view.title)}</b></p>"
        f"<p style='margin:2px 0'>{' · '.join(cards)}</p>{chip_line}{note_html}"
        f"<table style='font-size:90%'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{tail}</div>"
    )


def static_json(view: TableView, rows: int = JSON_ROWS) -> dict[str, Any]:
    """The project's JSON mime payload: version, summary, columns and the first rows."""
    meta = view.meta()
    return {
        "version": MIME_VERSION,
        "kind": view.kind,
        "title": view.title,
        "total": view.table.n,
        "columns": meta["columns"],
        "summary": meta["summary"],
        "rows": [
            {"pos": r["pos"], "cells": r["cells"], "tone": r["tone"]}
            for r in view.table.first_rows(rows)
        ],
    }


def static_bundle(view: TableView) -> dict[str, Any]:
    """text/plain, text/html and the JSON mime type of a table view."""
    return {
        "text/plain": static_text(view),
        "text/html": static_html(view),
        MIME_TYPE: static_json(view),
    }
