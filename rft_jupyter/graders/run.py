"""``run_grader``: one sample, the run endpoint's response shape, computed locally."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .outcome import Outcome, run_response
from .runners import compile_runner
from .sample import SampleParseError, build_sample
from .sample import response_format as _response_format
from .spec import load_grader


def grade_context(runner, model_sample: Any, item: Any, fmt) -> tuple[Outcome, dict | None]:
    """Build the sample (checking ``fmt``) and grade it; a parse failure is reward 0."""
    try:
        sample = build_sample(model_sample, fmt)
    except SampleParseError as exc:
        return Outcome.failed("sample_parse_error", str(exc)), None
    return runner.run_one({"sample": sample, "item": item}), sample


def run_grader(
    grader: Any,
    model_sample: str | Mapping[str, Any],
    item: Mapping[str, Any] | None = None,
    *,
    response_format: Mapping[str, Any] | None = None,
    client: Any = None,
    remote: Any = None,
) -> dict[str, Any]:
    """Grade one model output locally and return the service's run response.

    ``model_sample`` is the output string (like the run endpoint) or a sample dict; ``item`` is
    the dataset row. With ``response_format`` (the job's json_schema form) the output must be
    JSON satisfying the schema, else reward 0 with ``sample_parse_error``. ``client`` (an
    OpenAI-compatible client) overrides the session's for model graders. ``remote=client``
    sends the grader to the service's ``/fine_tuning/alpha/graders/run`` instead (to check our
    semantics against the service; ``model_sample`` goes as text).
    """
    spec = load_grader(grader)
    if remote is not None:
        from .remote import run_remote

        return run_remote(remote, spec, model_sample, item)
    runner = compile_runner(spec, options={"client": client} if client is not None else None)
    fmt = _response_format(response_format)
    start = time.perf_counter()
    try:
        outcome, _ = grade_context(runner, model_sample, item if item is not None else {}, fmt)
    finally:
        runner.close()
    return run_response(outcome, spec["name"], spec["type"], time.perf_counter() - start)
