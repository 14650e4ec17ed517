"""``job.plot()``: the job's curves as a matplotlib Figure (also the monitor's frozen PNG)."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from .series import TITLES, grouped

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .job import Job

PANELS = ("reward", "graders", "tokens", "errors")


def plot_job(job: Job, columns: list[str] | None = None, width: float = 9.0) -> Figure:
    """One panel per group (reward with eval runs and checkpoints marked, per-grader rewards,
    tokens, error rates), or one panel of ``columns``."""
    import matplotlib.pyplot as plt

    rows = job.rows()
    steps = sorted(rows)
    all_columns = sorted({c for r in rows.values() for c in r})
    if columns is not None:
        missing = [c for c in columns if c not in all_columns]
        if missing:
            raise KeyError(f"no metric {missing[0]!r} (metrics: {', '.join(all_columns[:12])}...)")
        panels = {"selected": [(c, c) for c in columns]}
    else:
        groups = grouped(all_columns)
        panels = {g: groups[g] for g in PANELS if g in groups}
    n = max(1, len(panels))
    fig = plt.figure(figsize=(width, 2.4 * n + 0.6), layout="constrained")
    plt.close(fig)  # owned by the caller; nothing shows it twice
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    title = f"{job.id} · {job.kind} · {job.status}" if hasattr(job, "id") else ""
    fig.suptitle(title, fontsize=10)
    if not panels:
        axes[0].text(0.5, 0.5, "no metrics yet", ha="center", va="center",
                     transform=axes[0].transAxes)
        axes[0].set_axis_off()
        return fig
    evals = [r for r in job.eval_runs if r.step is not None]
    checkpoints = [c for c in job.checkpoint_rows() if c.get("step") is not None]
    for ax, (group, series) in zip(axes, panels.items()):
        for column, label in series:
            xs = [s for s in steps if column in rows[s] and math.isfinite(rows[s][column])]
            ys = [rows[s][column] for s in xs]
            if not xs:
                continue
            sparse = len(xs) < max(2, len(steps) // 3)
            ax.plot(xs, ys, label=label, marker="o" if sparse else None, markersize=3,
                    linewidth=1.4)
        if group == "reward":
            for run in evals:
                ax.axvline(run.step, color="0.6", linestyle=":", linewidth=0.8)
            pts = [(c["step"], c["valid_reward_mean"]) for c in checkpoints
                   if isinstance(c.get("valid_reward_mean"), float)]
            if pts:
                ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker="*", s=90,
                           color="goldenrod", zorder=5, label="checkpoint")
        ax.set_title(TITLES.get(group, "Selected metrics"), fontsize=9, loc="left")
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best", ncol=2)
    axes[-1].set_xlabel("step", fontsize=8)
    return fig


def figure_png(fig: Figure, dpi: int = 90) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


__all__ = ["figure_png", "plot_job"]
