"""RFT jobs on OpenAI or Azure OpenAI, through the openai SDK: ``create`` and ``attach``.

Each refresh reads the job (its status), then the events, the checkpoints and the job's
evaluation runs:

- **Events** come newest first; ``after=<id>`` pages toward older ones. A refresh pages down
  from the newest until it meets an event it already has (or the end), so it fetches only what is
  new; events that arrive while it pages land above the cursor and come with the next refresh.
  When a page fails for good, the events already fetched are kept and the cursor is remembered:
  the next refresh fills that gap as well as fetching the new head. Nothing is lost or repeated.
- **Checkpoints**: new ones become ``checkpoint`` events; one that disappears (the service keeps
  the best three) becomes a ``checkpoint`` event with ``deleted``.
- **Evaluations**: the service creates an eval for every RFT job; where the job names it
  (``eval_id``) and the evals API answers, each finished run and its output items become an
  ``eval_run`` event (per-sample rewards). Otherwise a notice says why there are none.

Calls are retried (429 with Retry-After, 408/409, 5xx, dropped connections) by
:mod:`rft_jupyter.jobs.retry`; the SDK's own retries are turned off for these calls. Errors and
reprs never show the API key.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import re
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .events import Event
from .job import Job, JobConnectionError
from .retry import RetryPolicy, call

PAGE_SIZE = 100
POLL_INTERVAL = 5.0
_STEP_IN_NAME = re.compile(r"step[ _:-]*(\d+)", re.I)
_REGISTRY: weakref.WeakValueDictionary[tuple[str, str], Job] = weakref.WeakValueDictionary()


def _to_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    for name in ("to_dict", "model_dump"):
        fn = getattr(obj, name, None)
        if callable(fn):
            try:  # the SDK types multigraders as one grader: no serializer warnings
                return dict(fn(warnings=False))
            except TypeError:
                try:
                    return dict(fn())
                except TypeError:
                    continue
    return dict(vars(obj))


def _is_azure(client: Any) -> bool:
    import openai

    if isinstance(client, (openai.AzureOpenAI, openai.AsyncAzureOpenAI)):
        return True
    host = str(getattr(client, "base_url", ""))
    return ".azure.com" in host or ".azure.us" in host or "cognitiveservices" in host


def _endpoint(client: Any) -> str:
    url = str(getattr(client, "base_url", ""))
    return re.sub(r"//[^/@]*@", "//", url)  # no userinfo


def resolve_client(client: Any = None) -> Any:
    """``client``, else the session's (``rft.configure_client``), else one from the environment."""
    from ..graders.model_client import HOW_TO_CONFIGURE, current_config

    if client is None:
        client = current_config().client
    if client is None:
        raise ValueError(f"jobs need an OpenAI or Azure OpenAI client: {HOW_TO_CONFIGURE}")
    if not hasattr(client, "fine_tuning"):
        raise TypeError(
            f"client must be an openai.OpenAI / AzureOpenAI instance, not {type(client).__name__}"
        )
    return client


