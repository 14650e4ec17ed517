"""The Chat Completions client model graders use: configuration, concurrency, retries, cache, tally.

Configure once per session with :func:`configure_client` (OpenAI, any OpenAI-compatible server
through ``base_url`` such as vLLM or Ollama, or Azure OpenAI), or rely on ``OPENAI_API_KEY`` /
``AZURE_OPENAI_ENDPOINT`` + ``AZURE_OPENAI_API_KEY``; a call may override the client with
``client=`` (any ``openai.OpenAI``, ``AsyncOpenAI``, ``AzureOpenAI`` or ``AsyncAzureOpenAI``).

Requests run concurrently (``max_in_flight`` at a time) on worker threads, so grading works from
inside a running event loop (a Jupyter kernel); async clients run on a private event loop.
Retries (429, 408, 409, 5xx, dropped connections, timeouts) use the openai SDK's own machinery:
exponential backoff from 0.5 s to 8 s with jitter, and ``Retry-After`` / ``retry-after-ms`` honoured
up to 2 minutes. API keys never appear in reprs, errors, outcomes, logs or the cache.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import MetricUnavailableError
from .model_cache import CallCache, default_cache_dir, request_key
from .model_usage import TALLY, Usage, normalize_prices

DEFAULT_MAX_IN_FLIGHT = 16
DEFAULT_MAX_RETRIES = 4
DEFAULT_TIMEOUT = 120.0
DEFAULT_AZURE_API_VERSION = "2025-04-01-preview"
# A local server (vLLM, Ollama, ...) reached through base_url usually ignores the key.
NO_KEY = "no-key-needed"

HOW_TO_CONFIGURE = (
    "call rft.configure_client(api_key=..., base_url=...) or "
    "rft.configure_client(azure_endpoint=..., api_key=..., api_version=...), set OPENAI_API_KEY "
    "(or AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY), or pass client=openai.OpenAI(...)"
)

_KEYLIKE = re.compile(r"(?i)(bearer\s+)[^\s\"',]+|\bsk-[A-Za-z0-9_\-]{8,}")


@dataclass
class CallResult:
    """One chat completion: the server's JSON ``answer`` or a one-line ``error``."""

    answer: dict | None = None
    error: str | None = None
    cached: bool = False


