"""validate_dataset: row rules, summaries, grader cross-check, report API, real files."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rft_jupyter.data import DatasetReport, DatasetValidationError, Problem, validate_dataset
from rft_jupyter.graders.errors import GraderValidationError

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"

USER = {"role": "user", "content": "What is 2+2?"}
GOOD = {"messages": [USER], "answer": "4"}


def write_lines(tmp_path: Path, lines: list[Any], name: str = "data.jsonl") -> Path:
    """Write rows (dicts are dumped, strings written as is) one per line."""
    path = tmp_path / name
    text = "".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines)
    path.write_text(text, encoding="utf-8")
    return path


def only(report: DatasetReport, severity: str | None = None) -> Problem:
    problems = [p for p in report.problems if severity is None or p.severity == severity]
    assert len(problems) == 1, str(report)
    return problems[0]


def shared_file(*parts: str) -> Path:
    path = DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"third-party dataset not present: {path}")
    return path


# ---------------------------------------------------------------- one bad row, one problem

ROW_CASES: list[tuple[str, Any, str, str | None, str]] = [
    # (id, line written as row 2, expected message fragment, field, severity)
    ("invalid-json", '{"messages": [}', "invalid JSON at column 15", None, "error"),
    ("trailing-comma", json.dumps(GOOD) + ",", "trailing comma", None, "error"),
    ("two-values", json.dumps(GOOD) + " {}", "more than one JSON value", None, "error"),
    (
        "nan",
        '{"messages": [{"role": "user", "content": "x"}], "a": NaN}',
        "NaN is not",
        None,
        "error",
    ),
    ("array", "[1, 2]", "the line is an array, not a JSON object", None, "error"),
    ("array-of-rows", json.dumps([GOOD, GOOD]), "an array of 2 rows?", None, "error"),
    ("string", '"hello"', "the line is a string, not a JSON object", None, "error"),
    ("null", "null", "the line is null, not a JSON object", None, "error"),
    ("no-messages", {"answer": "4"}, "messages: missing", "messages", "error"),
    (
        "messages-string",
        {"messages": "hi"},
        "must be a list of messages, got a string",
        "messages",
        "error",
    ),
    ("messages-empty", {"messages": []}, "messages: empty", "messages", "error"),
    (
        "message-string",
        {"messages": ["hi"]},
        "messages[0]: a message must be an object",
        "messages[0]",
        "error",
    ),
    (
        "no-role",
        {"messages": [{"content": "x"}]},
        "messages[0].role: missing (allowed: developer, user, assistant, tool)",
        "messages[0].role",
        "error",
    ),
    (
        "role-number",
        {"messages": [{"role": 1, "content": "x"}]},
        "must be a string",
        "messages[0].role",
        "error",
    ),
    (
        "system",
        {"messages": [{"role": "system", "content": "Be brief."}, USER]},
        "'system' is not accepted in RFT data; use 'developer'",
        "messages[0].role",
        "error",
    ),
    (
        "typo-role",
        {"messages": [{"role": "usr", "content": "x"}]},
        "unknown role 'usr' (allowed: developer, user, assistant, tool); did you mean 'user'?",
        "messages[0].role",
        "error",
    ),
    (
        "case-role",
        {"messages": [{"role": "User", "content": "x"}]},
        "did you mean 'user'?",
        "messages[0].role",
        "error",
    ),
    (
        "far-role",
        {"messages": [{"role": "narrator", "content": "x"}]},
        "unknown role 'narrator' (allowed: developer, user, assistant, tool)",
        "messages[0].role",
        "error",
    ),
    (
        "content-missing",
        {"messages": [{"role": "user"}]},
        "messages[0].content: missing",
        "messages[0].content",
        "error",
    ),
    (
        "content-null",
        {"messages": [{"role": "user", "content": None}]},
        "messages[0].content: null",
        "messages[0].content",
        "error",
    ),
    (
        "content-number",
        {"messages": [{"role": "user", "content": 3}]},
        "got a number",
        "messages[0].content",
        "error",
    ),
    (
        "content-part-object",
        {"messages": [{"role": "user", "content": {"type": "text", "text": "x"}}]},
        "a single part object",
        "messages[0].content",
        "error",
    ),
    (
        "content-empty-list",
        {"messages": [{"role": "user", "content": []}]},
        "an empty list of parts",
        "messages[0].content",
        "error",
    ),
    (
        "content-empty-string",
        {"messages": [{"role": "user", "content": "  "}]},
        "empty user message",
        "messages[0].content",
        "warning",
    ),
    (
        "part-string",
        {"messages": [{"role": "user", "content": ["x"]}]},
        "a content part must be an object",
        "messages[0].content[0]",
        "error",
    ),
    (
        "part-no-type",
        {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
        "needs a string `type` (missing)",
        "messages[0].content[0].type",
        "error",
    ),
    (
        "part-audio",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}
                    ],
                }
            ]
        },
        "'input_audio' parts are not supported in fine-tuning data (text and images only)",
        "messages[0].content[0].type",
        "error",
    ),
    (
        "part-file",
        {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]},
        "'file' parts are not supported",
        "messages[0].content[0].type",
        "error",
    ),
    (
        "part-input-text",
        {"messages": [{"role": "user", "content": [{"type": "input_text", "text": "x"}]}]},
        'Chat Completions parts: {"type": "text", "text": ...}',
        "messages[0].content[0].type",
        "error",
    ),
    (
        "part-input-image",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "input_image", "image_url": "https://x/y.png"}],
                }
            ]
        },
        '{"type": "image_url", "image_url": {"url": ...}}',
        "messages[0].content[0].type",
        "error",
    ),
    (
        "part-typo",
        {"messages": [{"role": "user", "content": [{"type": "txt", "text": "x"}]}]},
        "unknown part type 'txt' for a user message (allowed: text, image_url); "
        "did you mean 'text'?",
        "messages[0].content[0].type",
        "error",
    ),
    (
        "text-missing",
        {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
        "a text part needs a string `text` (missing)",
        "messages[0].content[0].text",
        "error",
    ),
    (
        "image-in-developer",
        {
            "messages": [
                {
                    "role": "developer",
                    "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}],
                },
                USER,
            ]
        },
        "image parts are only allowed in user messages, not developer messages",
        "messages[0].content[0].type",
        "error",
    ),
    (
        "image-bare-string",
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": "https://x/a.png"}]}
            ]
        },
        'must be an object {"url": ...}, not a bare string',
        "messages[0].content[0].image_url",
        "error",
    ),
    (
        "image-no-url",
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
        "needs an http(s) URL or a data:image/... base64 URL (missing)",
        "messages[0].content[0].image_url.url",
        "error",
    ),
    (
        "image-local-path",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "img/cat.png"}}],
                }
            ]
        },
        "'img/cat.png' is neither an http(s) URL nor a data:image/ URL",
        "messages[0].content[0].image_url.url",
        "error",
    ),
    (
        "image-detail",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://x/a.png", "detail": "max"},
                        }
                    ],
                }
            ]
        },
        "'max' is not one of auto, low, high",
        "messages[0].content[0].image_url.detail",
        "error",
    ),
    (
        "last-assistant",
        {"messages": [USER, {"role": "assistant", "content": "4"}]},
        "messages[1].role: the last message must have role 'user', not 'assistant' (a row "
        "that ends with the assistant's answer is supervised fine-tuning data",
        "messages[1].role",
        "error",
    ),
    (
        "last-developer",
        {"messages": [{"role": "developer", "content": "x"}]},
        "the last message must have role 'user', not 'developer'",
        "messages[0].role",
        "error",
    ),
    (
        "tool-no-id",
        {"messages": [{"role": "tool", "content": "42"}, USER]},
        "a tool message needs a string tool_call_id (missing)",
        "messages[0].tool_call_id",
        "error",
    ),
    (
        "message-extra-key",
        {"messages": [{"role": "user", "content": "x", "weight": 1}]},
        "unexpected key `weight` in a user message (allowed: role, content, name)",
        "messages[0].weight",
        "warning",
    ),
    (
        "tools-object",
        {"messages": [USER], "tools": {"type": "function"}},
        "tools: must be a list of tool definitions, got an object",
        "tools",
        "error",
    ),
    (
        "tools-bad-type",
        {"messages": [USER], "tools": [{"type": "web", "function": {"name": "f"}}]},
        "tools[0].type: must be 'function', got 'web'",
        "tools[0].type",
        "error",
    ),
    (
        "tools-bad-name",
        {"messages": [USER], "tools": [{"type": "function", "function": {"name": "get weather"}}]},
        "'get weather' must be 1-64 characters",
        "tools[0].function.name",
        "error",
    ),
    (
        "evals-row",
        {"item": {"target": "3"}},
        "this row is in the Evals format",
        "messages",
        "error",
    ),
    (
        "dpo-row",
        {"input": {"messages": [USER]}, "preferred_output": [], "non_preferred_output": []},
        "preference (DPO) fine-tuning format",
        "messages",
        "error",
    ),
]


@pytest.mark.parametrize(
    ("row", "fragment", "field", "severity"),
    [case[1:] for case in ROW_CASES],
    ids=[case[0] for case in ROW_CASES],
)
def test_one_bad_row(tmp_path: Path, row: Any, fragment: str, field: str | None, severity: str):
    # Surround the bad row with good ones so the line number is checked too.
    lines = [GOOD, row, GOOD]
    if isinstance(row, dict):  # keep the item keys consistent with the good rows
        lines = [GOOD, {**row, "answer": "4"}, GOOD]
    report = validate_dataset(write_lines(tmp_path, lines))
    row_problems = [p for p in report.problems if p.line == 2 and p.field == field]
    assert row_problems, str(report)
    problem = row_problems[0]
    assert fragment in problem.message, problem.message
    assert problem.severity == severity
    assert problem.file == str(tmp_path / "data.jsonl")
    assert report.ok is (severity == "warning")
    assert all(p.line == 2 for p in report.errors), str(report)
    assert "\n" not in problem.message


IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}}
CALL = {"id": "c1", "type": "function", "function": {"name": "calc", "arguments": "{}"}}
CALC_TOOL = {"type": "function", "function": {"name": "calc", "parameters": {"type": "object"}}}
GOOD_ROWS: list[dict[str, Any]] = [
    {"messages": [{"role": "developer", "content": "Be brief."}, USER]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "Describe"}, IMAGE]}]},
    {
        "messages": [
            USER,
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "4"}]},
            {"role": "user", "content": "So?"},
        ],
        "tools": [CALC_TOOL],
    },
    {"messages": [{"role": "user", "content": "x", "name": "alice"}], "item": {"nested": True}},
]


@pytest.mark.parametrize("row", GOOD_ROWS, ids=range(len(GOOD_ROWS)))
def test_good_rows_have_no_problems(row: dict[str, Any]):
    report = validate_dataset([row])
    assert report.ok and report.problems == [], str(report)


# ---------------------------------------------------------------- a whole file


def test_many_problems_in_one_file_all_reported_with_lines(tmp_path: Path):
    lines = [
        GOOD,  # 1
        {"messages": [{"role": "system", "content": "x"}, USER], "answer": "4"},  # 2
        "not json",  # 3
        "",  # 4  empty line between rows
        GOOD,  # 5
        {"messages": [USER, {"role": "assistant", "content": "4"}], "answer": "4"},  # 6
        "",  # 7
        "   ",  # 8
        "",  # 9
        {"messages": [{"role": "usr", "content": [{"type": "input_audio"}]}], "answer": "4"},  # 10
        [GOOD],  # 11
        GOOD,  # 12
        "",  # 13 trailing empty lines: ignored
        "",  # 14
    ]
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(ln if isinstance(ln, str) else json.dumps(ln) for ln in lines) + "\n")
    report = validate_dataset(path)
    got = [(p.line, p.severity, p.field) for p in report.problems]
    assert got == [
        (2, "error", "messages[0].role"),
        (3, "error", None),
        (4, "error", None),
        (6, "error", "messages[1].role"),
        (7, "error", None),
        (10, "error", "messages[0].role"),
        (11, "error", None),
    ], str(report)
    assert "invalid JSON at column 1" in report.problems[1].message
    assert report.problems[2].message.startswith("empty line between rows")
    assert report.problems[4].message.startswith("3 empty lines (7-9) between rows")
    assert report.rows == 8  # non-empty lines
    assert not report.ok and len(report.errors) == 7 and report.warnings == []
    # The role error stops the checks of that message (its audio part is not reached).
    assert "did you mean 'user'" in report.problems[5].message


def test_trailing_empty_lines_and_missing_final_newline_are_fine(tmp_path: Path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n\n")
    assert validate_dataset(path).problems == []
    path.write_text(json.dumps(GOOD) + "\r\n" + json.dumps(GOOD))  # CRLF, no final newline
    report = validate_dataset(path)
    assert report.problems == [] and report.rows == 2


def test_leading_empty_line_is_an_error(tmp_path: Path):
    path = tmp_path / "t.jsonl"
    path.write_text("\n" + json.dumps(GOOD) + "\n")
    problem = only(validate_dataset(path))
    assert (problem.line, problem.severity) == (1, "error")


@pytest.mark.parametrize("text", ["", "\n\n  \n"], ids=["empty", "only-empty-lines"])
def test_empty_file_is_an_error(tmp_path: Path, text: str):
    path = tmp_path / "empty.jsonl"
    path.write_text(text)
    report = validate_dataset(path, kind="valid")
    problem = only(report)
    assert problem.line is None and problem.severity == "error"
    assert "has no rows" in problem.message and "validation" in problem.message
    assert report.rows == 0 and not report.ok
    assert str(problem) == f"{path}: error: {problem.message}"


def test_bom_is_a_warning_and_the_row_still_parses(tmp_path: Path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    report = validate_dataset(path)
    problem = only(report)
    assert (problem.line, problem.severity) == (1, "warning")
    assert "byte-order mark" in problem.message and report.ok


def test_non_utf8_line(tmp_path: Path):
    path = tmp_path / "latin1.jsonl"
    bad = json.dumps({"messages": [{"role": "user", "content": "caf\u00e9"}]}, ensure_ascii=False)
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + bad.encode("latin-1") + b"\n")
    problem = only(validate_dataset(path))
    assert problem.line == 2 and "not UTF-8" in problem.message and "0xe9" in problem.message


def test_pretty_printed_json_gets_a_hint_once(tmp_path: Path):
    path = tmp_path / "pretty.jsonl"
    path.write_text(json.dumps(GOOD, indent=2) + "\n")
    report = validate_dataset(path)
    assert report.problems[0].line == 1
    assert "pretty-printed JSON" in report.problems[0].message
    assert sum("pretty-printed" in p.message for p in report.problems) == 1


def test_missing_file_and_json_text_raise(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        validate_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(TypeError, match="JSON text, not a path"):
        validate_dataset(json.dumps(GOOD))
    with pytest.raises(TypeError, match="not int"):
        validate_dataset(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["training", "validation", "test", ""])
def test_bad_kind_raises(kind: str):
    with pytest.raises(ValueError, match="kind must be 'train' or 'valid'") as info:
        validate_dataset([GOOD], kind=kind)
    if kind in ("training", "validation"):
        assert "did you mean" in str(info.value)


# ---------------------------------------------------------------- summaries across rows


def test_key_disagreement_is_one_warning_per_key():
    rows = [
        {"messages": [USER], "a": 1, "b": "x"},  # 1
        {"messages": [USER], "a": 2},  # 2  lacks b
        {"messages": [USER], "a": 3, "b": "y"},  # 3
        {"messages": [USER], "a": 4},  # 4  lacks b
        {"messages": [USER], "a": 5, "c": True},  # 5  c appears late: rows 1-4 lack it
    ]
    report = validate_dataset(rows)
    assert report.ok and report.item_keys == {"a", "b", "c"}
    by_field = {p.field: p for p in report.warnings}
    assert set(by_field) == {"b", "c"}, str(report)
    assert by_field["b"].line == 2 and "`b`: 3 of 5 rows lack it (first: line 2)" in (
        by_field["b"].message
    )
    assert (
        by_field["c"].line == 1 and "4 of 5 rows lack it (first: line 1)" in by_field["c"].message
    )


def test_key_type_disagreement_warns_once():
    rows = [{"messages": [USER], "n": v} for v in ["1", "2", 3, "4", None]]
    problem = only(validate_dataset(rows))
    assert problem.severity == "warning" and problem.field == "n"
    assert "string in 3 rows, number in 1 row, null in 1 row" in problem.message
    assert problem.line == 3 and "(first number: line 3)" in problem.message


def test_evals_file_gets_one_clear_summary_first(tmp_path: Path):
    path = write_lines(tmp_path, [{"item": {"q": i}} for i in range(4)])
    report = validate_dataset(path)
    first = report.problems[0]
    assert first.line == 1 and "4 of 4 rows look like an Evals data file" in first.message
    assert [p.line for p in report.errors] == [1, 1, 2, 3, 4]
    # One stray Evals row in an RFT file: its own error says so, no file-level summary.
    mixed = validate_dataset([GOOD, GOOD, {"item": {"q": 1}, "answer": "4"}])
    assert [p.line for p in mixed.errors] == [3] and "Evals format" in mixed.errors[0].message


@pytest.mark.parametrize(("kind", "limit"), [("valid", 1_000), ("train", 50_000)])
def test_row_limits(kind: str, limit: int):
    rows = [GOOD] * limit
    assert validate_dataset(rows, kind=kind).problems == []
    report = validate_dataset([*rows, GOOD], kind=kind)
    problem = only(report)
    assert problem.severity == "warning" and problem.line is None and report.ok
    assert f"at most {limit:,}" in problem.message


# ---------------------------------------------------------------- grader cross-check

GRADER = {
    "type": "string_check",
    "name": "g",
    "input": "{{ item.answer }} {{ item.meta.ids[1] }}",
    "reference": "{{ sample.output_text }}",
    "operation": "eq",
}


def test_grader_variables_one_summary_per_variable(tmp_path: Path):
    def row(**extra: Any) -> str:
        return json.dumps({"messages": [USER], **extra})

    lines = [
        row(answer="1", meta={"ids": [1, 2]}),  # 1 ok
        row(meta={"ids": [1]}),  # 2 lacks answer; ids[1] out of range
        "{broken",  # 3 invalid JSON: not counted
        row(answer="1"),  # 4 lacks meta
        row(),  # 5 lacks both
        row(),  # 6
        row(),  # 7
        row(),  # 8
        row(answer="x", meta={"ids": [0, 1]}),  # 9 ok
    ]
    report = validate_dataset(write_lines(tmp_path, lines), grader=GRADER)
    summaries = [p for p in report.problems if "grader variable" in p.message]
    assert len(summaries) == 2, str(report)
    answer, ids = summaries
    assert answer.field == "answer" and answer.line == 2 and answer.severity == "error"
    assert "{{ item.answer }} does not resolve in 5 of 8 rows (lines 2, 5, 6, 7, 8)" in (
        answer.message
    )
    assert "no key 'answer'" in answer.message
    assert ids.field == "meta.ids[1]" and ids.line == 2
    assert "{{ item.meta.ids[1] }} does not resolve in 6 of 8 rows (lines 2, 4, 5, 6, 7, ...)" in (
        ids.message
    )
    assert "out of range" in ids.message
    assert not any("sample" in p.message for p in summaries)


def test_grader_variable_near_miss_suggests_the_key():
    grader = {**GRADER, "input": "{{ item.anwser }}"}
    problem = [p for p in validate_dataset([GOOD], grader=grader).problems if p.field][0]
    assert "did you mean" in problem.message and "answer" in problem.message


def test_grader_variable_with_a_bad_namespace_is_one_grader_problem():
    grader = {**GRADER, "input": "{{ itme.answer }}", "reference": "{{ sample.output_text }}"}
    try:
        report = validate_dataset([GOOD, GOOD, GOOD], grader=grader)
    except GraderValidationError as exc:  # if load_grader ever rejects it up front
        assert "itme.answer" in str(exc)
        return
    problem = only(report)
    assert problem.file == "<grader>" and problem.line is None and problem.field == "input"
    assert "{{ itme.answer }}" in problem.message and "namespace" in problem.message


def test_invalid_grader_raises():
    with pytest.raises(GraderValidationError):
        validate_dataset([GOOD], grader={"type": "string_chek", "input": "", "reference": ""})


def test_without_load_grader_only_dicts_are_accepted(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "rft_jupyter.graders.spec", None)  # import -> ImportError
    report = validate_dataset([{"messages": [USER]}], grader=GRADER)
    assert {p.field for p in report.errors} == {"answer", "meta.ids[1]"}
    with pytest.raises(TypeError, match="dict spec"):
        validate_dataset([GOOD], grader=json.dumps(GRADER))


# ---------------------------------------------------------------- lists and DataFrames


def test_list_input_uses_positions():
    report = validate_dataset([GOOD, "oops", {"messages": [], "answer": "4"}], kind="valid")
    assert report.file == "<rows>" and report.kind == "valid" and report.rows == 3
    assert [(p.line, p.file) for p in report.problems] == [(2, "<rows>"), (3, "<rows>")]
    assert "the row is a string, not a JSON object" in report.problems[0].message


def test_dataframe_input_keeps_index_labels():
    frame = pd.DataFrame(
        {
            "messages": [[USER], [{"role": "system", "content": "x"}, USER], [USER]],
            "answer": ["4", "5", None],
            "score": [1, 2, 3],  # numpy int64 cells
        },
        index=["q1", "q2", "q3"],
    )
    frame.loc["q3", "answer"] = float("nan")  # a missing cell, not a JSON null
    report = validate_dataset(frame, grader={**GRADER, "input": "{{ item.answer }}"})
    assert report.file == "<DataFrame>" and report.rows == 3
    assert report.item_keys == {"answer", "score"}
    role = [p for p in report.problems if p.field == "messages[0].role"][0]
    assert role.line == 2 and role.message.endswith("(index 'q2')")
    missing = [p for p in report.problems if p.field == "answer" and p.severity == "warning"][0]
    assert missing.line == 3 and "row 3 has index 'q3'" in missing.message
    variable = [p for p in report.problems if p.field == "answer" and p.severity == "error"][0]
    assert "does not resolve in 1 of 3 rows (line 3)" in variable.message
    assert not any("score" in p.message for p in report.problems)  # int64 is a number


# ---------------------------------------------------------------- the report object


def _sample_report() -> DatasetReport:
    rows = [
        {"messages": [{"role": "system", "content": "<b>x</b>"}, USER], "<script>": 1},
        {"messages": [USER]},
    ]
    return validate_dataset(rows)


def test_report_text_and_problem_str():
    report = _sample_report()
    text = str(report).splitlines()
    assert text[0] == "<rows> (train): 2 rows, 1 error, 1 warning - NOT ok"
    assert text[1].startswith("<rows>:1: error: messages[0].role: 'system'")
    assert text[2].startswith("<rows>:2: warning: rows disagree on item key `<script>`")
    assert str(Problem("f.jsonl", 3, "bad", "error")) == "f.jsonl:3: error: bad"
    assert "errors=1" in repr(report)


def test_report_html_is_escaped():
    html = _sample_report()._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("<tr>") == 3  # header + 2 problems
    assert "<td>" in html and "&#x27;system&#x27;" in html


def test_report_to_pandas():
    frame = _sample_report().to_pandas()
    assert list(frame.columns) == ["file", "line", "severity", "field", "message"]
    assert str(frame["line"].dtype) == "Int64" and frame["line"].tolist() == [1, 2]
    empty = validate_dataset([GOOD]).to_pandas()
    assert empty.empty and list(empty.columns) == list(frame.columns)


def test_raise_for_problems():
    report = _sample_report()
    with pytest.raises(DatasetValidationError) as info:
        report.raise_for_problems()
    message = str(info.value)
    assert isinstance(info.value, ValueError) and info.value.report is report
    assert "\n" not in message and message.endswith("(1 of 1 error)")
    assert message.startswith("<rows>:1: error: messages[0].role")
    ok = validate_dataset([{"messages": [USER], "a": 1}, {"messages": [USER]}])
    assert ok.ok and ok.warnings and ok.raise_for_problems() is ok


def test_problem_is_frozen():
    problem = Problem("f", 1, "m", "error", "messages")
    with pytest.raises(AttributeError):
        problem.line = 2  # type: ignore[misc]


# ---------------------------------------------------------------- robustness

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
ROW = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {
            "messages": st.lists(
                st.fixed_dictionaries(
                    {"role": st.sampled_from(["user", "developer", "assistant", "tool", "x"])},
                    optional={"content": JSON | st.text(max_size=5)},
                ),
                max_size=3,
            )
        },
        optional={"tools": JSON, "k": JSON},
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW, max_size=6))
def test_never_crashes_and_lines_are_in_range(rows: list[Any]):
    report = validate_dataset(rows, grader={**GRADER, "input": "{{ item.k.a[0] }}"})
    assert report.rows == len(rows)
    for problem in report.problems:
        assert problem.severity in ("error", "warning")
        assert problem.line is None or 1 <= problem.line <= len(rows)
        assert "\n" not in problem.message
    assert report.ok == (not report.errors)


# ---------------------------------------------------------------- real third-party files


def test_medmcq_with_its_own_grader_one_summary_problem():
    data = shared_file("medmcq", "medmcq_validation.jsonl")
    grader = shared_file("medmcq", "stringcheck_grader.json")
    report = validate_dataset(data, grader=grader, kind="valid")
    assert report.rows == 6150 and report.item_keys == set()
    (variable,) = report.errors
    assert variable.line == 1 and variable.field == "reference_answer"
    assert "{{ item.reference_answer }} does not resolve in 6,150 of 6,150 rows" in variable.message
    assert "(lines 1, 2, 3, 4, 5, ...)" in variable.message
    (limit,) = report.warnings  # 6,150 > OpenAI's 1,000 validation rows
    assert limit.line is None and "at most 1,000 validation rows" in limit.message


def test_medmcq_is_fast():
    data = shared_file("medmcq", "medmcq_validation.jsonl")
    grader = shared_file("medmcq", "stringcheck_grader.json")
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        validate_dataset(data, grader=grader, kind="valid")
        best = min(best, time.perf_counter() - start)
    assert best < 0.5, f"MedMCQ validation took {best:.3f}s"


@pytest.mark.parametrize("grader_name", ["multi_grader.json", "model_grader.json"])
def test_clause_matching_is_ok(grader_name: str):
    data = shared_file("clause_matching", "clause_matching_validation.jsonl")
    grader = shared_file("clause_matching", grader_name)
    report = validate_dataset(data, grader=grader, kind="valid")
    assert report.ok and report.problems == [], str(report)
    assert report.rows == 40 and report.item_keys == {"clause_type", "extracted_text"}


@pytest.mark.parametrize(
    ("name", "kind", "rows"),
    [("countdown_train_100.jsonl", "train", 100), ("countdown_valid_50.jsonl", "valid", 50)],
)
def test_countdown_is_ok(name: str, kind: str, rows: int):
    data = shared_file("countdown", name)
    grader = shared_file("countdown", "grader_config_aoai.json")
    report = validate_dataset(data, grader=grader, kind=kind)
    assert report.ok and report.problems == [], str(report)
    assert report.rows == rows and report.item_keys == {"target", "nums"}


def test_countdown_eval_file_is_not_rft_rows():
    data = shared_file("countdown", "countdown_eval_100.jsonl")
    grader = shared_file("countdown", "grader_config_aoai.json")
    report = validate_dataset(data, grader=grader, kind="valid")
    assert not report.ok and report.rows == 100
    first = report.problems[0]
    assert first.line == 1 and "100 of 100 rows look like an Evals data file" in first.message
    missing = [p for p in report.errors if p.field == "messages"]
    assert [p.line for p in missing] == list(range(1, 101))
    variables = {p.field: p for p in report.errors if "grader variable" in p.message}
    assert set(variables) == {"target", "nums"}
    assert "{{ item.item.target }}" in variables["target"].message


# ---------------------------------------------------------------- python graders' item keys

COUNTDOWN_PY = {
    "type": "python", "name": "countdown",
    "source": ("def grade(sample, item):\n"
               "    nums = item.get('nums', [])\n"
               "    target = item['target']\n"
               "    return float(str(target) in sample['output_text'] and bool(nums))\n"),
}


def test_a_key_a_python_grader_subscripts_is_checked_in_every_row():
    rows = [{"messages": [USER], "target": 4, "nums": [1]},
            {"messages": [USER], "targets": 4},
            {"messages": [USER], "targets": 5}]
    report = validate_dataset(rows, grader=COUNTDOWN_PY)
    read = [p for p in report.problems if "python grader" in p.message]
    assert len(read) == 1 and read[0].severity == "warning" and read[0].line == 2
    assert read[0].field == "target"
    assert ("python grader 'countdown' reads item['target'] (its line 3), which 2 of 3 rows "
            "lack (lines 2, 3)") in read[0].message
    assert "python_grader_runtime_error" in read[0].message
    assert "did you mean" not in read[0].message  # the key exists in other rows
    # item.get('nums') tolerates a missing key: not reported
    assert not any("'nums'" in p.message for p in read)


def test_a_python_read_suggests_the_close_key_and_is_not_repeated_for_templates():
    rows = [{"messages": [USER], "targets": 4}]
    report = validate_dataset(rows, grader=COUNTDOWN_PY)
    assert only(report, "warning").message.endswith("; did you mean item['targets']?")
    multi = {"type": "multi", "name": "m", "calculate_output": "a + b", "graders": {
        "a": COUNTDOWN_PY,
        "b": {"type": "string_check", "name": "b", "operation": "eq",
              "input": "{{ sample.output_text }}", "reference": "{{ item.target }}"}}}
    report = validate_dataset(rows, grader=multi)
    assert not any("python grader" in p.message for p in report.problems)
    assert "{{ item.target }} does not resolve" in only(report, "error").message


def test_rows_with_every_key_a_python_grader_reads_pass():
    rows = [{"messages": [USER], "target": 4}, {"messages": [USER], "target": 5}]
    assert validate_dataset(rows, grader=COUNTDOWN_PY).problems == []
    broken = {**COUNTDOWN_PY, "source": "def grade(sample, item):\n    return item['x'"}
    with pytest.raises(GraderValidationError):
        validate_dataset(rows, grader=broken)
