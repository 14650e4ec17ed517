"""A real HTTP server on 127.0.0.1 that speaks the fine-tuning, files and evals API.

Routes (under ``/v1``, Azure's ``/openai`` and ``/openai/v1``):

- ``POST /files`` (multipart), ``GET /files/{id}``;
- ``POST /fine_tuning/jobs``, ``GET /fine_tuning/jobs/{id}``,
  ``POST /fine_tuning/jobs/{id}/pause|resume|cancel``;
- ``GET /fine_tuning/jobs/{id}/events?after=&limit=``: newest first, ``after`` pages toward
  older events, ``has_more``;
- ``GET /fine_tuning/jobs/{id}/checkpoints?after=&limit=``;
- ``GET /evals/{eval_id}/runs`` and ``GET /evals/{eval_id}/runs/{run_id}/output_items``.

The test drives the job: ``add_job``, ``add_metrics``, ``add_message``, ``set_status``,
``add_checkpoint`` / ``remove_checkpoint``, ``add_eval_run``. Faults: ``fail(path_part, *faults)``
queues responses for the next matching requests (``429`` with Retry-After ``retry_after``,
``500``, ``503``, ``404``, ``"drop"``: the connection is closed without an answer, ``"leak"``:
a 400 whose message echoes the credentials);
``during_paging(job_id, callback)`` runs ``callback()`` when the next request that pages
(``after=`` set) arrives, before it is answered (new events arriving while a client pages).
Every request is recorded (method, path, query, headers, body, status).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as email_policy
from typing import Any
from urllib.parse import parse_qs, urlsplit

from servers.base import JsonHandler, LocalServer

_PREFIXES = ("/openai/v1", "/openai", "/v1")


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class FtServer(LocalServer):
    """Start with ``with FtServer() as server:``; see the module docstring."""

    def __init__(self, *, api_key: str | None = None, retry_after: str = "0") -> None:
        self.api_key = api_key
        self.retry_after = retry_after
        self.files: dict[str, dict[str, Any]] = {}
        self.file_bytes: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.checkpoints: dict[str, list[dict[str, Any]]] = {}
        self.evals: dict[str, dict[str, Any]] = {}
        self.evals_error: int | None = None  # answer every evals request with this status
        self.requests: list[Recorded] = []
        self._faults: list[tuple[str, Any]] = []
        self._paging_hooks: dict[str, list[Callable[[], Any]]] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._clock = 1_700_000_000

    # ------------------------------------------------------------ lifecycle

    # ------------------------------------------------------------ driving the job

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):05d}"

    def tick(self, seconds: int = 10) -> int:
        """The server's clock (Unix seconds), moved on by ``seconds``."""
        with self._lock:
            self._clock += seconds
            return self._clock

    def add_job(self, job_id: str | None = None, *, status: str = "running",
                model: str = "o4-mini-2025-04-16", eval_id: str | None = None,
                **extra: Any) -> str:
        with self._lock:
            job_id = job_id or self._id("ftjob")
            self.jobs[job_id] = {
                "id": job_id, "object": "fine_tuning.job", "created_at": self.tick(0),
                "model": model, "status": status, "fine_tuned_model": None, "finished_at": None,
                "error": None, "training_file": "file-train", "validation_file": "file-valid",
                "organization_id": "org-test", "result_files": [], "seed": 0,
                "trained_tokens": None, "method": {"type": "reinforcement"},
                "eval_id": eval_id, **extra,
            }
            self.events[job_id] = []
            self.checkpoints[job_id] = []
            if eval_id:
                self.evals.setdefault(eval_id, {"runs": [], "items": {}})
            return job_id

    def _event(self, job_id: str, event: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            event = {"id": self._id("ftevent"), "object": "fine_tuning.job.event",
                     "created_at": self.tick(), "level": "info", **event}
            self.events[job_id].append(event)
            return event

    def add_metrics(self, job_id: str, step: int, data: dict[str, Any] | None = None,
                    total_steps: int = 100) -> dict[str, Any]:
        payload = {"step": step, "total_steps": total_steps, **(data or {})}
        score = payload.get("scores", {}).get("train_reward_mean")
        text = f"Step {step}/{total_steps}" + (f", train mean reward={score:.2f}"
                                               if score is not None else "")
        return self._event(job_id, {"message": text, "type": "metrics", "data": payload})

    def add_message(self, job_id: str, text: str, level: str = "info") -> dict[str, Any]:
        return self._event(job_id, {"message": text, "type": "message", "level": level})

    def set_status(self, job_id: str, status: str) -> None:
        with self._lock:
            job = self.jobs[job_id]
            job["status"] = status
            if status in ("succeeded", "failed", "cancelled"):
                job["finished_at"] = self.tick(0)
                if status == "succeeded":
                    job["fine_tuned_model"] = f"ft:{job['model']}:test::{job_id[-5:]}"

    def add_checkpoint(self, job_id: str, step: int, metrics: dict[str, Any]) -> str:
        with self._lock:
            ckpt = {"id": self._id("ftckpt"), "object": "fine_tuning.job.checkpoint",
                    "created_at": self.tick(0), "fine_tuning_job_id": job_id,
                    "fine_tuned_model_checkpoint": f"ft:o4-mini:test:ckpt-step-{step}",
                    "step_number": step, "metrics": metrics}
            self.checkpoints[job_id].append(ckpt)
            return ckpt["id"]

    def remove_checkpoint(self, job_id: str, ckpt_id: str) -> None:
        with self._lock:
            self.checkpoints[job_id] = [c for c in self.checkpoints[job_id] if c["id"] != ckpt_id]

    def add_eval_run(self, eval_id: str, step: int, samples: list[tuple[float, str]],
                     status: str = "completed", name: str | None = None) -> str:
        with self._lock:
            run_id = self._id("evalrun")
            ev = self.evals.setdefault(eval_id, {"runs": [], "items": {}})
            ev["runs"].append({
                "id": run_id, "object": "eval.run", "created_at": self.tick(0),
                "eval_id": eval_id, "name": name or f"validation step {step}",
                "status": status, "model": "o4-mini", "metadata": {"step": str(step)},
                "result_counts": {"total": len(samples), "passed": 0, "failed": 0,
                                  "errored": 0},
                "data_source": {"type": "jsonl", "source": {"type": "file_id", "id": "f"}},
                "error": {"code": "", "message": ""}, "per_model_usage": [],
                "per_testing_criteria_results": [], "report_url": "http://example",
            })
            ev["items"][run_id] = [
                {"id": self._id("outputitem"), "object": "eval.run.output_item",
                 "created_at": self.tick(0), "datasource_item_id": i,
                 "datasource_item": {"answer": str(i)}, "eval_id": eval_id, "run_id": run_id,
                 "status": "pass" if reward >= 0.5 else "fail",
                 "results": [{"name": "grader", "type": "string_check", "score": reward,
                              "passed": reward >= 0.5, "sample": None}],
                 "sample": {"output": [{"role": "assistant", "content": output}], "input": [],
                            "error": {"code": "", "message": ""}, "finish_reason": "stop",
                            "model": "o4-mini", "usage": {"total_tokens": 1,
                                                          "completion_tokens": 1,
                                                          "prompt_tokens": 0,
                                                          "cached_tokens": 0},
                            "temperature": 1.0, "top_p": 1.0, "seed": 0,
                            "max_completion_tokens": 100}}
                for i, (reward, output) in enumerate(samples)
            ]
            return run_id

    def set_run_status(self, eval_id: str, run_id: str, status: str) -> None:
        with self._lock:
            for run in self.evals[eval_id]["runs"]:
                if run["id"] == run_id:
                    run["status"] = status

    # ------------------------------------------------------------ faults

    def fail(self, path_part: str, *faults: Any) -> None:
        """The next requests whose path contains ``path_part`` get ``faults`` in order."""
        with self._lock:
            self._faults += [(path_part, f) for f in faults]

    def during_paging(self, job_id: str, callback: Callable[[], Any]) -> None:
        with self._lock:
            self._paging_hooks.setdefault(job_id, []).append(callback)

    def _take_fault(self, path: str) -> Any:
        with self._lock:
            for i, (part, fault) in enumerate(self._faults):
                if part in path:
                    del self._faults[i]
                    return fault
        return None

    def received(self, path_part: str = "", method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests
                    if path_part in r.path and (method is None or r.method == method)]


def _page(items: list[dict[str, Any]], query: dict[str, list[str]], default_limit: int,
          ) -> dict[str, Any]:
    limit = int((query.get("limit") or [default_limit])[0])
    after = (query.get("after") or [None])[0]
    start = 0
    if after is not None:
        ids = [i["id"] for i in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    page = items[start:start + limit]
    return {"object": "list", "data": page, "has_more": start + limit < len(items),
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None}


class _Handler(JsonHandler):
    owner: FtServer
    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    # ------------------------------------------------------------ plumbing

    def _handle(self, method: str) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("content-type") or ""
        body: Any = None
        if raw and "json" in ctype:
            body = json.loads(raw)
        elif raw and "multipart/form-data" in ctype:
            body = _multipart(raw, ctype)
        path = split.path
        for prefix in _PREFIXES:
            if path.startswith(prefix + "/"):
                path = path[len(prefix):]
                break
        rec = Recorded(method, path, parse_qs(split.query),
                       {k.lower(): v for k, v in self.headers.items()}, body)
        with self.owner._lock:
            self.owner.requests.append(rec)
        self.rec = rec
        if not self._authorized():
            return
        fault = self.owner._take_fault(path)
        if fault is not None:
            return self._fault(fault)
        try:
            self._route(method, path, rec.query, body)
        except KeyError as exc:
            self._json(404, {"error": {"message": f"not found: {exc}"}})

    def _fault(self, fault: Any) -> None:
        if fault == "leak":  # a careless server that echoes the credentials it received
            sent = self.rec.headers.get("authorization") or self.rec.headers.get("api-key")
            return self._json(400, {"error": {"message": f"bad credentials {sent}"}})
        if fault == "drop":
            return self._drop()
        status = int(fault)
        headers = {"Retry-After": self.owner.retry_after} if status == 429 else None
        self._json(status, {"error": {"message": f"injected {status}"}}, headers)

    # ------------------------------------------------------------ routes

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
        owner = self.owner
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["files"]:
            return self._files(method, parts, body)
        if parts[:2] == ["fine_tuning", "jobs"]:
            return self._jobs(method, parts[2:], query, body)
        if parts[:1] == ["evals"]:
            if owner.evals_error:
                return self._json(owner.evals_error, {"error": {"message": "evals unavailable"}})
            ev = owner.evals[parts[1]]
            if len(parts) == 3 and parts[2] == "runs":
                with owner._lock:
                    runs = list(ev["runs"])
                order = (query.get("order") or ["asc"])[0]
                return self._json(200, _page(runs if order == "asc" else runs[::-1], query, 20))
            if len(parts) == 5 and parts[4] == "output_items":
                with owner._lock:
                    items = list(ev["items"][parts[3]])
                return self._json(200, _page(items, query, 20))
        self._json(404, {"error": {"message": f"no route {method} {path}"}})

    def _files(self, method: str, parts: list[str], body: Any) -> None:
        owner = self.owner
        if method == "POST" and len(parts) == 1:
            with owner._lock:
                file_id = owner._id("file")
                content = body["file"]["content"]
                obj = {"id": file_id, "object": "file", "bytes": len(content),
                       "created_at": owner.tick(0), "filename": body["file"]["filename"],
                       "purpose": body.get("purpose", ""), "status": "processed"}
                owner.files[file_id] = obj
                owner.file_bytes[file_id] = content
            return self._json(200, obj)
        return self._json(200, owner.files[parts[1]])

    def _jobs(self, method: str, parts: list[str], query: dict[str, list[str]], body: Any) -> None:
        owner = self.owner
        if method == "POST" and not parts:
            for key in ("training_file", "validation_file"):
                if body.get(key) and body[key] not in owner.files:
                    return self._json(400, {"error": {"message": f"no file {body[key]}"}})
            job_id = owner.add_job(status="validating_files", model=body["model"],
                                   eval_id=f"eval-{next(owner._ids):05d}",
                                   training_file=body["training_file"],
                                   validation_file=body.get("validation_file"),
                                   method=body["method"])
            self.rec.extra["job_id"] = job_id
            owner.add_message(job_id, "Validating training file")
            return self._json(200, owner.jobs[job_id])
        job_id = parts[0]
        with owner._lock:
            job = owner.jobs[job_id]
        if len(parts) == 1:
            return self._json(200, job)
        action = parts[1]
        if action == "events":
            if query.get("after"):
                with owner._lock:
                    hooks = owner._paging_hooks.pop(job_id, [])
                for hook in hooks:
                    hook()
            with owner._lock:
                newest_first = owner.events[job_id][::-1]
            return self._json(200, _page(newest_first, query, 20))
        if action == "checkpoints":
            with owner._lock:
                newest_first = owner.checkpoints[job_id][::-1]
            return self._json(200, _page(newest_first, query, 10))
        if method == "POST" and action in ("pause", "resume", "cancel"):
            status = {"pause": "paused", "resume": "running", "cancel": "cancelled"}[action]
            owner.set_status(job_id, status)
            owner.add_message(job_id, {"pause": "Job paused", "resume": "Job resumed",
                                       "cancel": "Job cancelled"}[action])
            return self._json(200, owner.jobs[job_id])
        self._json(404, {"error": {"message": f"no route {method} jobs/{'/'.join(parts)}"}})


def _multipart(raw: bytes, ctype: str) -> dict[str, Any]:
    message = BytesParser(policy=email_policy).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
    out: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        out[name] = {"filename": filename, "content": payload} if filename else payload.decode()
    return out


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` every 20 ms until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


FtServer.handler = _Handler
FtServer.poll_interval = 0.05
