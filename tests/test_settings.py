"""Engine settings: validated, scoped, and honoured by text metrics (also in worker processes)."""

from __future__ import annotations

import pytest
from rapidfuzz import fuzz, utils

import rft_jupyter as rft
from rft_jupyter.graders.settings import configure, settings, using


def ts(metric):
    return {"type": "text_similarity", "name": "t", "input": "{{ sample.output_text }}",
            "reference": "{{ item.ref }}", "evaluation_metric": metric}


def test_defaults_and_validation():
    assert settings().tokenizer == "nltk" and settings().fuzzy_scorer == "WRatio"
    with pytest.raises(ValueError, match="not allowed"):
        configure(tokenizer="spacy")
    with pytest.raises(ValueError, match="unknown setting 'tokeniser'"):
        configure(tokeniser="nltk")
    with pytest.raises(ValueError, match="python_timeout"):
        configure(python_timeout=0)
    assert settings().tokenizer == "nltk"  # a refused change changes nothing


def test_using_is_scoped_and_honoured():
    a, b = "The cats sat.", "the cat sat"
    default = rft.run_grader(ts("fuzzy_match"), a, {"ref": b})["reward"]
    assert default == pytest.approx(fuzz.WRatio(a, b, processor=utils.default_process) / 100)
    with using(fuzzy_scorer="token_set_ratio"):
        changed = rft.run_grader(ts("fuzzy_match"), a, {"ref": b})["reward"]
    assert changed == pytest.approx(
        fuzz.token_set_ratio(a, b, processor=utils.default_process) / 100
    )
    assert rft.run_grader(ts("fuzzy_match"), a, {"ref": b})["reward"] == default


def test_tokenizer_and_stemmer_change_scores():
    a, b = "It isn't raining, (really).", "It is not raining really"
    nltk_score = rft.run_grader(ts("bleu"), a, {"ref": b})["reward"]
    with using(tokenizer="whitespace"):
        ws_score = rft.run_grader(ts("bleu"), a, {"ref": b})["reward"]
    assert nltk_score != ws_score
    a, b = "the runners were running", "the runner was run"
    plain = rft.run_grader(ts("rouge_1"), a, {"ref": b})["reward"]
    with using(rouge_stemmer=True):
        stemmed = rft.run_grader(ts("rouge_1"), a, {"ref": b})["reward"]
    assert stemmed > plain


def test_settings_reach_worker_processes():
    rows = [{"ref": f"the cat number {i}", "out": f"The Cats numbers {i}!"} for i in range(300)]
    with using(fuzzy_scorer="ratio"):
        pooled = rft.grade(ts("fuzzy_match"), rows, sample="out", parallel=True, workers=2)
        local = rft.grade(ts("fuzzy_match"), rows, sample="out", parallel=False)
    assert pooled.rewards == local.rewards
    expected = [fuzz.ratio(r["out"], r["ref"], processor=utils.default_process) / 100
                for r in rows]
    assert pooled.rewards == pytest.approx(expected)
