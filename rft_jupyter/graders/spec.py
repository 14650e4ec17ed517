"""Grader specs: load (dict, JSON text, YAML text, file, SDK object) and validate every type.

Errors are :class:`GraderValidationError` with ``.path`` set to the JSON path of the bad field and
a message that says what is allowed (with a "did you mean" for near misses).
"""

from __future__ import annotations

import ast
import copy
import difflib
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import GraderValidationError
from .formula import FormulaError, parse_formula
from .metric_names import TEXT_METRICS

GRADER_TYPES = (
    "string_check",
    "text_similarity",
    "score_model",
    "label_model",
    "python",
    "multi",
    "endpoint",
)
OPERATIONS = ("eq", "ne", "like", "ilike")
EVALUATION_METRICS = ("cosine", *TEXT_METRICS)  # cosine: evals only, needs embeddings
MESSAGE_ROLES = ("user", "assistant", "system", "developer")
CONTENT_TYPES = ("input_text", "output_text", "input_image", "input_audio")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
MAX_PYTHON_SOURCE = 256 * 1024
# Near misses that string similarity does not find on its own.
ALIASES = {
    "neq": "ne",
    "!=": "ne",
    "==": "eq",
    "equals": "eq",
    "contains": "like",
    "rouge": "rouge_l",
    "rougeL": "rouge_l",
    "rouge1": "rouge_1",
    "rouge2": "rouge_2",
    "fuzzy": "fuzzy_match",
    "sampling_parameters": "sampling_params",
    "max_completion_tokens": "max_completions_tokens",
    "max_tokens": "max_completions_tokens",
}

Checker = Callable[[Any, str], Any]


# ---------------------------------------------------------------- loading


def load_grader(obj: Any) -> dict:
    """Turn a dict, JSON/YAML text, a file path or a grader object into a validated spec dict.

    A ``{"grader": {...}}`` wrapper (the validate endpoint's body) is unwrapped.
    """
    spec = _to_dict(obj)
    if set(spec) == {"grader"} and isinstance(spec["grader"], Mapping):
        spec = dict(spec["grader"])
    return _validate_grader(spec, "", top=True)


def validate_grader(grader: Any, *, remote: Any = None) -> dict:
    """Validate a grader locally; return ``{"grader": normalized}`` like the service's endpoint.

    Raises :class:`GraderValidationError` (a ValueError) naming the JSON path of the bad field.
    ``remote=client`` also asks the service's ``/fine_tuning/alpha/graders/validate`` (after the
    local check passes) and returns its answer.
    """
    spec = load_grader(grader)
    if remote is not None:
        from .remote import validate_remote

        return validate_remote(remote, spec)
    return {"grader": spec}


def _to_dict(obj: Any) -> dict:
    if isinstance(obj, Mapping):
        return copy.deepcopy(dict(obj))
    if hasattr(obj, "spec") and isinstance(obj.spec, Mapping):  # our own Grader objects
        return copy.deepcopy(dict(obj.spec))
    for method in ("model_dump", "to_dict"):  # openai SDK (pydantic) objects
        if callable(getattr(obj, method, None)):
            try:
                data = getattr(obj, method)(exclude_none=True)
            except TypeError:
                data = getattr(obj, method)()
            if isinstance(data, Mapping):
                return dict(data)
    if isinstance(obj, os.PathLike):
        return parse_text(_read(Path(obj)), source=str(obj))
    if isinstance(obj, bytes):
        obj = obj.decode("utf-8")
    if isinstance(obj, str):
        if _looks_like_path(obj):
            return parse_text(_read(Path(obj)), source=obj)
        return parse_text(obj)
    raise GraderValidationError(
        f"a grader is a dict, JSON or YAML text, or a file path, not {type(obj).__name__}"
    )


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and text.strip().lower().endswith((".json", ".yaml", ".yml"))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GraderValidationError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise GraderValidationError(f"{path} is not UTF-8 text ({exc.reason})") from None


