"""``DATA`` arguments of the magics: a DataFrame / list-of-dicts variable, or a JSONL path."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..graders.templates import grader_variables
from .args import did_you_mean, usage_error

SCAN_ROWS = 200  # rows of a list (or lines of a file) looked at for column names


def is_frame(value: Any) -> bool:
    return hasattr(value, "columns") and hasattr(value, "to_dict") and hasattr(value, "index")


def is_rows(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(
        isinstance(r, Mapping) for r in itertools.islice(value, 20)
    )


def data_variables(ns: Mapping[str, Any]) -> list[str]:
    """Names in ``ns`` holding a DataFrame or a list of dicts (for hints and completion)."""
    return sorted(
        k for k, v in ns.items()
        if not k.startswith("_") and (is_frame(v) or is_rows(v))
    )


def resolve(ns: Mapping[str, Any], token: str, magic: str) -> Any:
    """The data a ``DATA`` argument names: a variable, a JSONL path, or a Python expression."""
    if token in ns and not token.startswith("-"):
        value = ns[token]
    elif Path(token).expanduser().is_file():
        return str(Path(token).expanduser())
    elif token.isidentifier():
        names = data_variables(ns)
        shown = f"data variables: {', '.join(names)}" if names else "no DataFrame variable yet"
        raise usage_error(
            f"{magic}: no variable or file named {token!r}{did_you_mean(token, names)} ({shown})"
        )
    elif token.endswith((".jsonl", ".json")) or "/" in token:
        raise usage_error(f"{magic}: no such file: {token}")
    else:
        try:
            value = eval(token, dict(ns))  # the user's own expression, as %timeit does
        except Exception as exc:
            raise usage_error(
                f"{magic}: cannot evaluate {token!r}: {type(exc).__name__}: {exc}"
            ) from None
    if isinstance(value, (str, Path)):
        path = Path(value).expanduser()
        if not path.is_file():
            raise usage_error(f"{magic}: no such file: {value}")
        return str(path)
    if is_frame(value) or is_rows(value) or (isinstance(value, (list, tuple)) and not value):
        return value
    raise usage_error(
        f"{magic}: {token} is a {type(value).__name__}; DATA is a DataFrame, a list of dicts or "
        "a JSONL path"
    )


def columns_of(data: Any) -> list[str] | None:
    """Column names of a DataFrame, a list of dicts or a JSONL file (its first lines)."""
    if is_frame(data):
        return [str(c) for c in data.columns]
    if isinstance(data, (list, tuple)):
        seen: dict[str, None] = {}
        for row in itertools.islice(data, SCAN_ROWS):
            if isinstance(row, Mapping):
                seen.update(dict.fromkeys(str(k) for k in row))
        return list(seen)
    if isinstance(data, str):
        seen = {}
        try:
            with open(data, encoding="utf-8") as fh:
                for line in itertools.islice(fh, SCAN_ROWS):
                    try:
                        row = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(row, dict):
                        seen.update(dict.fromkeys(row))
        except OSError:
            return None
        return list(seen) or None
    return None


def _shown(columns: list[str]) -> str:
    return ", ".join(columns[:25]) + (" …" if len(columns) > 25 else "") if columns else "none"


def check_columns(
    spec: Mapping[str, Any], data: Any, sample: str | None, label: str, magic: str,
    sample_hint: str = "",
) -> None:
    """A usage error when the sample column, or a column the grader's templates read, is
    missing from a DataFrame / list of dicts (named against its real columns)."""
    if isinstance(data, str):
        return  # a file: grade() reports its own problems, with line numbers
    columns = columns_of(data)
    if not columns:
        return
    if sample is not None and sample not in columns:
        raise usage_error(
            f"{magic}: {label} has no sample column {sample!r}"
            f"{did_you_mean(sample, columns, cutoff=0.5)} (columns: {_shown(columns)}){sample_hint}"
        )
    item_columns = [c for c in columns if c != sample]
    for var in grader_variables(spec):
        if var.namespace != "item" or not var.steps or not isinstance(var.steps[0], str):
            continue
        key = var.steps[0]
        if key not in item_columns:
            raise usage_error(
                f"{magic}: grader {spec.get('name', '')!r} reads {{{{ {var.text} }}}} but "
                f"{label} has no column {key!r}{did_you_mean(key, item_columns, cutoff=0.5)} "
                f"(columns: {_shown(item_columns)})"
            )
