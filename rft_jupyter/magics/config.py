"""``[tool.rft_jupyter]`` in the pyproject.toml found upward from the working directory.

Keys are ``RftMagics`` settings (``sample_column = "answer"``); the ``[tool.rft_jupyter.engine]``
table holds engine settings (``tokenizer``, ``rouge_stemmer``…). Other sub-tables belong to
other parts of rft-jupyter and are left alone. Unknown keys get a "did you mean".
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .args import did_you_mean

SECTION = "rft_jupyter"


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml in ``start`` (default: the working directory) or above."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_section(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(the ``[tool.rft_jupyter]`` table or None, a one-line problem or None)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    if f"tool.{SECTION}" not in text:
        return None, None
    if sys.version_info < (3, 11):  # pragma: no cover - exercised on 3.10 only
        return None, f"[tool.{SECTION}] in {path} ignored: reading TOML needs Python 3.11+"
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, f"{path} is not valid TOML: {exc}"
    table = data.get("tool", {}).get(SECTION)
    if table is None:
        return None, None
    if not isinstance(table, dict):
        return None, f"[tool.{SECTION}] in {path} must be a table"
    return table, None


def apply_settings(
    target: Any, table: Mapping[str, Any], origin: str
) -> tuple[list[str], list[str]]:
    """Set ``target``'s config traits from ``table``: (changes, problems), one line each."""
    from traitlets import TraitError

    names = sorted(target.class_trait_names(config=True))
    changed: list[str] = []
    problems: list[str] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            if key == "engine":
                changed_engine, bad = apply_engine(value, f"{origin} [engine]")
                changed += changed_engine
                problems += bad
            continue  # tables of other components (jobs, …)
        if key not in names:
            problems.append(
                f"unknown setting {key!r} in {origin}{did_you_mean(key, names)} "
                f"(settings: {', '.join(names)})"
            )
            continue
        try:
            setattr(target, key, value)
        except TraitError as exc:
            problems.append(f"{origin}: {key} = {value!r} is not allowed: {exc}")
            continue
        changed.append(f"{key}={value!r}")
    return changed, problems


def apply_engine(table: Mapping[str, Any], origin: str) -> tuple[list[str], list[str]]:
    """Engine settings (``rft_jupyter.graders.settings.configure``)."""
    import dataclasses

    from ..graders.settings import Settings, configure

    names = [f.name for f in dataclasses.fields(Settings)]
    changed, problems = [], []
    for key, value in table.items():
        if key not in names:
            problems.append(
                f"unknown engine setting {key!r} in {origin}{did_you_mean(key, names)} "
                f"(engine settings: {', '.join(names)})"
            )
            continue
        try:
            configure(**{key: value})
        except ValueError as exc:
            problems.append(f"{origin}: {exc}")
            continue
        changed.append(f"engine.{key}={value!r}")
    return changed, problems


def load_pyproject(
    target: Any, start: Path | None = None
) -> tuple[list[str], list[str], Path | None]:
    """Apply the nearest pyproject's ``[tool.rft_jupyter]``: (changes, problems, its path)."""
    path = find_pyproject(start)
    if path is None:
        return [], [], None
    table, problem = read_section(path)
    if table is None:
        return [], [problem] if problem else [], path
    changed, problems = apply_settings(target, table, f"[tool.{SECTION}] of {path}")
    return changed, problems, path
