"""Templates: paths, indexes, non-string values, misses; the renderer never crashes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rft_jupyter.graders.errors import TemplateError
from rft_jupyter.graders.templates import compile_template, grader_variables, render

ITEM = {
    "answer": "Paris",
    "n": 3,
    "x": 2.5,
    "ok": True,
    "none": None,
    "nested": {"a": {"b": [10, {"c": "deep"}]}},
    "list": ["zero", "one"],
    "obj": {"k": "v", "é": "ü"},
    "unicode": "naïve 東京 🚀",
    "empty": "",
}
SAMPLE = {"output_text": "hello", "output_json": {"x": [1, 2]}, "output_tools": []}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ item.answer }}", "Paris"),
        ("{{item.answer}}", "Paris"),
        ("{{   item.answer   }}", "Paris"),
        ("A: {{ item.answer }}!", "A: Paris!"),
        ("{{ item.n }}", "3"),
        ("{{ item.x }}", "2.5"),
        ("{{ item.ok }}", "true"),
        ("{{ item.none }}", "null"),
        ("{{ item.list }}", '["zero", "one"]'),
        ("{{ item.obj }}", '{"k": "v", "é": "ü"}'),
        ("{{ item.nested.a.b[0] }}", "10"),
        ("{{ item.nested.a.b[1].c }}", "deep"),
        ("{{ item.list[1] }}", "one"),
        ("{{ item.unicode }}", "naïve 東京 🚀"),
        ("{{ item.empty }}", ""),
        ("{{ sample.output_text }}-{{ item.answer }}", "hello-Paris"),
        ("{{ sample.output_json.x[1] }}", "2"),
        ("{{ sample.output_tools }}", "[]"),
        ("no variables", "no variables"),
        ("{{ lone brace", "{{ lone brace"),
        ("}} closing first {{", "}} closing first {{"),
        ('{"json": {"like": 1}}', '{"json": {"like": 1}}'),
        ("", ""),
    ],
)
def test_render(template, expected):
    assert render(template, SAMPLE, ITEM) == expected


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{{ item.missing }}", ["no key 'missing'", "item"]),
        ("{{ item.answr }}", ["did you mean 'answer'"]),
        ("{{ item.list[2] }}", ["index [2] out of range (length 2)"]),
        ("{{ item.answer[0] }}", ["cannot index str"]),
        ("{{ item.n.x }}", ["cannot read field 'x' of int"]),
        ("{{ item.nested.a.b[1].d }}", ["no key 'd'", "item.nested.a.b[1]"]),
        ("{{ items.answer }}", ["namespace must be `sample` or `item`"]),
        ("{{ item..answer }}", ["cannot parse the path"]),
        ("{{ }}", ["not a variable path"]),
        ("{{ item.list[-1] }}", ["cannot parse the path"]),
    ],
)
def test_misses(template, words):
    with pytest.raises(TemplateError) as info:
        render(template, SAMPLE, ITEM)
    for word in words:
        assert word in str(info.value)


def test_no_item_given():
    with pytest.raises(TemplateError, match="no item given"):
        render("{{ item.a }}", SAMPLE, None)


def test_grader_variables_in_order_and_deduplicated():
    spec = {
        "type": "multi",
        "graders": {
            "a": {
                "type": "string_check",
                "input": "{{ sample.output_json.x }}",
                "reference": "{{item.answer}}",
            },
            "b": {
                "type": "score_model",
                "input": [
                    {"role": "user", "content": "{{ item.answer }} {{ item.context[0] }}"},
                    {
                        "role": "user",
                        "content": [{"type": "input_text", "text": "{{ item.extra }}"}],
                    },
                ],
            },
        },
    }
    assert [v.text for v in grader_variables(spec)] == [
        "sample.output_json.x",
        "item.answer",
        "item.context[0]",
        "item.extra",
    ]


def test_variable_parts():
    (var,) = compile_template("{{ item.a.b[3].c }}").variables
    assert (var.namespace, var.steps, var.path) == ("item", ("a", "b", 3, "c"), ".a.b[3].c")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    template=st.text(alphabet=st.sampled_from(list("{} .[]0123itemsampl_x\n")), max_size=40),
    item=st.dictionaries(st.sampled_from(["x", "a", "0", "item"]), json_values, max_size=3),
)
def test_renderer_never_crashes(template, item):
    try:
        out = render(template, {"output_text": "s"}, item)
    except TemplateError:
        return
    assert isinstance(out, str)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_non_strings_render_as_json(value):
    out = render("{{ item.v }}", {}, {"v": value})
    if isinstance(value, str):
        assert out == value
    else:
        assert json.loads(out) == value
