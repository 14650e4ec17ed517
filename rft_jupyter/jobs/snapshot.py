"""A job as static output: JSON of its series, a PNG of its curves and an HTML summary.

:func:`snapshot_bundle` is the mime bundle a frozen monitor leaves in the notebook (and a Job's
own rich display): ``text/plain``, ``text/html`` (summary, the PNG inline, checkpoints, eval runs
with the last run's samples), ``image/png`` and :data:`MIME`, the project's own JSON type that
the JupyterLab extension renders: ``{"version": 1, "job": {...}, "series": {column: {"group",
"label", "points": [[step, value], ...]}}, "eval_runs": [...], "checkpoints": [...], ...}``.
"""

from __future__ import annotations

import base64
import html
import math
from typing import TYPE_CHECKING, Any

from .series import GROUPS, TITLES, describe

if TYPE_CHECKING:  # pragma: no cover
    from .job import Job

MIME = "application/vnd.rft-jupyter.job+json"
VERSION = 1
MAX_POINTS = 5000  # per series in the JSON (evenly thinned beyond)
SAMPLE_ROWS = 50  # rows of the last eval run shown in the HTML


def series_points(rows: dict[int, dict[str, float]], drawn_only: bool = False,
                  max_points: int | None = None) -> dict[str, dict[str, Any]]:
    """``{column: {"group", "label", "points"}}`` from ``{step: {column: value}}``."""
    out: dict[str, dict[str, Any]] = {}
    for step in sorted(rows):
        for column, value in rows[step].items():
            if not isinstance(value, float) or not math.isfinite(value):
                continue
            entry = out.get(column)
            if entry is None:
                group, label = describe(column)
                if drawn_only and group in (None, "other"):
                    continue
                entry = out[column] = {"group": group, "label": label, "points": []}
            entry["points"].append([step, value])
    if max_points:
        for entry in out.values():
            pts = entry["points"]
            if len(pts) > max_points:
                stride = len(pts) / max_points
                entry["points"] = [pts[int(i * stride)] for i in range(max_points - 1)] + [pts[-1]]
                entry["thinned"] = True
    return out


def _clip(text: Any, n: int = 160) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def snapshot_data(job: Job) -> dict[str, Any]:
    """The JSON of :data:`MIME`."""
    est = job.cost
    runs = job.eval_runs
    last = runs[-1] if runs else None
    messages = [e for e in job.events_since(0)[0] if e.kind == "message"][-20:]
    return {
        "version": VERSION,
        "job": {k: v for k, v in job.info.items() if isinstance(v, (str, int, float, bool))},
        "source": job.kind,
        "status": job.status,
        "step": job.step,
        "total_steps": job.total_steps,
        "elapsed": job.elapsed(),
        "cost": est.to_json() if est else None,
        "budget": job.budget,
        "series": series_points(job.rows(), max_points=MAX_POINTS),
        "eval_runs": [{**r.summary(), "samples": r.samples[:200] if r is last else []}
                      for r in runs],
        "checkpoints": [_jsonable(c) for c in job.checkpoint_rows()],
        "notices": list(job.notices),
        "messages": [{"time": m.created_at, "level": m.level, "text": m.message}
                     for m in messages],
    }


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in row.items()}


