"""Text metrics: the fast path equals the reference library calls (semantics.md, text_similarity).

METEOR needs WordNet 3.0: `make install` puts it in the venv, so these tests FAIL (not skip)
without it; only the missing-WordNet message is tested with WordNet hidden (in a subprocess).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rft_jupyter.graders.errors import MetricUnavailableError
from rft_jupyter.graders.metrics import METRICS, clear_caches, score, score_batch
from rft_jupyter.graders.metrics import tokenize as tk
from rft_jupyter.graders.metrics.reference import reference_score, reference_tokens

TOL = 1e-9


@pytest.fixture(scope="module")
def wordnet() -> None:
    """WordNet 3.0 must be installed (set-up runs `rft-jupyter install-wordnet`)."""
    from rft_jupyter.graders.wordnet import ensure_wordnet

    try:
        ensure_wordnet()
    except MetricUnavailableError as exc:
        pytest.fail(f"WordNet is required for METEOR tests: {exc}")


def _needs(metric: str, request: pytest.FixtureRequest) -> None:
    if metric == "meteor":
        request.getfixturevalue("wordnet")


# --------------------------------------------------------------------------- the contract


def test_metric_names() -> None:
    assert METRICS == (
        "fuzzy_match",
        "bleu",
        "gleu",
        "meteor",
        "rouge_1",
        "rouge_2",
        "rouge_3",
        "rouge_4",
        "rouge_5",
        "rouge_l",
    )


@pytest.mark.parametrize("call", ["score", "score_batch", "reference_score"])
def test_unknown_metric_names_the_allowed_ones(call: str) -> None:
    with pytest.raises(ValueError) as info:
        if call == "score":
            score("cosine", "a", "b")
        elif call == "score_batch":
            score_batch("bleu4", ["a"], ["b"])
        else:
            reference_score("rouge", "a", "b")
    message = str(info.value)
    assert "unknown text metric" in message
    assert "fuzzy_match" in message and "rouge_l" in message


def test_score_batch_needs_equal_lengths() -> None:
    with pytest.raises(ValueError, match="as many inputs as references"):
        score_batch("bleu", ["a", "b"], ["a"])


def test_score_batch_of_nothing() -> None:
    assert all(score_batch(m, [], []) == [] for m in METRICS if m != "meteor")


# --------------------------------------------------------------------------- table cases

LONG = " ".join(
    random.Random(7).choice(
        "the of and a to in is was for on that with as by patients treatment dose".split()
    )
    for _ in range(400)
)
CASES = {
    "empty input": ("", "The cat sat on the mat."),
    "empty reference": ("The cat sat on the mat.", ""),
    "both empty": ("", ""),
    "whitespace only": ("   \n", "The cat sat."),
    "identical": (
        "The quick brown fox jumps over the lazy dog.",
        "The quick brown fox jumps over the lazy dog.",
    ),
    "disjoint": ("alpha beta gamma", "xyz quv"),
    "single token": ("yes", "yes"),
    "single vs two": ("yes", "yes sir"),
    "case differences": ("THE CAT SAT ON THE MAT", "the cat sat on the mat"),
    "punctuation": ('He said, "No!" (twice)... then: left; fine?', "He said no twice, then left."),
    "only punctuation": ("?!...", ".,;"),
    "unicode": ("Café naïve über — «ça va?» 東京 est grand", "Le café est naïf — ça va… 東京!"),
    "contractions": ("I can't, won't and cannot go; 'tis gonna rain", "I cannot go, it rains."),
    "quotes at the start": ('"Hello," she said.', "``Hello,'' she said."),
    "final closers": ("It ended. ')", 'It ended. "'),
    "newlines and tabs": ("first line\nsecond\tline.\n\n", "first line second line."),
    "numbers": ("Pay $3.88 (or 3,36 euros) by 12:30.", "Pay 3.88 dollars by 12:30"),
    "synonyms and stems": ("the dogs were running quickly", "a hound runs fast"),
    "repeated words": ("the the the the the the the", "the cat is on the mat"),
    "very long": (LONG, LONG[::-1]),
    "very long vs itself": (LONG, LONG),
}


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("case", list(CASES))
def test_table_case_matches_reference(metric: str, case: str, request) -> None:
    _needs(metric, request)
    a, b = CASES[case]
    expected = reference_score(metric, a, b)
    got = score(metric, a, b)
    assert isinstance(got, float)
    assert abs(got - expected) <= TOL, (metric, case, got, expected)
    assert 0.0 <= got <= 1.0
    if not a or not b:
        assert got == 0.0


@pytest.mark.parametrize("metric", [m for m in METRICS if m != "meteor"])
def test_identical_text_scores_one(metric: str) -> None:
    a, _ = CASES["identical"]
    assert score(metric, a, a) == pytest.approx(1.0)


@pytest.mark.parametrize("metric", [m for m in METRICS if m != "fuzzy_match"])
def test_disjoint_text_scores_zero(metric: str, request) -> None:
    _needs(metric, request)
    assert score(metric, *CASES["disjoint"]) == 0.0


def test_batch_equals_single_calls_in_one_table(wordnet) -> None:
    inputs = [a for a, _ in CASES.values()]
    refs = [b for _, b in CASES.values()]
    for metric in METRICS:
        batch = score_batch(metric, inputs, refs)
        assert batch == [score(metric, a, b) for a, b in zip(inputs, refs)], metric


def test_meteor_uses_stems_and_synonyms(wordnet) -> None:
    hyp, ref = "the big car was running home", "the big auto was run home"
    assert score("meteor", hyp, ref) == reference_score("meteor", hyp, ref)
    # running~run (same Porter stem), car~auto (WordNet synonyms): all six words match, in order
    assert score("meteor", hyp, ref) > 0.99


def test_wordnet_lemma_names_match_nltk_synsets(wordnet) -> None:
    """METEOR's direct read of lemma names equals nltk's ``synsets(w)`` -> ``lemmas()``."""
    from nltk.corpus import wordnet as wn

    from rft_jupyter.graders.metrics import meteor

    reader = meteor._LemmaNames(wn)
    rnd = random.Random(5)
    lemmas = sorted(k for k in wn._lemma_pos_offset_map if k)
    words = rnd.sample(lemmas, 1500)
    words += [w + suffix for w in words[:300] for suffix in ("s", "es", "ed", "ing", "er")]
    words += ["dogs", "running", "better", "geese", "ran", "'s", ".", "u.s.", "café", "CAR", ""]
    for word in words:
        expected = {lemma.name() for synset in wn.synsets(word) for lemma in synset.lemmas()}
        assert reader.synonyms(word) == expected, word


# --------------------------------------------------------------------------- property tests

WORDS = [
    "the", "The", "a", "dog", "dogs", "hound", "cat", "cats", "sat", "sits", "run", "running",
    "ran", "quick", "quickly", "fast", "big", "large", "car", "automobile", "happy", "glad",
    "is", "was", "not", "cannot", "CANNOT", "gonna", "wanna", "can't", "don't", "it's",
    "John's", "'tis", "New", "York", "U.S.", "e.g.", "3.5", "1,000", "12:30", "café", "naïve",
    "東京", ".", ",", ";", ":", "!", "?", "...", "(", ")", "[", "]", '"', "'", "``", "''", "--",
    "—", "–", "«", "»", "“", "”", "‘", "’", "$", "%", "&", "*", "@",
]  # fmt: skip
SEPARATORS = [" ", " ", " ", " ", "", "  ", "\n", "\t", "\n\n", " \n", "\xa0", "\u3000"]


@st.composite
def texts(draw: st.DrawFn, max_words: int = 30) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), max_size=max_words))
    out = draw(st.sampled_from(["", "", " ", "\n"]))
    for word in words:
        out += word + draw(st.sampled_from(SEPARATORS))
    return out


@st.composite
def pairs(draw: st.DrawFn) -> tuple[str, str]:
    """(input, reference): unrelated texts, or a reference and an edited copy of it."""
    reference = draw(texts())
    if draw(st.booleans()):
        return draw(texts()), reference
    words = reference.split(" ")
    for _ in range(draw(st.integers(0, 4))):
        if not words:
            break
        i = draw(st.integers(0, len(words) - 1))
        op = draw(st.sampled_from(["drop", "swap", "insert", "upper"]))
        if op == "drop":
            del words[i]
        elif op == "swap" and i + 1 < len(words):
            words[i], words[i + 1] = words[i + 1], words[i]
        elif op == "insert":
            words.insert(i, draw(st.sampled_from(WORDS)))
        else:
            words[i] = words[i].upper()
    return " ".join(words), reference


PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("metric", METRICS)
def test_property_score_equals_reference(metric: str, request) -> None:
    _needs(metric, request)

    @PROPERTY
    @given(pairs())
    def check(pair: tuple[str, str]) -> None:
        a, b = pair
        expected = reference_score(metric, a, b)
        assert abs(score(metric, a, b) - expected) <= TOL, (a, b)

    check()


@pytest.mark.parametrize("metric", METRICS)
def test_property_batch_equals_reference(metric: str, request) -> None:
    _needs(metric, request)

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(pairs(), max_size=12))
    def check(batch: list[tuple[str, str]]) -> None:
        clear_caches()
        inputs = [a for a, _ in batch]
        refs = [b for _, b in batch]
        got = score_batch(metric, inputs, refs)
        expected = [reference_score(metric, a, b) for a, b in batch]
        assert len(got) == len(expected)
        assert all(abs(x - y) <= TOL for x, y in zip(got, expected))

    check()


# Characters and pieces the Treebank rules treat specially, plus every kind of whitespace.
TRICKY = list(
    "aAbtsnTIé_ß3٣ı.,:;?!()[]{}<>-'\"`«»“”‘’„*@#$%&…\u2012\u2013\u2014\u2015/\\"
    " \n\t\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000"
) + [
    "can", "not", "cannot", "CanNot", "gon", "na", "wanna ", "gimme", "lemme", "gotta",
    "d'ye", "more'n", "'t", "'tis", "is", "was", "'s", "'S", "'ll", "'re", "'ve", "'m", "'d",
    "n't", "N'T", "...", "..", "--", "''", "``", " . ", '. "', ". ')", "ſ", "\u212a",
]  # fmt: skip
tricky_text = st.lists(st.sampled_from(TRICKY), max_size=16).map("".join)


@settings(max_examples=2500, deadline=None)
@given(tricky_text)
def test_property_fast_tokenizer_is_nltk(text: str) -> None:
    expected = reference_tokens(text)
    assert tk.treebank_tokens(text) == expected
    assert tk.nltk_tokens(text) == expected
    assert tk.nltk_tokens(text) == expected  # again, from the memo


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_property_fast_tokenizer_any_unicode(text: str) -> None:
    assert tk.nltk_tokens(text) == reference_tokens(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(tricky_text, min_size=1, max_size=6))
def test_property_tokenizer_memo_is_context_free(chunks: list[str]) -> None:
    """The same chunks in different texts, in any order, with the memo warm or cold."""
    for text in (" ".join(chunks), "\n".join(reversed(chunks)), "x " + " y ".join(chunks)):
        assert tk.nltk_tokens(text) == reference_tokens(text)
    clear_caches()
    text = " ".join(chunks)
    assert tk.nltk_tokens(text) == reference_tokens(text)


def test_chunk_shapes_match_nltk() -> None:
    """The shortcut shapes (plain words, brackets, marks, clitics) in every kind of context."""
    import itertools

    bodies = ["word", "I", "42", "9.9", "U.S", "well-known", "and/or", "cannot", "x-wanna", "do"]
    ends = ["", ")", "'s", "n't", "'LL", "'t", "'Ll"]
    marks = ["", ".", ",", ";", ":", "?", "..."]
    contexts = ["{}", "x {} y", "x {}", "x\n{}\ny", "x {}\x1cy", "x {} )", "x\t{}\n"]
    clear_caches()
    for body, opening, end, mark in itertools.product(bodies, ["", "("], ends, marks):
        chunk = opening + body + end + mark
        for context in contexts:
            text = context.format(chunk)
            assert tk.nltk_tokens(text) == reference_tokens(text), text


def test_treebank_pipeline_is_nltks() -> None:
    """The skip-a-pass pipeline recognised nltk's rules (else it would defer to nltk)."""
    assert tk._PIPELINE is not None


