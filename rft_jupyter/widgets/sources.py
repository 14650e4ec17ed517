"""Score tables of the things rft-jupyter shows: a grading result, a comparison, a probe report.

``view_of(obj)`` turns a :class:`GradeResult`, :class:`Comparison` or :class:`ProbeReport` into a
:class:`TableView` — the kernel-side :class:`Table` plus the summary, filters and titles the
browser draws. No widget code here (the static fallbacks use it too).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ..analysis.compare import Comparison
from ..analysis.items import (
    clip,
    dumps,
    prompt_text,
    reference_keys,
    reference_text,
    single_variable,
)
from ..analysis.probe import KIND_HELP, RISKY, WATCH, ProbeReport
from ..graders.result import GradeResult
from ..graders.runners import cached_runner
from ..graders.sample import SampleParseError, build_sample
from ..graders.templates import to_text
from .table import Column, Table, category_codes, histogram

DETAIL_CHARS = 20_000
_FIELD = re.compile(r"(?:(.*)\.)?(input|reference)(?:\[.*)?\Z")


@dataclass
class TableView:
    """A :class:`Table` with what surrounds it: title, summary, filters, plain-text summary."""

    kind: str
    title: str
    table: Table
    summary: dict[str, Any]
    filters: dict[str, Any]
    text: str
    sort_labels: dict[str, str] = field(default_factory=dict)

    def meta(self) -> dict[str, Any]:
        """What the browser needs once: columns, filters, summary."""
        return {
            "kind": self.kind,
            "title": self.title,
            "rows": self.table.n,
            "columns": [c.to_json() for c in self.table.columns],
            "filters": self.filters,
            "summary": self.summary,
            "sort_labels": self.sort_labels,
        }


def view_of(obj: Any, title: str | None = None) -> TableView:
    """The table view of a GradeResult, Comparison or ProbeReport."""
    if isinstance(obj, GradeResult):
        return grade_view(obj, title)
    if isinstance(obj, Comparison):
        return compare_view(obj, title)
    if isinstance(obj, ProbeReport):
        return probe_view(obj, title)
    raise TypeError(
        f"a score table shows a GradeResult, a Comparison or a ProbeReport, not "
        f"{type(obj).__name__}"
    )


# ---------------------------------------------------------------- shared pieces


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _card(label: str, value: str, tone: str = "", title: str = "", sub: str = "") -> dict:
    return {"label": label, "value": value, "tone": tone, "title": title, "sub": sub}


def _output_text(sample: Any) -> str:
    return sample if isinstance(sample, str) else to_text(sample)


def _pretty_output(sample: Any) -> str:
    if isinstance(sample, str):
        head = sample.lstrip()[:1]
        if head in ("{", "["):
            try:
                return dumps(json.loads(sample), limit=DETAIL_CHARS)
            except ValueError:
                pass
        return clip(sample, DETAIL_CHARS)
    return dumps(sample, limit=DETAIL_CHARS)


def _label(value: Any) -> str:
    return str(value)


def _status_title(o: Any) -> str | None:
    return o.details if o is not None and o.errors else None


def _status_of(o: Any) -> str | None:
    if o is None:
        return "not_graded"
    return o.error if o.errors else None


def _orientation(spec: Mapping[str, Any]) -> dict[str, bool]:
    """Per grader prefix: whether its ``input`` template holds the reference (swapped)."""
    out: dict[str, bool] = {}
    graders = spec.get("graders", {}) if spec.get("type") == "multi" else {"": spec}
    for prefix, g in graders.items():
        if g.get("type") in ("string_check", "text_similarity"):
            a, b = single_variable(g.get("input")), single_variable(g.get("reference"))
            a_sample = "sample" in str(g.get("input", "")) if a is None else a.startswith("sample")
            b_sample = (
                "sample" in str(g.get("reference", "")) if b is None else b.startswith("sample")
            )
            out[prefix] = b_sample and not a_sample
    return out


def _input_is_output(spec: Mapping[str, Any]) -> bool:
    """True when every grader's sample side is exactly ``{{ sample.output_text }}``."""
    graders = spec.get("graders", {}) if spec.get("type") == "multi" else {"": spec}
    for g in graders.values():
        if g.get("type") not in ("string_check", "text_similarity"):
            if g.get("type") in ("score_model", "label_model"):
                return False
            continue
        sides = [single_variable(g.get("input")), single_variable(g.get("reference"))]
        if "sample.output_text" not in sides:
            return False
    return True


