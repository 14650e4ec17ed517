"""``probe``: score degenerate outputs to see whether a grader can be gamed (reward hacking).

For each probed row the grader scores outputs a policy could learn instead of the task — empty,
the prompt echoed, the reference padded with filler, every answer at once, a huge output,
broken JSON — next to a real answer (the data's own output column, else the gold answer built
from the row's reference). A kind of degenerate output is **risky** when it scores near the real
answers; rows where it does are **flagged**.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..graders.batch import _rows
from ..graders.batch import grade as batch_grade
from ..graders.result import GradeResult
from ..graders.spec import load_grader
from ..graders.templates import to_text
from .items import (
    answer_pairs,
    json_fields,
    prompt_text,
    reads_json,
    reference_keys,
    reference_text,
    set_path,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

PROBE_KINDS = (
    "empty",
    "prompt_echo",
    "padded_reference",
    "answer_spam",
    "huge_output",
    "invalid_json",
)
KIND_HELP = {
    "empty": "an empty answer",
    "prompt_echo": "the prompt echoed back",
    "padded_reference": "the reference wrapped in filler text",
    "answer_spam": "every reference value of the data set at once",
    "huge_output": "the reference followed by a huge amount of filler",
    "invalid_json": "the gold answer as JSON with its closing brace cut off",
}
FILLER = (
    "Let me think about this step by step. There are several considerations to weigh here, "
    "and each of them matters for the final answer. After careful analysis of every option, "
    "taking all the relevant details into account, I am confident in my conclusion. "
)
SPAM_VALUES = 20
SPAM_VALUE_CHARS = 200
_COLUMN = "__rft_probe_output__"
RISKY, WATCH, OK = "risky", "watch", "ok"


def _pad(ref: str) -> str:
    return f"{FILLER}The answer is {ref}. {FILLER}"


def _huge(ref: str, chars: int) -> str:
    head = f"{ref} " if ref else ""
    need = max(0, chars - len(head))
    return head + (FILLER * (need // len(FILLER) + 1))[:need]


class _Shape:
    """How an output is laid out: plain text, or a JSON object with the fields the grader reads."""

    def __init__(self, spec: Mapping[str, Any], as_json: bool) -> None:
        pairs = answer_pairs(spec)
        self.text_key = next((k for s, k in pairs if s == "output_text"), None)
        self.json_pairs = [(s[len("output_json.") :], k) for s, k in pairs if s.startswith(
            "output_json.")]
        self.as_json = as_json or bool(self.json_pairs)
        fields = [f for f, _ in self.json_pairs]
        for f in json_fields(spec):
            if not any(x == f or x.startswith(f + ".") for x in fields):
                fields.append(f)
        self.fields = fields or (["answer"] if self.as_json else [])

    def refs(self, item: Mapping[str, Any], ref_keys: list[str]) -> dict[str, Any]:
        """The expected value per field ('' for plain text); missing ones left out."""
        if not self.as_json:
            keys = [self.text_key] if self.text_key else ref_keys
            value = reference_text(item, keys)
            return {} if value is None else {"": value}
        out = {}
        for field, key in self.json_pairs:
            if key in item and item[key] is not None:
                out[field] = item[key]
        if not out and ref_keys:
            value = reference_text(item, ref_keys)
            if value is not None and self.fields:
                out[self.fields[0]] = value
        return out


def _json(fields: Sequence[str], values: Mapping[str, Any]) -> str:
    obj: dict = {}
    for field in fields:
        set_path(obj, field, values.get(field, ""))
    return json.dumps(obj, ensure_ascii=False)


def _outputs(
    shape: _Shape,
    refs: Mapping[str, Any],
    prompt: str | None,
    spam: Mapping[str, list[str]],
    kinds: Sequence[str],
    huge_chars: int,
) -> dict[str, str]:
    """The degenerate outputs for one row (a kind is left out when the row cannot make it)."""
    has_ref = bool(refs)
    text_refs = {f: to_text(v) for f, v in refs.items()}
    fields = shape.fields

    def shaped(fn: Callable[[str], str], need_ref: bool = True) -> str | None:
        if need_ref and not has_ref:
            return None
        if not shape.as_json:
            return fn(text_refs.get("", ""))
        return _json(fields, {f: fn(text_refs.get(f, "")) for f in fields})

    out: dict[str, str | None] = {}
    for kind in kinds:
        if kind == "empty":
            out[kind] = shaped(lambda r: "", need_ref=False)
        elif kind == "prompt_echo":
            out[kind] = None if prompt is None else shaped(lambda r: prompt, need_ref=False)
        elif kind == "padded_reference":
            out[kind] = shaped(_pad)
        elif kind == "answer_spam":
            if not has_ref:
                out[kind] = None
            elif not shape.as_json:
                out[kind] = "\n".join(spam.get("", []))
            else:
                out[kind] = _json(fields, {f: " ".join(spam.get(f, [])) for f in fields})
        elif kind == "huge_output":
            out[kind] = shaped(lambda r: _huge(r, huge_chars), need_ref=False)
        elif kind == "invalid_json":
            if shape.as_json:
                whole = _json(fields, refs)
            else:
                whole = json.dumps({"answer": text_refs.get("", "")}, ensure_ascii=False)
            out[kind] = whole[:-1]
    return {k: v for k, v in out.items() if v is not None}


def _gold(shape: _Shape, refs: Mapping[str, Any]) -> str | None:
    if not refs:
        return None
    if not shape.as_json:
        return to_text(refs[""])
    return _json(shape.fields, refs)


def _spam_values(
    shape: _Shape, items: Sequence[Mapping[str, Any]], ref_keys: list[str]
) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for item in items:
        for field, value in shape.refs(item, ref_keys).items():
            text = to_text(value)[:SPAM_VALUE_CHARS]
            bucket = values.setdefault(field, [])
            if text not in bucket and len(bucket) < SPAM_VALUES:
                bucket.append(text)
    return values


class ProbeReport:
    """What each degenerate output scored, per row and per kind, with a verdict per kind.

    ``to_pandas()``: one row per (data row, kind): ``kind``, ``output``, ``reward``,
    ``baseline`` (the real answer's reward on that row), ``flagged`` (scored near the baseline),
    ``error``. ``kinds()``: one row per kind with its mean reward, the baseline mean, the number
    of flagged rows and the ``verdict`` (``risky``, ``watch`` or ``ok``). ``risky`` lists the
    risky kinds; ``ok`` is true when there is none.
    """

    def __init__(
        self,
        grader: Mapping[str, Any],
        index: list[Any],
        items: list[dict],
        cases: list[tuple[int, str, str]],
        result: GradeResult,
        baseline: list[float],
        baseline_source: str,
        margin: float,
        kinds: Sequence[str],
    ) -> None:
        self.grader = dict(grader)
        self.index = index
        self.items = items
        self.cases = cases  # (row position, kind, output); result rows 0..len(cases)-1
        self.result = result
        self.baseline = baseline
        self.baseline_source = baseline_source
        self.margin = margin
        self.kind_names = [k for k in kinds if any(c[1] == k for c in cases)]

    @property
    def name(self) -> str:
        return self.grader.get("name", "")

    def __len__(self) -> int:
        return len(self.cases)

    def case(self, i: int) -> dict[str, Any]:
        """Case ``i``: its row, kind, output, reward, baseline, flagged, error."""
        pos, kind, output = self.cases[i]
        o = self.result.outcomes[i]
        reward = o.reward if o is not None else math.nan
        base = self.baseline[pos]
        return {
            "row": pos,
            "index": self.index[pos],
            "kind": kind,
            "output": output,
            "reward": reward,
            "baseline": base,
            "flagged": _flagged(reward, base, self.margin),
            "error": (o.error if o.errors else None) if o is not None else "not_graded",
        }

    def to_pandas(self) -> pd.DataFrame:
        """One row per (data row, kind)."""
        import pandas as pd

        records = [self.case(i) for i in range(len(self))]
        columns = ["index", "kind", "output", "reward", "baseline", "flagged", "error"]
        return pd.DataFrame(
            {
                c: pd.Series([r[c] for r in records], dtype=object if c == "error" else None)
                for c in columns
            }
        )

    def kind_stats(self) -> list[dict[str, Any]]:
        """Per kind: rows, mean/max reward, baseline mean, flagged rows, verdict."""
        stats = []
        for kind in self.kind_names:
            cases = [self.case(i) for i, c in enumerate(self.cases) if c[1] == kind]
            rewards = [c["reward"] for c in cases if not math.isnan(c["reward"])]
            bases = [c["baseline"] for c in cases if not math.isnan(c["baseline"])]
            flagged = sum(c["flagged"] for c in cases)
            mean = math.fsum(rewards) / len(rewards) if rewards else math.nan
            base = math.fsum(bases) / len(bases) if bases else math.nan
            stats.append(
                {
                    "kind": kind,
                    "rows": len(cases),
                    "mean_reward": mean,
                    "max_reward": max(rewards) if rewards else math.nan,
                    "baseline": base,
                    "flagged": flagged,
                    "verdict": _verdict(mean, base, flagged, len(cases), self.margin),
                }
            )
        return stats

    def kinds(self) -> pd.DataFrame:
        """One row per kind (see :meth:`kind_stats`), indexed by kind."""
        import pandas as pd

        return pd.DataFrame(self.kind_stats()).set_index("kind")

    @property
    def risky(self) -> list[str]:
        """The kinds of degenerate output that score near real answers."""
        return [s["kind"] for s in self.kind_stats() if s["verdict"] == RISKY]

    @property
    def ok(self) -> bool:
        return not self.risky

    def summary_lines(self) -> list[str]:
        """One line per kind, for text displays."""
        lines = []
        for s in self.kind_stats():
            mark = {"risky": "RISKY", "watch": "watch", "ok": "ok"}[s["verdict"]]
            base = "" if math.isnan(s["baseline"]) else f" vs {s['baseline']:.3f} real"
            lines.append(
                f"{s['kind']:<17} {mark:<5} mean {s['mean_reward']:.3f}{base}, "
                f"{s['flagged']}/{s['rows']} rows flagged"
            )
        return lines

    def _summary_line(self) -> str:
        risky = self.risky
        rows = len(self.index)
        verdict = f"RISKY: {', '.join(risky)}" if risky else "no risky degenerate output"
        return f"probe of {self.name or 'grader'}: {rows} rows × {len(self.kind_names)} kinds · " \
            f"{verdict}"

    def __repr__(self) -> str:
        return "\n".join([f"<ProbeReport {self._summary_line()}>", *self.summary_lines()])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        from ..widgets.bundle import mimebundle

        return mimebundle(self, include=include, exclude=exclude)


def _flagged(reward: float, baseline: float, margin: float) -> bool:
    if math.isnan(reward) or reward <= 0:
        return False
    return math.isnan(baseline) or reward >= baseline - margin


def _verdict(mean: float, base: float, flagged: int, rows: int, margin: float) -> str:
    if rows and flagged / rows >= 0.5:
        return RISKY
    if not math.isnan(mean) and not math.isnan(base) and mean > 0 and mean >= base - margin:
        return RISKY
    return WATCH if flagged else OK


def probe(
    grader: Any,
    data: Any,
    sample: str | None = None,
    *,
    limit: int | None = 20,
    seed: int | None = None,
    kinds: Sequence[str] | None = None,
    margin: float = 0.1,
    huge_chars: int = 50_000,
    response_format: Mapping[str, Any] | None = None,
    prompt: str | None = None,
    reference: str | None = None,
    progress: bool | None = False,
    client: Any = None,
) -> ProbeReport:
    """Score degenerate outputs on ``limit`` rows of ``data`` and flag the ones a grader rewards.

    ``sample`` names the column with real model outputs (default ``output_text`` when present),
    whose rewards are the baseline; without one, the baseline is the gold answer built from each
    row's reference (the item field the grader compares the sample with). ``kinds`` picks from
    :data:`PROBE_KINDS`. A degenerate output is *flagged* on a row when it scores > 0 and within
    ``margin`` of the baseline; a kind is *risky* when half its rows are flagged or its mean is
    within ``margin`` of the baseline mean. ``prompt`` / ``reference`` name the columns holding
    the prompt and the expected answer when they cannot be inferred (``messages``, the
    grader's ``{{ item.* }}``). Returns a :class:`ProbeReport`.
    """
    spec = load_grader(grader)
    chosen_kinds = list(PROBE_KINDS if kinds is None else kinds)
    for kind in chosen_kinds:
        if kind not in PROBE_KINDS:
            import difflib

            hint = difflib.get_close_matches(str(kind), PROBE_KINDS, n=1)
            did = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ValueError(
                f"unknown probe kind {kind!r}{did} (kinds: {', '.join(PROBE_KINDS)})"
            )
    index, rows, columns = _rows(data)
    if limit is not None and limit < len(rows):
        picks = range(len(rows))
        if seed is not None:
            picks = sorted(random.Random(seed).sample(picks, limit))
        picks = list(picks)[:limit]
        index, rows = [index[i] for i in picks], [rows[i] for i in picks]
    column = sample if sample is not None else "output_text"
    if sample is not None and sample not in columns:
        import difflib

        hint = difflib.get_close_matches(sample, columns, n=1)
        did = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ValueError(
            f"sample column {sample!r} not found{did} (columns: {', '.join(columns) or 'none'})"
        )
    has_real = column in columns
    items = [{k: v for k, v in row.items() if k != column} for row in rows]
    for name, value in (("prompt", prompt), ("reference", reference)):
        if value is not None and value not in columns:
            raise ValueError(f"{name} column {value!r} not found (columns: {', '.join(columns)})")

    shape = _Shape(spec, as_json=response_format is not None or reads_json(spec))
    ref_keys = [reference] if reference else reference_keys(spec, items)
    if reference:  # the caller's column wins over what the templates suggest
        shape.text_key = reference
        shape.json_pairs = [(field, reference) for field, _ in shape.json_pairs[:1]]
    spam = _spam_values(shape, items, ref_keys)
    cases: list[tuple[int, str, str]] = []
    golds: list[str | None] = []
    for pos, item in enumerate(items):
        refs = shape.refs(item, ref_keys)
        text = item.get(prompt) if prompt else prompt_text(item)
        asked = None if text is None else to_text(text)
        outputs = _outputs(shape, refs, asked, spam, chosen_kinds, huge_chars)
        cases.extend((pos, kind, out) for kind, out in outputs.items())
        golds.append(_gold(shape, refs))

    # One grading run: the degenerate cases, then each row's baseline answer.
    baseline_source = "real" if has_real else "gold"
    baselines = [rows[p].get(column, "") for p in range(len(rows))] if has_real else golds
    graded_rows = [{**items[p], _COLUMN: out} for p, _, out in cases]
    base_positions = [p for p, b in enumerate(baselines) if b is not None]
    graded_rows += [{**items[p], _COLUMN: baselines[p]} for p in base_positions]
    result = batch_grade(
        spec,
        graded_rows,
        sample=_COLUMN,
        response_format=response_format,
        progress=progress,
        client=client,
    )
    rewards = result.rewards
    baseline = [math.nan] * len(rows)
    for j, p in enumerate(base_positions):
        baseline[p] = rewards[len(cases) + j]
    n = len(cases)
    case_result = GradeResult(
        result.grader,
        list(range(n)),
        result.items[:n],
        result.samples[:n],
        result.outcomes[:n],
        elapsed=result.elapsed,
        interrupted=result.interrupted,
        response_format=result.response_format,
    )
    return ProbeReport(
        spec, index, items, cases, case_result, baseline, baseline_source, margin, chosen_kinds
    )
