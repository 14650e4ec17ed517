"""Grader validation: every type, every kind of mistake, each with its path and message."""

from __future__ import annotations

import copy
import json

import pytest

import rft_jupyter as rft
from rft_jupyter.graders.spec import load_grader

SC = {
    "type": "string_check",
    "name": "exact",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.answer }}",
    "operation": "eq",
}
TS = {
    "type": "text_similarity",
    "name": "sim",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.answer }}",
    "evaluation_metric": "bleu",
    "pass_threshold": 0.5,
}
SCORE = {
    "type": "score_model",
    "name": "judge",
    "model": "gpt-4o-2024-08-06",
    "input": [
        {"role": "developer", "content": "Grade it."},
        {"role": "user", "content": [{"type": "input_text", "text": "{{ sample.output_text }}"}]},
    ],
    "range": [0, 5],
    "sampling_params": {"seed": 1, "temperature": 0.0, "max_completions_tokens": 100},
}
LABEL = {
    "type": "label_model",
    "name": "labeler",
    "model": "gpt-4o-mini",
    "input": [{"role": "user", "content": "{{ sample.output_text }}"}],
    "labels": ["good", "bad"],
    "passing_labels": ["good"],
}
PY = {"type": "python", "name": "py", "source": "def grade(sample, item):\n    return 1.0\n"}
ENDPOINT = {
    "type": "endpoint",
    "name": "ep",
    "url": "https://example.invalid/grade",
    "headers": {"Authorization": "Bearer x"},
    "rate_limit": 60,
}
MULTI = {
    "type": "multi",
    "name": "combo",
    "graders": {"exact": SC, "sim": TS},
    "calculate_output": "0.5 * exact + 0.5 * sim",
}
VALID = [SC, TS, SCORE, LABEL, PY, ENDPOINT, MULTI]


@pytest.mark.parametrize("spec", VALID, ids=lambda s: s["type"])
def test_valid_graders_round_trip(spec):
    out = rft.validate_grader(spec)
    assert out == {"grader": spec}
    assert out["grader"] is not spec  # a copy: the caller's dict is never mutated


def with_(base, **changes):
    spec = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            spec.pop(key)
        else:
            spec[key] = value
    return spec


def sub(multi_key, **changes):
    spec = copy.deepcopy(MULTI)
    spec["graders"][multi_key] = with_(spec["graders"][multi_key], **changes)
    return spec


CASES = [
    # (spec, path, words the message must contain)
    (with_(SC, type="string_chek"), "type", ["unknown grader type", "did you mean 'string_check'"]),
    (with_(SC, type=...), "type", ["missing", "string_check"]),
    (with_(SC, type=3), "type", ["unknown grader type a number"]),
    (
        with_(SC, operation="neq"),
        "operation",
        ["'neq' is not allowed", "did you mean 'ne'", "ilike"],
    ),
    (with_(SC, operation="EQ"), "operation", ["did you mean 'eq'"]),
    (with_(SC, operation=...), "operation", ["required field is missing"]),
    (with_(SC, input=3), "input", ["expected a string, got a number"]),
    (with_(SC, reference=None), "reference", ["expected a string, got null"]),
    (with_(SC, name=""), "name", ["must not be empty"]),
    (with_(SC, name=...), "name", ["required"]),
    (with_(SC, refrence="x"), "refrence", ["unknown field 'refrence'", "did you mean 'reference'"]),
    (with_(SC, pass_threshold="high"), "pass_threshold", ["expected a number, got a string"]),
    (with_(SC, pass_threshold=True), "pass_threshold", ["expected a number, got a boolean"]),
    (with_(TS, evaluation_metric="rougeL"), "evaluation_metric", ["did you mean 'rouge_l'"]),
    (with_(TS, evaluation_metric="blue"), "evaluation_metric", ["did you mean 'bleu'"]),
    (with_(TS, evaluation_metric=...), "evaluation_metric", ["required"]),
    (with_(SCORE, input="hi"), "input", ["expected an array of messages"]),
    (with_(SCORE, input=[]), "input", ["at least one message"]),
    (with_(SCORE, input=[{"role": "sytem", "content": "x"}]), "input[0].role", ["did you mean"]),
    (with_(SCORE, input=[{"role": "user"}]), "input[0].content", ["required"]),
    (
        with_(SCORE, input=[{"role": "user", "content": [{"type": "text", "text": "x"}]}]),
        "input[0].content[0].type",
        ["'text' is not allowed", "input_text"],
    ),
    (with_(SCORE, range=[1]), "range", ["two numbers"]),
    (with_(SCORE, range=[5, 1]), "range", ["greater than max"]),
    (
        with_(SCORE, sampling_parameters={}),
        "sampling_parameters",
        ["did you mean 'sampling_params'"],
    ),
    (
        with_(SCORE, sampling_params={"max_completion_tokens": 5}),
        "sampling_params.max_completion_tokens",
        ["did you mean 'max_completions_tokens'"],
    ),
    (
        with_(SCORE, sampling_params={"reasoning_effort": "hgh"}),
        "sampling_params.reasoning_effort",
        ["did you mean 'high'"],
    ),
    (with_(SCORE, sampling_params={"seed": 1.5}), "sampling_params.seed", ["integer"]),
    (with_(SCORE, model=...), "model", ["required"]),
    (with_(LABEL, passing_labels=["meh"]), "passing_labels", ["'meh' is not one of the labels"]),
    (with_(LABEL, labels=[]), "labels", ["must not be empty"]),
    (with_(PY, source="def grade(sample):\n    return 1"), "source", ["exactly two positional"]),
    (with_(PY, source="def grade(a, b, *rest):\n    return 1"), "source", ["exactly two"]),
    (with_(PY, source="def grade(a, b):\n    return (1"), "source", ["syntax error at line 2"]),
    (with_(PY, source="def score(a, b):\n    return 1"), "source", ["must define"]),
    (with_(PY, source="x = 1\n" * 50_000), "source", ["256 kB"]),
    (with_(PY, source="async def grade(a, b):\n    return 1"), "source", ["async"]),
    (with_(ENDPOINT, url="ftp://x"), "url", ["http"]),
    (with_(ENDPOINT, rate_limit=0), "rate_limit", [">= 1"]),
    (with_(ENDPOINT, headers={"a": 1}), "headers.a", ["expected a string"]),
    (
        sub("sim", evaluation_metric="blue"),
        "graders.sim.evaluation_metric",
        ["did you mean 'bleu'"],
    ),
    (sub("exact", type="multi"), "graders.exact.type", ["cannot contain another multi"]),
    (with_(MULTI, graders=SC), "graders", ["dict of NAMED graders"]),
    (with_(MULTI, graders=[SC]), "graders", ["dict of named graders", "got an array"]),
    (with_(MULTI, graders={}), "graders", ["at least one grader"]),
    (with_(MULTI, graders={"my-key": SC}), "graders", ["must be an identifier"]),
    (
        with_(MULTI, calculate_output="0.5 * exct + sim"),
        "calculate_output",
        ["unknown name 'exct'", "did you mean 'exact'", "column 7"],
    ),
    (with_(MULTI, calculate_output="(exact + sim"), "calculate_output", ["expected ')'"]),
    (with_(MULTI, calculate_output="exact +* sim"), "calculate_output", ["column 8"]),
    (with_(MULTI, calculate_output="mean(exact, sim)"), "calculate_output", ["unknown function"]),
    (
        with_(MULTI, calculate_output="abs(exact, sim)"),
        "calculate_output",
        ["exactly one argument"],
    ),
    (with_(MULTI, calculate_output=""), "calculate_output", ["empty"]),
]


