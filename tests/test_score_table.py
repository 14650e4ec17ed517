"""ScoreTable's Python side: traits, kernel-side paging / sorting / filtering, detail, fallbacks."""

from __future__ import annotations

import json
import math
import random

import pandas as pd
import pytest

import rft_jupyter as rft
from rft_jupyter.analysis import compare, probe
from rft_jupyter.graders.outcome import Outcome
from rft_jupyter.graders.result import GradeResult
from rft_jupyter.widgets import ScoreTable
from rft_jupyter.widgets.bundle import mimebundle, table_for
from rft_jupyter.widgets.fallbacks import JSON_ROWS, MIME_TYPE, static_bundle

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

EXACT = {
    "type": "string_check",
    "name": "exact",
    "input": "{{ sample.output_json.answer }}",
    "reference": "{{ item.answer }}",
    "operation": "eq",
    "pass_threshold": 1,
}
MULTI = {
    "type": "multi",
    "name": "combo",
    "graders": {
        "exact": {k: v for k, v in EXACT.items() if k != "pass_threshold"},
        "close": {
            "type": "text_similarity",
            "name": "close",
            "input": "{{ sample.output_json.answer }}",
            "reference": "{{ item.answer }}",
            "evaluation_metric": "fuzzy_match",
        },
    },
    "calculate_output": "0.5 * exact + 0.5 * close",
    "pass_threshold": 0.75,
}


def frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    answers = [rng.choice(["Paris", "Rome", "Madrid", "Berlin"]) for _ in range(n)]
    outputs = []
    for i, a in enumerate(answers):
        if i % 10 == 9:
            outputs.append("not json")  # output_json is None: invalid_variable_error
        else:
            guess = a if rng.random() < 0.6 else rng.choice(["Paris", "Rom", "Madrid", "Bern"])
            outputs.append(json.dumps({"answer": guess}))
    return pd.DataFrame(
        {"question": [f"capital #{i}?" for i in range(n)], "answer": answers, "output": outputs},
        index=pd.Index([f"q{i:03d}" for i in range(n)], name="qid"),
    )


@pytest.fixture(scope="module")
def result() -> GradeResult:
    return rft.grade(MULTI, frame(), sample="output")


@pytest.fixture
def table(result) -> ScoreTable:
    return ScoreTable(result, page_size=10)


def positions(t: ScoreTable) -> list[int]:
    return [r["pos"] for r in t.rows]


def test_traits_describe_the_table(table, result):
    meta = table.meta
    keys = [c["key"] for c in meta["columns"]]
    assert keys == ["#", "prompt", "input", "output", "reference", "reward", "passed",
                    "sub.exact", "sub.close", "status"]
    assert meta["rows"] == len(result) == 120
    cards = {c["label"]: c["value"] for c in meta["summary"]["cards"]}
    assert cards["rows"] == "120"
    assert cards["mean reward"] == f"{result.mean_reward:.4f}"
    assert cards["unscored"] == "12"
    assert meta["summary"]["chips"] == [
        {"value": "invalid_variable_error", "label": "invalid_variable_error", "count": 12,
         "tone": "error"}
    ]
    hist = meta["summary"]["histogram"]
    assert sum(hist["counts"]) == 108 and hist["edges"][0] == 0.0 and hist["edges"][-1] == 1.0
    assert {o["value"] for o in meta["filters"]["category"]["options"]} == {
        "__none__", "__any__", "invalid_variable_error"}
    view = table.view
    assert view["total"] == 120 and view["pages"] == 12 and len(view["rows"]) == 10
    first = view["rows"][0]
    assert first["cells"]["#"] == "q000" and first["cells"]["prompt"] == "capital #0?"
    assert first["cells"]["input"] == json.loads(frame()["output"].iloc[0])["answer"]


def test_every_payload_is_strict_json(table, result):
    table.expand(9)
    for payload in (table.meta, table.view, table.detail, static_bundle(table.table_view)):
        json.dumps(payload, allow_nan=False)  # NaN would break the browser's JSON.parse


def test_sorting_runs_in_the_kernel(table, result):
    rewards = result.rewards
    table.sort("reward", desc=True)
    top = [rewards[p] for p in positions(table)]
    assert top == sorted(top, reverse=True) and top[0] == max(rewards)
    table.sort("reward")
    assert [rewards[p] for p in positions(table)] == sorted(rewards)[:10]
    table.sort("reference")
    refs = [r["cells"]["reference"] for r in table.rows]
    assert refs == sorted(refs, key=str.casefold)
    table.sort("status", desc=True)
    assert all(r["cells"]["status"] == "invalid_variable_error" for r in table.rows)
    table.sort("#", desc=True)
    assert positions(table)[0] == 119
    with pytest.raises(ValueError, match="no column 'rewrd'; did you mean 'reward'"):
        table.sort("rewrd")


def test_equal_values_keep_row_order(table):
    table.sort("sub.exact")
    pos = positions(table.go_to(0))
    assert pos == sorted(pos)


