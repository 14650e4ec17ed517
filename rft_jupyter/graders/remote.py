"""The service's own grader endpoints: ``POST /fine_tuning/alpha/graders/run`` and ``/validate``.

Calls go through the openai SDK (``client.fine_tuning.alpha.graders``), with the grader sent as
the raw JSON spec (``extra_body``) so that a multigrader's ``graders`` leaves as the dict of
named graders the service expects, whatever the SDK's typing says. Answers come back as plain
dicts; failures raise :class:`RemoteGraderError` with one line (status and the service's message).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .model_client import ClientConfig, describe_error, run_sync
from .spec import load_grader

RUN_PATH = "/fine_tuning/alpha/graders/run"
VALIDATE_PATH = "/fine_tuning/alpha/graders/validate"


class RemoteGraderError(RuntimeError):
    """The service refused or could not be reached; ``status`` is the HTTP status (or None)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


def grader_json(grader: Any) -> dict:
    """The grader as the JSON the service receives: a dict is sent as is (so the service, not
    local validation, judges it); anything else goes through :func:`load_grader`."""
    if isinstance(grader, Mapping):
        return json.loads(json.dumps(grader))
    return load_grader(grader)


def sample_text(model_sample: Any) -> str:
    """The run endpoint takes a string: a sample dict contributes its ``output_text``."""
    if isinstance(model_sample, str):
        return model_sample
    if isinstance(model_sample, Mapping):
        text = model_sample.get("output_text")
        if isinstance(text, str):
            return text
        return json.dumps(model_sample, ensure_ascii=False)
    return "" if model_sample is None else str(model_sample)


def run_remote(
    client: Any,
    spec: Any,
    model_sample: str | Mapping[str, Any],
    item: Mapping[str, Any] | None = None,
    *,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Grade one sample on the service (``/fine_tuning/alpha/graders/run``); its JSON answer.

    ``spec`` is a grader dict (sent as is) or anything :func:`load_grader` accepts.
    """
    grader = grader_json(spec)
    kwargs: dict[str, Any] = {
        "grader": grader,
        "model_sample": sample_text(model_sample),
        "extra_body": {"grader": grader},
    }
    if item is not None:
        kwargs["item"] = dict(item)
    return _call(client, "run", kwargs, timeout)


def validate_remote(client: Any, spec: Any, *, timeout: float | None = None) -> dict[str, Any]:
    """Validate a grader on the service (``/fine_tuning/alpha/graders/validate``):
    ``{"grader": normalized}``, or :class:`RemoteGraderError` (HTTP 400 for an invalid grader)."""
    grader = grader_json(spec)
    return _call(client, "validate", {"grader": grader, "extra_body": {"grader": grader}}, timeout)


def _call(client: Any, action: str, kwargs: dict[str, Any], timeout: float | None) -> dict:
    import openai

    if not hasattr(client, "fine_tuning"):
        raise TypeError(
            f"client must be an openai.OpenAI / AzureOpenAI (or async) instance, "
            f"not {type(client).__name__}"
        )
    path = RUN_PATH if action == "run" else VALIDATE_PATH
    if timeout is not None:
        kwargs["timeout"] = timeout
    method = getattr(client.fine_tuning.alpha.graders.with_raw_response, action)
    config = ClientConfig(client)
    try:
        raw = run_sync(method(**kwargs))
    except openai.APIStatusError as exc:
        message = config.redact(describe_error(exc, client))
        raise RemoteGraderError(f"{path}: {message}", exc.status_code) from None
    except openai.OpenAIError as exc:
        raise RemoteGraderError(f"{path}: {config.redact(describe_error(exc, client))}") from None
    try:
        answer = raw.http_response.json()
    except ValueError:
        raise RemoteGraderError(
            f"{path}: the answer is not JSON ({raw.text[:200]!r})", raw.status_code
        ) from None
    if not isinstance(answer, dict):
        raise RemoteGraderError(f"{path}: expected a JSON object, got {type(answer).__name__}")
    return answer


__all__ = ["RemoteGraderError", "run_remote", "validate_remote"]