@dataclass(frozen=True, repr=False)
class ClientConfig:
    """How model graders reach a model: the client plus concurrency, cache and prices.

    The repr shows where requests go, never the key.
    """

    client: Any = None
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    cache: CallCache | None = None
    prices: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def is_async(self) -> bool:
        return _is_async_client(self.client)

    @property
    def endpoint(self) -> str:
        """Where requests go (base URL; Azure adds the API version): part of every cache key."""
        if self.client is None:
            return ""
        base = str(getattr(self.client, "base_url", ""))
        version = getattr(self.client, "_api_version", None)
        return f"{base}?api-version={version}" if version else base

    def __repr__(self) -> str:
        if self.client is None:
            where = "no client (configure one)"
        else:
            retries = getattr(self.client, "max_retries", "?")
            timeout = _timeout_seconds(getattr(self.client, "timeout", None))
            where = (
                f"{type(self.client).__name__} {self.endpoint}, max_retries={retries}, "
                f"timeout={timeout}"
            )
        cache = str(self.cache.path) if self.cache else "off"
        priced = ", ".join(self.prices) or "none"
        return self.redact(
            f"ClientConfig({where}, max_in_flight={self.max_in_flight}, cache={cache}, "
            f"prices for: {priced})"
        )

    # ------------------------------------------------------------ calls

    def secrets(self) -> list[str]:
        """Credential strings of the client, for redaction."""
        out = []
        for attr in ("api_key", "_azure_ad_token", "admin_api_key"):
            value = getattr(self.client, attr, None)
            if isinstance(value, str) and len(value) >= 4 and value != NO_KEY:
                out.append(value)
        return out

    def redact(self, text: str) -> str:
        """``text`` with the client's credentials and anything key-like masked."""
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return _KEYLIKE.sub(lambda m: (m.group(1) or "") + "***", text)

    def complete_many(self, requests: Sequence[Mapping[str, Any]]) -> list[CallResult]:
        """Send chat completion requests (keyword arguments of ``chat.completions.create``).

        Cached answers come back without a request; identical requests in one batch are sent
        once when the cache is on. Up to ``max_in_flight`` requests run at the same time.
        """
        if self.client is None:
            raise MetricUnavailableError(f"no model client is configured: {HOW_TO_CONFIGURE}")
        keys = [request_key(self.endpoint, r) for r in requests]
        results: list[CallResult | None] = [None] * len(requests)
        hits = self.cache.get_many(keys) if self.cache is not None else {}
        grouped: dict[str, list[int]] = {}  # with the cache on, identical requests go once
        groups: list[tuple[str, list[int]]] = []
        for i, key in enumerate(keys):
            if key in hits:
                results[i] = CallResult(hits[key], cached=True)
                TALLY.record(requests[i]["model"], None, cached=True)
            elif self.cache is not None:
                grouped.setdefault(key, []).append(i)
            else:
                groups.append((key, [i]))
        groups.extend(grouped.items())
        for (_, (first, *rest)), result in self._send_all(requests, groups):
            results[first] = result
            for i in rest:  # duplicates of a request sent once: served as cached
                results[i] = CallResult(result.answer, result.error, cached=True)
                if result.answer is not None:
                    TALLY.record(requests[i]["model"], None, cached=True)
        return results  # type: ignore[return-value]

    def _send_all(
        self, requests: Sequence[Mapping[str, Any]], groups: list[tuple[str, list[int]]]
    ) -> Iterator[tuple[tuple[str, list[int]], CallResult]]:
        """Send one request per group, ``max_in_flight`` at a time; yield as they finish."""
        if not groups:
            return
        workers = max(1, min(self.max_in_flight, len(groups)))
        pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="rft-model")
        try:
            futures = {
                pool.submit(self._send_one, key, requests[idx[0]]): (key, idx)
                for key, idx in groups
            }
            for fut in concurrent.futures.as_completed(futures):
                yield futures[fut], fut.result()
        finally:  # Ctrl-C: drop what has not started
            pool.shutdown(wait=False, cancel_futures=True)

    def _send_one(self, key: str, request: Mapping[str, Any]) -> CallResult:
        model = request["model"]
        try:
            answer = self._create(request)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a server error
            TALLY.record(model, None, error=True)
            return CallResult(error=self.redact(describe_error(exc, self.client)))
        TALLY.record(model, token_usage(answer))
        if self.cache is not None:
            self.cache.put(key, answer)
        return CallResult(answer)

    def _create(self, request: Mapping[str, Any]) -> dict:
        create = self.client.chat.completions.with_raw_response.create
        raw = run_sync(create(**request)) if self.is_async else create(**request)
        try:
            answer = raw.http_response.json()
        except ValueError as exc:
            raise ValueError(f"the server's answer is not JSON ({raw.text[:200]!r})") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
            raise ValueError(f"the server's answer has no choices ({raw.text[:200]!r})")
        return answer


def token_usage(answer: Mapping[str, Any]) -> dict[str, int]:
    """``{prompt_tokens, completion_tokens, total_tokens, cached_tokens}`` of an answer."""
    usage = answer.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
        "cached_tokens": int(details.get("cached_tokens") or 0),
    }


def describe_error(exc: BaseException, client: Any = None) -> str:
    """One line: HTTP status and the server's message, or what broke the connection."""
    import openai

    retries = getattr(client, "max_retries", None)
    after = f" (after {retries} retries)" if retries else ""
    if isinstance(exc, openai.APIStatusError):
        retried = exc.status_code in (408, 409, 429) or exc.status_code >= 500
        return f"HTTP {exc.status_code}{after if retried else ''}: {_server_message(exc)}"
    if isinstance(exc, openai.APITimeoutError):
        timeout = _timeout_seconds(getattr(client, "timeout", None))
        return f"request timed out{after} (timeout {timeout} s)"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        reason = f"{type(cause).__name__}: {cause}" if cause else str(exc)
        return f"connection failed{after}: {_one_line(reason)}"
    return f"{type(exc).__name__}: {_one_line(str(exc))}"


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping) and err.get("message"):
            return _one_line(str(err["message"]))
    try:
        text = exc.response.text
    except Exception:  # noqa: BLE001
        text = str(exc)
    return _one_line(text) or "(empty body)"


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _timeout_seconds(timeout: Any) -> Any:
    read = getattr(timeout, "read", timeout)
    return read


