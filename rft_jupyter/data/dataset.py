"""Validate RFT data (JSONL file, list of rows or DataFrame) before paying for a job.

Rules: ``shared/spec/semantics.md`` ("Datasets") and service-facts §9. Every problem is reported
with its file and line, not only the first.

Choices where the service is silent:

* Empty lines: an empty (or whitespace-only) line *between* rows is an error (it is not a JSON
  object, and strict JSONL readers fail on it); one problem per run of empty lines. Empty lines at
  the end of the file are ignored: editors add them and they carry no row.
* A UTF-8 byte-order mark at the start of the file is a warning; a line that is not UTF-8, or
  holds ``NaN``/``Infinity`` (not JSON), is an error.
* Row limits (50,000 training / 1,000 validation rows) are OpenAI's documented limits; Azure's
  own sample validation files are larger, so passing them is a warning, not an error.
* Rows that disagree on their extra keys, or hold different JSON types under one key, give one
  warning per key (the service's validator asks for one schema across lines).
* Unknown keys in a message are warnings; a grader variable that does not resolve is an error
  (the service scores those rows 0 with ``invalid_variable_error``).
* ``item`` for grader variables is the whole row (service-facts §5: "item is the row dict"), so
  ``{{ item.messages[0].content }}`` resolves too.
* A python grader's code is read too: a key it subscripts (``item["target"]``, not
  ``item.get("target")``) that rows lack is a warning, not an error: those rows raise KeyError
  and score 0 (``python_grader_runtime_error``) unless the code guards the read, which a static
  reading cannot always tell.
"""

from __future__ import annotations

import ast
import codecs
import difflib
import json
import math
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..graders.errors import TemplateError
from ..graders.templates import (
    Variable,
    compile_template,
    grader_variables,
    template_strings,
    walk_graders,
)
from .report import ERROR, WARNING, DatasetReport, Problem, one_line
from .rows import RESERVED, a_json_type, check_row, json_type, quote_key

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

KINDS = ("train", "valid")
ROW_LIMITS = {"train": 50_000, "valid": 1_000}
KIND_NAMES = {"train": "training", "valid": "validation"}
GRADER_FILE = "<grader>"
FIRST_LINES = 5  # line numbers listed in a summary problem


def validate_dataset(
    path_or_rows: str | os.PathLike[str] | Iterable[Mapping[str, Any]] | pd.DataFrame,
    grader: Any = None,
    kind: str = "train",
) -> DatasetReport:
    """Check RFT rows and return a :class:`DatasetReport` listing every problem.

    ``path_or_rows`` is a JSONL path (streamed line by line), a list of row dicts, or a pandas
    DataFrame (one row per item; its ``messages`` column holds the message lists). Lines are
    1-based file lines, or 1-based row positions for lists and DataFrames. ``grader`` (a spec dict,
    or anything ``load_grader`` accepts) adds a check that every ``{{ item.* }}`` it reads
    resolves in every row. ``kind`` is ``"train"`` or ``"valid"`` (it sets the row limit).

    An empty line between rows is an error (one per run of empty lines); empty lines at the end
    of a file are ignored. Passing the row limit is a warning (Azure's samples exceed OpenAI's).
    The module docstring lists every such choice.

    Raises ValueError for a bad ``kind``, FileNotFoundError/OSError for an unreadable file, and
    GraderValidationError (a ValueError) for an invalid grader.
    """
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1, cutoff=0.4)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"kind must be 'train' or 'valid', not {kind!r}{hint}")
    variables: list[Variable] = []
    grader_problems: list[Problem] = []
    if grader is not None:
        variables, grader_problems = _grader_checks(_load_grader(grader))

    if _is_dataframe(path_or_rows):
        checker = _Checker("<DataFrame>", kind, variables, grader_problems)
        _read_dataframe(path_or_rows, checker)
    elif isinstance(path_or_rows, (str, os.PathLike)):
        path = Path(path_or_rows)
        if isinstance(path_or_rows, str) and path_or_rows.lstrip().startswith(("{", "[")):
            raise TypeError(
                "validate_dataset got JSON text, not a path: pass a list of row dicts "
                "(e.g. [json.loads(line) for line in text.splitlines()]) or a file path"
            )
        if not path.is_file():
            what = "does not exist" if not path.exists() else "is not a file"
            raise FileNotFoundError(f"{os.fspath(path_or_rows)} {what}")
        checker = _Checker(os.fspath(path_or_rows), kind, variables, grader_problems)
        _read_jsonl(path, checker)
    elif isinstance(path_or_rows, (bytes, Mapping)) or not isinstance(path_or_rows, Iterable):
        raise TypeError(
            "validate_dataset takes a JSONL path, a list of row dicts or a pandas DataFrame, "
            f"not {type(path_or_rows).__name__}"
        )
    else:
        checker = _Checker("<rows>", kind, variables, grader_problems)
        for position, row in enumerate(path_or_rows, 1):
            checker.row(position, row)
    return checker.finish()


