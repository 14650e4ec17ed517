"""run_grader: the response shape, string_check, multi, samples and structured outputs."""

from __future__ import annotations

import json

import pytest

import rft_jupyter as rft
from rft_jupyter.graders.outcome import ERROR_KEYS
from rft_jupyter.graders.sample import build_sample


def sc(op, input="{{ sample.output_text }}", reference="{{ item.ref }}", **extra):
    return {
        "type": "string_check",
        "name": "s",
        "input": input,
        "reference": reference,
        "operation": op,
        **extra,
    }


@pytest.mark.parametrize(
    ("op", "output", "ref", "reward"),
    [
        ("eq", "Paris", "Paris", 1.0),
        ("eq", "Paris", "paris", 0.0),
        ("eq", "Paris ", "Paris", 0.0),  # no trimming
        ("eq", "", "", 1.0),
        ("eq", "東京", "東京", 1.0),
        ("eq", "é", "e\u0301", 0.0),  # no unicode normalisation
        ("ne", "a", "b", 1.0),
        ("ne", "a", "a", 0.0),
        ("ne", "", "", 0.0),
        ("like", "The answer is Paris.", "Paris", 1.0),
        ("like", "The answer is paris.", "Paris", 0.0),
        ("like", "anything", "", 1.0),  # the empty string is a substring of everything
        ("like", "", "x", 0.0),
        ("like", "50% off", "%", 1.0),  # a substring test, not SQL wildcards
        ("like", "abc", "a%c", 0.0),
        ("ilike", "The answer is PARIS.", "paris", 1.0),
        ("ilike", "STRASSE", "straße", 0.0),  # lower(), not casefold()
        ("ilike", "ÉCOLE", "école", 1.0),
        ("ilike", "x", "y", 0.0),
    ],
)
def test_string_check(op, output, ref, reward):
    out = rft.run_grader(sc(op), output, {"ref": ref})
    assert out["reward"] == reward
    assert not any(v for k, v in out["metadata"]["errors"].items())


def test_response_shape_has_all_14_error_keys():
    out = rft.run_grader(sc("eq"), "a", {"ref": "a"})
    assert set(out) == {"reward", "metadata", "sub_rewards", "model_grader_token_usage_per_model"}
    meta = out["metadata"]
    assert meta["name"] == "s" and meta["type"] == "string_check"
    assert meta["execution_time"] >= 0
    assert meta["sampled_model_name"] is None and meta["token_usage"] is None
    assert list(meta["errors"]) == list(ERROR_KEYS) and len(ERROR_KEYS) == 14
    assert meta["errors"]["python_grader_runtime_error_details"] is None
    assert meta["errors"]["invalid_variable_error"] is False


def test_missing_variable_is_invalid_variable_error():
    out = rft.run_grader(sc("eq", reference="{{ item.answer.value }}"), "x", {"answer": {}})
    assert out["reward"] == 0.0
    assert out["metadata"]["errors"]["invalid_variable_error"] is True
    assert "item.answer.value" in out["metadata"]["error_details"]


def test_item_defaults_to_empty():
    out = rft.run_grader(sc("eq", reference="fixed"), "fixed")
    assert out["reward"] == 1.0
    out = rft.run_grader(sc("eq"), "fixed")
    assert out["metadata"]["errors"]["invalid_variable_error"] is True


def test_invalid_grader_raises():
    with pytest.raises(rft.GraderValidationError, match="did you mean 'ne'"):
        rft.run_grader(sc("neq"), "x", {"ref": "x"})


def test_sample_from_string():
    s = build_sample('{"a": [1]}')
    assert s["output_text"] == '{"a": [1]}'
    assert s["output_json"] == {"a": [1]}
    assert s["output_tools"] == []
    assert s["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": '{"a": [1]}'},
            "finish_reason": "stop",
        }
    ]
    assert build_sample("42")["output_json"] is None  # only objects and arrays
    assert build_sample("not json {")["output_json"] is None
    assert build_sample("[1, 2]")["output_json"] == [1, 2]


def test_sample_from_dict_keeps_keys():
    s = build_sample(
        {"output_text": "hi", "output_tools": [{"function": {"name": "f"}}], "extra": 1}
    )
    assert s["extra"] == 1 and s["output_tools"][0]["function"]["name"] == "f"
    assert s["choices"][0]["message"]["content"] == "hi"
    out = rft.run_grader(
        sc("eq", input="{{ sample.output_tools[0].function.name }}", reference="f"), s
    )
    assert out["reward"] == 1.0


SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "n": {"type": "integer"}},
            "required": ["city", "n"],
            "additionalProperties": False,
        },
    },
}