@lru_cache(maxsize=1024)
def _field(key: str) -> tuple[str, str] | None:
    """(grader prefix, "input" or "reference") of a rendered key like ``exact.input``."""
    m = _FIELD.match(key)
    return (m.group(1) or "", m.group(2)) if m else None


def _split_rendered(
    rendered: Mapping[str, str], swapped: Mapping[str, bool]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(inputs, references) as (grader prefix, text); a model grader's last message only."""
    inputs: dict[str, str] = {}
    refs: dict[str, str] = {}
    for key, text in rendered.items():
        parsed = _field(key)
        if parsed is None:
            continue
        prefix, name = parsed
        if swapped.get(prefix):
            name = "reference" if name == "input" else "input"
        (refs if name == "reference" else inputs)[prefix] = text
    return list(inputs.items()), list(refs.items())


def _joined(parts: list[tuple[str, str]]) -> str:
    if len({t for _, t in parts}) == 1:
        return parts[0][1]
    return " | ".join(f"{p}: {t}" if p else t for p, t in parts)


def _outcome_pairs(o: Any, threshold: float | None) -> list[list[str]]:
    if o is None:
        return [["status", "not graded (interrupted)"]]
    pairs = [["reward", _fmt(o.reward, 6)]]
    if threshold is not None:
        pairs.append(["passed", "yes" if o.reward >= threshold else "no"])
    pairs.append(["status", f"unscored ({o.error})" if o.errors else "scored"])
    for key, value in o.sub_rewards.items():
        pairs.append([f"sub.{key}", _fmt(value, 6)])
    if o.scores and o.scores != o.sub_rewards:
        pairs.append(["scores", dumps(o.scores, indent=None, limit=2000)])
    if o.sampled_model_name:
        pairs.append(["model", o.sampled_model_name])
    for model, usage in o.token_usage.items():
        pairs.append([f"tokens ({model})", dumps(usage, indent=None, limit=500)])
    return pairs


class _Renderer:
    """The templates as the grader saw them for row ``pos`` (``GradeResult.row(pos)["rendered"]``),
    re-rendered with one compiled runner when a worker process graded the row."""

    def __init__(self, result: GradeResult) -> None:
        self.result = result
        self.runner: Any = None

    def __call__(self, pos: int) -> dict[str, str]:
        o = self.result.outcomes[pos]
        if o is None:
            return {}
        if o.rendered or o.errors.get("sample_parse_error"):
            return dict(o.rendered)
        if self.runner is None:
            try:  # a grader that cannot be rebuilt here (a model grader without a client)
                self.runner = cached_runner(self.result.grader)
            except Exception:
                self.runner = False
        if not self.runner or not hasattr(self.runner, "render_one"):
            return {}
        fmt = getattr(self.result, "response_format", None)
        try:
            sample = build_sample(self.result.samples[pos], fmt)
            return self.runner.render_one({"sample": sample, "item": self.result.items[pos]})
        except (SampleParseError, ValueError, TypeError):
            return {}


def _outcome_sections(
    o: Any, shown: Mapping[str, str], prefix: str = ""
) -> list[dict[str, Any]]:
    sections = []
    if o is not None and o.details:
        if o.errors:
            flags = [k for k, v in o.errors.items() if v is True]
            title = f"{prefix}unscored: {', '.join(flags) or o.error}"
            text = next(
                (v for k, v in o.errors.items() if isinstance(v, str) and v.strip()), o.details
            )
            if text != o.details and o.details not in text:
                text = f"{o.details}\n\n{text}"
            sections.append({"title": title, "kind": "pre", "text": clip(text, DETAIL_CHARS),
                             "tone": "error"})
        else:
            sections.append({"title": f"{prefix}grader notes", "kind": "pre",
                             "text": clip(o.details, DETAIL_CHARS)})
    if o is not None and shown:
        pairs = [[k, clip(v, DETAIL_CHARS)] for k, v in shown.items()]
        sections.append({"title": f"{prefix}rendered templates", "kind": "pairs_pre",
                         "pairs": pairs})
    elif o is not None:
        sections.append({"title": f"{prefix}rendered templates", "kind": "note",
                         "text": "no template was rendered for this row"})
    return sections


class _Cells:
    """Text cells of one GradeResult: prompt, rendered input, output, reference."""

    def __init__(self, result: GradeResult) -> None:
        self.result = result
        spec = result.grader
        self.swapped = _orientation(spec)
        items = result.items
        self.ref_keys = reference_keys(spec, items)
        self.has_prompt = any(prompt_text(item) for item in items[:50])
        self.has_input = not _input_is_output(spec)
        self.has_reference = bool(self.swapped) or bool(self.ref_keys)
        self.render = _Renderer(result)
        self._parts_cache: dict[int, tuple[list, list]] = {}

    def label(self, pos: int) -> str:
        return _label(self.result.index[pos])

    def prompt(self, pos: int) -> str:
        return prompt_text(self.result.items[pos]) or ""

    def output(self, pos: int) -> str:
        return _output_text(self.result.samples[pos])

    def _parts(self, pos: int) -> tuple[list, list]:
        parts = self._parts_cache.get(pos)
        if parts is None:
            parts = _split_rendered(self.render(pos), self.swapped)
            if len(self._parts_cache) > 200_000:
                self._parts_cache.clear()
            self._parts_cache[pos] = parts
        return parts

    def input(self, pos: int) -> str:
        return _joined(self._parts(pos)[0])

    def reference(self, pos: int) -> str:
        refs = self._parts(pos)[1]
        if refs:
            return _joined(refs)
        return reference_text(self.result.items[pos], self.ref_keys) or ""

    def details(self, pos: int) -> str:
        o = self.result.outcomes[pos]
        return (o.details or "") if o is not None else ""


# ---------------------------------------------------------------- GradeResult


def grade_view(result: GradeResult, title: str | None = None) -> TableView:
    """The score table of one grading run."""
    n = len(result)
    outcomes = result.outcomes
    rewards = np.fromiter(
        (o.reward if o is not None else math.nan for o in outcomes), float, n
    )
    status = [_status_of(o) for o in outcomes]
    codes, labels = category_codes(status)
    cells = _Cells(result)
    threshold = result.pass_threshold

    columns = [Column("#", "#", "label", "row label (the data's index)")]
    texts: dict[str, Callable[[int], str]] = {"#": cells.label}
    if cells.has_prompt:
        columns.append(Column("prompt", "prompt", "text", "the row's prompt (last user message)"))
        texts["prompt"] = cells.prompt
    if cells.has_input:
        columns.append(Column("input", "grader input", "text", "the rendered input template"))
        texts["input"] = cells.input
    columns.append(Column("output", "output", "text", "the model output (the sample)"))
    texts["output"] = cells.output
    if cells.has_reference:
        columns.append(Column("reference", "reference", "text", "the rendered reference"))
        texts["reference"] = cells.reference
    texts["details"] = cells.details
    numbers = {"reward": rewards}
    columns.append(Column("reward", "reward", "number", "the grader's reward"))
    if threshold is not None:
        passed = np.where(np.isnan(rewards), np.nan, (rewards >= threshold).astype(float))
        numbers["passed"] = passed
        columns.append(Column("passed", "passed", "bool", f"reward ≥ {threshold:g}"))
    for key in result.sub_keys:
        numbers[f"sub.{key}"] = np.fromiter(
            (o.sub_rewards.get(key, math.nan) if o is not None else math.nan for o in outcomes),
            float,
            n,
        )
        columns.append(Column(f"sub.{key}", key, "number", f"sub-grader {key!r}"))
    columns.append(Column("status", "status", "status", "unscored rows and why"))

    def tone(pos: int) -> str:
        return "error" if codes[pos] >= 0 else ""

    def detail(pos: int) -> list[dict[str, Any]]:
        o = outcomes[pos]
        sections = [{"title": "score", "kind": "pairs", "pairs": _outcome_pairs(o, threshold)}]
        sections += _outcome_sections(o, cells.render(pos))
        sections.append({"title": "model output", "kind": "pre",
                         "text": _pretty_output(result.samples[pos])})
        sections.append({"title": "item", "kind": "pre",
                         "text": dumps(result.items[pos], limit=DETAIL_CHARS)})
        return sections

    table = Table(
        n=n,
        columns=columns,
        numbers=numbers,
        categories={"status": (codes, labels)},
        texts=texts,
        titles={"status": lambda pos: _status_title(outcomes[pos])},
        search=[k for k in ("#", "prompt", "input", "output", "reference", "details")
                if k in texts],
        range_key="reward",
        flag_key="passed" if threshold is not None else None,
        category_key="status",
        tone=tone,
        detail=detail,
    )
    summary = _grade_summary(result, rewards, codes, labels)
    filters = {
        "range": {"key": "reward", "label": "reward"},
        "flag": (
            {"key": "passed", "label": "passed", "yes": "passed", "no": "failed"}
            if threshold is not None
            else None
        ),
        "category": {
            "key": "status",
            "label": "status",
            "options": [{"value": "__none__", "label": "scored"},
                        {"value": "__any__", "label": "unscored (any)"}]
            + [
                {"value": lab, "label": f"{lab} ({int((codes == i).sum())})"}
                for i, lab in enumerate(labels)
            ],
        },
        "text": {"placeholder": "search text…"},
    }
    name = result.name or "grader"
    return TableView(
        "grade",
        title or f"{name} · {result.grader.get('type', '')}",
        table,
        summary,
        filters,
        repr(result),
    )


def _grade_summary(
    result: GradeResult, rewards: np.ndarray, codes: np.ndarray, labels: list[str]
) -> dict[str, Any]:
    graded = ~np.isnan(rewards)
    scored = graded & (codes < 0)
    n_graded = int(graded.sum())
    unscored = int((graded & (codes >= 0)).sum())
    cards = [_card("rows", f"{n_graded:,}" + ("" if n_graded == len(result) else
                                                f" / {len(result):,}"),
                   title="graded rows / all rows")]
    mean = float(rewards[graded].mean()) if n_graded else math.nan
    cards.append(_card("mean reward", _fmt(mean), title=(
        "over graded rows; unscored rows count as 0, as in training")))
    if unscored:
        mean_scored = float(rewards[scored].mean()) if scored.any() else math.nan
        cards.append(_card("mean (scored rows)", _fmt(mean_scored),
                           title="unscored rows left out"))
    if result.pass_threshold is not None:
        rate = float((rewards[graded] >= result.pass_threshold).mean()) if n_graded else math.nan
        cards.append(_card("pass rate", "–" if math.isnan(rate) else f"{rate:.1%}",
                           title=f"reward ≥ {result.pass_threshold:g}"))
    cards.append(_card("unscored", f"{unscored:,}", tone="error" if unscored else "ok",
                       title="rows with an error flag (reward 0)"))
    if result.interrupted:
        cards.append(_card("interrupted", f"{len(result) - n_graded:,} rows not graded",
                           tone="warn"))
    cards.append(_card("time", f"{result.elapsed:.2f} s"))
    chips = [
        {"value": lab, "label": lab, "count": int((codes == i).sum()), "tone": "error"}
        for i, lab in enumerate(labels)
    ]
    hist = histogram(rewards[scored], lo=0.0, hi=1.0)
    if hist:
        hist.update({"key": "reward", "label": "rewards of scored rows"})
    return {"cards": cards, "chips": chips, "histogram": hist}


# ---------------------------------------------------------------- Comparison


def compare_view(cmp: Comparison, title: str | None = None) -> TableView:
    """The score table of two results on the same rows, largest differences first."""
    a, b = cmp.a, cmp.b
    na, nb = cmp.names
    n = len(cmp)
    cells_a = _Cells(a)
    render_b = _Renderer(b)
    pa, pb = cmp.pos_a, cmp.pos_b
    same_output = all(
        _output_text(a.samples[i]) == _output_text(b.samples[j]) for i, j in zip(pa, pb)
    )
    status_a = cmp.error_a
    status_b = cmp.error_b
    codes_a, labels_a = category_codes(status_a)
    codes_b, labels_b = category_codes(status_b)
    which = [
        ("both unscored" if x and y else f"{na} unscored" if x else f"{nb} unscored" if y
         else None)
        for x, y in zip(status_a, status_b)
    ]
    codes_w, labels_w = category_codes(which)

    columns = [Column("#", "#", "label", "row label")]
    texts: dict[str, Callable[[int], str]] = {"#": lambda k: _label(a.index[pa[k]])}
    if cells_a.has_prompt:
        columns.append(Column("prompt", "prompt", "text"))
        texts["prompt"] = lambda k: cells_a.prompt(pa[k])
    columns.append(Column("output", "output" if same_output else f"output ({na})", "text"))
    texts["output"] = lambda k: cells_a.output(pa[k])
    if not same_output:
        columns.append(Column("output_b", f"output ({nb})", "text"))
        texts["output_b"] = lambda k: _output_text(b.samples[pb[k]])
    if cells_a.has_reference:
        columns.append(Column("reference", "reference", "text"))
        texts["reference"] = lambda k: cells_a.reference(pa[k])
    columns += [
        Column("reward_a", na, "number", f"reward of {na}"),
        Column("reward_b", nb, "number", f"reward of {nb}"),
        Column("delta", "Δ", "number", f"{nb} − {na}"),
        Column("agree", "agree", "bool",
               f"verdicts agree (reward ≥ {cmp.threshold_a:g} / {cmp.threshold_b:g})"),
        Column("status_a", f"status ({na})", "status"),
        Column("status_b", f"status ({nb})", "status"),
    ]
    numbers = {
        "reward_a": cmp.reward_a,
        "reward_b": cmp.reward_b,
        "delta": cmp.delta,
        "absdelta": np.abs(cmp.delta),
        "agree": cmp.agree,
    }

    def tone(k: int) -> str:
        if codes_w[k] >= 0:
            return "error"
        return "warn" if cmp.agree[k] == 0.0 else ""

    def detail(k: int) -> list[dict[str, Any]]:
        oa, ob = a.outcomes[pa[k]], b.outcomes[pb[k]]
        sections = [
            {"title": na, "kind": "pairs", "pairs": _outcome_pairs(oa, a.pass_threshold)},
            {"title": nb, "kind": "pairs", "pairs": _outcome_pairs(ob, b.pass_threshold)},
        ]
        sections += _outcome_sections(oa, cells_a.render(pa[k]), f"{na}: ")
        sections += _outcome_sections(ob, render_b(pb[k]), f"{nb}: ")
        sections.append({"title": "model output", "kind": "pre",
                         "text": _pretty_output(a.samples[pa[k]])})
        if not same_output:
            sections.append({"title": f"model output ({nb})", "kind": "pre",
                             "text": _pretty_output(b.samples[pb[k]])})
        sections.append({"title": "item", "kind": "pre",
                         "text": dumps(a.items[pa[k]], limit=DETAIL_CHARS)})
        return sections

    table = Table(
        n=n,
        columns=columns,
        numbers=numbers,
        categories={"status_a": (codes_a, labels_a), "status_b": (codes_b, labels_b),
                    "unscored": (codes_w, labels_w)},
        texts=texts,
        titles={
            "status_a": lambda k: _status_title(a.outcomes[pa[k]]),
            "status_b": lambda k: _status_title(b.outcomes[pb[k]]),
        },
        search=[k for k in ("#", "prompt", "output", "output_b", "reference") if k in texts],
        range_key="delta",
        flag_key="agree",
        category_key="unscored",
        default_sort=("absdelta", True),
        tone=tone,
        detail=detail,
    )
    s = cmp.summary()
    cards = [
        _card("rows", f"{s['rows']:,}", title="rows in both results"),
        _card("agreement", "–" if math.isnan(s["agreement"]) else f"{s['agreement']:.1%}",
              title="share of rows whose pass/fail verdicts agree"),
        _card("same reward", "–" if math.isnan(s["exact_agreement"])
              else f"{s['exact_agreement']:.1%}"),
        _card("pearson", _fmt(s["pearson"], 3)),
        _card("spearman", _fmt(s["spearman"], 3)),
        _card(f"mean {na}", _fmt(s["mean_a"])),
        _card(f"mean {nb}", _fmt(s["mean_b"])),
        _card("unscored", f"{s['unscored_a']} / {s['unscored_b']}",
              tone="error" if s["unscored_a"] or s["unscored_b"] else "ok",
              title=f"unscored rows in {na} / {nb}"),
    ]
    hist = histogram(cmp.delta)
    if hist:
        hist.update({"key": "delta", "label": f"Δ reward ({nb} − {na})"})
    filters = {
        "range": {"key": "delta", "label": "Δ"},
        "flag": {"key": "agree", "label": "verdicts", "yes": "agree", "no": "disagree"},
        "category": {
            "key": "unscored",
            "label": "unscored",
            "options": [{"value": "__none__", "label": "scored by both"},
                        {"value": "__any__", "label": "unscored by either"}]
            + [{"value": lab, "label": lab} for lab in labels_w],
        },
        "text": {"placeholder": "search text…"},
    }
    return TableView(
        "compare",
        title or f"{na} vs {nb}",
        table,
        {"cards": cards, "chips": [], "histogram": hist},
        filters,
        repr(cmp),
        sort_labels={"absdelta": "|Δ|"},
    )


# ---------------------------------------------------------------- ProbeReport


def probe_view(report: ProbeReport, title: str | None = None) -> TableView:
    """The score table of a reward-hacking probe: degenerate outputs and what they scored."""
    cases = [report.case(i) for i in range(len(report))]
    n = len(cases)
    outcomes = report.result.outcomes
    kind_codes = np.fromiter(
        (report.kind_names.index(c["kind"]) for c in cases), np.int64, n
    )
    status = [c["error"] for c in cases]
    codes, labels = category_codes(status)
    rewards = np.fromiter((c["reward"] for c in cases), float, n)
    baseline = np.fromiter((c["baseline"] for c in cases), float, n)
    flagged = np.fromiter((1.0 if c["flagged"] else 0.0 for c in cases), float, n)
    base_name = "real reward" if report.baseline_source == "real" else "gold reward"
    columns = [
        Column("#", "#", "label", "row label of the probed row"),
        Column("kind", "degenerate output", "category"),
        Column("output", "output", "text", "the degenerate output that was scored"),
        Column("reward", "reward", "number", "what the degenerate output scored"),
        Column("baseline", base_name, "number",
               "what the row's real answer scored" if report.baseline_source == "real"
               else "what the row's gold answer (built from its reference) scored"),
        Column("flagged", "flagged", "bool",
               f"scored > 0 and within {report.margin:g} of the {base_name}"),
        Column("status", "status", "status"),
    ]
    texts = {
        "#": lambda k: _label(cases[k]["index"]),
        "output": lambda k: cases[k]["output"],
    }
    stats = {s["kind"]: s for s in report.kind_stats()}
    render = _Renderer(report.result)

    def tone(k: int) -> str:
        if flagged[k]:
            return "error" if stats[cases[k]["kind"]]["verdict"] == RISKY else "warn"
        return ""

    def detail(k: int) -> list[dict[str, Any]]:
        c = cases[k]
        o = outcomes[k]
        pairs = [
            ["degenerate output", f"{c['kind']}: {KIND_HELP[c['kind']]}"],
            ["reward", _fmt(c["reward"], 6)],
            [base_name, _fmt(c["baseline"], 6)],
            ["flagged", "yes" if c["flagged"] else "no"],
            ["verdict for this kind", stats[c["kind"]]["verdict"]],
            ["characters", f"{len(c['output']):,}"],
        ]
        sections = [{"title": "probe", "kind": "pairs", "pairs": pairs}]
        sections += _outcome_sections(o, render(k))
        sections.append({"title": "degenerate output", "kind": "pre",
                         "text": clip(c["output"], DETAIL_CHARS)})
        sections.append({"title": "item", "kind": "pre",
                         "text": dumps(report.items[c["row"]], limit=DETAIL_CHARS)})
        return sections

    table = Table(
        n=n,
        columns=columns,
        numbers={"reward": rewards, "baseline": baseline, "flagged": flagged},
        categories={"kind": (kind_codes, list(report.kind_names)), "status": (codes, labels)},
        texts=texts,
        titles={"status": lambda k: _status_title(outcomes[k]),
                "kind": lambda k: KIND_HELP.get(cases[k]["kind"])},
        search=["#", "output"],
        range_key="reward",
        flag_key="flagged",
        category_key="kind",
        default_sort=("reward", True),
        tone=tone,
        detail=detail,
    )
    cards = []
    for s in report.kind_stats():
        verdict = s["verdict"]
        tone_ = "error" if verdict == RISKY else "warn" if verdict == WATCH else "ok"
        base = "" if math.isnan(s["baseline"]) else f" vs {_fmt(s['baseline'], 2)}"
        cards.append(
            _card(
                s["kind"],
                _fmt(s["mean_reward"], 2) + base,
                tone=tone_,
                title=f"{KIND_HELP[s['kind']]}: mean reward vs the {base_name}; {verdict}",
                sub=f"{verdict.upper() if verdict == RISKY else verdict} · "
                f"{s['flagged']}/{s['rows']} flagged",
            )
        )
    filters = {
        "range": {"key": "reward", "label": "reward"},
        "flag": {"key": "flagged", "label": "flagged", "yes": "flagged", "no": "not flagged"},
        "category": {
            "key": "kind",
            "label": "kind",
            "options": [{"value": k, "label": k} for k in report.kind_names],
        },
        "text": {"placeholder": "search outputs…"},
    }
    risky = report.risky
    note = (
        f"risky: {', '.join(risky)} — degenerate outputs score near the {base_name}"
        if risky
        else f"no degenerate output scores near the {base_name}"
    )
    return TableView(
        "probe",
        title or f"reward-hacking probe · {report.name or 'grader'}",
        table,
        {"cards": cards, "chips": [], "histogram": None, "note": note,
         "note_tone": "error" if risky else "ok"},
        filters,
        repr(report),
    )
