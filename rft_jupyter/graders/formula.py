"""The multigrader's ``calculate_output`` language, parsed by hand (never ``eval``).

Grammar (``shared/spec/semantics.md``, "multi")::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := ("-" | "+") unary | power
    power   := primary ("^" unary)?          # right-associative, tighter than unary minus
    primary := NUMBER | NAME | FUNC "(" expr ("," expr)* ")" | "(" expr ")"

Functions: ``min``/``max`` (one or more arguments), ``abs floor ceil exp sqrt log`` (one argument,
``log`` is natural). Names are the multigrader's keys.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

FUNCTIONS_1: dict[str, Callable[[float], float]] = {
    "abs": abs,
    "floor": lambda x: float(math.floor(x)),
    "ceil": lambda x: float(math.ceil(x)),
    "exp": math.exp,
    "sqrt": math.sqrt,
    "log": math.log,
}
FUNCTIONS_N: dict[str, Callable[..., float]] = {"min": min, "max": max}
FUNCTIONS = sorted([*FUNCTIONS_1, *FUNCTIONS_N])

_TOKEN = re.compile(
    r"(?:(?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>[-+*/^(),]))"
)


class FormulaError(ValueError):
    """A formula that does not parse or names something unknown; ``column`` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        self.column = column
        self.reason = message
        super().__init__(f"column {column}: {message}")


class FormulaMathError(ArithmeticError):
    """Division by zero, a math domain error or a non-finite result while evaluating."""


@dataclass(frozen=True)
class _Tok:
    kind: str  # num | name | op | end
    text: str
    col: int


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise FormulaError(f"unexpected character {text[pos]!r}", pos + 1)
        kind = m.lastgroup or "op"
        toks.append(_Tok(kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    toks.append(_Tok("end", "", len(text) + 1))
    return toks


# The AST is a tree of tuples: ("num", value) | ("var", name) | ("neg", x) | (op, a, b) |
# ("call", fname, args).
Node = tuple


class _Parser:
    def __init__(self, text: str, names: frozenset[str] | None) -> None:
        self.toks = _tokenize(text)
        self.i = 0
        self.names = names

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self, text: str | None = None) -> _Tok:
        tok = self.tok
        if text is not None and tok.text != text:
            found = "the end of the formula" if tok.kind == "end" else repr(tok.text)
            raise FormulaError(f"expected {text!r} but found {found}", tok.col)
        self.i += 1
        return tok

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise FormulaError("the formula is empty", 1)
        node = self.expr()
        if self.tok.kind != "end":
            raise FormulaError(f"unexpected {self.tok.text!r}", self.tok.col)
        return node

    def expr(self) -> Node:
        node = self.term()
        while self.tok.text in ("+", "-"):
            op = self.take().text
            node = (op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.tok.text in ("*", "/"):
            op = self.take().text
            node = (op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.tok.text == "-":
            self.take()
            return ("neg", self.unary())
        if self.tok.text == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        if self.tok.text == "^":
            self.take()
            return ("^", base, self.unary())
        return base

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "num":
            self.take()
            return ("num", float(tok.text))
        if tok.kind == "name":
            self.take()
            if self.tok.text == "(":
                return self.call(tok)
            if self.names is not None and tok.text not in self.names:
                raise FormulaError(_unknown_name(tok.text, self.names), tok.col)
            return ("var", tok.text)
        if tok.text == "(":
            self.take()
            node = self.expr()
            self.take(")")
            return node
        if tok.kind == "end":
            raise FormulaError("the formula ends where a value was expected", tok.col)
        raise FormulaError(
            f"expected a number, a grader key or '(' but found {tok.text!r}", tok.col
        )

    def call(self, name: _Tok) -> Node:
        if name.text not in FUNCTIONS_1 and name.text not in FUNCTIONS_N:
            hint = difflib.get_close_matches(name.text, FUNCTIONS, n=1)
            did = f"; did you mean {hint[0]!r}?" if hint else ""
            raise FormulaError(
                f"unknown function {name.text!r}{did} (functions: {', '.join(FUNCTIONS)})",
                name.col,
            )
        self.take("(")
        args = []
        if self.tok.text != ")":
            args.append(self.expr())
            while self.tok.text == ",":
                self.take()
                args.append(self.expr())
        self.take(")")
        if name.text in FUNCTIONS_1 and len(args) != 1:
            raise FormulaError(
                f"{name.text}() takes exactly one argument, got {len(args)}", name.col
            )
        if not args:
            raise FormulaError(f"{name.text}() needs at least one argument", name.col)
        return ("call", name.text, tuple(args))


def _unknown_name(name: str, names: Iterable[str]) -> str:
    names = sorted(names)
    hint = difflib.get_close_matches(name, names, n=1)
    did = f"; did you mean {hint[0]!r}?" if hint else ""
    known = ", ".join(names) if names else "(none)"
    return f"unknown name {name!r}{did} (grader keys: {known})"


class Formula:
    """A parsed ``calculate_output``; call :meth:`evaluate` with the sub-rewards."""

    __slots__ = ("source", "tree", "names")

    def __init__(self, source: str, names: Iterable[str] | None = None) -> None:
        self.source = source
        try:
            self.tree = _Parser(source, frozenset(names) if names is not None else None).parse()
        except RecursionError:
            raise FormulaError("the formula is nested too deeply", 1) from None
        self.names = frozenset(_names(self.tree))

    def evaluate(self, values: Mapping[str, float]) -> float:
        """The formula's value; raises FormulaMathError on a math error or non-finite result."""
        try:
            result = _eval(self.tree, values)
        except ZeroDivisionError as exc:
            raise FormulaMathError(f"division by zero in {self.source!r}") from exc
        except (ValueError, OverflowError, RecursionError) as exc:
            raise FormulaMathError(f"{exc} in {self.source!r}") from exc
        if not math.isfinite(result):
            raise FormulaMathError(f"{self.source!r} evaluated to {result}")
        return result


def _names(node: Node) -> Iterable[str]:
    kind = node[0]
    if kind == "var":
        yield node[1]
    elif kind == "neg":
        yield from _names(node[1])
    elif kind == "call":
        for arg in node[2]:
            yield from _names(arg)
    elif kind != "num":
        yield from _names(node[1])
        yield from _names(node[2])


def _eval(node: Node, values: Mapping[str, float]) -> float:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "var":
        return float(values[node[1]])
    if kind == "neg":
        return -_eval(node[1], values)
    if kind == "call":
        args = [_eval(a, values) for a in node[2]]
        if node[1] in FUNCTIONS_N:
            return float(FUNCTIONS_N[node[1]](args))
        return float(FUNCTIONS_1[node[1]](args[0]))
    a = _eval(node[1], values)
    b = _eval(node[2], values)
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    if kind == "/":
        return a / b
    return math.pow(a, b)  # "^": math.pow raises on a complex result instead of returning one


@lru_cache(maxsize=1024)
def parse_formula(source: str, names: frozenset[str] | None = None) -> Formula:
    """Parse (and cache) a formula; with ``names``, unknown names are a FormulaError."""
    return Formula(source, names)
