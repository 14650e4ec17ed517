"""calculate_output: precedence, associativity, functions, errors; the parser never crashes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rft_jupyter.graders.formula import FormulaError, FormulaMathError, parse_formula

VALUES = {"a": 0.25, "b": 0.5, "c": 2.0, "sim_1": 0.75}


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("a", 0.25),
        ("1", 1.0),
        ("0.5 * a + 0.5 * b", 0.375),
        ("(a + b) / 2", 0.375),
        ("a + b * c", 1.25),
        ("(a + b) * c", 1.5),
        ("c - b - a", 1.25),  # left-associative
        ("c / b / 2", 2.0),  # left-associative
        ("2 ^ 3 ^ 2", 512.0),  # right-associative
        ("(2 ^ 3) ^ 2", 64.0),
        ("-2 ^ 2", -4.0),  # ^ binds tighter than unary minus
        ("(-2) ^ 2", 4.0),
        ("2 ^ -1", 0.5),
        ("--a", 0.25),
        ("-a * c", -0.5),
        ("+a", 0.25),
        ("c ^ 0.5", math.sqrt(2.0)),
        ("min(a)", 0.25),
        ("min(a, b, c)", 0.25),
        ("max(a, b, c, 10)", 10.0),
        ("max(a * 2, min(b, c))", 0.5),
        ("abs(a - b)", 0.25),
        ("floor(2.7)", 2.0),
        ("ceil(2.1)", 3.0),
        ("floor(-2.5)", -3.0),
        ("exp(0)", 1.0),
        ("sqrt(c * 8)", 4.0),
        ("log(exp(c))", 2.0),
        ("1e2 * a", 25.0),
        (".5 + 1.", 1.5),
        ("sim_1 * 4", 3.0),
        ("  a+b  ", 0.75),
    ],
)
def test_evaluate(formula, expected):
    assert parse_formula(formula, frozenset(VALUES)).evaluate(VALUES) == pytest.approx(
        expected, abs=1e-12
    )


@pytest.mark.parametrize(
    ("formula", "column", "words"),
    [
        ("", 1, ["empty"]),
        ("a +", 4, ["ends where a value was expected"]),
        ("a b", 3, ["unexpected 'b'"]),
        ("(a", 3, ["expected ')'"]),
        ("a)", 2, ["unexpected ')'"]),
        ("a $ b", 3, ["unexpected character '$'"]),
        ("d + a", 1, ["unknown name 'd'", "grader keys: a, b, c, sim_1"]),
        ("sim1 + a", 1, ["did you mean 'sim_1'"]),
        ("mean(a, b)", 1, ["unknown function 'mean'"]),
        ("mn(a, b)", 1, ["did you mean 'min'"]),
        ("min()", 1, ["at least one argument"]),
        ("sqrt(a, b)", 1, ["exactly one argument"]),
        ("a ** b", 4, ["found '*'"]),
        ("a == b", 3, ["unexpected character '='"]),
        ("(" * 5000 + "a" + ")" * 5000, 1, ["nested too deeply"]),
    ],
)
def test_parse_errors(formula, column, words):
    with pytest.raises(FormulaError) as info:
        parse_formula(formula, frozenset(VALUES))
    assert info.value.column == column
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "formula",
    [
        "a / 0",
        "1 / (b - 0.5)",
        "sqrt(-1)",
        "log(0)",
        "log(-a)",
        "(-8) ^ (1/3)",
        "0 ^ -1",
        "exp(1000)",
        "10 ^ 400",
        "1e308 * 10",
    ],
)
def test_math_errors(formula):
    with pytest.raises(FormulaMathError):
        parse_formula(formula).evaluate(VALUES)


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab+-*/^()., 0123456789eminxsqrtlogfabs")), max_size=30)
)
def test_parser_never_crashes(text):
    try:
        formula = parse_formula(text, frozenset({"a", "b"}))
    except FormulaError:
        return
    try:
        value = formula.evaluate({"a": 0.5, "b": 2.0})
    except FormulaMathError:
        return
    assert math.isfinite(value)