def _is_async_client(client: Any) -> bool:
    if client is None:
        return False
    import openai

    return isinstance(client, openai.AsyncOpenAI)


# ---------------------------------------------------------------- a private event loop


class _LoopThread:
    """An event loop on a daemon thread: runs coroutines for async clients from sync code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="rft-async-clients", daemon=True
                ).start()
                self._loop = loop
            return self._loop


_LOOP = _LoopThread()


def run_sync(awaitable: Any) -> Any:
    """Run a coroutine to completion from synchronous code, even inside a running event loop."""
    if not inspect.isawaitable(awaitable):
        return awaitable

    async def wrap() -> Any:
        return await awaitable

    return asyncio.run_coroutine_threadsafe(wrap(), _LOOP.loop()).result()


# ---------------------------------------------------------------- session configuration

_CONFIG: ClientConfig | None = None
_ENV_CONFIG: ClientConfig | None = None
_PRICES: dict[str, dict[str, float]] = {}


def configure_client(
    client: Any = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    azure_endpoint: str | None = None,
    azure_deployment: str | None = None,
    api_version: str | None = None,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    max_retries: int | None = None,
    timeout: float | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    prices: Mapping[str, Any] | None = None,
) -> ClientConfig:
    """Set the session's model client for score_model / label_model graders.

    - ``client``: an ``openai.OpenAI`` / ``AsyncOpenAI`` / ``AzureOpenAI`` instance, used as is;
    - or ``base_url`` (+ ``api_key``): OpenAI or any OpenAI-compatible server;
    - or ``azure_endpoint`` (+ ``azure_deployment``, ``api_version``, ``api_key``): Azure OpenAI;
    - or nothing: ``OPENAI_API_KEY`` / ``AZURE_OPENAI_ENDPOINT`` + ``AZURE_OPENAI_API_KEY``.

    ``max_in_flight`` requests run at once. ``max_retries`` (default 4) and ``timeout`` seconds
    per attempt (default 120) apply to clients built here, and to yours only when given.
    ``cache`` (default on) keeps answers in ``cache_dir`` (default
    ``$XDG_CACHE_HOME/rft-jupyter/model-calls``). ``prices`` are USD per 1M tokens per model:
    ``{"gpt-4o-mini": {"input": 0.15, "output": 0.6, "cached_input": 0.075}}``.
    """
    global _CONFIG, _PRICES
    if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
        raise ValueError("max_in_flight must be an integer >= 1")
    _PRICES = normalize_prices(prices)
    if client is None and any(
        v is not None for v in (base_url, api_key, azure_endpoint, azure_deployment, api_version)
    ):
        client = build_client(
            base_url=base_url,
            api_key=api_key,
            azure_endpoint=azure_endpoint,
            azure_deployment=azure_deployment,
            api_version=api_version,
            max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        )
    elif client is None:
        client = client_from_env(max_retries, timeout)
    elif max_retries is not None or timeout is not None:
        changes: dict[str, Any] = {}
        if max_retries is not None:
            changes["max_retries"] = max_retries
        if timeout is not None:
            changes["timeout"] = timeout
        client = client.with_options(**changes)
    store = None
    if cache:
        store = CallCache(cache_dir if cache_dir is not None else default_cache_dir())
    _CONFIG = ClientConfig(client, max_in_flight, store, _PRICES)
    return _CONFIG


def build_client(
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    azure_endpoint: str | None = None,
    azure_deployment: str | None = None,
    api_version: str | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """An ``openai.OpenAI`` or ``openai.AzureOpenAI`` client (errors name what is missing)."""
    import openai

    try:
        if azure_endpoint or azure_deployment:
            endpoint = azure_endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT")
            if not endpoint:
                raise MetricUnavailableError(
                    "azure_deployment needs azure_endpoint (or AZURE_OPENAI_ENDPOINT)"
                )
            version = (
                api_version
                or os.environ.get("OPENAI_API_VERSION")
                or os.environ.get("AZURE_OPENAI_API_VERSION")
                or DEFAULT_AZURE_API_VERSION
            )
            return openai.AzureOpenAI(
                api_key=api_key,
                azure_endpoint=endpoint,
                azure_deployment=azure_deployment,
                api_version=version,
                max_retries=max_retries,
                timeout=timeout,
            )
        if api_key is None and not os.environ.get("OPENAI_API_KEY") and base_url:
            api_key = NO_KEY
        return openai.OpenAI(
            api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout
        )
    except openai.OpenAIError as exc:
        raise MetricUnavailableError(f"cannot build the model client ({exc}); "
                                     f"{HOW_TO_CONFIGURE}") from None


def client_from_env(max_retries: int | None = None, timeout: float | None = None) -> Any:
    """A client from ``OPENAI_API_KEY`` (+ ``OPENAI_BASE_URL``) or the ``AZURE_OPENAI_*``
    variables, else None."""
    retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
    seconds = DEFAULT_TIMEOUT if timeout is None else timeout
    if os.environ.get("OPENAI_API_KEY"):
        return build_client(max_retries=retries, timeout=seconds)
    azure_auth = os.environ.get("AZURE_OPENAI_API_KEY") or os.environ.get("AZURE_OPENAI_AD_TOKEN")
    if os.environ.get("AZURE_OPENAI_ENDPOINT") and azure_auth:
        return build_client(
            azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
            azure_deployment=os.environ.get("AZURE_OPENAI_DEPLOYMENT") or None,
            max_retries=retries,
            timeout=seconds,
        )
    return None


def reset_client() -> None:
    """Forget the session's configuration (the environment is read again when needed)."""
    global _CONFIG, _ENV_CONFIG, _PRICES
    _CONFIG = _ENV_CONFIG = None
    _PRICES = {}


