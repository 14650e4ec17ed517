"""Calibration: run probe cases locally and on the service's run endpoint, and compare.

The built-in cases (:func:`probe_cases`) cover what the service leaves undocumented: every
text_similarity metric on plain, identical, empty, unicode, punctuation, case and whitespace
texts; string_check operations on case, trailing spaces, substrings and Unicode casing; template
rendering of non-string values, nested paths, list indexes and missing variables; multigrader
formula precedence, ``^`` associativity, unary minus, min/max arity, functions and division by
zero. A case agrees when both sides give the same reward (within ``tolerance``) and the same
error flags, or when both refuse it.
"""

from __future__ import annotations

import concurrent.futures
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .metrics import METRICS as TEXT_METRICS
from .outcome import DETAIL_KEYS
from .remote import RemoteGraderError, run_remote


@dataclass(frozen=True)
class ProbeCase:
    """One grader, sample and item to run on both sides."""

    name: str
    grader: dict
    sample: str
    item: dict | None = None
    topic: str = ""


@dataclass(frozen=True)
class CaseResult:
    """Both sides of one case; ``reason`` says why they disagree (None when they agree)."""

    case: str
    topic: str
    local_reward: float | None
    remote_reward: float | None
    local_errors: tuple[str, ...] = ()
    remote_errors: tuple[str, ...] = ()
    local_exception: str | None = None
    remote_exception: str | None = None
    reason: str | None = None

    @property
    def diff(self) -> float | None:
        if self.local_reward is None or self.remote_reward is None:
            return None
        return abs(self.local_reward - self.remote_reward)

    @property
    def agree(self) -> bool:
        return self.reason is None


@dataclass
class CalibrationReport:
    """Per-case results of :func:`calibrate`."""

    results: list[CaseResult] = field(default_factory=list)
    tolerance: float = 1e-6

    @property
    def ok(self) -> bool:
        """Every case agrees."""
        return all(r.agree for r in self.results)

    @property
    def disagreements(self) -> list[CaseResult]:
        return [r for r in self.results if not r.agree]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self):
        return iter(self.results)

    def to_pandas(self):
        """One row per case (index ``case``): rewards, |diff|, flags and exceptions of both
        sides, ``agree`` and ``reason``."""
        import pandas as pd

        rows = [
            {
                "case": r.case,
                "topic": r.topic,
                "local_reward": r.local_reward,
                "remote_reward": r.remote_reward,
                "diff": r.diff,
                "local_errors": ", ".join(r.local_errors) or None,
                "remote_errors": ", ".join(r.remote_errors) or None,
                "local_exception": r.local_exception,
                "remote_exception": r.remote_exception,
                "agree": r.agree,
                "reason": r.reason,
            }
            for r in self.results
        ]
        return pd.DataFrame(rows).set_index("case") if rows else pd.DataFrame()

    def __str__(self) -> str:
        bad = self.disagreements
        head = (
            f"calibration: {len(self.results)} cases, {len(self.results) - len(bad)} agree, "
            f"{len(bad)} disagree (tolerance {self.tolerance:g})"
        )
        return "\n".join([head, *(f"  {r.case}: {r.reason}" for r in bad)])

    __repr__ = __str__


# ---------------------------------------------------------------- probe cases

_TEXTS = {
    "plain": ("The quick brown fox jumps over the lazy dog",
              "A quick brown fox jumped over the lazy dog"),
    "identical": ("The answer is 42.", "The answer is 42."),
    "empty_input": ("", "The answer is 42."),
    "empty_reference": ("The answer is 42.", ""),
    "unicode": ("Café naïve — 東京の天気は晴れ", "Cafe naive - 東京の天気は晴れです"),
    "punctuation": ("Hello, world! It's (really) fine...", "Hello world its really fine"),
    "case": ("THE CAT SAT ON THE MAT", "the cat sat on the mat"),
    "whitespace": ("  spaced   out\ttext \n", "spaced out text"),
}

