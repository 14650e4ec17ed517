"""A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI API for the openai SDK.

Routes (POST):
- ``/v1/chat/completions`` and Azure's ``/openai/deployments/{d}/chat/completions?api-version=``:
  a structured answer ``{"steps": [...], "result": ...}``. The prompt steers it with markers:
  ``RESULT:<number>`` (the score, default 0.5), ``LABEL:<label>`` (default: the first enum value)
  and ``SCENARIO:<name>[:<seconds>]`` — ``refusal``, ``malformed``, ``nonnumeric``, ``noresult``,
  ``fenced``, ``length``, ``429-once`` (Retry-After: 1), ``429ms-once`` (retry-after-ms: 300),
  ``500-once``, ``500-always``, ``400``, ``leak`` (a 400 echoing the credentials), ``slow:<s>``,
  ``drop-once``, ``drop-always``.
  "-once" scenarios fail the first request for a given prompt, then answer.
- ``/v1/fine_tuning/alpha/graders/run`` and ``/validate`` (also under ``/openai/v1``): served by
  rft's own LOCAL engine; ``deviate={"rouge_l": 0.1}`` adds 0.1 to that metric's rewards, to
  prove that calibration reports a disagreement.
- ``/endpoint/score``: an endpoint grader; ``item["mode"]`` picks ``ok`` (``{"score":
  item["score"]}``), ``500``, ``500-once``, ``429-once``, ``bad-json``, ``no-score``,
  ``text-score``, ``404``, ``slow`` (``item["seconds"]``).

Every request is recorded (path, query, headers, JSON body, start/end times, status) and the
number of chat requests in flight is tracked (``max_in_flight``).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from servers.base import JsonHandler, LocalServer

_SCENARIO = re.compile(r"SCENARIO:([A-Za-z0-9_-]+)(?::([0-9.]+))?")
_RESULT = re.compile(r"RESULT:(-?[0-9.]+(?:e-?[0-9]+)?)")
_LABEL = re.compile(r"LABEL:(\S+)")
_AZURE_CHAT = re.compile(r"^/openai/deployments/([^/]+)/chat/completions$")
_GRADERS = re.compile(r"^(?:/openai)?/v1/fine_tuning/alpha/graders/(run|validate)$")


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes
    body: Any
    start: float
    end: float = 0.0
    status: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class ChatServer(LocalServer):
    """Start with ``with ChatServer() as server:`` (or ``start()`` / ``stop()``)."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        api_key: str | None = None,
        deviate: dict[str, float] | None = None,
        model_suffix: str = "-2024-08-06",
    ) -> None:
        self.delay = delay
        self.api_key = api_key
        self.deviate = dict(deviate or {})
        self.model_suffix = model_suffix
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0

    # ------------------------------------------------------------ lifecycle

    # ------------------------------------------------------------ inspection

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._counts.clear()
            self.max_in_flight = 0

    def received(self, path_part: str = "") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path_part in r.path]

    @property
    def chat_requests(self) -> list[Recorded]:
        return self.received("chat/completions")

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def _count(self, key: str) -> int:
        """How many times ``key`` was seen before (then counts this one)."""
        with self._lock:
            n = self._counts.get(key, 0)
            self._counts[key] = n + 1
            return n

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _prompt_text(messages: Any) -> str:
    parts = []
    for m in messages or []:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