def parse_text(text: str, source: str = "") -> dict:
    """Parse JSON (when the text starts with ``{``) or YAML text into a dict."""
    where = f"{source}: " if source else ""
    stripped = text.lstrip()
    if not stripped:
        raise GraderValidationError(f"{where}the grader text is empty")
    data = parse_data(text, "json" if stripped.startswith("{") else "yaml", source)
    if not isinstance(data, dict):
        raise GraderValidationError(
            f"{where}a grader is an object with a `type` field, not {_json_type(data)}"
        )
    return data


def parse_data(text: str, fmt: str, source: str = "") -> Any:
    """Parse ``text`` as ``fmt`` ("json" or "yaml"); errors carry the line (``.line``)."""
    where = f"{source}: " if source else ""
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GraderValidationError(
                f"{where}invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                line=exc.lineno,
            ) from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise GraderValidationError(
                f"{where}invalid YAML{at}: {problem}", line=mark.line + 1 if mark else None
            ) from None
    return data


# ---------------------------------------------------------------- field checkers


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _suggest(value: Any, allowed: tuple[str, ...] | list[str]) -> str:
    if not isinstance(value, str):
        return ""
    if value in ALIASES and ALIASES[value] in allowed:
        return f"; did you mean {ALIASES[value]!r}?"
    lowered = {a.lower(): a for a in allowed}
    if value.lower() in lowered:
        return f"; did you mean {lowered[value.lower()]!r}?"
    hint = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.6)
    return f"; did you mean {hint[0]!r}?" if hint else ""


def string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise GraderValidationError(f"expected a string, got {_json_type(value)}", path)
    return value


def nonempty_string(value: Any, path: str) -> str:
    if not string(value, path).strip():
        raise GraderValidationError("must not be empty", path)
    return value


