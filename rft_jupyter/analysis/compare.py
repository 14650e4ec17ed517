"""``compare``: two graders (or two versions of one) on the same rows.

Agreement of their pass/fail verdicts, correlation of rewards, and the rows where they differ
most. Shows itself as a score table (lazily imported, so scripts need no widgets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..graders.result import GradeResult

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

DEFAULT_THRESHOLD = 0.5
EXACT_TOLERANCE = 1e-9


def _alignment(a: GradeResult, b: GradeResult) -> tuple[list[int], list[int]]:
    """Positions in ``a`` and ``b`` of the rows they share (by index label, else position)."""
    if a.index == b.index:
        return list(range(len(a))), list(range(len(b)))
    if len(set(a.index)) != len(a.index) or len(set(b.index)) != len(b.index):
        if len(a) == len(b):
            return list(range(len(a))), list(range(len(b)))
        raise ValueError(
            "cannot align the two results: their indexes differ and hold duplicate labels"
        )
    where_b = {label: i for i, label in enumerate(b.index)}
    pa = [i for i, label in enumerate(a.index) if label in where_b]
    if not pa:
        raise ValueError("the two results share no row (compare grades of the same data)")
    return pa, [where_b[a.index[i]] for i in pa]


def _threshold(own: float | None, other: float | None, given: float | None) -> float:
    if given is not None:
        return float(given)
    for value in (own, other):
        if value is not None:
            return float(value)
    return DEFAULT_THRESHOLD


def _rank(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.Series(values).rank(method="average").to_numpy()


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    import numpy as np

    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


class Comparison:
    """Two results on the same rows.

    ``agreement`` is the share of rows whose verdicts (reward >= threshold) agree;
    ``exact_agreement`` the share with equal rewards; ``pearson`` / ``spearman`` correlate the
    rewards of rows graded by both (None when either is constant). ``to_pandas()`` has one row
    per shared row; ``differences(n)`` the ``n`` rows with the largest ``|delta|``.
    """

    def __init__(
        self,
        a: GradeResult,
        b: GradeResult,
        *,
        threshold: float | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        import numpy as np

        if not isinstance(a, GradeResult) or not isinstance(b, GradeResult):
            raise TypeError("compare takes two GradeResults (from rft.grade or %grade)")
        self.a, self.b = a, b
        if names is None:
            na, nb = a.name or "A", b.name or "B"
            names = (f"{na} (A)", f"{nb} (B)") if na == nb else (na, nb)
        self.names: tuple[str, str] = (str(names[0]), str(names[1]))
        self.pos_a, self.pos_b = _alignment(a, b)
        self.threshold_a = _threshold(a.pass_threshold, b.pass_threshold, threshold)
        self.threshold_b = _threshold(b.pass_threshold, a.pass_threshold, threshold)
        ra, rb = np.asarray(a.rewards, float), np.asarray(b.rewards, float)
        self.reward_a = ra[self.pos_a]
        self.reward_b = rb[self.pos_b]
        self.delta = self.reward_b - self.reward_a
        both = ~np.isnan(self.reward_a) & ~np.isnan(self.reward_b)
        self.graded = both
        va = self.reward_a >= self.threshold_a
        vb = self.reward_b >= self.threshold_b
        self.agree = np.where(both, (va == vb).astype(float), np.nan)
        self.error_a = [_error(a, i) for i in self.pos_a]
        self.error_b = [_error(b, i) for i in self.pos_b]

    def __len__(self) -> int:
        return len(self.pos_a)

    @property
    def index(self) -> list[Any]:
        return [self.a.index[i] for i in self.pos_a]

    def _mean(self, values: np.ndarray) -> float:
        import numpy as np

        v = values[self.graded]
        return float(np.mean(v)) if len(v) else math.nan

    @property
    def agreement(self) -> float:
        """Share of rows graded by both whose verdicts agree."""
        return self._mean(self.agree)

    @property
    def exact_agreement(self) -> float:
        """Share of rows graded by both with the same reward (to 1e-9)."""
        return self._mean((abs(self.delta) <= EXACT_TOLERANCE).astype(float))

    @property
    def pearson(self) -> float | None:
        return _pearson(self.reward_a[self.graded], self.reward_b[self.graded])

    @property
    def spearman(self) -> float | None:
        x, y = self.reward_a[self.graded], self.reward_b[self.graded]
        return _pearson(_rank(x), _rank(y)) if len(x) >= 2 else None

    def summary(self) -> dict[str, Any]:
        """Rows, agreement, correlations, means and unscored counts of both sides."""
        return {
            "a": self.names[0],
            "b": self.names[1],
            "rows": len(self),
            "graded_by_both": int(self.graded.sum()),
            "agreement": self.agreement,
            "exact_agreement": self.exact_agreement,
            "pearson": self.pearson,
            "spearman": self.spearman,
            "mean_a": self._mean(self.reward_a),
            "mean_b": self._mean(self.reward_b),
            "mean_delta": self._mean(self.delta),
            "thresholds": (self.threshold_a, self.threshold_b),
            "unscored_a": sum(e is not None for e in self.error_a),
            "unscored_b": sum(e is not None for e in self.error_b),
        }

    def to_pandas(self) -> pd.DataFrame:
        """One row per shared row: reward_a, reward_b, delta (b - a), agree, error_a, error_b."""
        import pandas as pd

        frame = pd.DataFrame(
            {
                "reward_a": self.reward_a,
                "reward_b": self.reward_b,
                "delta": self.delta,
                "agree": pd.array(
                    [None if math.isnan(x) else bool(x) for x in self.agree], dtype="boolean"
                ),
                "error_a": pd.Series(self.error_a, dtype=object),
                "error_b": pd.Series(self.error_b, dtype=object),
            }
        )
        frame.index = pd.Index(self.index, name=self.a.index_name)
        return frame

    def differences(self, n: int = 20) -> pd.DataFrame:
        """The ``n`` rows with the largest ``|delta|`` (ungraded rows last)."""
        import numpy as np

        frame = self.to_pandas()
        key = np.nan_to_num(np.abs(self.delta), nan=-1.0)
        return frame.iloc[np.argsort(-key, kind="stable")[:n]]

    def _summary_line(self) -> str:
        s = self.summary()
        parts = [f"{s['a']} vs {s['b']}: {s['rows']} rows"]
        if not math.isnan(s["agreement"]):
            parts.append(f"agreement {s['agreement']:.1%}")
        for key in ("pearson", "spearman"):
            if s[key] is not None:
                parts.append(f"{key} {s[key]:.3f}")
        if not math.isnan(s["mean_a"]):
            parts.append(f"mean {s['mean_a']:.4f} → {s['mean_b']:.4f}")
        return " · ".join(parts)

    def __repr__(self) -> str:
        return f"<Comparison {self._summary_line()}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        from ..widgets.bundle import mimebundle

        return mimebundle(self, include=include, exclude=exclude)


def _error(result: GradeResult, i: int) -> str | None:
    o = result.outcomes[i]
    if o is None:
        return "not_graded"
    return o.error if o.errors else None


def compare(
    result_a: GradeResult,
    result_b: GradeResult,
    *,
    threshold: float | None = None,
    names: Sequence[str] | None = None,
) -> Comparison:
    """Compare two grading results of the same rows (two graders, or two versions of one).

    Rows are matched by index label (by position when both indexes are equal or not unique).
    A verdict is ``reward >= threshold``: each grader's own ``pass_threshold`` (or the other's,
    or 0.5), unless ``threshold`` is given. Returns a :class:`Comparison`.
    """
    return Comparison(result_a, result_b, threshold=threshold, names=names)