# ---------------------------------------------------------------- grader


def _load_grader(grader: Any) -> dict:
    try:
        from ..graders.spec import load_grader
    except ImportError:  # the engine's loader is not there yet: plain dicts only
        load_grader = None
    if load_grader is not None:
        return load_grader(grader)
    if isinstance(grader, Mapping):
        return dict(grader)
    raise TypeError(f"grader must be a dict spec, not {type(grader).__name__}")


@dataclass(frozen=True)
class PythonRead(Variable):
    """``item["key"]`` read by a python grader's code (``line`` in its source)."""

    line: int = 0
    grader: str = ""


def python_item_reads(spec: Mapping[str, Any]) -> list[PythonRead]:
    """The keys python graders subscript on ``item`` (``item["k"]``), first read of each."""
    found: dict[str, PythonRead] = {}
    for grader in walk_graders(spec):
        if grader.get("type") != "python":
            continue
        try:
            tree = ast.parse(str(grader.get("source") or ""))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
                    and isinstance(node.value, ast.Name) and node.value.id == "item"
                    and isinstance(node.slice, ast.Constant)
                    and isinstance(node.slice.value, str) and node.slice.value.isidentifier()):
                key = node.slice.value
                read = found.get(key)
                if read is None or node.lineno < read.line:
                    found[key] = PythonRead(f"item.{key}", "item", (key,), None, node.lineno,
                                            str(grader.get("name") or "python"))
    return sorted(found.values(), key=lambda r: (r.line, r.text))


def _grader_checks(spec: Mapping[str, Any]) -> tuple[list[Variable], list[Problem]]:
    """The ``item.*`` variables to check in rows, and one problem per unusable variable."""
    where: dict[str, str] = {}
    for json_path, source in template_strings(spec):
        for var in compile_template(source).variables:
            where.setdefault(var.text, json_path)
    item_vars: list[Variable] = []
    problems: list[Problem] = []
    for var in grader_variables(spec):
        at = where.get(var.text)
        if var.problem:
            problems.append(
                Problem(
                    GRADER_FILE,
                    None,
                    one_line(f"{at + ': ' if at else ''}{{{{ {var.text} }}}}: {var.problem}"),
                    ERROR,
                    at,
                )
            )
        elif var.namespace == "item":
            item_vars.append(var)
    covered = {v.steps[0] for v in item_vars if v.steps}
    item_vars.extend(r for r in python_item_reads(spec) if r.steps[0] not in covered)
    return item_vars, problems