class OpenAISource:
    """Events of one job on OpenAI / Azure OpenAI (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        job_id: str,
        *,
        page_size: int = PAGE_SIZE,
        retry: RetryPolicy | None = None,
        poll_interval: float | None = None,
    ) -> None:
        from ..graders.model_client import ClientConfig

        if not isinstance(job_id, str) or not job_id.strip():
            raise ValueError("job_id must be a non-empty string (e.g. 'ftjob-...')")
        self.kind = "azure" if _is_azure(client) else "openai"
        self.poll_interval = POLL_INTERVAL if poll_interval is None else float(poll_interval)
        self.job_id = job_id.strip()
        self.page_size = int(page_size)
        self.retry = retry or RetryPolicy()
        self._redact = ClientConfig(client).redact
        self._client = client.with_options(max_retries=0) if hasattr(client, "with_options") \
            else client
        self._endpoint = _endpoint(client)
        self._seen: set[str] = set()
        self._gaps: list[str] = []
        self._status: str | None = None
        self._n_status = 0
        self._job: dict[str, Any] = {}
        self._checkpoints: dict[str, dict[str, Any]] = {}
        self._runs_done: set[str] = set()
        self._evals = "unknown"  # unknown | none | ok | unavailable

    # ------------------------------------------------------------ plumbing

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def once() -> Any:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                from ..graders.model_client import run_sync

                result = run_sync(result)
            return result

        return call(self.retry, once)

    def _describe(self, exc: BaseException) -> str:
        from ..graders.model_client import describe_error

        text = describe_error(exc, self._client)
        if _retryable(exc) and self.retry.retries:
            text += f" (gave up after {self.retry.retries} retries)"
        return self._redact(text)

    def info(self) -> dict[str, Any]:
        job = self._job
        out: dict[str, Any] = {"id": self.job_id, "endpoint": self._endpoint}
        for key in ("model", "fine_tuned_model", "eval_id", "training_file", "validation_file",
                    "created_at", "estimated_finish", "trained_tokens"):
            if job.get(key) is not None:
                out[key] = job[key]
        return out

    # ------------------------------------------------------------ fetching

    def fetch(self) -> list[Event]:
        out: list[Event] = []
        try:
            job = _to_dict(self._call(self._client.fine_tuning.jobs.retrieve, self.job_id))
            self._job = job
            out += self._status_events(job)
            out += self._new_events()
            out += self._checkpoint_events()
            out += self._eval_events(job)
        except _Partial as exc:
            out += exc.events
            raise JobConnectionError(
                f"job {self.job_id}: {self._describe(exc.cause)}", out) from None
        except Exception as exc:
            if not _is_api_error(exc):
                raise
            raise JobConnectionError(f"job {self.job_id}: {self._describe(exc)}", out) from None
        return out

    def _status_events(self, job: Mapping[str, Any]) -> list[Event]:
        status = str(job.get("status") or "unknown")
        if status == self._status:
            return []
        self._status = status
        self._n_status += 1
        error = job.get("error") if isinstance(job.get("error"), Mapping) else None
        message = f"status: {status}"
        if error and error.get("message"):
            message += f" ({self._redact(str(error['message']))})"
        when = job.get("finished_at") if status in ("succeeded", "failed", "cancelled") else None
        return [Event(f"status-{self._n_status}-{status}", "status",
                      float(when) if isinstance(when, (int, float)) else time.time(), None,
                      {"status": status}, message, "error" if status == "failed" else "info")]

    def _new_events(self) -> list[Event]:
        head = self._page_down(None)
        older: list[Event] = []
        for cursor in list(self._gaps):
            self._gaps.remove(cursor)
            try:
                older += self._page_down(cursor)
            except _Partial as exc:
                raise _Partial(exc.cause, head + older + exc.events) from None
        return head + older

    def _page_down(self, after: str | None) -> list[Event]:
        """Newest-first pages from ``after`` down to a known event or the end; chronological."""
        raw: list[Mapping[str, Any]] = []
        cursor = after
        try:
            while True:
                kwargs: dict[str, Any] = {"limit": self.page_size}
                if cursor is not None:
                    kwargs["after"] = cursor
                page = self._call(self._client.fine_tuning.jobs.list_events, self.job_id,
                                  **kwargs)
                data = [_to_dict(e) for e in (getattr(page, "data", None) or [])]
                stop = False
                for item in data:
                    if str(item.get("id")) in self._seen:
                        stop = True
                        break
                    raw.append(item)
                if stop or not data or not getattr(page, "has_more", False):
                    break
                cursor = str(data[-1].get("id"))
        except Exception as exc:
            if not _is_api_error(exc):
                raise
            if raw:  # resume below the oldest event we got
                self._gaps.append(str(raw[-1].get("id")))
            elif after is not None:
                self._gaps.append(after)
            raise _Partial(exc, self._commit(raw)) from None
        return self._commit(raw)

    def _commit(self, raw: list[Mapping[str, Any]]) -> list[Event]:
        events = []
        for item in reversed(raw):  # oldest first
            ident = str(item.get("id"))
            if ident in self._seen:
                continue
            self._seen.add(ident)
            events.append(Event.from_service(item))
        return events

    def _list_all(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[dict]:
        items: list[dict] = []
        after = None
        while True:
            extra = {"after": after} if after else {}
            page = self._call(fn, *args, limit=self.page_size, **kwargs, **extra)
            data = [_to_dict(x) for x in (getattr(page, "data", None) or [])]
            items += data
            if not data or not getattr(page, "has_more", False):
                return items
            after = str(data[-1].get("id"))

    def _checkpoint_events(self) -> list[Event]:
        try:
            listed = self._list_all(self._client.fine_tuning.jobs.checkpoints.list, self.job_id)
        except Exception as exc:
            if getattr(exc, "status_code", None) == 404:
                return []  # no checkpoints endpoint (older deployments): nothing to show
            raise
        out = []
        current = {str(c.get("id")): c for c in listed}
        for key, c in current.items():
            if key in self._checkpoints:
                continue
            self._checkpoints[key] = c
            metrics = c.get("metrics") if isinstance(c.get("metrics"), Mapping) else {}
            step = c.get("step_number")
            out.append(Event(f"checkpoint-{key}", "checkpoint",
                             float(c.get("created_at") or time.time()),
                             int(step) if isinstance(step, int) else None,
                             {"id": key, "metrics": dict(metrics),
                              "model": c.get("fine_tuned_model_checkpoint")},
                             f"checkpoint {c.get('fine_tuned_model_checkpoint') or key}"))
        for key in [k for k in self._checkpoints if k not in current]:
            old = self._checkpoints.pop(key)
            out.append(Event(f"checkpoint-deleted-{key}", "checkpoint", time.time(),
                             old.get("step_number"), {"id": key, "deleted": True},
                             f"checkpoint {key} removed"))
        return out

    def _eval_events(self, job: Mapping[str, Any]) -> list[Event]:
        eval_id = job.get("eval_id")
        if not eval_id:
            if self._evals == "none":
                return []
            self._evals = "none"
            return [_notice("notice-no-eval-id",
                            "This job names no evaluation (no eval_id on the job object), so "
                            "per-sample validation results are not available here; validation "
                            "rewards still come from the metrics events.")]
        if self._evals == "unavailable":
            return []
        evals = getattr(self._client, "evals", None)
        try:
            if evals is None:
                raise AttributeError("this openai SDK has no evals API")
            runs = self._list_all(evals.runs.list, eval_id, order="asc")
        except Exception as exc:
            if _is_api_error(exc) and _retryable(exc):
                raise
            self._evals = "unavailable"
            reason = self._describe(exc) if _is_api_error(exc) else str(exc)
            return [_notice(f"notice-evals-unavailable-{eval_id}",
                            f"The evals API did not answer for this job's evaluation {eval_id} "
                            f"({reason}): per-sample validation results are not shown; "
                            "validation rewards still come from the metrics events.")]
        self._evals = "ok"
        out = []
        for run in runs:
            run_id = str(run.get("id"))
            status = str(run.get("status") or "")
            if run_id in self._runs_done or status not in ("completed", "failed", "canceled"):
                continue
            items = self._list_all(evals.runs.output_items.list, run_id, eval_id=eval_id)
            self._runs_done.add(run_id)
            out.append(_eval_event(run, items))
        return out

    # ------------------------------------------------------------ control

    def control(self, action: str) -> list[Event]:
        fn = getattr(self._client.fine_tuning.jobs, action)
        try:
            job = _to_dict(self._call(fn, self.job_id))
        except Exception as exc:
            if not _is_api_error(exc):
                raise
            raise JobConnectionError(f"{action} {self.job_id}: {self._describe(exc)}") from None
        self._job = job or self._job
        return self._status_events(job)

    def close(self) -> None:
        pass


class _Partial(Exception):
    def __init__(self, cause: BaseException, events: list[Event]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.events = events


def _is_api_error(exc: BaseException) -> bool:
    import openai

    return isinstance(exc, (openai.OpenAIError, ConnectionError, TimeoutError))


def _retryable(exc: BaseException) -> bool:
    from .retry import retryable

    return retryable(exc)


def _notice(ident: str, text: str) -> Event:
    return Event(ident, "message", time.time(), None, {"notice": True}, text, "warn")


def _eval_event(run: Mapping[str, Any], items: list[Mapping[str, Any]]) -> Event:
    """An ``eval_run`` event from an eval run and its output items."""
    samples = []
    for item in sorted(items, key=lambda i: (i.get("datasource_item_id") is None,
                                             i.get("datasource_item_id") or 0)):
        results = [r for r in item.get("results") or [] if isinstance(r, Mapping)]
        scores = {str(r.get("name")): r.get("score") for r in results}
        numeric = [float(v) for v in scores.values() if isinstance(v, (int, float))]
        sample = item.get("sample") if isinstance(item.get("sample"), Mapping) else {}
        outputs = [o for o in sample.get("output") or [] if isinstance(o, Mapping)]
        error = sample.get("error") if isinstance(sample.get("error"), Mapping) else {}
        samples.append({
            "index": item.get("datasource_item_id"),
            "reward": numeric[0] if len(numeric) == 1 else (
                sum(numeric) / len(numeric) if numeric else None),
            "passed": all(bool(r.get("passed")) for r in results) if results else None,
            "scores": scores if len(scores) > 1 else {},
            "output": str(outputs[-1].get("content") or "") if outputs else "",
            "error": (error.get("message") or None) if error else None,
            "status": item.get("status"),
        })
    rewards = [s["reward"] for s in samples if isinstance(s["reward"], (int, float))]
    meta = run.get("metadata") if isinstance(run.get("metadata"), Mapping) else {}
    step = _step_of(meta.get("step"))
    if step is None:
        m = _STEP_IN_NAME.search(str(run.get("name") or ""))
        step = int(m.group(1)) if m else None
    return Event(f"eval-run-{run.get('id')}", "eval_run", float(run.get("created_at") or 0) or None,
                 step, {"run_id": str(run.get("id")), "status": run.get("status"),
                        "name": run.get("name"),
                        "reward_mean": sum(rewards) / len(rewards) if rewards else None,
                        "result_counts": run.get("result_counts"), "samples": samples},
                 f"eval run {run.get('name') or run.get('id')}")


def _step_of(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- public API


def attached(job_id: str) -> Job | None:
    """A job already attached in this session (any endpoint), or None."""
    for (_, ident), job in list(_REGISTRY.items()):
        if ident == job_id:
            return job
    return None


def attach(
    job_id: str,
    client: Any = None,
    *,
    budget: float | None = None,
    price_per_hour: float | None = None,
    poll_interval: float | None = None,
    page_size: int = PAGE_SIZE,
    retry: RetryPolicy | None = None,
    refresh: bool = True,
) -> Job:
    """The :class:`~rft_jupyter.jobs.job.Job` for an existing fine-tuning job.

    ``client`` is an ``openai.OpenAI`` / ``AzureOpenAI`` (default: the session's, see
    ``rft.configure_client``, or the environment's). Attaching again to the same job on the same
    endpoint returns the same Job (nothing is fetched twice). ``budget`` (USD) arms the cost
    guard at ``price_per_hour`` (default: :func:`~rft_jupyter.jobs.cost.configure_cost`).
    The first refresh happens now (``refresh=False`` defers it).
    """
    client = resolve_client(client)
    key = (_endpoint(client), job_id)
    job = _REGISTRY.get(key)
    if job is None:
        source = OpenAISource(client, job_id, page_size=page_size, retry=retry,
                              poll_interval=poll_interval)
        job = Job(source, budget=budget, price_per_hour=price_per_hour)
        _REGISTRY[key] = job
    else:
        if budget is not None:
            job.set_budget(budget)
        if price_per_hour is not None:
            job.price_per_hour = price_per_hour
    if refresh:
        try:
            job.refresh()
        except JobConnectionError:
            if not job.events:
                _REGISTRY.pop(key, None)
                raise
    return job


def create(
    grader: Any,
    train: Any,
    valid: Any = None,
    *,
    model: str,
    client: Any = None,
    hyperparameters: Mapping[str, Any] | None = None,
    response_format: Mapping[str, Any] | None = None,
    suffix: str | None = None,
    seed: int | None = None,
    metadata: Mapping[str, str] | None = None,
    budget: float | None = None,
    price_per_hour: float | None = None,
    poll_interval: float | None = None,
    retry: RetryPolicy | None = None,
    file_timeout: float = 600.0,
    **more_hyperparameters: Any,
) -> Job:
    """Validate, upload and start an RFT job; returns its :class:`Job`.

    ``grader``: a spec (dict, JSON/YAML text or path; multigraders as a dict of named graders).
    ``train`` / ``valid``: JSONL paths, lists of row dicts or DataFrames; they must pass
    :func:`rft_jupyter.validate_dataset` with the grader before anything is uploaded (Azure
    requires ``valid``). ``hyperparameters`` (and keyword arguments such as ``n_epochs=2``,
    ``eval_interval=5``) go to ``method.reinforcement.hyperparameters``; ``response_format``
    (``{"type": "json_schema", ...}``) is sent as is.
    """
    from ..data import validate_dataset
    from ..graders.spec import load_grader

    client = resolve_client(client)
    spec = load_grader(grader)
    if valid is None and _is_azure(client):
        raise ValueError("Azure OpenAI requires a validation file for RFT jobs: pass valid=...")
    for data, kind in ((train, "train"), (valid, "valid")):
        if data is not None:
            validate_dataset(data, grader=spec, kind=kind).raise_for_problems()
    if response_format is not None:
        from ..graders.sample import response_format as check_format

        check_format(response_format)
    hp = {**dict(hyperparameters or {}), **more_hyperparameters}
    policy = retry or RetryPolicy()
    raw = client.with_options(max_retries=0) if hasattr(client, "with_options") else client
    train_id = _upload(raw, policy, train, "train.jsonl", file_timeout)
    valid_id = _upload(raw, policy, valid, "valid.jsonl", file_timeout) if valid is not None \
        else None
    reinforcement: dict[str, Any] = {"grader": spec}
    if hp:
        reinforcement["hyperparameters"] = hp
    if response_format is not None:
        reinforcement["response_format"] = dict(response_format)
    kwargs: dict[str, Any] = {
        "model": model,
        "training_file": train_id,
        "method": {"type": "reinforcement", "reinforcement": reinforcement},
    }
    if valid_id:
        kwargs["validation_file"] = valid_id
    if suffix is not None:
        kwargs["suffix"] = suffix
    if seed is not None:
        kwargs["seed"] = seed
    if metadata is not None:
        kwargs["metadata"] = dict(metadata)
    created = _to_dict(call(policy, raw.fine_tuning.jobs.create, **kwargs))
    return attach(str(created["id"]), client, budget=budget, price_per_hour=price_per_hour,
                  poll_interval=poll_interval, retry=retry)


def _jsonl_bytes(data: Any) -> tuple[bytes, str | None]:
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        with open(path, "rb") as fh:
            return fh.read(), os.path.basename(path)
    rows: Iterable[Any]
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        rows = _frame_rows(data)
    else:
        rows = data
    text = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
    return text.encode("utf-8"), None


def _frame_rows(frame: Any) -> list[dict]:
    import math

    out = []
    for record in frame.to_dict(orient="records"):
        out.append({k: v for k, v in record.items()
                    if not (isinstance(v, float) and math.isnan(v)) and v is not None})
    return out


def _upload(client: Any, policy: RetryPolicy, data: Any, default_name: str,
            timeout: float) -> str:
    content, name = _jsonl_bytes(data)
    ready = ("processed",) if _is_azure(client) else ("processed", "uploaded")
    created = _to_dict(call(policy, client.files.create,
                            file=(name or default_name, io.BytesIO(content)),
                            purpose="fine-tune"))
    file_id = str(created["id"])
    deadline = time.monotonic() + timeout
    status = created.get("status")
    while status is not None and status not in ready:
        if status == "error":
            detail = created.get("status_details") or "no details"
            raise ValueError(f"the service rejected {name or default_name}: {detail}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{file_id} was not processed after {timeout:g} s")
        time.sleep(1.0)
        created = _to_dict(call(policy, client.files.retrieve, file_id))
        status = created.get("status")
    return file_id


__all__ = ["OpenAISource", "attach", "create", "resolve_client"]
