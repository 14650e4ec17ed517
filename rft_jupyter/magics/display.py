"""What the magics show: small text+HTML messages, grader summaries, and when to display."""

from __future__ import annotations

import ast
import html
from collections.abc import Mapping
from typing import Any

from ..analysis.items import item_keys
from ..graders.templates import grader_variables


class Message:
    """A message with a plain-text and an HTML form (reads in terminals and notebooks)."""

    def __init__(self, text: str, html_text: str | None = None) -> None:
        self.text = text
        self.html = html_text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return self.html if self.html is not None else f"<pre>{html.escape(self.text)}</pre>"


def reads(spec: Mapping[str, Any]) -> list[str]:
    """The ``sample.*`` / ``item.*`` variables a grader reads (python: item keys in its code)."""
    names = [v.text for v in grader_variables(spec)]
    for key in item_keys(spec):
        if not any(n == f"item.{key}" or n.startswith(f"item.{key}.")
                   or n.startswith(f"item.{key}[") for n in names):
            names.append(f"item.{key}")
    return names


def describe(spec: Mapping[str, Any]) -> str:
    """``string_check (eq)``, ``text_similarity (rouge_l)``, ``score_model (o3-mini)``…"""
    gtype = spec.get("type", "?")
    detail = {
        "string_check": spec.get("operation"),
        "text_similarity": spec.get("evaluation_metric"),
        "score_model": spec.get("model"),
        "label_model": spec.get("model"),
        "endpoint": spec.get("url"),
    }.get(gtype)
    return f"{gtype} ({detail})" if detail else str(gtype)


def grader_summary(name: str, spec: Mapping[str, Any], fmt: str, verb: str = "registered") \
        -> Message:
    """Type, variables read and sub-graders of a grader, as text and HTML."""
    esc = html.escape
    head = f"grader {name!r} {verb}: {describe(spec)}"
    if spec.get("type") == "multi":
        head = f"grader {name!r} {verb}: multi = {spec.get('calculate_output', '')}"
    if spec.get("pass_threshold") is not None:
        head += f", pass_threshold {spec['pass_threshold']:g}"
    lines = [head]
    html_lines = [f"<b>{esc(head)}</b>"]
    if spec.get("type") == "multi":
        for key, sub in spec.get("graders", {}).items():
            sub_reads = ", ".join(reads(sub)) or "nothing"
            lines.append(f"  {key}: {describe(sub)}; reads {sub_reads}")
            html_lines.append(
                f"&nbsp;&nbsp;<code>{esc(key)}</code>: {esc(describe(sub))}; reads "
                f"<code>{esc(sub_reads)}</code>"
            )
    variables = reads(spec)
    lines.append(f"  reads: {', '.join(variables) or 'no template variable'}")
    html_lines.append(
        "reads: " + (", ".join(f"<code>{esc(v)}</code>" for v in variables)
                     or "no template variable")
    )
    lines.append(f"  (from a {fmt} body; %rft export {name} prints the API JSON)")
    return Message("\n".join(lines), "<div class='rft-grader-summary'>" + "<br>".join(
        html_lines) + "</div>")


def _is_call_of(node: ast.AST, magic: str, line: str) -> bool:
    """Whether ``node`` is ``get_ipython().run_line_magic(magic, line)``."""
    value = node.value if isinstance(node, (ast.Expr, ast.Assign, ast.AnnAssign)) else None
    if not isinstance(value, ast.Call):
        return False
    call = value
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "run_line_magic"):
        return False
    args = [a.value for a in call.args if isinstance(a, ast.Constant)]
    return len(args) >= 2 and args[0] == magic and str(args[1]).strip() == line.strip()


def displayhook_handles(shell: Any, magic: str, line: str) -> bool:
    """True when this magic call is a cell's displayed (or ``;``-silenced) last expression.

    Then IPython's displayhook shows what the magic returns; otherwise (``res = %grade ...``,
    a call inside a loop) the magic displays its result itself.
    """
    hook = getattr(shell, "displayhook", None)
    result = getattr(hook, "exec_result", None)
    raw = getattr(getattr(result, "info", None), "raw_cell", None)
    if not raw:
        return False
    try:
        tree = ast.parse(shell.transform_cell(raw))
    except Exception:
        return False
    mode = getattr(shell, "ast_node_interactivity", "last_expr")
    body = tree.body
    if mode == "none" or not body:
        return False
    if mode == "all":
        nodes = body
    elif mode == "last_expr_or_assign":
        nodes = body[-1:]
    else:
        nodes = [n for n in body[-1:] if isinstance(n, ast.Expr)]
    if mode != "last_expr_or_assign":
        nodes = [n for n in nodes if isinstance(n, ast.Expr)]
    return any(_is_call_of(n, magic, line) for n in nodes)


def show(shell: Any, value: Any, magic: str, line: str, enabled: bool = True) -> None:
    """Display ``value`` unless the displayhook will (or ``enabled`` is off)."""
    if not enabled or value is None or displayhook_handles(shell, magic, line):
        return
    from IPython.display import display

    display(value)
