"""endpoint graders (Azure private preview): POST the sample and item to your URL, read a score.

The request is ``POST url`` with ``{"sample": {...}, "item": {...}}`` as JSON and the grader's
``headers``; the answer must be HTTP 200 with ``{"score": <number>}``, which is the reward. Anything
else (another status, no JSON, no numeric score, a timeout or a dropped connection after retries)
gives reward 0 with ``other_error`` and the details (status, an excerpt of the body). Requests run
concurrently; ``rate_limit`` (requests per minute) spaces request starts on the client side, per
URL, across the whole batch and retries included. Timeouts and retries are settings
(:func:`configure_endpoints`). Error details never show header values or the URL's query string.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import math
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .outcome import Outcome
from .runners import Context, Runner
from .settings import replace_settings

try:  # the openai SDK 3.x ships httpx2; older stacks have httpx
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the installed openai SDK
    import httpx  # type: ignore[no-redef]

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class EndpointSettings:
    """How endpoint graders call their URL.

    - ``timeout``: seconds per attempt;
    - ``max_retries``: extra attempts after a timeout, a dropped connection, 408/409/425/429/5xx;
    - ``backoff``: the first retry's delay in seconds, doubled each time (capped at 8 s, up to 25%
      jitter); a ``Retry-After`` / ``retry-after-ms`` header up to ``max_retry_after`` wins;
    - ``max_in_flight``: concurrent requests.
    """

    timeout: float = 30.0
    max_retries: int = 2
    backoff: float = 0.5
    max_retry_after: float = 60.0
    max_in_flight: int = 16

    def __post_init__(self) -> None:
        for name in ("timeout", "backoff", "max_retry_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"endpoint setting {name} must be a number of seconds >= 0")
        for name, low in (("max_retries", 0), ("max_in_flight", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"endpoint setting {name} must be an integer >= {low}")


_SETTINGS = EndpointSettings()


def configure_endpoints(**changes: Any) -> EndpointSettings:
    """Change the endpoint-grader settings for this session (see :class:`EndpointSettings`)."""
    global _SETTINGS
    _SETTINGS = replace_settings(_SETTINGS, changes, "endpoint setting")
    return _SETTINGS


def endpoint_settings() -> EndpointSettings:
    """The endpoint-grader settings in force."""
    return _SETTINGS


class Pacer:
    """Spaces calls to :meth:`wait` at least ``interval`` seconds apart (thread-safe)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


_PACERS: dict[tuple[str, int], Pacer] = {}
_PACERS_LOCK = threading.Lock()


def _pacer(url: str, rate_limit: int) -> Pacer:
    with _PACERS_LOCK:
        return _PACERS.setdefault((url, rate_limit), Pacer(60.0 / rate_limit))


class EndpointGrader(Runner):
    """POST ``{"sample", "item"}`` to ``url``; the reward is the answer's ``score``."""

    process_pool_ok = False

    def __init__(self, spec, settings=None, options=None) -> None:
        super().__init__(spec, settings, options)
        self.url: str = spec["url"]
        self.headers = {**dict(spec.get("headers") or {}), "content-type": "application/json"}
        override = self.options.get("endpoint")
        if isinstance(override, Mapping):
            override = dataclasses.replace(_SETTINGS, **override)
        self.endpoint_settings: EndpointSettings = override or _SETTINGS
        rate = spec.get("rate_limit")
        self.pacer = _pacer(self.url, rate) if rate else None
        split = urlsplit(self.url)
        self.shown_url = f"{split.scheme}://{split.netloc.rpartition('@')[2]}{split.path}"
        self._secrets = [v for v in spec.get("headers", {}).values() if len(v) >= 4]
        self._client: Any = None
        self._client_lock = threading.Lock()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                n = self.endpoint_settings.max_in_flight
                self._client = httpx.Client(
                    limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                    follow_redirects=False,
                )
            return self._client

    def run_many(self, contexts: Sequence[Context]) -> list[Outcome]:
        if not contexts:
            return []
        workers = min(self.endpoint_settings.max_in_flight, len(contexts))
        pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="rft-endpoint")
        try:
            return list(pool.map(self._grade_safely, contexts))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _grade_safely(self, context: Context) -> Outcome:
        try:
            return self.grade_one(context)
        except Exception as exc:  # noqa: BLE001 - e.g. an item that is not JSON-serialisable
            return Outcome.failed(
                "other_error", f"endpoint {self.shown_url}: {type(exc).__name__}: {exc}"
            )

    def grade_one(self, context: Context) -> Outcome:
        """POST one context (with retries) and read its score."""
        s = self.endpoint_settings
        body = json.dumps(
            {"sample": context.get("sample"), "item": context.get("item")},
            ensure_ascii=False,
            default=_json_default,
        ).encode("utf-8")
        client = self.client()  # before pacing: building it takes a few ms
        problem = "no attempt made"
        attempt = 0
        for attempt in range(s.max_retries + 1):
            if self.pacer is not None:
                self.pacer.wait()
            delay: float | None = None
            try:
                response = client.post(
                    self.url, content=body, headers=self.headers, timeout=s.timeout
                )
            except httpx.TimeoutException:
                problem = f"timed out after {s.timeout:g} s"
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__}: {_one_line(str(exc))})"
            else:
                if response.status_code == 200:
                    return self._read(response)
                problem = f"HTTP {response.status_code}: {self._excerpt(response.text)}"
                if response.status_code not in RETRY_STATUSES:
                    break
                delay = _retry_after(response.headers, s.max_retry_after)
            if attempt < s.max_retries:
                if delay is None:
                    delay = min(s.backoff * 2**attempt, 8.0) * (1 - 0.25 * random.random())
                time.sleep(delay)
        retries = f" (after {attempt} retries)" if attempt else ""
        return Outcome.failed("other_error", f"endpoint {self.shown_url}: {problem}{retries}")

    def _read(self, response: Any) -> Outcome:
        try:
            answer = response.json()
        except ValueError:
            return Outcome.failed(
                "other_error",
                f"endpoint {self.shown_url}: HTTP 200 but the body is not JSON: "
                f"{self._excerpt(response.text)}",
            )
        score = answer.get("score") if isinstance(answer, dict) else None
        if (
            isinstance(score, bool)
            or not isinstance(score, (int, float))
            or not math.isfinite(score)
        ):
            return Outcome.failed(
                "other_error",
                f"endpoint {self.shown_url}: expected {{\"score\": <number>}}, got "
                f"{self._excerpt(response.text)}",
            )
        return Outcome(float(score), scores={"score": score})

    def _excerpt(self, text: str) -> str:
        text = _one_line(text) or "(empty body)"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _retry_after(headers: Mapping[str, str], cap: float) -> float | None:
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        if 0 <= seconds <= cap:
            return seconds
    return None


def _json_default(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):  # numpy arrays
        return value.tolist()
    if hasattr(value, "isoformat"):  # dates, timestamps
        return value.isoformat()
    return str(value)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["EndpointGrader", "EndpointSettings", "configure_endpoints", "endpoint_settings"]
