"""The command line, through a real subprocess: exit statuses and one-line messages."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

EXACT = {
    "type": "string_check",
    "name": "exact",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.answer }}",
    "operation": "eq",
    "pass_threshold": 1,
}


def cli(*args, cwd=None):
    proc = subprocess.run(
        [sys.executable, "-m", "rft_jupyter", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def grader_file(tmp_path):
    path = tmp_path / "grader.json"
    path.write_text(json.dumps(EXACT))
    return path


def test_validate_grader_ok(grader_file):
    code, out, err = cli("validate-grader", grader_file)
    assert code == 0, err
    assert "ok: string_check grader 'exact' (reads sample.output_text, item.answer)" in out


def test_validate_grader_yaml(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("type: string_check\nname: y\ninput: a\nreference: b\noperation: ilike\n")
    assert cli("validate-grader", path)[0] == 0


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (dict(EXACT, operation="neq"), "operation: 'neq' is not allowed; did you mean 'ne'?"),
        ("{not json", "invalid JSON at line 1 column 2"),
    ],
)
def test_validate_grader_invalid(tmp_path, content, words):
    path = tmp_path / "g.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    code, out, err = cli("validate-grader", path)
    assert code == 2
    assert words in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_file_and_usage(tmp_path):
    code, _, err = cli("validate-grader", tmp_path / "nope.json")
    assert code == 2 and "cannot read" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("grade", "--data", "x.jsonl")
    assert code == 2 and "--grader" in err
    code, _, err = cli("frobnicate")
    assert code == 2 and "invalid choice" in err


def test_validate_data(tmp_path, grader_file):
    good = tmp_path / "good.jsonl"
    good.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}], "answer": "a"}) + "\n"
    )
    code, out, err = cli("validate-data", good, "--grader", grader_file)
    assert code == 0, out + err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "system", "content": "hi"}]}) + "\n")
    code, out, err = cli("validate-data", bad, "--grader", grader_file)
    assert code == 1
    assert "bad.jsonl:1" in out and "developer" in out and "item.answer" in out


def test_grade_writes_csv(tmp_path, grader_file):
    data = tmp_path / "rows.jsonl"
    data.write_text(
        "\n".join(
            json.dumps({"answer": a, "out": o}) for a, o in [("x", "x"), ("y", "y"), ("z", "q")]
        )
    )
    out_csv = tmp_path / "out.csv"
    code, out, err = cli(
        "grade", "--grader", grader_file, "--data", data, "--sample", "out", "--out", out_csv
    )
    assert code == 0, err
    assert "3/3 rows" in out and "mean reward 0.6667" in out
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["reward"] for r in rows] == ["1.0", "1.0", "0.0"]
    # rows the grader cannot score make the exit status 1
    data.write_text(json.dumps({"out": "x"}) + "\n")
    code, out, err = cli("grade", "--grader", grader_file, "--data", data, "--sample", "out")
    assert code == 1 and "invalid_variable_error 1" in out


def test_grade_bad_sample_column(tmp_path, grader_file):
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"answer": "x", "output": "x"}) + "\n")
    code, _, err = cli("grade", "--grader", grader_file, "--data", data, "--sample", "outptu")
    assert code == 2
    assert "sample column 'outptu' not found; did you mean 'output'?" in err


def test_real_dataset_cross_check(datasets):
    code, out, _ = cli(
        "validate-data",
        datasets / "medmcq/medmcq_validation.jsonl",
        "--grader",
        datasets / "medmcq/stringcheck_grader.json",
        "--kind",
        "valid",
    )
    assert code == 1  # the rows lack item.reference_answer, which the grader reads
    assert "item.reference_answer" in out and "6150" in out.replace(",", "")