@pytest.mark.parametrize(
    ("output", "reward", "parse_error", "words"),
    [
        ('{"city": "Paris", "n": 1}', 1.0, False, None),
        ('{"city": "Lyon", "n": 1}', 0.0, False, None),
        ("Paris", 0.0, True, "not valid JSON"),
        ('{"city": "Paris"}', 0.0, True, "'n' is a required property"),
        ('{"city": "Paris", "n": "1"}', 0.0, True, "output.n"),
        ('{"city": "Paris", "n": 1, "x": 0}', 0.0, True, "Additional properties"),
    ],
)
def test_response_format(output, reward, parse_error, words):
    grader = sc("eq", input="{{ sample.output_json.city }}", reference="Paris")
    out = rft.run_grader(grader, output, {}, response_format=SCHEMA)
    assert out["reward"] == reward
    assert out["metadata"]["errors"]["sample_parse_error"] is parse_error
    if words:
        assert words in out["metadata"]["error_details"]


def test_response_format_inner_form_and_bad_schema():
    inner = SCHEMA["json_schema"]
    grader = sc("eq", input="{{ sample.output_json.city }}", reference="Paris")
    assert rft.run_grader(grader, '{"city": "Paris", "n": 2}', response_format=inner)["reward"] == 1
    with pytest.raises(ValueError, match="schema is invalid"):
        rft.run_grader(grader, "{}", response_format={"schema": {"type": "nonsense"}})
    with pytest.raises(ValueError, match="not supported"):
        rft.run_grader(grader, "{}", response_format={"type": "json_object"})


MULTI = {
    "type": "multi",
    "name": "m",
    "graders": {
        "exact": sc("eq"),
        "has": sc("ilike", reference="{{ item.word }}"),
    },
    "calculate_output": "0.75 * exact + 0.25 * has",
}


def test_multi_combines_and_reports_sub_rewards():
    out = rft.run_grader(MULTI, "Paris", {"ref": "Paris", "word": "par"})
    assert out["reward"] == 1.0
    assert out["sub_rewards"] == {"exact": 1.0, "has": 1.0}
    out = rft.run_grader(MULTI, "Paris!", {"ref": "Paris", "word": "par"})
    assert out["reward"] == 0.25
    assert out["sub_rewards"] == {"exact": 0.0, "has": 1.0}


def test_multi_sub_error_enters_as_zero_and_flags_are_ored():
    out = rft.run_grader(MULTI, "Paris", {"ref": "Paris"})  # item.word missing
    assert out["reward"] == 0.75  # the formula's value with has = 0
    assert out["sub_rewards"] == {"exact": 1.0, "has": 0.0}
    assert out["metadata"]["errors"]["invalid_variable_error"] is True
    assert out["metadata"]["error_details"].startswith("has: ")


def test_multi_math_error_is_other_error():
    grader = dict(MULTI, calculate_output="exact / has")
    out = rft.run_grader(grader, "Paris", {"ref": "Paris", "word": "zzz"})
    assert out["reward"] == 0.0
    assert out["metadata"]["errors"]["other_error"] is True
    assert "division by zero" in out["metadata"]["error_details"]


def test_multi_rewards_beyond_one_are_not_clamped():
    grader = dict(MULTI, calculate_output="10 * exact - 3")
    assert rft.run_grader(grader, "a", {"ref": "a", "word": "a"})["reward"] == 7.0
    assert rft.run_grader(grader, "b", {"ref": "a", "word": "a"})["reward"] == -3.0


def test_cosine_needs_embeddings():
    grader = {
        "type": "text_similarity",
        "name": "c",
        "input": "a",
        "reference": "b",
        "evaluation_metric": "cosine",
    }
    with pytest.raises(rft.MetricUnavailableError, match="embeddings"):
        rft.run_grader(grader, "x")


def test_real_multigrader_with_real_schema(datasets):
    grader = json.loads((datasets / "clause_matching/multi_grader.json").read_text())
    schema = json.loads((datasets / "clause_matching/schema.json").read_text())
    row = json.loads(
        (datasets / "clause_matching/clause_matching_validation.jsonl").read_text().splitlines()[0]
    )
    good = json.dumps({"clause_type": row["clause_type"], "extracted_text": row["extracted_text"]})
    out = rft.run_grader(grader, good, row, response_format=schema)
    assert out["reward"] == pytest.approx(1.0)
    assert out["sub_rewards"]["clause_string_check"] == 1.0
    bad = json.dumps({"clause_type": "Warranty", "extracted_text": row["extracted_text"]})
    out = rft.run_grader(grader, bad, row, response_format=schema)
    assert out["metadata"]["errors"]["sample_parse_error"] is True  # not in the schema's enum
    assert out["reward"] == 0.0
