"""The ``sample`` namespace: what the model produced, as the service hands it to a grader."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any


class SampleParseError(ValueError):
    """The output is not JSON, or does not satisfy the job's response_format schema."""


def _maybe_json(text: str) -> Any:
    """The parsed value when ``text`` is a JSON object or array, else None."""
    head = text.lstrip()[:1]
    if head not in ("{", "["):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def build_sample(
    model_sample: Any,
    response_format: ResponseFormat | None = None,
    fields: frozenset[str] | None = None,
) -> dict:
    """A sample dict from a string (like the run endpoint) or a dict (a richer sample).

    With a ``response_format`` the output must be JSON that satisfies its schema, else
    :class:`SampleParseError`. ``fields`` (when the grader is known to read only those keys)
    skips building the others from a string.
    """
    if isinstance(model_sample, Mapping):
        sample = dict(model_sample)
        text = sample.get("output_text")
        if text is None:
            text = _text_from_choices(sample.get("choices"))
        text = "" if text is None else str(text)
        sample["output_text"] = text
        if response_format is not None and sample.get("output_json") is None:
            sample["output_json"] = response_format.parse(text)
        elif response_format is not None:
            response_format.check(sample["output_json"])
        else:
            sample.setdefault("output_json", _maybe_json(text))
        sample.setdefault("output_tools", [])
        sample.setdefault("choices", _choices(text))
        return sample
    text = "" if model_sample is None else str(model_sample)
    if fields is not None:
        sample = {"output_text": text}
        if response_format is not None:
            sample["output_json"] = response_format.parse(text)
        elif "output_json" in fields:
            sample["output_json"] = _maybe_json(text)
        if "output_tools" in fields:
            sample["output_tools"] = []
        if "choices" in fields:
            sample["choices"] = _choices(text)
        return sample
    return {
        "output_text": text,
        "output_json": response_format.parse(text) if response_format else _maybe_json(text),
        "output_tools": [],
        "choices": _choices(text),
    }


def _choices(text: str) -> list:
    return [
        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    ]


def _text_from_choices(choices: Any) -> str | None:
    try:
        return choices[0]["message"]["content"]
    except (TypeError, KeyError, IndexError):
        return None


class ResponseFormat:
    """A job's structured-output format (``{"type": "json_schema", "json_schema": {...}}``)."""

    def __init__(self, spec: Mapping) -> None:
        if not isinstance(spec, Mapping):
            raise ValueError("response_format must be an object like {'type': 'json_schema', ...}")
        inner = spec.get("json_schema", spec)
        if spec.get("type") not in (None, "json_schema"):
            raise ValueError(
                f"response_format.type {spec.get('type')!r} is not supported (use 'json_schema')"
            )
        schema = inner.get("schema") if isinstance(inner, Mapping) else None
        if not isinstance(schema, Mapping):
            raise ValueError("response_format.json_schema.schema must be a JSON schema object")
        import jsonschema

        try:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"response_format schema is invalid: {exc.message}") from None
        self.spec = dict(spec)
        self.name = inner.get("name")
        self._validator = cls(schema)

    def check(self, value: Any) -> Any:
        error = next(iter(self._validator.iter_errors(value)), None)
        if error is not None:
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
            raise SampleParseError(
                f"the output does not match the response_format schema at output{where}: "
                f"{error.message}"
            )
        return value

    def parse(self, text: str) -> Any:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise SampleParseError(f"the output is not valid JSON: {exc}") from None
        return self.check(value)


@lru_cache(maxsize=64)
def _cached_format(key: str) -> ResponseFormat:
    return ResponseFormat(json.loads(key))


def response_format(spec: Any) -> ResponseFormat | None:
    """Normalise ``None`` / a dict / a ResponseFormat (cached per distinct schema)."""
    if spec is None or isinstance(spec, ResponseFormat):
        return spec
    if isinstance(spec, str):
        spec = json.loads(spec)
    return _cached_format(json.dumps(spec, sort_keys=True))