def test_filters_and_paging(table, result):
    frame_ = result.to_pandas()
    table.filter(min=0.5, max=0.9)
    expected = frame_[(frame_["reward"] >= 0.5) & (frame_["reward"] <= 0.9)]
    assert table.view["total"] == len(expected)
    assert all(0.5 <= r["cells"]["reward"] <= 0.9 for r in table.rows)
    table.filter(flag=True)
    assert table.view["total"] == int(frame_["passed"].sum())
    table.filter(flag=False, category="__none__")
    assert table.view["total"] == int((~frame_["passed"] & frame_["error"].isna()).sum())
    table.filter(category="__any__")
    assert table.view["total"] == 12
    table.filter(category="invalid_variable_error", text="capital #19")
    assert [r["cells"]["#"] for r in table.rows] == ["q019"]
    table.filter(text="MADRID")  # case-insensitive, over output / reference / prompt
    assert table.view["total"] == int(
        (frame()["answer"].eq("Madrid") | frame()["output"].str.contains("Madrid")).sum())
    table.filter()
    table.go_to(99)
    assert table.view["page"] == 11 and len(table.rows) == 10
    table.filter(text="no such text anywhere")
    assert table.view["total"] == 0 and table.rows == [] and table.view["pages"] == 1


def test_a_request_from_the_browser_is_answered_with_its_seq(table):
    table.request = {"seq": 7, "page": 2, "page_size": 5, "sort": "reward", "desc": True,
                     "min": None, "max": None, "flag": None, "category": "", "text": ""}
    assert table.view["seq"] == 7 and table.view["page"] == 2 and len(table.rows) == 5
    table.request = {**table.request, "seq": 8, "min": "0.2", "max": "oops"}  # sloppy input
    assert table.view["seq"] == 8 and all(r["cells"]["reward"] >= 0.2 for r in table.rows)


def test_expanding_a_row_shows_what_the_grader_saw(table, result):
    detail = table.expand(3)
    assert detail["pos"] == 3
    titles = [s["title"] for s in detail["sections"]]
    assert titles == ["score", "rendered templates", "model output", "item"]
    rendered = dict(detail["sections"][1]["pairs"])
    assert rendered == result.row(3)["rendered"]
    assert set(rendered) == {"exact.input", "exact.reference", "close.input", "close.reference"}
    score = dict(detail["sections"][0]["pairs"])
    assert score["reward"] == f"{result.rewards[3]:.6f}" and "sub.close" in score
    broken = table.expand(9)  # "not json": the grader could not read sample.output_json
    error = broken["sections"][1]
    assert error["title"] == "unscored: invalid_variable_error" and error["tone"] == "error"
    assert "output_json" in error["text"]
    table.selected = 5  # as the browser sets it
    assert table.detail["pos"] == 5


def test_model_grader_reasoning_and_python_tracebacks_reach_the_detail():
    outcomes = [
        Outcome(0.8, details="result 0.8\nstep 1: the answer names the right city",
                scores={"result": 0.8}, sampled_model_name="o4-mini",
                token_usage={"o4-mini": {"prompt_tokens": 120, "completion_tokens": 30}},
                rendered={"input[0]": "You grade answers.", "input[1]": "Answer: Paris"}),
        Outcome.failed("python_grader_runtime_error", "KeyError: 'answer'",
                       python_grader_runtime_error_details="Traceback (most recent call last):"
                       "\n  File \"grader.py\", line 2, in grade\nKeyError: 'answer'"),
    ]
    spec = {"type": "score_model", "name": "judge", "model": "o4-mini",
            "input": [{"role": "user", "content": "{{ sample.output_text }}"}]}
    result = GradeResult(spec, [0, 1], [{"q": "a"}, {"q": "b"}], ["Paris", "Rome"], outcomes)
    table = ScoreTable(result)
    assert table.rows[0]["cells"]["input"] == "Answer: Paris"  # a model grader's last message
    notes = table.expand(0)["sections"]
    assert notes[1] == {"title": "grader notes", "kind": "pre",
                        "text": "result 0.8\nstep 1: the answer names the right city"}
    pairs = dict(notes[0]["pairs"])
    assert pairs["model"] == "o4-mini" and "completion_tokens" in pairs["tokens (o4-mini)"]
    trace = table.expand(1)["sections"][1]
    assert trace["title"] == "unscored: python_grader_runtime_error"
    assert trace["text"].startswith("Traceback (most recent call last):")
    assert trace["text"].endswith("KeyError: 'answer'")
    assert table.rows[1]["titles"]["status"] == "KeyError: 'answer'"


def test_mime_bundle_carries_static_fallbacks(table, result):
    data, metadata = table._repr_mimebundle_()
    assert data[WIDGET_MIME]["model_id"] == table.model_id
    assert data["text/plain"].startswith("<GradeResult combo: 120/120 rows")
    assert "q000" in data["text/plain"] and "… 110 more rows" in data["text/plain"]
    html = data["text/html"]
    assert "<table" in html and "capital #0?" in html and "unscored (invalid_variable_error)" \
        in html and "<script" not in html
    payload = data[MIME_TYPE]
    assert payload["version"] == 1 and payload["total"] == 120 and len(payload["rows"]) == 120
    assert payload["summary"]["cards"][0]["label"] == "rows"


