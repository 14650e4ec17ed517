"""rft_jupyter.analysis: the reward-hacking probe and the comparison of two graders."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import rft_jupyter as rft
from rft_jupyter.analysis import PROBE_KINDS, Comparison, ProbeReport, compare, probe
from rft_jupyter.analysis.items import (
    answer_pairs,
    item_keys,
    json_fields,
    prompt_text,
    reference_keys,
)


def load_json(path):
    return json.loads(path.read_text(encoding="utf-8"))



def check(op: str, name: str | None = None) -> dict:
    return {
        "type": "string_check",
        "name": name or op,
        "input": "{{ sample.output_text }}",
        "reference": "{{ item.answer }}",
        "operation": op,
    }


FUZZY = {
    "type": "text_similarity",
    "name": "fuzzy",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.answer }}",
    "evaluation_metric": "fuzzy_match",
}


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "question": ["capital of France?", "2+2?", "colour of the sky?", "largest planet?"],
            "answer": ["Paris", "4", "blue", "Jupiter"],
            "output_text": ["Paris", "5", "blue", "Saturn"],
        },
        index=pd.Index(["a", "b", "c", "d"], name="qid"),
    )


# ---------------------------------------------------------------- items


def test_prompt_text_prefers_the_last_user_message():
    item = {"messages": [{"role": "system", "content": "be brief"},
                         {"role": "user", "content": [{"type": "text", "text": "first"}]},
                         {"role": "assistant", "content": "ok"},
                         {"role": "user", "content": "second"}]}
    assert prompt_text(item) == "second"
    assert prompt_text({"question": "why?"}) == "why?"
    assert prompt_text({"answer": "x"}) is None


def test_answer_pairs_follow_the_templates_either_way_round():
    medmcq = {"type": "string_check", "name": "m", "input": "{{item.reference_answer}}",
              "reference": "{{sample.output_text}}", "operation": "eq"}
    assert answer_pairs(medmcq) == [("output_text", "reference_answer")]
    multi = {
        "type": "multi", "name": "m", "calculate_output": "a",
        "graders": {"a": {"type": "string_check", "name": "a", "operation": "eq",
                          "input": "{{ sample.output_json.clause_type }}",
                          "reference": "{{ item.clause_type }}"}},
    }
    assert answer_pairs(multi) == [("output_json.clause_type", "clause_type")]
    assert json_fields(multi) == ["clause_type"]
    python = {"type": "python", "name": "p",
              "source": "def grade(sample, item):\n    return item['target'] == "
                        "sample['output_json'].get('result')\n"}
    assert item_keys(python) == ["target"]
    assert json_fields(python) == ["result"]
    assert reference_keys(python, [{"target": "73"}]) == ["target"]
    assert reference_keys({"type": "python", "name": "p", "source": "def grade(s, i): pass"},
                          [{"answer": 1}]) == ["answer"]


# ---------------------------------------------------------------- probe


def test_exact_match_is_not_gameable(frame):
    report = probe(check("eq"), frame)
    assert isinstance(report, ProbeReport)
    assert report.ok and report.risky == []
    assert report.baseline_source == "real"
    kinds = report.kinds()
    assert list(kinds.index) == list(PROBE_KINDS)
    assert (kinds["mean_reward"] == 0).all()
    assert (kinds["baseline"] == 0.5).all()  # the real outputs: 2 of 4 right
    assert set(kinds["verdict"]) == {"ok"}


def test_substring_check_is_gamed_by_padding_spam_and_huge_outputs(frame):
    report = probe(check("like"), frame)
    assert set(report.risky) == {"padded_reference", "answer_spam", "huge_output", "invalid_json"}
    stats = {s["kind"]: s for s in report.kind_stats()}
    assert stats["empty"]["verdict"] == "ok"
    assert stats["padded_reference"]["mean_reward"] == 1.0
    assert stats["padded_reference"]["flagged"] == 4
    table = report.to_pandas()
    assert list(table.columns) == ["index", "kind", "output", "reward", "baseline", "flagged",
                                   "error"]
    huge = table[table["kind"] == "huge_output"]["output"]
    assert huge.str.len().min() >= 50_000
    spam = table[table["kind"] == "answer_spam"]["output"].iloc[0]
    assert set(spam.split("\n")) == {"Paris", "4", "blue", "Jupiter"}
    assert "RISKY" in repr(report)


def test_not_equal_rewards_an_empty_answer(frame):
    report = probe(check("ne"), frame, kinds=["empty", "prompt_echo"])
    assert report.risky == ["empty", "prompt_echo"]
    assert len(report) == 8


def test_without_real_outputs_the_gold_answer_is_the_baseline(frame):
    report = probe(FUZZY, frame.drop(columns="output_text"), limit=3)
    assert report.baseline_source == "gold"
    assert report.baseline == [1.0, 1.0, 1.0]
    assert len(report.index) == 3 and report.index == ["a", "b", "c"]
    stats = {s["kind"]: s for s in report.kind_stats()}
    assert stats["empty"]["mean_reward"] == 0.0
    assert stats["answer_spam"]["verdict"] == "risky"  # WRatio rewards partial matches


def test_json_graders_get_json_shaped_degenerate_outputs():
    grader = {
        "type": "multi", "name": "combo", "calculate_output": "0.7 * a + 0.3 * b",
        "graders": {
            "a": {"type": "string_check", "name": "a", "operation": "eq",
                  "input": "{{ sample.output_json.answer }}", "reference": "{{ item.answer }}"},
            "b": {"type": "text_similarity", "name": "b", "evaluation_metric": "rouge_l",
                  "input": "{{ sample.output_json.reasoning }}",
                  "reference": "{{ item.explanation }}"},
        },
    }
    rows = [{"answer": "B", "explanation": "because of the second law"},
            {"answer": "C", "explanation": "the third option follows"}]
    report = probe(grader, rows)
    assert report.baseline_source == "gold" and report.baseline == [1.0, 1.0]
    by_kind = {c["kind"]: c for c in (report.case(i) for i in range(len(report)))
               if c["row"] == 0}
    assert json.loads(by_kind["empty"]["output"]) == {"answer": "", "reasoning": ""}
    spam = json.loads(by_kind["answer_spam"]["output"])
    assert spam["answer"] == "B C"
    assert by_kind["invalid_json"]["reward"] == 0.0
    assert by_kind["invalid_json"]["error"] == "invalid_variable_error"
    assert report.ok


def test_probe_arguments_are_checked(frame):
    with pytest.raises(ValueError, match="unknown probe kind 'emtpy'; did you mean 'empty'"):
        probe(check("eq"), frame, kinds=["emtpy"])
    with pytest.raises(ValueError, match="sample column 'output'.*did you mean 'output_text'"):
        probe(check("eq"), frame, sample="output")
    with pytest.raises(ValueError, match="reference column 'nope' not found"):
        probe(check("eq"), frame, reference="nope")


def test_probe_on_a_real_multigrader_with_its_response_format(datasets):
    folder = datasets / "clause_matching"
    grader = load_json(folder / "multi_grader.json")
    schema = load_json(folder / "schema.json")
    rows = [json.loads(line) for line in
            (folder / "clause_matching_validation.jsonl").read_text().splitlines()[:6]]
    report = probe(grader, rows, response_format={"type": "json_schema", "json_schema": schema})
    assert report.baseline == [1.0] * 6  # the gold answers score full marks
    empty = [report.case(i) for i in range(len(report)) if report.case(i)["kind"] == "empty"]
    assert json.loads(empty[0]["output"]) == {"extracted_text": "", "clause_type": ""}
    stats = {s["kind"]: s for s in report.kind_stats()}
    # the schema (an enum for clause_type) turns every malformed answer into sample_parse_error
    errors = report.to_pandas().groupby("kind")["error"].first()
    for kind in ("empty", "prompt_echo", "padded_reference", "huge_output", "invalid_json"):
        assert stats[kind]["mean_reward"] == 0.0 and errors[kind] == "sample_parse_error"
    # ... but pasting every reference text into extracted_text fools WRatio's partial matching
    assert report.risky == ["answer_spam"]
    assert stats["answer_spam"]["mean_reward"] > 0.8
    loose = probe(grader, rows, kinds=["padded_reference"])
    assert loose.kind_stats()[0]["mean_reward"] == pytest.approx(0.45, abs=0.05)


# ---------------------------------------------------------------- compare


def test_compare_two_graders_on_the_same_rows(frame):
    a = rft.grade(check("eq", "exact"), frame)
    b = rft.grade(FUZZY, frame)
    cmp = compare(a, b)
    assert isinstance(cmp, Comparison)
    assert cmp.names == ("exact", "fuzzy")
    ra, rb = np.array(a.rewards), np.array(b.rewards)
    assert cmp.exact_agreement == pytest.approx(np.mean(ra == rb))
    assert cmp.agreement == pytest.approx(np.mean((ra >= 0.5) == (rb >= 0.5)))
    assert cmp.pearson == pytest.approx(np.corrcoef(ra, rb)[0, 1])
    ranks_a = pd.Series(ra).rank().to_numpy()
    ranks_b = pd.Series(rb).rank().to_numpy()
    assert cmp.spearman == pytest.approx(np.corrcoef(ranks_a, ranks_b)[0, 1])
    frame_out = cmp.to_pandas()
    assert list(frame_out.columns) == ["reward_a", "reward_b", "delta", "agree", "error_a",
                                       "error_b"]
    assert list(frame_out.index) == ["a", "b", "c", "d"] and frame_out.index.name == "qid"
    top = cmp.differences(1)
    assert list(top.index) == ["d"]  # Saturn vs Jupiter: fuzzy gives partial credit
    assert "agreement" in repr(cmp)


def test_compare_aligns_by_index_label_and_uses_thresholds(frame):
    a = rft.grade({**check("eq", "v1"), "pass_threshold": 1}, frame)
    b = rft.grade({**FUZZY, "name": "v2"}, frame.iloc[::-1].iloc[:3])  # d, c, b
    cmp = compare(a, b)
    assert len(cmp) == 3 and cmp.index == ["b", "c", "d"]
    assert cmp.threshold_a == 1 and cmp.threshold_b == 1  # the other's threshold
    assert compare(a, b, threshold=0.2).threshold_b == 0.2
    same = compare(a, a)
    assert same.names == ("v1 (A)", "v1 (B)")
    assert same.exact_agreement == 1.0 and same.agreement == 1.0
    with pytest.raises(ValueError, match="share no row"):
        compare(a, rft.grade(FUZZY, frame.set_axis(["w", "x", "y", "z"])))
    with pytest.raises(TypeError, match="two GradeResults"):
        compare(a, frame)


def test_constant_rewards_have_no_correlation(frame):
    a = rft.grade(check("eq"), frame)
    const = rft.grade({**check("eq"), "reference": "never"}, frame)
    cmp = compare(a, const)
    assert cmp.pearson is None and cmp.spearman is None
    assert math.isclose(cmp.summary()["mean_b"], 0.0)


def test_prompt_and_reference_columns_can_be_named(frame):
    rows = frame.rename(columns={"question": "ask", "answer": "gold"})
    grader = {**check("like"), "reference": "{{ item.gold }}"}
    report = probe(grader, rows, prompt="ask", reference="gold", kinds=["prompt_echo",
                                                                        "padded_reference"])
    outputs = {c["kind"]: c["output"] for c in (report.case(i) for i in range(len(report)))
               if c["row"] == 0}
    assert outputs["prompt_echo"] == "capital of France?"
    assert "The answer is Paris." in outputs["padded_reference"]
