"""Checks on one RFT row (``{"messages": [...], "tools"?: [...], <item keys>...}``).

The shapes follow the service's ``FineTuneReinforcementRequestInput``: Chat Completions messages
with roles developer / user / assistant / tool, text or image content only (service-facts §9).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from .report import ERROR, WARNING

ROLES = ("developer", "user", "assistant", "tool")
RESERVED = ("messages", "tools")
# Content part types each role may use (Chat Completions message schemas, minus audio / file).
PART_TYPES: dict[str, tuple[str, ...]] = {
    "developer": ("text",),
    "user": ("text", "image_url"),
    "assistant": ("text", "refusal"),
    "tool": ("text",),
}
MESSAGE_KEYS: dict[str, tuple[str, ...]] = {
    "developer": ("role", "content", "name"),
    "user": ("role", "content", "name"),
    "assistant": ("role", "content", "name", "tool_calls", "refusal", "function_call"),
    "tool": ("role", "content", "tool_call_id"),
}
# Part types that come from other APIs, with what to write instead.
PART_ALIASES = {
    "input_text": "text",
    "output_text": "text",
    "input_image": "image_url",
    "image": "image_url",
}
UNSUPPORTED_PARTS = ("input_audio", "audio", "file", "input_file")
IMAGE_DETAILS = ("auto", "low", "high")
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

Finding = tuple[str | None, str, str]  # (field, message, severity)

SHAPES = {
    "text": '{"type": "text", "text": ...}',
    "image_url": '{"type": "image_url", "image_url": {"url": ...}}',
    "refusal": '{"type": "refusal", "refusal": ...}',
}


class Findings(list[Finding]):
    """The problems of one row; each message starts with its field path."""

    def error(self, field: str, text: str) -> None:
        self.append((field, f"{field}: {text}", ERROR))

    def warning(self, field: str, text: str) -> None:
        self.append((field, f"{field}: {text}", WARNING))


def quote_key(key: Any) -> str:
    """A key for a message: ```answer``` when plain, else its repr (newlines, spaces, quotes)."""
    if isinstance(key, str) and key and key.isprintable() and "`" not in key and key == key.strip():
        return f"`{key}`"
    return repr(key)


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type (``string``, ``number``, ``object``...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def a_json_type(value: Any) -> str:
    """``json_type`` with an article: ``a string``, ``an array``, ``null``."""
    name = json_type(value)
    if name == "null":
        return "null"
    return ("an " if name[0] in "aeiou" else "a ") + name


def suggest(value: str, allowed: tuple[str, ...] | list[str]) -> str:
    """``"; did you mean 'user'?"`` for a near miss (case-insensitive first), else ``""``."""
    lowered = {a.lower(): a for a in allowed}
    if value.lower() in lowered:
        return f"; did you mean {lowered[value.lower()]!r}?"
    close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def row_format_hint(row: Mapping[str, Any]) -> str | None:
    """Name the other data format a row without ``messages`` seems to be in, if any."""
    if isinstance(row.get("item"), Mapping):
        return 'this row is in the Evals format ({"item": {...}}), not an RFT row'
    if "input" in row and ("preferred_output" in row or "non_preferred_output" in row):
        return "this row is in the preference (DPO) fine-tuning format, not an RFT row"
    if "prompt" in row and "completion" in row:
        return "this row is in the legacy prompt/completion format, not an RFT row"
    return None


def check_row(row: Mapping[str, Any]) -> list[Finding]:
    """Every problem of one parsed row that is a JSON object."""
    out = Findings()
    if "messages" not in row:
        hint = row_format_hint(row) or "an RFT row needs a list of messages ending with a user one"
        out.error("messages", f"missing; {hint}")
    else:
        _check_messages(row["messages"], out)
    if "tools" in row:
        _check_tools(row["tools"], out)
    return out


def _check_messages(messages: Any, out: Findings) -> None:
    if not isinstance(messages, list):
        out.error("messages", f"must be a list of messages, got {a_json_type(messages)}")
        return
    if not messages:
        out.error("messages", "empty; it needs at least one message (the last a user message)")
        return
    for i, message in enumerate(messages):
        _check_message(message, f"messages[{i}]", out)
    last = messages[-1]
    role = last.get("role") if isinstance(last, Mapping) else None
    if isinstance(role, str) and role in ROLES and role != "user":
        hint = (
            " (a row that ends with the assistant's answer is supervised fine-tuning data; in RFT"
            " the model writes the reply and the grader scores it)"
            if role == "assistant"
            else ""
        )
        out.error(
            f"messages[{len(messages) - 1}].role",
            f"the last message must have role 'user', not {role!r}{hint}",
        )


def _check_message(message: Any, path: str, out: Findings) -> None:
    if not isinstance(message, Mapping):
        out.error(
            path, f"a message must be an object {{role, content}}, got {a_json_type(message)}"
        )
        return
    role = message.get("role")
    rpath = f"{path}.role"
    allowed = ", ".join(ROLES)
    if "role" not in message:
        out.error(rpath, f"missing (allowed: {allowed})")
        return
    if not isinstance(role, str):
        out.error(rpath, f"must be a string ({allowed}), got {a_json_type(role)}")
        return
    if role == "system":
        out.error(
            rpath,
            "'system' is not accepted in RFT data; use 'developer' (or put the instructions at "
            "the start of the first user message)",
        )
        return
    if role not in ROLES:
        out.error(rpath, f"unknown role {role!r} (allowed: {allowed}){suggest(role, ROLES)}")
        return
    unknown = [k for k in message if k not in MESSAGE_KEYS[role]]
    if unknown:
        keys = ", ".join(quote_key(k) for k in unknown)
        out.warning(
            f"{path}.{unknown[0]}",
            f"unexpected {_plural(len(unknown), 'key')} {keys} in a {role} message (allowed: "
            f"{', '.join(MESSAGE_KEYS[role])}); the service may reject it",
        )
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        got = "missing" if "tool_call_id" not in message else a_json_type(message["tool_call_id"])
        out.error(f"{path}.tool_call_id", f"a tool message needs a string tool_call_id ({got})")
    calls = message.get("tool_calls")
    if role == "assistant" and "tool_calls" in message and not isinstance(calls, list):
        out.error(f"{path}.tool_calls", f"must be a list, got {a_json_type(calls)}")
    _check_content(message, role, path, out)


def _check_content(message: Mapping[str, Any], role: str, path: str, out: Findings) -> None:
    cpath = f"{path}.content"
    content = message.get("content")
    if content is None:
        if role == "assistant" and (message.get("tool_calls") or message.get("function_call")):
            return
        what = "missing" if "content" not in message else "null"
        out.error(cpath, f"{what}; a message needs a string or a list of parts")
    elif isinstance(content, str):
        if not content.strip() and role in ("user", "developer"):
            out.warning(cpath, f"empty {role} message")
    elif isinstance(content, Mapping):
        out.error(cpath, "a single part object; content is a string or a list of parts (wrap it)")
    elif not isinstance(content, list):
        out.error(cpath, f"must be a string or a list of parts, got {a_json_type(content)}")
    elif not content:
        out.error(cpath, "an empty list of parts")
    else:
        for j, part in enumerate(content):
            _check_part(part, role, f"{cpath}[{j}]", out)


def _check_part(part: Any, role: str, path: str, out: Findings) -> None:
    allowed = PART_TYPES[role]
    expected = " or ".join(SHAPES[t] for t in allowed)
    if not isinstance(part, Mapping):
        out.error(path, f"a content part must be an object {expected}, got {a_json_type(part)}")
        return
    ptype = part.get("type")
    tpath = f"{path}.type"
    if not isinstance(ptype, str):
        got = "missing" if "type" not in part else a_json_type(ptype)
        out.error(tpath, f"a content part needs a string `type` ({got}); expected {expected}")
    elif ptype in UNSUPPORTED_PARTS:
        out.error(
            tpath, f"{ptype!r} parts are not supported in fine-tuning data (text and images only)"
        )
    elif ptype in PART_ALIASES and PART_ALIASES[ptype] in allowed:
        out.error(
            tpath,
            f"{ptype!r} is a Responses/Evals part type; RFT rows use Chat Completions parts: "
            + SHAPES[PART_ALIASES[ptype]],
        )
    elif ptype == "image_url" and role != "user":
        out.error(tpath, f"image parts are only allowed in user messages, not {role} messages")
    elif ptype not in allowed:
        out.error(
            tpath,
            f"unknown part type {ptype!r} for a {role} message (allowed: {', '.join(allowed)})"
            + suggest(ptype, allowed),
        )
    elif ptype in ("text", "refusal"):
        if not isinstance(part.get(ptype), str):
            got = "missing" if ptype not in part else a_json_type(part[ptype])
            out.error(f"{path}.{ptype}", f"a {ptype} part needs a string `{ptype}` ({got})")
    else:
        _check_image(part, path, out)


def _check_image(part: Mapping[str, Any], path: str, out: Findings) -> None:
    ipath = f"{path}.image_url"
    image = part.get("image_url")
    if isinstance(image, str):
        out.error(ipath, 'must be an object {"url": ...}, not a bare string')
        return
    if not isinstance(image, Mapping):
        got = "missing" if "image_url" not in part else a_json_type(image)
        out.error(ipath, f'an image part needs `image_url` {{"url": ...}} ({got})')
        return
    url = image.get("url")
    if not isinstance(url, str) or not url:
        got = "missing" if "url" not in image else "empty" if url == "" else a_json_type(url)
        out.error(f"{ipath}.url", f"needs an http(s) URL or a data:image/... base64 URL ({got})")
    elif not url.startswith(("http://", "https://", "data:image/")):
        shown = url if len(url) <= 60 else url[:57] + "..."
        out.error(f"{ipath}.url", f"{shown!r} is neither an http(s) URL nor a data:image/ URL")
    if "detail" in image and image["detail"] not in IMAGE_DETAILS:
        out.error(
            f"{ipath}.detail", f"{image['detail']!r} is not one of {', '.join(IMAGE_DETAILS)}"
        )


def _check_tools(tools: Any, out: Findings) -> None:
    if not isinstance(tools, list):
        out.error("tools", f"must be a list of tool definitions, got {a_json_type(tools)}")
        return
    for i, tool in enumerate(tools):
        path = f"tools[{i}]"
        if not isinstance(tool, Mapping):
            out.error(
                path,
                'a tool must be an object {"type": "function", "function": {...}}, got '
                + a_json_type(tool),
            )
            continue
        if tool.get("type") != "function":
            out.error(f"{path}.type", f"must be 'function', got {tool.get('type')!r}")
        function = tool.get("function")
        if not isinstance(function, Mapping):
            got = "missing" if "function" not in tool else a_json_type(function)
            out.error(f"{path}.function", f"needs an object {{name, parameters?}} ({got})")
            continue
        name = function.get("name")
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            out.error(
                f"{path}.function.name", f"{name!r} must be 1-64 characters of a-z A-Z 0-9 _ -"
            )
        params = function.get("parameters")
        if "parameters" in function and not isinstance(params, Mapping):
            out.error(
                f"{path}.function.parameters",
                f"must be a JSON Schema object, got {a_json_type(params)}",
            )


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"