@pytest.mark.parametrize(("spec", "path", "words"), CASES, ids=[c[1] for c in CASES])
def test_invalid_graders(spec, path, words):
    with pytest.raises(rft.GraderValidationError) as info:
        rft.validate_grader(spec)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.path == path
    message = str(err)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_json_and_yaml_text_and_wrapper():
    assert rft.validate_grader(json.dumps(SC))["grader"] == SC
    yaml_text = "\n".join(
        [
            "type: multi",
            "name: combo",
            "calculate_output: (a + b) / 2",
            "graders:",
            "  a: {type: string_check, name: a, input: '{{ sample.output_text }}',",
            "      reference: '{{ item.answer }}', operation: ilike}",
            "  b:",
            "    type: text_similarity",
            "    name: b",
            "    input: '{{ sample.output_text }}'",
            "    reference: '{{ item.answer }}'",
            "    evaluation_metric: fuzzy_match",
        ]
    )
    spec = rft.validate_grader(yaml_text)["grader"]
    assert spec["graders"]["a"]["operation"] == "ilike"
    assert rft.validate_grader({"grader": SC})["grader"] == SC


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"type": "string_check",}', ["invalid JSON at line 1 column 25"]),
        ("type: [unclosed", ["invalid YAML at line 1"]),
        ("[1, 2]", ["not an array"]),
        ("   ", ["empty"]),
        ("just words", ["not a string"]),
    ],
)
def test_unparseable_text(text, words):
    with pytest.raises(rft.GraderValidationError) as info:
        rft.validate_grader(text)
    for word in words:
        assert word in str(info.value)


def test_files_and_objects(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(SC))
    assert load_grader(path) == SC
    assert load_grader(str(path)) == SC
    with pytest.raises(rft.GraderValidationError, match="cannot read"):
        load_grader(tmp_path / "missing.json")
    with pytest.raises(rft.GraderValidationError, match="not int"):
        load_grader(3)

    class SDKLike:  # the openai SDK's pydantic models have model_dump()
        def model_dump(self, exclude_none=False):
            return dict(SC)

    assert load_grader(SDKLike()) == SC


def test_real_graders_validate(datasets):
    for name in [
        "clause_matching/multi_grader.json",
        "clause_matching/model_grader.json",
        "countdown/grader_config_aoai.json",
        "medmcq/stringcheck_grader.json",
    ]:
        spec = load_grader(datasets / name)
        assert spec == json.loads((datasets / name).read_text())