# ---------------------------------------------------------------- readers


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _read_jsonl(path: Path, checker: _Checker) -> None:
    blank_start: int | None = None
    blank_end = 0
    pretty_hint_given = False
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, 1):
            if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
                checker.problem(
                    1,
                    "the file starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 without "
                    "BOM, some JSONL readers reject it",
                    WARNING,
                )
            if not raw.strip():
                if blank_start is None:
                    blank_start = line_no
                blank_end = line_no
                continue
            if blank_start is not None:
                checker.blank_lines(blank_start, blank_end)
                blank_start = None
            checker.rows += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                checker.problem(
                    line_no,
                    f"not UTF-8 text (byte {raw[exc.start]:#04x} at byte {exc.start + 1}); "
                    "JSONL files must be UTF-8",
                )
                continue
            try:
                value = json.loads(text, parse_constant=_reject_constant)
            except json.JSONDecodeError as exc:
                message = f"invalid JSON at column {exc.colno}: {exc.msg}"
                stripped = text.strip()
                if exc.msg == "Extra data" and text[exc.pos :].strip() == ",":
                    message += " (a trailing comma: JSONL rows are not separated by commas)"
                elif exc.msg == "Extra data":
                    message += " (more than one JSON value on this line?)"
                elif not pretty_hint_given and (stripped in ("{", "[") or stripped.endswith(",")):
                    message += (
                        " (the file looks like pretty-printed JSON; JSONL needs each row as one "
                        "JSON object on a single line)"
                    )
                    pretty_hint_given = True
                checker.problem(line_no, message)
                continue
            except ValueError as exc:  # NaN / Infinity
                checker.problem(line_no, f"invalid JSON: {exc}")
                continue
            checker.row(line_no, value, counted=True)
    # Empty lines after the last row are ignored (see the module docstring).


def _is_dataframe(obj: Any) -> bool:
    pandas = sys.modules.get("pandas")  # no DataFrame can exist unless pandas was imported
    return pandas is not None and isinstance(obj, pandas.DataFrame)


def _read_dataframe(frame: pd.DataFrame, checker: _Checker) -> None:
    records = frame.to_dict("records")
    for position, (label, record) in enumerate(zip(frame.index, records, strict=True), 1):
        row = {str(k): _plain(v) for k, v in record.items() if not _is_missing(v)}
        checker.row(position, row, label=label)


