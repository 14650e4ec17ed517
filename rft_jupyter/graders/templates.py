"""Grader templates: ``{{ sample.output_text }}``, ``{{ item.answer.value }}``, ``{{ item.x[0] }}``.

Semantics (``shared/spec/semantics.md``, "Templates"): a string value is inserted as is, any other
value as ``json.dumps(value, ensure_ascii=False)``; a path that does not resolve raises
:class:`TemplateError` (``invalid_variable_error`` at run time); a lone ``{{`` is literal text.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .errors import TemplateError

NAMESPACES = ("sample", "item")

_BRACES = re.compile(r"\{\{(.*?)\}\}", re.S)
_STEP = re.compile(r"\.([^.\[\]\s]+)|\[(\d+)\]")
_HEAD = re.compile(r"[^.\[\]\s]+")

Step = str | int


@dataclass(frozen=True)
class Variable:
    """One ``{{ ... }}`` reference: ``namespace`` plus field names / list indexes."""

    text: str
    namespace: str
    steps: tuple[Step, ...]
    problem: str | None = None  # why the reference can never resolve (bad syntax, namespace)

    @property
    def path(self) -> str:
        """The dotted path without the namespace (``answer.value[0]``)."""
        return _format_steps(self.steps)

    def lookup(self, namespaces: Mapping[str, Any]) -> Any:
        """Resolve against ``{"sample": ..., "item": ...}``; raise TemplateError on a miss."""
        # Fast path: plain indexing. Anything unusual (a miss, a tuple, a string indexed by
        # position, a missing namespace) takes the careful path below, which explains misses.
        try:
            value = namespaces[self.namespace]
            if value is not None and self.problem is None:
                for step in self.steps:
                    if step.__class__ is int and value.__class__ is not list:
                        raise TypeError
                    value = value[step]
                return value
        except (KeyError, IndexError, TypeError):
            pass
        return self._lookup_slowly(namespaces)

    def resolves(self, namespaces: Mapping[str, Any]) -> bool:
        """Whether the path resolves (the same rules as :meth:`lookup`, without a message)."""
        value = namespaces.get(self.namespace)
        if self.problem or value is None:
            return False
        for step in self.steps:
            found, value = _step(value, step)
            if not found:
                return False
        return True

    def _lookup_slowly(self, namespaces: Mapping[str, Any]) -> Any:
        if self.problem:
            raise TemplateError(f"{{{{ {self.text} }}}}: {self.problem}", self.text)
        if self.namespace not in namespaces or namespaces[self.namespace] is None:
            raise TemplateError(f"{{{{ {self.text} }}}}: no {self.namespace} given", self.text)
        value = namespaces[self.namespace]
        for i, step in enumerate(self.steps):
            found, value = _step(value, step)
            if not found:
                where = self.namespace + _format_steps(self.steps[:i])
                raise TemplateError(
                    f"{{{{ {self.text} }}}}: {_describe_miss(value, step)} in {where}", self.text
                )
        return value


def _format_steps(steps: Iterable[Step]) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)


def _step(value: Any, step: Step) -> tuple[bool, Any]:
    if isinstance(step, int):
        if isinstance(value, (list, tuple)) and step < len(value):
            return True, value[step]
        return False, value
    if isinstance(value, Mapping) and step in value:
        return True, value[step]
    return False, value


def _describe_miss(value: Any, step: Step) -> str:
    if isinstance(step, int):
        if isinstance(value, (list, tuple)):
            return f"index [{step}] out of range (length {len(value)})"
        return f"cannot index {type(value).__name__} with [{step}]"
    if isinstance(value, Mapping):
        keys = [k for k in value if isinstance(k, str)]
        hint = difflib.get_close_matches(step, keys, n=1)
        return f"no key {step!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
    return f"cannot read field {step!r} of {type(value).__name__}"


@lru_cache(maxsize=4096)
def parse_variable(text: str) -> Variable:
    """Parse the inside of ``{{ }}`` (already stripped) into a :class:`Variable`."""
    head = _HEAD.match(text)
    if not head:
        return Variable(text, "", (), "not a variable path")
    namespace = head.group(0)
    steps: list[Step] = []
    pos = head.end()
    while pos < len(text):
        m = _STEP.match(text, pos)
        if not m:
            problem = f"cannot parse the path at {text[pos:]!r}"
            return Variable(text, namespace, tuple(steps), problem)
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if namespace not in NAMESPACES:
        return Variable(text, namespace, tuple(steps), "the namespace must be `sample` or `item`")
    return Variable(text, namespace, tuple(steps))


def to_text(value: Any) -> str:
    """How a resolved value is inserted: strings as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class Template:
    """A compiled template string: literal parts and :class:`Variable` references."""

    __slots__ = ("source", "parts", "variables", "_single")

    def __init__(self, source: str) -> None:
        self.source = source
        parts: list[str | Variable] = []
        pos = 0
        for m in _BRACES.finditer(source):
            if m.start() > pos:
                parts.append(source[pos : m.start()])
            parts.append(parse_variable(m.group(1).strip()))
            pos = m.end()
        if pos < len(source):
            parts.append(source[pos:])
        self.parts: tuple[str | Variable, ...] = tuple(parts)
        self.variables: tuple[Variable, ...] = tuple(p for p in parts if isinstance(p, Variable))
        self._single = self.parts[0] if len(self.parts) == 1 and self.variables else None

    def render(self, namespaces: Mapping[str, Any]) -> str:
        """Substitute every variable; TemplateError for the first one that does not resolve."""
        if not self.variables:
            return self.source
        if self._single is not None:
            value = self._single.lookup(namespaces)
            return value if value.__class__ is str else to_text(value)
        return "".join(
            p if isinstance(p, str) else to_text(p.lookup(namespaces)) for p in self.parts
        )

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Compile (and cache) a template string."""
    return Template(source)


def render(source: str, sample: Any = None, item: Any = None) -> str:
    """Render one template string against a sample and an item."""
    return compile_template(source).render({"sample": sample, "item": item})


def walk_graders(grader: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The grader, then every sub-grader of a multi (depth first)."""
    yield grader
    if grader.get("type") == "multi":
        for sub in (grader.get("graders") or {}).values():
            if isinstance(sub, Mapping):
                yield from walk_graders(sub)