def current_config() -> ClientConfig:
    """The session's configuration (built from the environment when not configured)."""
    global _ENV_CONFIG
    if _CONFIG is not None:
        return _CONFIG
    if _ENV_CONFIG is None or _ENV_CONFIG.client is None:
        _ENV_CONFIG = ClientConfig(client_from_env(), cache=CallCache(default_cache_dir()))
    return _ENV_CONFIG


def resolve_config(options: Mapping[str, Any] | None, what: str = "model graders") -> ClientConfig:
    """The configuration for one compiled grader: ``options["client"]`` (a client or a
    :class:`ClientConfig`) over the session's. Raises MetricUnavailableError without a client."""
    override = (options or {}).get("client")
    if isinstance(override, ClientConfig):
        config = override
    else:
        config = current_config()
        if override is not None:
            if not hasattr(override, "chat"):
                raise TypeError(
                    f"client must be an openai.OpenAI / AsyncOpenAI / AzureOpenAI instance, "
                    f"not {type(override).__name__}"
                )
            config = ClientConfig(override, config.max_in_flight, config.cache, config.prices)
    if config.client is None:
        raise MetricUnavailableError(f"{what} need an OpenAI-compatible client: {HOW_TO_CONFIGURE}")
    return config


def usage() -> Usage:
    """Requests, cache hits, errors, tokens and estimated cost per model, for this session."""
    return TALLY.snapshot(_PRICES)


def reset_usage() -> None:
    """Zero the tally."""
    TALLY.reset()


def cache_path() -> Path | None:
    """The cache file in use (None when the cache is off)."""
    cache = current_config().cache
    return cache.path if cache else None


__all__ = [
    "CallResult",
    "ClientConfig",
    "configure_client",
    "reset_client",
    "resolve_config",
    "run_sync",
    "usage",
    "reset_usage",
    "cache_path",
]