class _Handler(JsonHandler):
    owner: ChatServer
    # ------------------------------------------------------------ plumbing

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = Recorded(
            "POST",
            split.path,
            parse_qs(split.query),
            {k.lower(): v for k, v in self.headers.items()},
            raw,
            body,
            time.monotonic(),
        )
        self.owner._record(rec)
        self.rec = rec
        path = split.path
        try:
            if path == "/v1/chat/completions" or _AZURE_CHAT.match(path):
                if not self._authorized():
                    return
                self.owner._enter()
                try:
                    self._chat(body or {})
                finally:
                    self.owner._leave()
            elif m := _GRADERS.match(path):
                if self._authorized():
                    self._graders(m.group(1), body or {})
            elif path.startswith("/endpoint/"):
                self._endpoint(body or {})
            else:
                self._json(404, {"error": {"message": f"no route {path}"}})
        finally:
            rec.end = time.monotonic()

    # ------------------------------------------------------------ chat completions

    def _chat(self, body: dict) -> None:
        owner = self.owner
        prompt = _prompt_text(body.get("messages"))
        key = hashlib.sha256(prompt.encode()).hexdigest()
        m = _SCENARIO.search(prompt)
        scenario, arg = (m.group(1), m.group(2)) if m else ("", None)
        if owner.delay:
            time.sleep(owner.delay)
        if scenario.endswith("-once") and owner._count(f"{scenario}:{key}") == 0:
            if scenario == "429-once":
                return self._json(429, {"error": {"message": "Rate limit"}}, {"Retry-After": "1"})
            if scenario == "429ms-once":
                return self._json(
                    429, {"error": {"message": "Rate limit"}}, {"retry-after-ms": "300"}
                )
            if scenario == "500-once":
                return self._json(500, {"error": {"message": "temporary failure"}})
            if scenario == "drop-once":
                return self._drop()
        if scenario == "500-always":
            return self._json(500, {"error": {"message": "the server is on fire"}})
        if scenario == "400":
            return self._json(400, {"error": {"message": "Unsupported parameter: 'seed'"}})
        if scenario == "drop-always":
            return self._drop()
        if scenario == "leak":  # a careless server that echoes the credentials it received
            sent = self.rec.headers.get("authorization") or self.rec.headers.get("api-key")
            return self._json(400, {"error": {"message": f"bad request with credentials {sent}"}})
        if scenario == "slow":
            time.sleep(float(arg or 1))

        fmt = (body.get("response_format") or {}).get("json_schema") or {}
        schema = fmt.get("schema") or {}
        result_schema = (schema.get("properties") or {}).get("result") or {}
        if "enum" in result_schema:
            lm = _LABEL.search(prompt)
            result: Any = lm.group(1) if lm else result_schema["enum"][0]
        else:
            rm = _RESULT.search(prompt)
            result = float(rm.group(1)) if rm else 0.5
        answer = {
            "steps": [
                {"description": "Read the reference and the answer", "conclusion": "compared"},
                {"description": "Applied the rubric", "conclusion": f"result {result}"},
            ],
            "result": result,
        }
        content: str | None = json.dumps(answer)
        refusal = None
        finish = "stop"
        if scenario == "refusal":
            content, refusal = None, "I'm sorry, I can't help with that."
        elif scenario == "malformed":
            content = '{"steps": [], "result": 0.9'  # cut JSON
        elif scenario == "nonnumeric":
            content = json.dumps({"steps": [], "result": "very good"})
        elif scenario == "noresult":
            content = json.dumps({"steps": []})
        elif scenario == "fenced":
            content = f"```json\n{content}\n```"
        elif scenario == "length":
            content, finish = content[:20], "length"
        prompt_tokens = len(prompt.split()) + 7
        completion_tokens = len((content or refusal or "").split())
        model = str(body.get("model", "unknown"))
        self._json(
            200,
            {
                "id": f"chatcmpl-{key[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model + owner.model_suffix,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": refusal},
                        "finish_reason": finish,
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                    "prompt_tokens_details": {"cached_tokens": 3},
                },
            },
        )

    # ------------------------------------------------------------ grader endpoints

    def _graders(self, action: str, body: dict) -> None:
        from rft_jupyter.graders.errors import GraderValidationError
        from rft_jupyter.graders.run import run_grader
        from rft_jupyter.graders.spec import validate_grader

        grader = body.get("grader")
        try:
            if action == "validate":
                return self._json(200, validate_grader(grader))
            if not isinstance(body.get("model_sample"), str):
                return self._json(400, {"error": {"message": "model_sample must be a string"}})
            response = run_grader(grader, body["model_sample"], body.get("item"))
        except GraderValidationError as exc:
            return self._json(
                400,
                {"error": {"message": str(exc), "type": "invalid_request_error",
                           "param": f"grader.{exc.path}" if exc.path else "grader"}},
            )
        except Exception as exc:  # noqa: BLE001 - report like a service would
            return self._json(500, {"error": {"message": f"{type(exc).__name__}: {exc}"}})
        response["metadata"].pop("error_details", None)  # a local extension
        g = grader or {}
        delta = self.owner.deviate.get(str(g.get("evaluation_metric")), 0.0)
        if g.get("type") == "text_similarity" and delta:
            response["reward"] += delta
        self._json(200, response)

    # ------------------------------------------------------------ endpoint grader

    def _endpoint(self, body: dict) -> None:
        item = body.get("item") or {}
        mode = item.get("mode", "ok")
        key = json.dumps(item, sort_keys=True)
        if mode == "slow":
            time.sleep(float(item.get("seconds", 1)))
        if mode == "500":
            return self._json(500, {"error": {"message": "grader crashed: KeyError 'x'"}})
        if mode == "404":
            return self._json(404, {"error": {"message": "no such function"}})
        if mode.endswith("-once") and self.owner._count(f"endpoint:{key}") == 0:
            if mode == "500-once":
                return self._json(500, {"error": {"message": "cold start"}})
            if mode == "429-once":
                return self._json(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})
        if mode == "bad-json":
            return self._json(200, b"<html>not json</html>")
        if mode == "no-score":
            return self._json(200, {"value": 1})
        if mode == "text-score":
            return self._json(200, {"score": "high"})
        self._json(200, {"score": item.get("score", 1.0)})


ChatServer.handler = _Handler