def _is_missing(value: Any) -> bool:
    """A DataFrame cell that stands for "no such key" (NaN, pd.NA, NaT)."""
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def _plain(value: Any) -> Any:
    """Turn numpy scalars / arrays inside a DataFrame cell into plain Python values."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if type(value).__module__ == "numpy":
        if hasattr(value, "tolist"):
            converted = value.tolist()
            return _plain(converted) if isinstance(converted, (list, dict)) else converted
    return value


# ---------------------------------------------------------------- the checker


class _Checker:
    """Accumulates row problems and the cross-row statistics behind the summary problems."""

    def __init__(
        self, file: str, kind: str, variables: list[Variable], grader_problems: list[Problem]
    ) -> None:
        self.file = file
        self.kind = kind
        self.variables = variables
        self.rows = 0
        self.objects = 0  # rows that are JSON objects (the denominators of the summaries)
        self._problems: list[tuple[int, int, int, Problem]] = []
        for problem in grader_problems:
            self._add((0, 0, 0), problem)
        self._labels: dict[int, Any] = {}  # DataFrame index labels by position
        # extra keys: count, first line lacking it, types seen {type: [count, first line]}
        self.key_count: dict[str, int] = {}
        self.key_first_missing: dict[str, int] = {}
        self.key_types: dict[str, dict[str, list[int]]] = {}
        self._pending: set[str] = set()  # keys present in every object row so far
        self._first_object_line: int | None = None
        self.evals_rows = 0
        self.evals_first: int | None = None
        # variables: text -> [misses, first lines, first reason, hint]
        self.misses: dict[str, list[Any]] = {}

    # -- problems

    def _add(self, key: tuple[int, int, int], problem: Problem) -> None:
        self._problems.append((*key, len(self._problems), problem))  # type: ignore[arg-type]

    def problem(
        self,
        line: int | None,
        message: str,
        severity: str = ERROR,
        field: str | None = None,
        *,
        order: int = 1,
    ) -> None:
        """Record a problem of this file (``order`` 0 sorts before the line's row problems)."""
        if line is not None and line in self._labels:
            label = self._labels[line]
            where = f"index {label!r}" if order < 2 else f"row {line} has index {label!r}"
            message = f"{message} ({where})"
        problem = Problem(self.file, line, one_line(message), severity, field)
        self._add((1, line or 0, order), problem)

    def blank_lines(self, start: int, end: int) -> None:
        """Report a run of empty lines between rows."""
        where = "empty line" if start == end else f"{end - start + 1} empty lines ({start}-{end})"
        self.problem(
            start,
            f"{where} between rows: every line of a JSONL file must be one JSON object; delete it",
        )

    # -- rows

    def row(self, line: int, value: Any, label: Any = None, counted: bool = False) -> None:
        """Check one parsed row (``counted``: already counted in ``rows`` by the reader)."""
        if not counted:
            self.rows += 1
        if label is not None:
            self._labels[line] = label
        if not isinstance(value, Mapping):
            self._not_an_object(line, value)
            return
        self.objects += 1
        for field, message, severity in check_row(value):
            self.problem(line, message, severity, field)
        if "messages" not in value and isinstance(value.get("item"), Mapping):
            self.evals_rows += 1
            if self.evals_first is None:
                self.evals_first = line
        self._key_stats(line, value)
        if self.variables:
            self._variable_stats(line, value)

    def _not_an_object(self, line: int, value: Any) -> None:
        noun = "line" if self.file not in ("<rows>", "<DataFrame>") else "row"
        message = f"the {noun} is {a_json_type(value)}, not a JSON object"
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            message += (
                f" (an array of {len(value)} rows? JSONL puts each row on its own line, "
                "not in an array)"
            )
        else:
            message += ' (an RFT row is {"messages": [...], <item keys>...})'
        self.problem(line, message)

    def _key_stats(self, line: int, row: Mapping[str, Any]) -> None:
        keys = [k for k in row if k not in RESERVED]
        if self._first_object_line is None:
            self._first_object_line = line
        if self._pending:
            for key in self._pending.difference(keys):
                self.key_first_missing[key] = line
                self._pending.discard(key)
        for key in keys:
            count = self.key_count.get(key)
            if count is None:
                self.key_count[key] = 1
                if self.objects > 1:  # earlier object rows lack it
                    self.key_first_missing[key] = self._first_object_line
                else:
                    self._pending.add(key)
                self.key_types[key] = {}
            else:
                self.key_count[key] = count + 1
            slot = self.key_types[key].setdefault(json_type(row[key]), [0, line])
            slot[0] += 1

    def _variable_stats(self, line: int, row: Mapping[str, Any]) -> None:
        for var in self.variables:
            if var.resolves({"item": row}):
                continue
            entry = self.misses.get(var.text)
            if entry is not None:
                entry[0] += 1
                if len(entry[1]) < FIRST_LINES:
                    entry[1].append(line)
                continue
            try:  # the first miss: let the template engine say why
                var.lookup({"item": row, "sample": None})
            except TemplateError as exc:
                prefix = f"{{{{ {var.text} }}}}: "
                reason = str(exc)
                reason = reason[len(prefix) :] if reason.startswith(prefix) else reason
                self.misses[var.text] = [1, [line], reason, self._nesting_hint(var, row)]

    @staticmethod
    def _nesting_hint(var: Variable, row: Mapping[str, Any]) -> str:
        inner = row.get("item")
        if not isinstance(inner, Mapping) or "messages" in row:
            return ""
        try:
            var.lookup({"item": inner})
        except TemplateError:
            return ""
        return (
            f"; these rows nest it under `item` ({{{{ item.item{var.path} }}}}), the Evals "
            "format: RFT rows put the item's keys at the top level"
        )

    # -- summaries

    def finish(self) -> DatasetReport:
        """Add the file-level and summary problems, sort, and build the report."""
        noun = "file" if self.file not in ("<rows>", "<DataFrame>") else "input"
        if self.rows == 0:
            self.problem(
                None,
                f"the {noun} has no rows (an RFT {KIND_NAMES[self.kind]} file needs at least one)",
            )
        limit = ROW_LIMITS[self.kind]
        if self.rows > limit:
            self.problem(
                None,
                f"{self.rows:,} rows: OpenAI accepts at most {limit:,} {KIND_NAMES[self.kind]} "
                "rows (Azure's own sample files exceed this; check your platform's limit)",
                WARNING,
            )
        if self.evals_rows and self.evals_rows * 2 >= self.objects:  # most rows: say it once
            self.problem(
                self.evals_first,
                f"{self.evals_rows:,} of {self.rows:,} rows look like an Evals data file "
                '({"item": {...}} without `messages`), not RFT rows; an RFT row is '
                '{"messages": [...], <item keys>...} with the item\'s keys at the top level',
                order=0,
            )
        self._key_summaries()
        self._variable_summaries()
        self._problems.sort(key=lambda entry: entry[:4])
        return DatasetReport(
            file=self.file,
            kind=self.kind,
            rows=self.rows,
            problems=[entry[4] for entry in self._problems],  # type: ignore[misc]
            item_keys=set(self.key_count),
        )

    def _key_summaries(self) -> None:
        for key, count in self.key_count.items():
            if count < self.objects:
                first = self.key_first_missing.get(key)
                self.problem(
                    first,
                    f"rows disagree on item key {quote_key(key)}: {self.objects - count:,} of "
                    f"{self.objects:,} rows lack it (first: line {first}); keep one set of keys "
                    "across rows",
                    WARNING,
                    key,
                    order=2,
                )
            types = self.key_types[key]
            if len(types) > 1:
                ranked = sorted(types.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
                minority = min(ranked[1:], key=lambda kv: kv[1][1])
                listing = ", ".join(f"{name} in {c} {_rows(c)}" for name, (c, _) in ranked)
                self.problem(
                    minority[1][1],
                    f"item key {quote_key(key)} holds different JSON types: {listing} (first "
                    f"{minority[0]}: line {minority[1][1]}); keep one type across rows",
                    WARNING,
                    key,
                    order=2,
                )

    def _variable_summaries(self) -> None:
        for var in self.variables:
            entry = self.misses.get(var.text)
            if entry is None:
                continue
            count, lines, reason, hint = entry
            shown = ", ".join(str(n) for n in lines) + (", ..." if count > len(lines) else "")
            if not hint and "did you mean" not in reason:
                hint = self._key_hint(var)
            if isinstance(var, PythonRead):
                key = var.steps[0]
                self.problem(
                    lines[0],
                    f"python grader {var.grader!r} reads item[{key!r}] (its line {var.line}), "
                    f"which {count:,} of {self.objects:,} {_rows(self.objects)} lack "
                    f"({_plural(len(lines), 'line')} {shown}): unless the code guards that "
                    f"read, they raise KeyError and score 0 (python_grader_runtime_error)"
                    f"{self._python_key_hint(str(key))}",
                    WARNING,
                    str(key),
                    order=2,
                )
                continue
            self.problem(
                lines[0],
                f"grader variable {{{{ {var.text} }}}} does not resolve in {count:,} of "
                f"{self.objects:,} {_rows(self.objects)} ({_plural(len(lines), 'line')} {shown}): "
                f"{reason}{hint}",
                ERROR,
                var.path.lstrip(".") or None,
                order=2,
            )

    def _python_key_hint(self, key: str) -> str:
        if key in self.key_count:
            return ""
        close = difflib.get_close_matches(key, sorted(self.key_count), n=1, cutoff=0.6)
        return f"; did you mean item[{close[0]!r}]?" if close else ""

    def _key_hint(self, var: Variable) -> str:
        head = var.steps[0] if var.steps else None
        if not isinstance(head, str) or head in self.key_count or head in RESERVED:
            return ""
        keys = sorted(self.key_count)
        if not keys:
            return (
                f"; the rows have no item keys (only `messages`): add {quote_key(head)} to each row"
            )
        close = difflib.get_close_matches(head, keys, n=1, cutoff=0.6)
        if close:
            return f"; did you mean {{{{ item.{close[0]} }}}}?"
        shown = ", ".join(quote_key(k) for k in keys[:8]) + (", ..." if len(keys) > 8 else "")
        return f"; the rows' item keys are {shown}"


def _rows(n: int) -> str:
    return "row" if n == 1 else "rows"


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"