_STRING_CHECKS = [
    ("eq_exact", "eq", "Paris", "Paris"),
    ("eq_case", "eq", "paris", "Paris"),
    ("eq_trailing_space", "eq", "Paris ", "Paris"),
    ("eq_both_empty", "eq", "", ""),
    ("eq_unicode_normalization", "eq", "caf\u00e9", "cafe\u0301"),
    ("ne_different", "ne", "Paris", "Lyon"),
    ("ne_same", "ne", "Paris", "Paris"),
    ("like_substring", "like", "The capital is Paris.", "Paris"),
    ("like_case", "like", "the capital is paris", "Paris"),
    ("like_empty_reference", "like", "anything", ""),
    ("ilike_case", "ilike", "THE CAPITAL IS PARIS", "paris"),
    ("ilike_sharp_s", "ilike", "STRASSE", "straße"),
    ("ilike_dotted_capital_i", "ilike", "İSTANBUL", "istanbul"),
]

# (name, input template, expected rendering, item, sample)
_TEMPLATES: list[tuple[str, str, str, dict, str]] = [
    ("int", "{{ item.v }}", "3", {"v": 3}, ""),
    ("float", "{{ item.v }}", "1.0", {"v": 1.0}, ""),
    ("small_float", "{{ item.v }}", "1e-07", {"v": 1e-7}, ""),
    ("bool", "{{ item.v }}", "true", {"v": True}, ""),
    ("null", "{{ item.v }}", "null", {"v": None}, ""),
    ("object", "{{ item.v }}", '{"a": 1, "b": [1, 2]}', {"v": {"a": 1, "b": [1, 2]}}, ""),
    ("unicode_object", "{{ item.v }}", '{"s": "é"}', {"v": {"s": "é"}}, ""),
    ("list", "{{ item.v }}", '[1, "two", null]', {"v": [1, "two", None]}, ""),
    ("digit_string", "{{ item.v }}", "007", {"v": "007"}, ""),
    ("nested_path", "{{ item.a.b[0].c }}", "deep", {"a": {"b": [{"c": "deep"}]}}, ""),
    ("no_spaces", "{{item.v}}", "x", {"v": "x"}, ""),
    ("text_around", "<{{ item.v }}|{{ item.w }}>", "<1|two>", {"v": 1, "w": "two"}, ""),
    ("lone_braces", "{{ not closed", "{{ not closed", {}, ""),
    ("sample_json_index", "{{ sample.output_json[1] }}", "y", {}, '["x", "y"]'),
    ("sample_json_object", "{{ sample.output_json }}", '{"a": 1}', {}, '{"a":1}'),
    ("missing_variable", "{{ item.missing }}", "", {"v": 1}, ""),
    ("index_out_of_range", "{{ item.v[5] }}", "", {"v": [1, 2]}, ""),
    ("field_of_string", "{{ item.v.x }}", "", {"v": "text"}, ""),
]

_FORMULAS = [
    ("precedence", "2 + 3 * 4 - 6 / 2"),
    ("power_right_associative", "2 ^ 3 ^ 2"),
    ("unary_minus_power", "-2 ^ 2"),
    ("parenthesised_power", "(one + one) ^ 3"),
    ("unary_minus_variable", "-one"),
    ("double_minus", "one - -one"),
    ("times_negative", "2 * -3"),
    ("true_division", "10 / 4"),
    ("weights", "0.5 * one + 0.5 * zero"),
    ("min_one_argument", "min(one)"),
    ("max_three_arguments", "max(zero, one, 0.5)"),
    ("min_four_arguments", "min(3, one, 2, zero)"),
    ("abs_floor_ceil", "abs(-3) + floor(2.7) + ceil(2.1)"),
    ("sqrt_exp_log", "sqrt(16) + exp(zero) + log(one)"),
    ("division_by_zero", "one / zero"),
    ("log_of_zero", "log(zero)"),
    ("sqrt_of_negative", "sqrt(-one)"),
]


def _check(name: str, op: str, input_: str = "{{ sample.output_text }}",
           reference: str = "{{ item.reference }}") -> dict:
    return {"type": "string_check", "name": name, "input": input_, "reference": reference,
            "operation": op}