def test_results_display_statically_outside_a_kernel(result):
    bundle = result._repr_mimebundle_()
    assert WIDGET_MIME not in bundle
    assert set(bundle) == {"text/plain", "text/html", MIME_TYPE}
    assert mimebundle(result) == bundle
    assert table_for(result) is table_for(result)  # one widget per displayed object


def test_a_large_table_sends_one_page():
    n = 100_000
    spec = {k: v for k, v in EXACT.items() if k != "input"} | {
        "input": "{{ sample.output_text }}"}
    outcomes = [Outcome(float(i % 3 == 0)) if i % 1000 else
                Outcome.failed("invalid_variable_error", "no key") for i in range(n)]
    result = GradeResult(spec, range(n), [{"answer": str(i)} for i in range(n)],
                         [str(i) for i in range(n)], outcomes)
    table = ScoreTable(result, page_size=50)
    assert table.view["total"] == n and len(table.rows) == 50
    assert len(json.dumps(table.view)) < 20_000  # a page, not the table
    assert len(json.dumps(table.meta)) < 10_000
    table.sort("reward", desc=True).filter(category="__none__")
    assert table.view["total"] == n - 100
    assert [r["cells"]["reward"] for r in table.rows] == [1.0] * 50
    table.filter(text="99999")
    assert [r["cells"]["#"] for r in table.rows] == ["99999"]
    saved = table._repr_mimebundle_()[0][MIME_TYPE]  # what a reopened notebook can sort
    assert saved["total"] == n and len(saved["rows"]) == JSON_ROWS == 200
    assert len(json.dumps(saved)) < 60_000


def test_comparison_table_starts_with_the_largest_differences(result):
    other = rft.grade({**MULTI, "calculate_output": "exact", "name": "strict"}, frame(),
                      sample="output")
    cmp = compare(result, other)
    table = ScoreTable(cmp, page_size=5)
    keys = [c["key"] for c in table.meta["columns"]]
    assert keys[:2] == ["#", "prompt"] and {"reward_a", "reward_b", "delta", "agree"} <= set(keys)
    deltas = [abs(r["cells"]["delta"]) for r in table.rows]
    assert deltas == sorted(deltas, reverse=True) and deltas[0] == max(abs(cmp.delta))
    assert table.meta["sort_labels"] == {"absdelta": "|Δ|"}
    labels = {c["label"] for c in table.meta["summary"]["cards"]}
    assert {"agreement", "pearson", "spearman"} <= labels
    sections = [s["title"] for s in table.expand(table.rows[0]["pos"])["sections"]]
    assert sections[:2] == ["combo", "strict"]
    assert static_bundle(table.table_view)["text/plain"].startswith("<Comparison combo vs strict")
    table.filter(flag=True)
    assert table.view["total"] == int((cmp.agree == 1).sum())
    table.filter(max=-0.1)
    assert table.view["total"] == int((cmp.delta <= -0.1).sum()) > 0


def test_probe_table_flags_the_risky_kinds():
    rows = [{"question": f"q{i}", "answer": a} for i, a in enumerate(["A", "B", "C", "D"])]
    like = {"type": "string_check", "name": "loose", "operation": "like",
            "input": "{{ sample.output_text }}", "reference": "{{ item.answer }}"}
    report = probe(like, rows)
    table = ScoreTable(report)
    cards = {c["label"]: c for c in table.meta["summary"]["cards"]}
    assert cards["padded_reference"]["tone"] == "error" and cards["empty"]["tone"] == "ok"
    assert table.meta["summary"]["note"].startswith("risky: padded_reference")
    table.filter(category="empty")
    assert table.view["total"] == 4 and all(r["cells"]["kind"] == "empty" for r in table.rows)
    table.filter(flag=True)
    assert all(r["tone"] == "error" for r in table.rows) and table.view["total"] == 16
    detail = table.expand(table.rows[0]["pos"])
    assert dict(detail["sections"][0]["pairs"])["flagged"] == "yes"
    text = static_bundle(table.table_view)["text/plain"]
    assert "RISKY" in text and "degenerate output" in text


def test_static_text_reads_in_a_terminal(result):
    text = static_bundle(ScoreTable(result).table_view)["text/plain"]
    lines = text.splitlines()
    assert lines[0] == repr(result)
    assert lines[1].split() == ["#", "grader", "input", "output", "reference", "reward",
                                "passed", "exact", "close", "status"]
    assert not math.isnan(result.mean_reward)


def test_the_front_end_is_shipped_as_plain_files():
    from rft_jupyter.widgets.score_table import STATIC

    esm = (STATIC / "score_table.js").read_text()
    css = (STATIC / "score_table.css").read_text()
    assert "export default { render }" in esm and "import " not in esm  # no CDN, no bundler
    assert "--jp-layout-color1" in css and "--jp-ui-font-color1" in css  # theme-aware