def template_strings(grader: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(json_path, template)`` for every templated string field of a grader spec."""
    gtype = grader.get("type")
    if gtype in ("string_check", "text_similarity"):
        for key in ("input", "reference"):
            if isinstance(grader.get(key), str):
                yield _join(path, key), grader[key]
    elif gtype in ("score_model", "label_model"):
        for i, message in enumerate(grader.get("input") or []):
            if isinstance(message, Mapping):
                yield from _content_templates(message.get("content"), _join(path, f"input[{i}]"))
    elif gtype == "multi":
        for key, sub in (grader.get("graders") or {}).items():
            if isinstance(sub, Mapping):
                yield from template_strings(sub, _join(path, f"graders.{key}"))


def _content_templates(content: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(content, str):
        yield path + ".content", content
    elif isinstance(content, Mapping):
        for key in ("text", "image_url"):
            if isinstance(content.get(key), str):
                yield f"{path}.content.{key}", content[key]
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if isinstance(part, Mapping):
                for key in ("text", "image_url"):
                    if isinstance(part.get(key), str):
                        yield f"{path}.content[{j}].{key}", part[key]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def grader_variables(grader: Mapping[str, Any]) -> list[Variable]:
    """Every distinct variable the grader's templates read, in order of first appearance."""
    seen: dict[str, Variable] = {}
    for _, source in template_strings(grader):
        for var in compile_template(source).variables:
            seen.setdefault(var.text, var)
    return list(seen.values())