def probe_cases() -> list[ProbeCase]:
    """The built-in calibration cases."""
    cases: list[ProbeCase] = []
    for metric in TEXT_METRICS:
        for label, (hyp, ref) in _TEXTS.items():
            grader = {
                "type": "text_similarity",
                "name": f"sim_{metric}",
                "input": "{{ sample.output_text }}",
                "reference": "{{ item.reference }}",
                "evaluation_metric": metric,
            }
            cases.append(ProbeCase(f"text_similarity/{metric}/{label}", grader, hyp,
                                   {"reference": ref}, "text_similarity"))
    for label, op, hyp, ref in _STRING_CHECKS:
        cases.append(ProbeCase(f"string_check/{label}", _check(label, op), hyp,
                               {"reference": ref}, "string_check"))
    for label, template, expected, item, sample in _TEMPLATES:
        grader = _check(label, "eq", template, expected)
        cases.append(ProbeCase(f"templates/{label}", grader, sample, item, "templates"))
    subs = {"one": _check("one", "eq", "a", "a"), "zero": _check("zero", "eq", "a", "b")}
    for label, formula in _FORMULAS:
        grader = {"type": "multi", "name": label, "graders": subs, "calculate_output": formula}
        cases.append(ProbeCase(f"multi/{label}", grader, "", {}, "multi"))
    return cases


# ---------------------------------------------------------------- running


def _flags(response: dict) -> tuple[str, ...]:
    errors = (response.get("metadata") or {}).get("errors") or {}
    return tuple(sorted(k for k, v in errors.items() if v is True and k not in DETAIL_KEYS))


def _reward(response: dict) -> float | None:
    value = response.get("reward")
    return float(value) if isinstance(value, (int, float)) else None


def _run_local(case: ProbeCase) -> tuple[dict | None, str | None]:
    from .run import run_grader

    try:
        return run_grader(case.grader, case.sample, case.item), None
    except Exception as exc:  # noqa: BLE001 - reported per case
        return None, f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _run_remote(client: Any, case: ProbeCase) -> tuple[dict | None, str | None]:
    try:
        return run_remote(client, case.grader, case.sample, case.item), None
    except RemoteGraderError as exc:
        return None, str(exc)


def _compare(case: ProbeCase, local, local_exc, remote, remote_exc, tol: float) -> CaseResult:
    lr = _reward(local) if local else None
    rr = _reward(remote) if remote else None
    lf = _flags(local) if local else ()
    rf = _flags(remote) if remote else ()
    reason = None
    if local_exc and remote_exc:
        reason = None  # both refuse the case
    elif local_exc:
        reason = f"local raised {local_exc}; remote reward {rr}"
    elif remote_exc:
        reason = f"remote refused ({remote_exc}); local reward {lr}"
    elif lr is None or rr is None or not math.isclose(lr, rr, rel_tol=0.0, abs_tol=tol):
        reason = f"local {lr} vs remote {rr}"
    elif lf != rf:
        reason = f"error flags differ: local {list(lf)} vs remote {list(rf)}"
    return CaseResult(case.name, case.topic, lr, rr, lf, rf, local_exc, remote_exc, reason)


def calibrate(
    client: Any,
    cases: Iterable[ProbeCase] | None = None,
    *,
    tolerance: float = 1e-6,
    max_in_flight: int = 8,
) -> CalibrationReport:
    """Run ``cases`` (default: :func:`probe_cases`) locally and on the service's run endpoint
    through ``client`` (an ``openai.OpenAI`` / ``AzureOpenAI``); report where they differ."""
    chosen: Sequence[ProbeCase] = list(cases) if cases is not None else probe_cases()
    workers = max(1, min(max_in_flight, len(chosen)))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="rft-calib") as pool:
        remote_futures = [pool.submit(_run_remote, client, c) for c in chosen]
        local = [_run_local(c) for c in chosen]
        remote = [f.result() for f in remote_futures]
    results = [
        _compare(c, lo, lo_exc, re, re_exc, tolerance)
        for c, (lo, lo_exc), (re, re_exc) in zip(chosen, local, remote)
    ]
    return CalibrationReport(results, tolerance)


__all__ = ["CalibrationReport", "CaseResult", "ProbeCase", "calibrate", "probe_cases"]