def snapshot_png(job: Job) -> bytes | None:
    """The curves as PNG (None when there are no metrics)."""
    if not job.rows():
        return None
    from .plot import figure_png, plot_job

    return figure_png(plot_job(job))


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "–"
    return "–" if value is None else html.escape(str(value))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def snapshot_html(job: Job, png: bytes | None = None, data: dict[str, Any] | None = None) -> str:
    """A self-contained HTML summary (no scripts, no external resources)."""
    data = data or snapshot_data(job)
    esc = html.escape
    info = data["job"]
    step = data["step"]
    total = data["total_steps"]
    parts = [
        '<div class="rft-job-snapshot" style="font-family:var(--jp-ui-font-family,sans-serif);'
        'font-size:13px;line-height:1.4">',
        f"<div><b>{esc(str(info.get('id', 'job')))}</b> · {esc(data['source'])}"
        + (f" · {esc(str(info['model']))}" if info.get("model") else "")
        + f" · status <b>{esc(str(data['status']))}</b>"
        + (f" · step {step}" + (f"/{total}" if total else "") if step is not None else "")
        + f" · elapsed {_duration(data['elapsed'])}"
        + (f" · cost ≈ ${data['cost']['spent']:,.2f}" if data["cost"] else "")
        + "</div>",
    ]
    for notice in data["notices"]:
        parts.append(f'<div style="color:#a15c00">⚠ {esc(notice)}</div>')
    if png:
        b64 = base64.b64encode(png).decode()
        parts.append(f'<img alt="job curves" style="max-width:100%" '
                     f'src="data:image/png;base64,{b64}"/>')
    series = data["series"]
    order = {g: i for i, g in enumerate(GROUPS)}
    drawn = sorted(((c, s) for c, s in series.items() if s["group"] not in (None, "other")),
                   key=lambda cs: (order[cs[1]["group"]], cs[1]["label"]))
    if drawn:
        parts.append('<table style="border-collapse:collapse;margin-top:4px">'
                     "<tr><th align=left>metric</th><th>current</th><th>min</th><th>max</th></tr>")
        for column, s in drawn:
            values = [p[1] for p in s["points"]]
            parts.append(
                f"<tr><td title='{esc(column)}'>{esc(TITLES.get(s['group'], ''))}: "
                f"{esc(s['label'])}</td><td>{_fmt(values[-1])}</td><td>{_fmt(min(values))}</td>"
                f"<td>{_fmt(max(values))}</td></tr>")
        parts.append("</table>")
    if data["checkpoints"]:
        parts.append("<div style='margin-top:4px'><b>Checkpoints</b></div><table>"
                     "<tr><th>step</th><th>valid reward</th><th>train reward</th>"
                     "<th align=left>model / path</th></tr>")
        for c in sorted(data["checkpoints"], key=lambda c: c.get("step") or 0):
            parts.append(f"<tr><td>{_fmt(c.get('step'))}</td>"
                         f"<td>{_fmt(c.get('valid_reward_mean'))}</td>"
                         f"<td>{_fmt(c.get('train_reward_mean'))}</td>"
                         f"<td>{esc(_clip(c.get('model') or c.get('path') or c.get('id')))}</td>"
                         "</tr>")
        parts.append("</table>")
    runs = data["eval_runs"]
    if runs:
        parts.append("<div style='margin-top:4px'><b>Eval runs</b></div><table>"
                     "<tr><th>step</th><th>mean reward</th><th>samples</th><th>status</th></tr>")
        for r in runs:
            parts.append(f"<tr><td>{_fmt(r['step'])}</td><td>{_fmt(r['reward_mean'])}</td>"
                         f"<td>{r['n']}</td><td>{esc(str(r['status']))}</td></tr>")
        parts.append("</table>")
        last = runs[-1]
        if last["samples"]:
            parts.append(f"<details><summary>Samples of the eval run at step "
                         f"{_fmt(last['step'])}</summary><table><tr><th>#</th><th>reward</th>"
                         "<th align=left>output</th><th align=left>error</th></tr>")
            for s in last["samples"][:SAMPLE_ROWS]:
                parts.append(f"<tr><td>{_fmt(s.get('index'))}</td><td>{_fmt(s.get('reward'))}</td>"
                             f"<td>{esc(_clip(s.get('output')))}</td>"
                             f"<td>{esc(_clip(s.get('error') or ''))}</td></tr>")
            parts.append("</table></details>")
    parts.append("</div>")
    return "".join(parts)


def snapshot_bundle(job: Job, png: bool = True) -> dict[str, Any]:
    """``text/plain`` + ``text/html`` + ``image/png`` + :data:`MIME`."""
    data = snapshot_data(job)
    image = snapshot_png(job) if png else None
    bundle: dict[str, Any] = {
        "text/plain": repr(job),
        "text/html": snapshot_html(job, image, data),
        MIME: data,
    }
    if image:
        bundle["image/png"] = base64.b64encode(image).decode()
    return bundle


__all__ = ["MIME", "series_points", "snapshot_bundle", "snapshot_data", "snapshot_html",
           "snapshot_png"]
