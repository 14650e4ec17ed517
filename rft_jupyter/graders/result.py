"""``GradeResult``: what ``grade`` returns — one outcome per input row, same index."""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .outcome import Outcome
from .templates import to_text


class GradeResult:
    """Per-row rewards, errors and sub-rewards of one grader over a data set.

    ``to_pandas()`` gives one row per input row (same index) with ``reward``, ``passed`` (when the
    grader has a ``pass_threshold``), ``error`` (first error flag or None), ``error_details`` and
    ``sub.<key>`` per multigrader key. Rows not graded (Ctrl-C) have reward NaN and error
    ``"not_graded"``.
    """

    def __init__(
        self,
        grader: Mapping[str, Any],
        index: Sequence[Any],
        items: Sequence[Mapping[str, Any]],
        samples: Sequence[Any],
        outcomes: Sequence[Outcome | None],
        *,
        elapsed: float = 0.0,
        interrupted: bool = False,
        index_name: Any = None,
        response_format: Any = None,
    ) -> None:
        self.grader = dict(grader)
        self.index = list(index)
        self.items = list(items)
        self.samples = list(samples)
        self.outcomes = list(outcomes)
        self.elapsed = elapsed
        self.interrupted = interrupted
        self.index_name = index_name
        self.response_format = response_format

    # ------------------------------------------------------------ numbers

    def __len__(self) -> int:
        return len(self.outcomes)

    @property
    def name(self) -> str:
        return self.grader.get("name", "")

    @property
    def pass_threshold(self) -> float | None:
        return self.grader.get("pass_threshold")

    @property
    def sub_keys(self) -> list[str]:
        return list(self.grader.get("graders", {})) if self.grader.get("type") == "multi" else []

    @property
    def rewards(self) -> list[float]:
        """Rewards in row order (NaN where a row was not graded)."""
        return [o.reward if o is not None else math.nan for o in self.outcomes]

    @property
    def graded(self) -> int:
        return sum(o is not None for o in self.outcomes)

    @property
    def mean_reward(self) -> float:
        """Mean reward over graded rows (errors count as their reward, 0)."""
        values = [o.reward for o in self.outcomes if o is not None]
        return math.fsum(values) / len(values) if values else math.nan

    @property
    def pass_rate(self) -> float | None:
        if self.pass_threshold is None:
            return None
        values = [o.reward >= self.pass_threshold for o in self.outcomes if o is not None]
        return sum(values) / len(values) if values else math.nan

    def error_counts(self) -> dict[str, int]:
        """How many rows carry each (first) error flag."""
        return dict(Counter(o.error for o in self.outcomes if o is not None and o.error))

    def summary(self) -> dict[str, Any]:
        """Rows, graded rows, mean reward, pass rate, unscored counts by flag, seconds."""
        return {
            "grader": self.name,
            "rows": len(self),
            "graded": self.graded,
            "mean_reward": self.mean_reward,
            "pass_rate": self.pass_rate,
            "errors": self.error_counts(),
            "seconds": round(self.elapsed, 3),
            "interrupted": self.interrupted,
        }

    # ------------------------------------------------------------ tables

    def to_pandas(self):
        """One row per input row, same index: reward, passed, error, error_details, sub.<key>."""
        import pandas as pd

        threshold = self.pass_threshold
        columns: dict[str, list] = {"reward": self.rewards}
        if threshold is not None:
            columns["passed"] = [
                (o.reward >= threshold) if o is not None else None for o in self.outcomes
            ]
        columns["error"] = [o.error if o is not None else "not_graded" for o in self.outcomes]
        columns["error_details"] = [o.details if o is not None else None for o in self.outcomes]
        for key in self.sub_keys:
            columns[f"sub.{key}"] = [
                o.sub_rewards.get(key, math.nan) if o is not None else math.nan
                for o in self.outcomes
            ]
        index = pd.Index(self.index, name=self.index_name)
        # object columns keep None (pandas would turn a str column's None into NaN)
        frame = pd.DataFrame(
            {k: pd.Series(v, index=index, dtype=object if k.startswith("error") else None)
             for k, v in columns.items()},
            index=index,
        )
        if threshold is not None:
            frame["passed"] = frame["passed"].astype("boolean")
        return frame

    def row(self, i: int) -> dict[str, Any]:
        """Everything about row ``i`` (position): item, output, reward, errors, rendered inputs."""
        o = self.outcomes[i]
        sample = self.samples[i]
        output = sample if isinstance(sample, str) else to_text(sample)
        return {
            "index": self.index[i],
            "item": self.items[i],
            "output": output,
            "reward": o.reward if o else math.nan,
            "error": o.error if o else "not_graded",
            "error_details": o.details if o else None,
            "sub_rewards": dict(o.sub_rewards) if o else {},
            "rendered": self._rendered(i),
        }

    def _rendered(self, i: int) -> dict[str, str]:
        """The templates as the grader saw them (re-rendered when a worker process graded)."""
        o = self.outcomes[i]
        if o is None or o.rendered or o.error == "sample_parse_error":
            return dict(o.rendered) if o else {}
        from .runners import cached_runner
        from .sample import SampleParseError, build_sample

        try:
            sample = build_sample(self.samples[i], self.response_format)
        except SampleParseError:
            return {}
        try:  # display only: a grader that cannot compile here (no model client) shows nothing
            runner = cached_runner(self.grader)
        except Exception:
            return {}
        return runner.render_one({"sample": sample, "item": self.items[i]})

    # ------------------------------------------------------------ display

    def _summary_line(self) -> str:
        s = self.summary()
        parts = [f"{self.name or 'grader'}: {s['graded']}/{s['rows']} rows"]
        parts.append(f"mean reward {s['mean_reward']:.4f}")
        if s["pass_rate"] is not None:
            parts.append(f"pass rate {s['pass_rate']:.1%}")
        unscored = sum(s["errors"].values())
        if unscored:
            flags = ", ".join(f"{k} {v}" for k, v in sorted(s["errors"].items()))
            parts.append(f"unscored {unscored} ({flags})")
        if self.interrupted:
            parts.append("interrupted")
        return " · ".join(parts)

    def __repr__(self) -> str:
        return f"<GradeResult {self._summary_line()}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        """The ScoreTable widget in a kernel, with text/HTML/JSON fallbacks (lazy import)."""
        from ..widgets.bundle import mimebundle

        return mimebundle(self, include=include, exclude=exclude)

    def _repr_html_(self, max_rows: int = 20) -> str:
        frame = self.to_pandas().head(max_rows)
        frame.insert(0, "output", [_clip(self.row(i)["output"]) for i in range(len(frame))])
        table = frame.to_html(na_rep="", escape=True, border=0)
        more = f"<p>… {len(self) - max_rows} more rows</p>" if len(self) > max_rows else ""
        return f"<div><p><b>{html.escape(self._summary_line())}</b></p>{table}{more}</div>"


def _clip(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
