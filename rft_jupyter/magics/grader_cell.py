"""The body of a ``%%grader`` cell: JSON, YAML or python source -> a validated grader spec.

Errors name the body's line and column (parse errors, and validation errors located from the
field's JSON path) and suggest registered names for sub-graders given by name.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from IPython.core.error import UsageError

from ..graders.errors import GraderValidationError
from ..graders.spec import load_grader, parse_data
from .args import did_you_mean, usage_error
from .registry import GraderRegistry

FORMATS = ("json", "yaml", "python")
_DEF_GRADE = re.compile(r"^\s*(?:async\s+)?def\s+grade\s*\(", re.M)
_PATH_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_UNQUOTED_TEMPLATE = re.compile(r"^\s*-?\s*[\w\"']+\s*:\s*\{\{", re.M)


def detect_format(body: str) -> str:
    """``json`` when the body starts with ``{``, ``python`` when it defines ``grade``, else
    ``yaml``."""
    stripped = body.lstrip()
    if stripped.startswith("{"):
        return "json"
    if _DEF_GRADE.search(body):
        return "python"
    return "yaml"


def _excerpt(body: str, line: int) -> str:
    lines = body.splitlines()
    if 1 <= line <= len(lines):
        text = lines[line - 1].strip()
        if text:
            return f" ({text[:60]!r})" if len(text) <= 60 else f" ({text[:57]!r}…)"
    return ""


def parse_body(body: str, fmt: str, name: str) -> dict[str, Any]:
    """The body parsed as ``fmt``; a usage error with line:column when it does not parse."""
    where = f"%%grader {name}"
    if fmt == "python":
        return {"type": "python", "name": name, "source": body}
    try:
        data = parse_data(body, fmt)
    except GraderValidationError as exc:
        excerpt = _excerpt(body, exc.line) if exc.line else ""
        hint = ""
        if fmt == "yaml" and _UNQUOTED_TEMPLATE.search(body):
            hint = "; quote templates in YAML: input: \"{{ sample.output_text }}\""
        raise usage_error(f"{where}: {exc}{excerpt}{hint}") from None
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else type(data).__name__
        raise usage_error(
            f"{where}: the body must be a grader object (with a `type` field), not {kind}; "
            "for a python grader, define `def grade(sample, item)`"
        )
    return data


def resolve_names(spec: dict[str, Any], registry: GraderRegistry, name: str) -> dict[str, Any]:
    """Sub-graders of a multi given by the NAME of a registered grader become its spec.

    ``graders: {exact: my_exact}`` or a list of names ``graders: [my_exact, my_fuzzy]``.
    """
    if spec.get("type") != "multi":
        return spec
    graders = spec.get("graders")
    if isinstance(graders, list) and graders and all(isinstance(g, str) for g in graders):
        graders = {g: g for g in graders}
    if not isinstance(graders, dict):
        return spec
    out = {}
    for key, sub in graders.items():
        if isinstance(sub, str):
            if sub not in registry:
                raise usage_error(f"%%grader {name}: graders.{key}: {registry.unknown(sub)}")
            out[key] = registry.spec(sub)
        else:
            out[key] = sub
    return {**spec, "graders": out}


def _locate(body: str, path: str) -> int | None:
    """The body line (1-based) of the field at JSON ``path`` (YAML and JSON bodies)."""
    if not path:
        return None
    try:
        import yaml

        node = yaml.compose(body)
    except Exception:  # the body parsed before; a YAML-incompatible JSON body has no lines
        return None
    line = None
    for m in _PATH_STEP.finditer(path):
        key, index = m.group(1), m.group(2)
        if node is None:
            break
        if index is not None and isinstance(node, yaml.SequenceNode):
            i = int(index)
            if i >= len(node.value):
                break
            node = node.value[i]
            line = node.start_mark.line + 1
        elif key is not None and isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            key_node = next((k for k, v in node.value if getattr(k, "value", None) == key), None)
            if found is None:
                break
            line = key_node.start_mark.line + 1
            node = found
        else:
            break
    return line


def build_grader(
    name: str, body: str, fmt: str | None, registry: GraderRegistry
) -> tuple[dict[str, Any], str]:
    """The validated spec of a ``%%grader NAME`` cell and the format it was read as."""
    where = f"%%grader {name}"
    if not body.strip():
        raise usage_error(
            f"{where}: the cell body is empty: put the grader below the first line (JSON or "
            "YAML, or python source defining `def grade(sample, item)`)"
        )
    explicit = fmt is not None
    fmt = fmt or detect_format(body)
    try:
        spec = parse_body(body, fmt, name)
    except UsageError:
        if explicit or fmt != "json":
            raise
        try:  # a YAML flow mapping also starts with "{": {type: string_check, ...}
            spec, fmt = parse_body(body, "yaml", name), "yaml"
        except UsageError:
            raise usage_error_from_json(body, name) from None
    spec.setdefault("name", name)
    if not isinstance(spec.get("name"), str) or not spec["name"].strip():
        spec["name"] = name
    spec = resolve_names(copy.deepcopy(spec), registry, name)
    try:
        normalized = load_grader(spec)
    except GraderValidationError as exc:
        line = _locate(body, exc.path) if fmt != "python" else None
        at = f"line {line}: " if line else ""
        raise usage_error(f"{where}: {at}{exc}") from None
    return normalized, fmt


def usage_error_from_json(body: str, name: str) -> UsageError:
    """The JSON parse error of ``body`` (when YAML could not read it either)."""
    try:
        parse_body(body, "json", name)
    except UsageError as exc:
        return exc
    return usage_error(f"%%grader {name}: cannot parse the body")  # pragma: no cover


def unknown_format(fmt: str) -> str:
    return f"--format {fmt!r} is not one of {', '.join(FORMATS)}{did_you_mean(fmt, FORMATS)}"