def number(value: Any, path: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GraderValidationError(f"expected a number, got {_json_type(value)}", path)
    if value != value or value in (float("inf"), float("-inf")):
        raise GraderValidationError("expected a finite number", path)
    return value


def integer(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraderValidationError(f"expected an integer, got {_json_type(value)}", path)
    return value


def positive_integer(value: Any, path: str) -> int:
    if integer(value, path) < 1:
        raise GraderValidationError(f"expected an integer >= 1, got {value}", path)
    return value


def enum(*allowed: str) -> Checker:
    def check(value: Any, path: str) -> str:
        if value not in allowed:
            shown = repr(value) if isinstance(value, str) else _json_type(value)
            raise GraderValidationError(
                f"{shown} is not allowed{_suggest(value, allowed)} (allowed: {', '.join(allowed)})",
                path,
            )
        return value

    return check


def string_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list):
        raise GraderValidationError(f"expected an array of strings, got {_json_type(value)}", path)
    if not value:
        raise GraderValidationError("must not be empty", path)
    for i, item in enumerate(value):
        string(item, f"{path}[{i}]")
    return value


def score_range(value: Any, path: str) -> list[float]:
    if not isinstance(value, list) or len(value) != 2:
        raise GraderValidationError(
            f"expected two numbers [min, max], got {_json_type(value)}", path
        )
    lo, hi = number(value[0], f"{path}[0]"), number(value[1], f"{path}[1]")
    if lo > hi:
        raise GraderValidationError(f"min {lo} is greater than max {hi}", path)
    return value


def headers(value: Any, path: str) -> dict:
    if not isinstance(value, Mapping):
        raise GraderValidationError(f"expected an object of strings, got {_json_type(value)}", path)
    for key, item in value.items():
        string(item, f"{path}.{key}")
    return dict(value)


def url(value: Any, path: str) -> str:
    if not re.match(r"https?://[^\s/]+", string(value, path)):
        raise GraderValidationError("expected an http:// or https:// URL", path)
    return value


def python_source(value: Any, path: str) -> str:
    string(value, path)
    size = len(value.encode("utf-8"))
    if size > MAX_PYTHON_SOURCE:
        raise GraderValidationError(
            f"the code is {size:,} bytes; the service accepts less than 256 kB", path
        )
    try:
        tree = ast.parse(value)
    except SyntaxError as exc:
        raise GraderValidationError(
            f"syntax error at line {exc.lineno} column {exc.offset}: {exc.msg}", path
        ) from None
    grade = [
        n
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "grade"
    ]
    if not grade:
        raise GraderValidationError("the code must define `def grade(sample, item)`", path)
    fn = grade[-1]
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    required_kwonly = [a for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None]
    if isinstance(fn, ast.AsyncFunctionDef):
        raise GraderValidationError(f"line {fn.lineno}: `grade` must not be async", path)
    if len(positional) != 2 or args.vararg or required_kwonly:
        raise GraderValidationError(
            f"line {fn.lineno}: `grade` must take exactly two positional parameters "
            f"(sample, item), it takes ({ast.unparse(args)})",
            path,
        )
    return value


# ---------------------------------------------------------------- messages (model graders)


def _content_part(value: Any, path: str) -> None:
    if not isinstance(value, Mapping):
        raise GraderValidationError(
            f"expected a content part object, got {_json_type(value)}", path
        )
    ctype = enum(*CONTENT_TYPES)(value.get("type"), f"{path}.type")
    if ctype in ("input_text", "output_text"):
        _fields(value, path, {"type": (True, string), "text": (True, string)})
    elif ctype == "input_image":
        _fields(
            value,
            path,
            {
                "type": (True, string),
                "image_url": (True, string),
                "detail": (False, enum("auto", "low", "high")),
            },
        )
    else:
        _fields(value, path, {"type": (True, string), "input_audio": (True, _audio)})


def _audio(value: Any, path: str) -> dict:
    if not isinstance(value, Mapping):
        raise GraderValidationError(f"expected an object, got {_json_type(value)}", path)
    _fields(value, path, {"data": (True, string), "format": (True, enum("mp3", "wav"))})
    return dict(value)


def _content(value: Any, path: str) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        for i, part in enumerate(value):
            _content_part(part, f"{path}[{i}]")
        return value
    if isinstance(value, Mapping):
        _content_part(value, path)
        return value
    raise GraderValidationError(
        f"expected a string, a content part or an array of parts, got {_json_type(value)}", path
    )


def messages(value: Any, path: str) -> list:
    if not isinstance(value, list):
        raise GraderValidationError(
            f"expected an array of messages ({{role, content}}), got {_json_type(value)}", path
        )
    if not value:
        raise GraderValidationError("needs at least one message", path)
    for i, msg in enumerate(value):
        mpath = f"{path}[{i}]"
        if not isinstance(msg, Mapping):
            raise GraderValidationError(
                f"expected a message object {{role, content}}, got {_json_type(msg)}", mpath
            )
        _fields(
            msg,
            mpath,
            {
                "role": (True, enum(*MESSAGE_ROLES)),
                "content": (True, _content),
                "type": (False, enum("message")),
            },
        )
    return value


def sampling_params(value: Any, path: str) -> dict:
    if not isinstance(value, Mapping):
        raise GraderValidationError(f"expected an object, got {_json_type(value)}", path)
    _fields(
        value,
        path,
        {
            "seed": (False, integer),
            "temperature": (False, number),
            "top_p": (False, number),
            "max_completions_tokens": (False, positive_integer),
            "reasoning_effort": (False, enum(*REASONING_EFFORTS)),
        },
    )
    return dict(value)


# ---------------------------------------------------------------- per-type field tables

COMMON = {
    "type": (True, string),
    "name": (True, nonempty_string),
    "pass_threshold": (False, number),
}

FIELDS: dict[str, dict[str, tuple[bool, Checker]]] = {
    "string_check": {
        "input": (True, string),
        "reference": (True, string),
        "operation": (True, enum(*OPERATIONS)),
    },
    "text_similarity": {
        "input": (True, string),
        "reference": (True, string),
        "evaluation_metric": (True, enum(*EVALUATION_METRICS)),
    },
    "score_model": {
        "model": (True, nonempty_string),
        "input": (True, messages),
        "range": (False, score_range),
        "sampling_params": (False, sampling_params),
    },
    "label_model": {
        "model": (True, nonempty_string),
        "input": (True, messages),
        "labels": (True, string_list),
        "passing_labels": (True, string_list),
    },
    "python": {"source": (True, python_source), "image_tag": (False, string)},
    "multi": {"graders": (True, lambda v, p: v), "calculate_output": (True, string)},
    "endpoint": {
        "url": (True, url),
        "headers": (False, headers),
        "rate_limit": (False, positive_integer),
    },
}


def _fields(obj: Mapping, path: str, table: Mapping[str, tuple[bool, Checker]]) -> None:
    for key in obj:
        if key not in table:
            raise GraderValidationError(
                f"unknown field {key!r}{_suggest(key, list(table))} "
                f"(allowed: {', '.join(table)})",
                _join(path, key),
            )
    for key, (required, check) in table.items():
        if key in obj:
            check(obj[key], _join(path, key))
        elif required:
            raise GraderValidationError("this required field is missing", _join(path, key))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _validate_grader(spec: Any, path: str, top: bool) -> dict:
    if not isinstance(spec, Mapping):
        raise GraderValidationError(f"expected a grader object, got {_json_type(spec)}", path)
    spec = dict(spec)
    if "type" not in spec:
        raise GraderValidationError(
            f"missing required field 'type' (one of: {', '.join(GRADER_TYPES)})",
            _join(path, "type"),
        )
    gtype = spec["type"]
    if gtype not in GRADER_TYPES:
        shown = repr(gtype) if isinstance(gtype, str) else _json_type(gtype)
        raise GraderValidationError(
            f"unknown grader type {shown}{_suggest(gtype, GRADER_TYPES)} "
            f"(allowed: {', '.join(GRADER_TYPES)})",
            _join(path, "type"),
        )
    if gtype == "multi" and not top:
        raise GraderValidationError(
            "a multi grader cannot contain another multi grader", _join(path, "type")
        )
    _fields(spec, path, {**COMMON, **FIELDS[gtype]})
    if gtype == "label_model":
        extra = [x for x in spec["passing_labels"] if x not in spec["labels"]]
        if extra:
            raise GraderValidationError(
                f"{extra[0]!r} is not one of the labels ({', '.join(spec['labels'])})",
                _join(path, "passing_labels"),
            )
    if gtype == "multi":
        spec["graders"] = _validate_subgraders(spec["graders"], _join(path, "graders"))
        try:
            parse_formula(spec["calculate_output"], frozenset(spec["graders"]))
        except FormulaError as exc:
            raise GraderValidationError(
                f"{exc.reason} at column {exc.column} of {spec['calculate_output']!r}",
                _join(path, "calculate_output"),
            ) from None
    return spec


def _validate_subgraders(graders: Any, path: str) -> dict:
    if not isinstance(graders, Mapping):
        raise GraderValidationError(
            f"expected an object {{key: grader}} (the wire format is a dict of named graders), "
            f"got {_json_type(graders)}",
            path,
        )
    if "type" in graders and isinstance(graders.get("type"), str):
        raise GraderValidationError(
            "expected an object {key: grader}: the wire format is a dict of NAMED graders, "
            "not a single grader",
            path,
        )
    if not graders:
        raise GraderValidationError("needs at least one grader", path)
    out = {}
    for key, sub in graders.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise GraderValidationError(
                f"grader key {key!r} must be an identifier (letters, digits, _) "
                "so that calculate_output can name it",
                path,
            )
        out[key] = _validate_grader(sub, f"{path}.{key}", top=False)
    return out
