"""Retries for the job API: 429 (honouring Retry-After), 408/409, 5xx, dropped connections.

The job source calls the openai SDK with its own retries off and retries here instead, so the
policy (count, backoff, the longest Retry-After it honours) is the job's, not the client's.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` after the first attempt; backoff ``base * 2**n`` seconds (jittered, at most
    ``cap``); a server's Retry-After is honoured up to ``max_retry_after`` seconds."""

    retries: int = 5
    base: float = 0.5
    cap: float = 16.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], Any] = field(default=time.sleep, repr=False, compare=False)

    def delay(self, attempt: int, exc: BaseException) -> float:
        after = retry_after(exc)
        if after is not None:
            return min(after, self.max_retry_after)
        backoff = min(self.cap, self.base * (2**attempt))
        return backoff * (0.5 + random.random() / 2)


def retryable(exc: BaseException) -> bool:
    """Whether a failed call may succeed when repeated."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return isinstance(exc, (openai.APIConnectionError, ConnectionError, TimeoutError))


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked to wait (``retry-after-ms`` or ``Retry-After``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def call(policy: RetryPolicy, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, repeated on retryable errors; the last error is raised."""
    attempt = 0
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if attempt >= policy.retries or not retryable(exc):
                raise
            policy.sleep(policy.delay(attempt, exc))
            attempt += 1


__all__ = ["RetryPolicy", "call", "retry_after", "retryable"]