@settings(max_examples=300, deadline=None)
@given(st.one_of(tricky_text, st.text(max_size=40)))
def test_property_rouge_tokens(text: str) -> None:
    from rouge_score import tokenizers

    expected = tokenizers.DefaultTokenizer(False).tokenize(text)
    assert tk.rouge_tokens(text) == expected
    assert tk.rouge_token_bytes(text) == [t.encode("ascii") for t in expected]


# --------------------------------------------------------------------------- real datasets


def _dataset_texts(root: Path) -> list[str]:
    """Every string (messages, answers, other item fields) of ``root/*/*.jsonl``."""
    out: list[str] = []

    def walk(value) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    files = sorted(root.glob("*/*.jsonl"))
    if not files:
        pytest.skip(f"no *.jsonl files under {root}")
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                walk(json.loads(line))
    return out


def test_datasets_tokenize_like_nltk(datasets: Path) -> None:
    texts = _dataset_texts(datasets)
    clear_caches()
    bad = [t for t in texts if tk.nltk_tokens(t) != reference_tokens(t)]
    assert not bad, f"{len(bad)} of {len(texts)} texts differ, e.g. {bad[0][:200]!r}"


def test_datasets_metrics_match_reference(datasets: Path, wordnet) -> None:
    texts = [t for t in _dataset_texts(datasets) if 0 < len(t) <= 1500]
    rnd = random.Random(3)
    chosen = rnd.sample(texts, min(150, len(texts)))
    inputs, refs = [], []
    for text in chosen:
        words = text.split(" ")
        head = words[: len(words) // 3]
        rnd.shuffle(head)
        words[: len(head)] = head
        inputs.append(" ".join(w for w in words if rnd.random() > 0.1))
        refs.append(text)
    inputs += chosen[1:] + chosen[:1]  # unrelated pairs too
    refs += chosen
    clear_caches()
    for metric in METRICS:
        got = score_batch(metric, inputs, refs)
        expected = [reference_score(metric, a, b) for a, b in zip(inputs, refs)]
        worst = max(abs(x - y) for x, y in zip(got, expected))
        assert worst <= TOL, (metric, worst)


# --------------------------------------------------------------------------- WordNet missing


def test_meteor_without_wordnet_fails_with_the_install_command(tmp_path: Path) -> None:
    empty = tmp_path / "nltk_data"
    empty.mkdir()
    code = textwrap.dedent(
        f"""
        import nltk
        nltk.data.path[:] = [{str(empty)!r}]
        from rft_jupyter.graders.errors import MetricUnavailableError
        from rft_jupyter.graders.metrics import score, score_batch
        from rft_jupyter.graders.metrics.reference import reference_score
        for call in (lambda: score("meteor", "a dog", "a hound"),
                     lambda: score_batch("meteor", ["a dog"], ["a hound"]),
                     lambda: reference_score("meteor", "a dog", "a hound")):
            try:
                call()
            except MetricUnavailableError as exc:
                print(exc)
            else:
                print("NO ERROR")
        print(score("rouge_1", "a dog", "a dog"))
        """
    )
    env = {"RFT_JUPYTER_NLTK_DATA": str(empty), "NLTK_DATA": str(empty), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 4, proc.stdout
    for line in lines[:3]:
        assert line.startswith("METEOR needs WordNet 3.0"), line
        assert "`rft-jupyter install-wordnet`" in line
    assert float(lines[3]) == 1.0  # the other metrics do not need WordNet
