"""rft.grade over DataFrames, lists and JSONL files; GradeResult tables; the process pool."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

import rft_jupyter as rft

EXACT = {
    "type": "string_check",
    "name": "exact",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.answer }}",
    "operation": "eq",
    "pass_threshold": 1,
}
MULTI = {
    "type": "multi",
    "name": "combo",
    "graders": {
        "exact": {k: v for k, v in EXACT.items() if k != "pass_threshold"},
        "fuzzy": {
            "type": "text_similarity",
            "name": "fuzzy",
            "input": "{{ sample.output_text }}",
            "reference": "{{ item.answer }}",
            "evaluation_metric": "fuzzy_match",
        },
    },
    "calculate_output": "0.5 * exact + 0.5 * fuzzy",
}


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "question": ["capital of France?", "2+2?", "colour of sky?", "missing answer"],
            "answer": ["Paris", "4", "blue", None],
            "model": ["Paris", "5", "Blue", "x"],
        },
        index=pd.Index(["q1", "q2", "q3", "q4"], name="qid"),
    )


def test_dataframe_keeps_index_and_columns(frame):
    result = rft.grade(EXACT, frame, sample="model")
    df = result.to_pandas()
    assert list(df.index) == ["q1", "q2", "q3", "q4"] and df.index.name == "qid"
    assert list(df.columns) == ["reward", "passed", "error", "error_details"]
    assert df["reward"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert df["passed"].tolist() == [True, False, False, False]
    # a NaN/None cell means the item lacks the key: invalid_variable_error, not "None"
    assert df["error"].tolist() == [None, None, None, "invalid_variable_error"]
    assert "no key 'answer'" in df.loc["q4", "error_details"]
    assert result.error_counts() == {"invalid_variable_error": 1}
    assert result.mean_reward == 0.25 and result.pass_rate == 0.25


def test_multi_sub_columns(frame):
    df = rft.grade(MULTI, frame, sample="model").to_pandas()
    assert list(df.columns) == ["reward", "error", "error_details", "sub.exact", "sub.fuzzy"]
    assert df.loc["q1", "sub.exact"] == 1.0 and df.loc["q1", "sub.fuzzy"] == 1.0
    assert df.loc["q3", "sub.fuzzy"] == 1.0  # WRatio with default_process ignores case
    assert df.loc["q3", "reward"] == 0.5
    assert df.loc["q4", "error"] == "invalid_variable_error"


def test_list_of_dicts_and_callable_sample():
    rows = [{"answer": "a", "out": {"output_text": "a"}}, {"answer": "b", "out": "c"}]
    assert rft.grade(EXACT, rows, sample="out").rewards == [1.0, 0.0]
    result = rft.grade(EXACT, rows, sample=lambda row: row["answer"].upper())
    assert result.rewards == [0.0, 0.0]
    result = rft.grade(EXACT, rows, sample=lambda row: row["answer"])
    assert result.rewards == [1.0, 1.0]


def test_jsonl_path(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(
        "\n".join(json.dumps({"answer": a, "output_text": o}) for a, o in [("x", "x"), ("y", "z")])
        + "\n\n"
    )
    result = rft.grade(EXACT, path)
    assert result.rewards == [1.0, 0.0]
    assert rft.grade(EXACT, str(path)).rewards == [1.0, 0.0]


def test_sample_column_not_in_item(frame):
    grader = dict(EXACT, reference="{{ item.model }}")
    df = rft.grade(grader, frame, sample="model").to_pandas()
    assert set(df["error"]) == {"invalid_variable_error"}


@pytest.mark.parametrize(
    ("data", "sample", "words"),
    [
        (
            "frame",
            "modle",
            ["sample column 'modle' not found", "did you mean 'model'", "question, answer, model"],
        ),
        ([{"a": 1}, 3], "a", ["data[1] is int"]),
        ({"a": [1]}, "a", ["not a dict"]),
        (42, "a", ["not int"]),
    ],
)
def test_bad_data(frame, data, sample, words):
    data = frame if data == "frame" else data
    with pytest.raises(ValueError) as info:
        rft.grade(EXACT, data, sample=sample)
    for word in words:
        assert word in str(info.value)


def test_bad_jsonl_names_the_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"answer": "x"}\n{"answer": \n')
    with pytest.raises(ValueError, match=r"rows.jsonl:2: not valid JSON"):
        rft.grade(EXACT, path)
    with pytest.raises(ValueError, match="cannot read"):
        rft.grade(EXACT, tmp_path / "nope.jsonl")


def test_limit_and_seed(frame):
    assert len(rft.grade(EXACT, frame, sample="model", limit=2)) == 2
    assert rft.grade(EXACT, frame, sample="model", limit=2).index == ["q1", "q2"]
    a = rft.grade(EXACT, frame, sample="model", limit=2, seed=7).index
    b = rft.grade(EXACT, frame, sample="model", limit=2, seed=7).index
    assert a == b and len(set(a)) == 2
    assert len(rft.grade(EXACT, frame, sample="model", limit=99)) == 4
    with pytest.raises(ValueError, match="limit"):
        rft.grade(EXACT, frame, sample="model", limit=-1)


def test_response_format_in_batch():
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "a",
            "schema": {
                "type": "object",
                "properties": {"v": {"type": "string"}},
                "required": ["v"],
            },
        },
    }
    grader = dict(EXACT, input="{{ sample.output_json.v }}")
    rows = [
        {"answer": "x", "o": '{"v": "x"}'},
        {"answer": "x", "o": "x"},
        {"answer": "x", "o": "{}"},
    ]
    df = rft.grade(grader, rows, sample="o", response_format=schema).to_pandas()
    assert df["reward"].tolist() == [1.0, 0.0, 0.0]
    assert df["error"].tolist() == [None, "sample_parse_error", "sample_parse_error"]


def test_parallel_equals_serial():
    rows = [
        {"answer": f"answer number {i % 17}", "out": f"answer numbr {i % 13}"} for i in range(3000)
    ]
    serial = rft.grade(MULTI, rows, sample="out", parallel=False, progress=False)
    parallel = rft.grade(MULTI, rows, sample="out", parallel=True, workers=2, progress=False)
    assert serial.rewards == parallel.rewards
    assert [o.sub_rewards for o in serial.outcomes] == [o.sub_rewards for o in parallel.outcomes]
    # workers send compact results; what the grader saw is re-rendered on demand
    assert [parallel.row(i)["rendered"] for i in range(0, 3000, 500)] == [
        serial.row(i)["rendered"] for i in range(0, 3000, 500)
    ]
    assert parallel.row(7)["rendered"]["fuzzy.input"] == rows[7]["out"]


def test_result_display(frame):
    result = rft.grade(MULTI, frame, sample="model")
    text = repr(result)
    assert "combo: 4/4 rows" in text and "unscored 1 (invalid_variable_error 1)" in text
    html = result._repr_html_()
    assert "<table" in html and "Paris" in html and "invalid_variable_error" in html
    row = result.row(2)
    assert row["rendered"]["fuzzy.input"] == "Blue" and row["item"]["answer"] == "blue"


def test_empty_data():
    result = rft.grade(EXACT, [], sample="x")
    assert len(result) == 0 and math.isnan(result.mean_reward)


def test_parallel_from_a_script_without_main_guard(tmp_path):
    """Workers never re-run the caller's script (multiprocessing's spawn/forkserver would)."""
    import subprocess
    import sys

    script = tmp_path / "script.py"
    script.write_text(
        "import rft_jupyter as rft\n"
        "print('top-level ran', flush=True)\n"
        f"g = {MULTI!r}\n"
        "rows = [{'answer': 'a b c', 'out': 'a b d'}] * 200\n"
        "r = rft.grade(g, rows, sample='out', parallel=True, workers=2, progress=False)\n"
        "print('mean', r.mean_reward)\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("top-level ran") == 1
    assert "mean 0.4" in proc.stdout


def test_public_names_resolve():
    import rft_jupyter

    for name in rft_jupyter.__all__:
        assert getattr(rft_jupyter, name) is not None, name
    with pytest.raises(AttributeError):
        rft_jupyter.no_such_name  # noqa: B018
