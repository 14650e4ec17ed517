"""What a row holds, as a person reads it: its prompt, its reference, the gold answer.

Shared by the probe (to build degenerate outputs) and the score table (to fill its columns).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..graders.templates import compile_template, grader_variables, to_text, walk_graders

PROMPT_KEYS = ("prompt", "question", "input", "query", "instruction", "problem")
REFERENCE_KEYS = (
    "reference_answer",
    "reference",
    "answer",
    "expected",
    "target",
    "label",
    "ground_truth",
    "solution",
)
_SINGLE = re.compile(r"\s*\{\{\s*([^{}]+?)\s*\}\}\s*\Z")
_PY_ITEM = re.compile(r"""item(?:\[\s*|\.get\(\s*)["']([A-Za-z_][\w]*)["']""")
_PY_JSON = re.compile(
    r"""\[\s*["']output_json["']\s*\](?:\[\s*|\.get\(\s*)["']([A-Za-z_][\w]*)["']"""
)


def content_text(content: Any) -> str:
    """The text of a chat message's content (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        content = [content]
    if isinstance(content, list):
        texts = [
            p.get("text", "")
            for p in content
            if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        ]
        return "\n".join(texts)
    return "" if content is None else to_text(content)


def prompt_text(item: Mapping[str, Any]) -> str | None:
    """The prompt a row asks: its last user message, else a prompt-like column, else None."""
    messages = item.get("messages")
    if isinstance(messages, list) and messages:
        users = [m for m in messages if isinstance(m, Mapping) and m.get("role") == "user"]
        chosen = (users or [m for m in messages if isinstance(m, Mapping)] or [None])[-1]
        if chosen is not None:
            return content_text(chosen.get("content"))
    for key in PROMPT_KEYS:
        value = item.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def single_variable(template: Any) -> str | None:
    """``"sample.output_json.answer"`` when the template is exactly one ``{{ ... }}``."""
    if not isinstance(template, str):
        return None
    m = _SINGLE.match(template)
    return m.group(1) if m else None


def answer_pairs(grader: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(sample path, item key)`` pairs a comparing grader checks against each other.

    From every string_check / text_similarity (sub-)grader whose two templates are each a single
    variable, one ``sample.*`` and one ``item.*`` (either way round), e.g.
    ``("output_json.answer", "answer")``.
    """
    pairs: list[tuple[str, str]] = []
    for g in walk_graders(grader):
        if g.get("type") not in ("string_check", "text_similarity"):
            continue
        a, b = single_variable(g.get("input")), single_variable(g.get("reference"))
        if not a or not b:
            continue
        for s, i in ((a, b), (b, a)):
            if s.startswith("sample.") and i.startswith("item."):
                key = i[len("item.") :].split(".")[0].split("[")[0]
                pair = (s[len("sample.") :], key)
                if pair not in pairs:
                    pairs.append(pair)
    return pairs


def item_keys(grader: Mapping[str, Any]) -> list[str]:
    """Top-level item keys the grader reads (templates, or ``item["x"]`` in python source)."""
    keys: list[str] = []
    for var in grader_variables(grader):
        if var.namespace == "item" and var.steps and isinstance(var.steps[0], str):
            if var.steps[0] not in keys:
                keys.append(var.steps[0])
    for g in walk_graders(grader):
        if g.get("type") == "python" and isinstance(g.get("source"), str):
            for key in _PY_ITEM.findall(g["source"]):
                if key not in keys:
                    keys.append(key)
    return keys


def json_fields(grader: Mapping[str, Any]) -> list[str]:
    """Top-level ``sample.output_json`` fields the grader reads."""
    fields: list[str] = []
    for var in grader_variables(grader):
        steps = var.steps
        if var.namespace == "sample" and len(steps) >= 2 and steps[0] == "output_json":
            if isinstance(steps[1], str) and steps[1] not in fields:
                fields.append(steps[1])
    for g in walk_graders(grader):
        if g.get("type") == "python" and isinstance(g.get("source"), str):
            for key in _PY_JSON.findall(g["source"]):
                if key not in fields:
                    fields.append(key)
    return fields


def reads_json(grader: Mapping[str, Any]) -> bool:
    """Whether the grader reads ``sample.output_json`` at all."""
    for var in grader_variables(grader):
        if var.namespace == "sample" and var.steps[:1] == ("output_json",):
            return True
    return any(
        g.get("type") == "python" and "output_json" in str(g.get("source", ""))
        for g in walk_graders(grader)
    ) or bool(json_fields(grader))


def reference_keys(grader: Mapping[str, Any], items: list[Mapping[str, Any]]) -> list[str]:
    """Item keys that hold the expected answer: paired keys, keys read, or usual names."""
    keys = [k for _, k in answer_pairs(grader)]
    for key in item_keys(grader):
        if key not in keys and key != "messages":
            keys.append(key)
    if keys:
        return keys
    present = {k for item in items[:50] for k in item}
    return [k for k in REFERENCE_KEYS if k in present][:1]


def reference_text(item: Mapping[str, Any], keys: list[str]) -> str | None:
    """The first of ``keys`` the row has, as text."""
    for key in keys:
        if key in item and item[key] is not None:
            return to_text(item[key])
    return None


def set_path(obj: dict, path: str, value: Any) -> None:
    """Set ``a.b`` in nested dicts (creating them); list steps are not supported (skipped)."""
    steps = path.split(".")
    if any("[" in s for s in steps):
        return
    for step in steps[:-1]:
        nxt = obj.get(step)
        if not isinstance(nxt, dict):
            nxt = obj[step] = {}
        obj = nxt
    obj[steps[-1]] = value


def render_template(template: str, sample: Any, item: Any) -> str | None:
    """Render one template, or None when a variable does not resolve."""
    try:
        return compile_template(template).render({"sample": sample, "item": item})
    except ValueError:
        return None


def dumps(value: Any, indent: int | None = 2, limit: int = 20_000) -> str:
    """Pretty JSON (or text) for a detail pane, clipped at ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(
        value, indent=indent, ensure_ascii=False, default=str
    )
    return clip(text, limit)


def clip(text: str, limit: int) -> str:
    """``text`` cut at ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"
