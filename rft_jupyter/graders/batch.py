"""``grade``: one grader over many rows (DataFrame, list of dicts, JSONL), in parallel when it pays.

Rows are the items; the ``sample`` column (or a callable ``row -> sample``) holds the model output.
Heavy graders (text metrics) are split over the session's worker processes (``pool.py``), cheap
ones run in-process.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .outcome import Outcome
from .pool import get_pool, shutdown_pool
from .runners import Runner, cached_runner, compile_runner
from .sample import ResponseFormat, SampleParseError, build_sample
from .sample import response_format as _response_format
from .settings import Settings
from .settings import settings as current_settings
from .spec import load_grader

if TYPE_CHECKING:
    from .result import GradeResult

# Rough cost per row in microseconds, to decide whether a pool pays for itself.
# (measured with bench/bench_text_metrics.py on real sentences; other graders don't use the pool)
_COST_US = {"string_check": 2, "fuzzy_match": 5, "rouge_l": 20, "bleu": 80, "gleu": 80,
            "meteor": 100}
_DEFAULT_COST_US = 15  # rouge_1..rouge_5
PARALLEL_MIN_US = 100_000  # parallelise runs expected to take longer than this in one process
PROGRESS_MIN_ROWS = 2_000

def default_workers() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _estimated_cost(spec: Mapping[str, Any]) -> float:
    if spec["type"] == "multi":
        return sum(_estimated_cost(s) for s in spec["graders"].values())
    if spec["type"] == "text_similarity":
        return _COST_US.get(spec["evaluation_metric"], _DEFAULT_COST_US)
    return _COST_US.get(spec["type"], _DEFAULT_COST_US)


def worker_grade(
    spec: Mapping[str, Any],
    settings: Settings,
    samples: Sequence[Any],
    items: Sequence[Any],
    fmt_spec: Any,
) -> list[tuple]:
    """A worker process's entry point: rebuild the runner (cached), grade a chunk, answer in
    :meth:`Outcome.to_wire` form."""
    runner = cached_runner(spec, settings)
    return [o.to_wire() for o in grade_rows(runner, samples, items, _response_format(fmt_spec))]


def grade_rows(
    runner: Runner, samples: Sequence[Any], items: Sequence[Any], fmt: ResponseFormat | None
) -> list[Outcome]:
    """Grade ``samples[i]`` against ``items[i]`` in this process."""
    fields = runner.sample_fields
    contexts: list[dict] = []
    positions: list[int] = []
    out: list[Outcome | None] = [None] * len(samples)
    for i, (raw, item) in enumerate(zip(samples, items)):
        try:
            sample = build_sample(raw, fmt, fields)
        except SampleParseError as exc:
            out[i] = Outcome.failed("sample_parse_error", str(exc))
            continue
        contexts.append({"sample": sample, "item": item})
        positions.append(i)
    for i, outcome in zip(positions, runner.run_many(contexts)):
        out[i] = outcome
    return out  # type: ignore[return-value]


# ---------------------------------------------------------------- reading the data


def _fail(message: str) -> ValueError:
    return ValueError(message)


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise _fail(f"{path}:{lineno}: not valid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise _fail(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    return rows


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _rows(data: Any) -> tuple[list[Any], list[dict], list[str]]:
    """(index labels, row dicts, column names) from a DataFrame, list of dicts or JSONL path."""
    if isinstance(data, (str, os.PathLike)):
        rows = _read_jsonl(Path(data))
        return list(range(len(rows))), rows, _columns(rows)
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # pandas DataFrame
        columns = [str(c) for c in data.columns]
        records = data.to_dict("records")
        # A DataFrame cell that is NaN/None means "no value": the item lacks that key.
        rows = [{str(k): v for k, v in r.items() if not _is_missing(v)} for r in records]
        return list(data.index), rows, columns
    if isinstance(data, Mapping):
        raise _fail("data must be a DataFrame, a list of dicts or a JSONL path, not a dict")
    if isinstance(data, Iterable):
        rows = list(data)
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise _fail(f"data[{i}] is {type(row).__name__}, expected a dict (one row)")
        return list(range(len(rows))), [dict(r) for r in rows], _columns(rows)
    raise _fail(
        f"data must be a DataFrame, a list of dicts or a JSONL path, not {type(data).__name__}"
    )


def _columns(rows: Sequence[Mapping]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def _split_sample(
    rows: list[dict], columns: list[str], sample: str | Callable[[dict], Any]
) -> tuple[list[Any], list[dict]]:
    """Model outputs and items (the rows without the sample column)."""
    if callable(sample):
        return [sample(row) for row in rows], rows
    if not isinstance(sample, str):
        raise _fail("sample must be a column name or a callable row -> sample")
    if sample not in columns and rows:
        hint = difflib.get_close_matches(sample, columns, n=1)
        did = f"; did you mean {hint[0]!r}?" if hint else ""
        shown = ", ".join(columns[:20]) + (" …" if len(columns) > 20 else "")
        raise _fail(f"sample column {sample!r} not found{did} (columns: {shown or 'none'})")
    samples = []
    items = []
    for row in rows:
        item = row.copy()
        value = item.pop(sample, None)
        samples.append("" if _is_missing(value) else value)
        items.append(item)
    return samples, items


# ---------------------------------------------------------------- grade


def grade(
    grader: Any,
    data: Any,
    sample: str | Callable[[dict], Any] = "output_text",
    *,
    response_format: Mapping[str, Any] | None = None,
    limit: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    parallel: bool | None = None,
    progress: bool | None = None,
    client: Any = None,
) -> GradeResult:
    """Grade every row of ``data`` (DataFrame, list of dicts or JSONL path) with ``grader``.

    ``sample`` names the column with the model output (str or sample dict), or is a callable
    ``row -> sample``. ``limit`` keeps N rows (the first N, or a random N with ``seed``).
    ``workers`` caps the processes (default: all cores); ``parallel`` forces the process pool on
    or off (default: on when the run is long enough to pay for it). A progress bar
    shows on long runs (``progress=False`` hides it); Ctrl-C returns the rows graded so far.
    ``client`` (an OpenAI-compatible client) overrides the session's for model graders.
    """
    from .result import GradeResult

    spec = load_grader(grader)
    fmt = _response_format(response_format)
    settings = current_settings()
    options = {"client": client} if client is not None else {}
    # Compile here: an unavailable metric or grader type fails before any work is done.
    runner = compile_runner(spec, settings, options)
    index, rows, columns = _rows(data)
    if limit is not None:
        if limit < 0:
            raise _fail(f"limit must be >= 0, got {limit}")
        chosen = range(len(rows))
        if seed is not None:
            chosen = sorted(random.Random(seed).sample(chosen, min(limit, len(rows))))
        chosen = list(chosen)[:limit]
        index = [index[i] for i in chosen]
        rows = [rows[i] for i in chosen]
    samples, items = _split_sample(rows, columns, sample)
    start = time.perf_counter()
    try:
        outcomes, interrupted = _grade_all(runner, samples, items, fmt, workers, parallel, progress)
    finally:
        runner.close()
    return GradeResult(
        spec,
        index,
        items,
        samples,
        outcomes,
        elapsed=time.perf_counter() - start,
        interrupted=interrupted,
        index_name=getattr(getattr(data, "index", None), "name", None),
        response_format=fmt,
    )


def _grade_all(
    runner: Runner,
    samples: list[Any],
    items: list[dict],
    fmt: ResponseFormat | None,
    workers: int | None,
    parallel: bool | None,
    progress: bool | None,
) -> tuple[list[Outcome | None], bool]:
    n = len(samples)
    workers = default_workers() if workers is None else max(1, int(workers))
    if not runner.process_pool_ok:
        parallel = False
    elif parallel is None:
        parallel = workers > 1 and n * _estimated_cost(runner.spec) >= PARALLEL_MIN_US
    n_chunks = workers * 8 if parallel else max(1, min(50, n // 500))
    size = max(1, math.ceil(n / n_chunks)) if n else 1
    bounds = [(lo, min(n, lo + size)) for lo in range(0, n, size)]
    outcomes: list[Outcome | None] = [None] * n
    bar = _progress_bar(n, progress)
    fmt_spec = fmt.spec if fmt else None
    try:
        if parallel:
            pool = get_pool(workers)
            futures: dict[Future, tuple[int, int]] = {
                pool.submit(
                    "grade", runner.spec, runner.settings, samples[lo:hi], items[lo:hi],
                    fmt_spec,
                ): (lo, hi)
                for lo, hi in bounds
            }
            for fut in as_completed(futures):
                lo, hi = futures[fut]
                outcomes[lo:hi] = [Outcome.from_wire(w) for w in fut.result()]
                if bar:
                    bar.update(hi - lo)
        else:
            for lo, hi in bounds:
                outcomes[lo:hi] = grade_rows(runner, samples[lo:hi], items[lo:hi], fmt)
                if bar:
                    bar.update(hi - lo)
    except KeyboardInterrupt:
        if parallel:
            shutdown_pool()  # kills the busy workers; the next call starts fresh ones
        return outcomes, True
    finally:
        if bar:
            bar.close()
    return outcomes, False


def _progress_bar(n: int, progress: bool | None):
    if progress is False or (progress is None and n < PROGRESS_MIN_ROWS):
        return None
    from tqdm import tqdm

    return tqdm(total=n, unit="row", desc="grading", leave=False)
