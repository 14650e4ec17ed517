"""The result of :func:`validate_dataset`: :class:`Problem` and :class:`DatasetReport`."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)
HTML_MAX_ROWS = 200  # problems shown in the notebook table; str() and to_pandas() show all


def one_line(text: str) -> str:
    """Escape line breaks so a message stays on one line (``file:line: severity: message``)."""
    if "\n" in text or "\r" in text:
        return text.replace("\r", "\\r").replace("\n", "\\n")
    return text


@dataclass(frozen=True)
class Problem:
    """One finding: where (``file``, 1-based ``line``; ``None`` for the whole file) and what.

    ``field`` is the JSON path inside the row (``messages[2].role``) when the problem has one.
    """

    file: str
    line: int | None
    message: str
    severity: str = ERROR
    field: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.severity}: {self.message}"


class DatasetValidationError(ValueError):
    """Raised by :meth:`DatasetReport.raise_for_problems`; ``.report`` holds every problem."""

    def __init__(self, message: str, report: DatasetReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class DatasetReport:
    """Every problem found in one RFT data file (or list of rows, or DataFrame).

    ``ok`` is true when there is no error (warnings are allowed). ``rows`` counts the rows read
    (non-empty lines of a file), ``item_keys`` the extra (non-reserved) keys seen in any row.
    """

    file: str
    kind: str
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    item_keys: set[str] = field(default_factory=set)

    @property
    def errors(self) -> list[Problem]:
        """The problems with severity ``error``."""
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        """The problems with severity ``warning``."""
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        """True when no problem is an error."""
        return not any(p.severity == ERROR for p in self.problems)

    def summary(self) -> str:
        """One line: file, kind, rows, error and warning counts."""
        n_err, n_warn = len(self.errors), len(self.warnings)
        verdict = "ok" if self.ok else "NOT ok"
        return (
            f"{self.file} ({self.kind}): {self.rows:,} {_plural(self.rows, 'row')}, "
            f"{n_err} {_plural(n_err, 'error')}, {n_warn} {_plural(n_warn, 'warning')} - {verdict}"
        )

    def __str__(self) -> str:
        return "\n".join([self.summary(), *(str(p) for p in self.problems)])

    def __repr__(self) -> str:
        return (
            f"<DatasetReport {self.file!r} kind={self.kind!r} rows={self.rows} "
            f"errors={len(self.errors)} warnings={len(self.warnings)}>"
        )

    def _repr_html_(self) -> str:
        esc = html.escape
        colour = {ERROR: "#c62828", WARNING: "#b26a00"}
        head = (
            f"<div class='rft-dataset-report'><p style='margin:0 0 4px 0'><b>{esc(self.file)}</b> "
            f"({esc(self.kind)}): {self.rows:,} {_plural(self.rows, 'row')}, "
            f"<span style='color:{colour[ERROR]}'>{len(self.errors)} "
            f"{_plural(len(self.errors), 'error')}</span>, "
            f"<span style='color:{colour[WARNING]}'>{len(self.warnings)} "
            f"{_plural(len(self.warnings), 'warning')}</span>"
            f"{' &#10003;' if self.ok else ''}</p>"
        )
        if not self.problems:
            return head + "</div>"
        rows = []
        for p in self.problems[:HTML_MAX_ROWS]:
            rows.append(
                "<tr>"
                f"<td style='text-align:right'>{'' if p.line is None else p.line}</td>"
                f"<td style='color:{colour.get(p.severity, 'inherit')}'>{esc(p.severity)}</td>"
                f"<td><code>{esc(p.field or '')}</code></td>"
                f"<td style='text-align:left'>{esc(p.message)}</td>"
                "</tr>"
            )
        more = len(self.problems) - HTML_MAX_ROWS
        tail = (
            f"<p style='margin:4px 0 0 0'>... and {more} more (see <code>str(report)</code> or "
            "<code>report.to_pandas()</code>)</p>"
            if more > 0
            else ""
        )
        return (
            head + "<table style='font-size:90%'><thead><tr><th>line</th><th>severity</th>"
            "<th>field</th><th style='text-align:left'>message</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
            + tail
            + "</div>"
        )

    def to_pandas(self) -> pd.DataFrame:
        """One row per problem: file, line (nullable int), severity, field, message."""
        import pandas as pd

        frame = pd.DataFrame(
            [(p.file, p.line, p.severity, p.field, p.message) for p in self.problems],
            columns=["file", "line", "severity", "field", "message"],
        )
        frame["line"] = frame["line"].astype("Int64")
        return frame

    def raise_for_problems(self) -> DatasetReport:
        """Raise :class:`DatasetValidationError` (a ValueError) if there is any error.

        The one-line message is the first error and the error count. Returns ``self`` when ok.
        """
        errors = self.errors
        if errors:
            raise DatasetValidationError(
                f"{errors[0]} (1 of {len(errors)} {_plural(len(errors), 'error')})", self
            )
        return self


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"
