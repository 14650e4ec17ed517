"""score_model and label_model graders: render the messages, ask a model, read its answer.

score_model asks for the strict JSON schema
``{"steps": [{"description", "conclusion"}], "result": number}`` and clamps ``result`` to
``range`` (default ``[0, 1]``). label_model constrains ``result`` to an enum of ``labels``; the
reward is 1.0 when the label is in ``passing_labels``, else 0.0. Unparseable answers give
``model_grader_parse_error``, refusals ``model_grader_refusal_error``, transport or HTTP failures
after retries ``model_grader_server_error`` (+ details).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from .errors import TemplateError
from .model_client import CallResult, resolve_config, token_usage
from .outcome import Outcome
from .runners import Context, Runner, _sample_fields
from .templates import Template, compile_template
from .warnings import RftWarning

# Grader models the OpenAI service documents (service-facts §1); others only earn a warning, and
# only when the client talks to api.openai.com (Azure deployments and local servers name freely).
SERVICE_GRADER_MODELS = (
    "gpt-4o-2024-08-06",
    "gpt-4o-mini-2024-07-18",
    "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",
    "o1-2024-12-17",
    "o3-mini-2025-01-31",
    "o3-2025-04-16",
    "o4-mini-2025-04-16",
)

_STEPS_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"description": {"type": "string"}, "conclusion": {"type": "string"}},
        "required": ["description", "conclusion"],
        "additionalProperties": False,
    },
}
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)
_DETAILS_LIMIT = 2000


def _json_schema(name: str, result: dict) -> dict:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": name,
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"steps": _STEPS_SCHEMA, "result": result},
                "required": ["steps", "result"],
                "additionalProperties": False,
            },
        },
    }


# ---------------------------------------------------------------- messages


class _Part:
    """One content part: its chat-completions shape with templated string fields."""

    __slots__ = ("kind", "templates", "extra")

    def __init__(self, part: Mapping[str, Any]) -> None:
        self.kind = part["type"]
        if self.kind in ("input_text", "output_text"):
            self.templates = {"text": compile_template(part["text"])}
            self.extra: dict[str, Any] = {}
        elif self.kind == "input_image":
            self.templates = {"url": compile_template(part["image_url"])}
            self.extra = {"detail": part["detail"]} if "detail" in part else {}
        else:  # input_audio: data is not a template
            self.templates = {}
            self.extra = {"input_audio": dict(part["input_audio"])}

    def render(self, ns: Mapping[str, Any]) -> tuple[dict, str | None]:
        """The chat part and the text shown as "rendered" (None for audio)."""
        if self.kind in ("input_text", "output_text"):
            text = self.templates["text"].render(ns)
            return {"type": "text", "text": text}, text
        if self.kind == "input_image":
            url = self.templates["url"].render(ns)
            shown = url if len(url) <= 200 else url[:199] + "…"
            return {"type": "image_url", "image_url": {"url": url, **self.extra}}, shown
        return {"type": "input_audio", **self.extra}, None


class _Message:
    __slots__ = ("role", "text", "parts")

    def __init__(self, message: Mapping[str, Any]) -> None:
        self.role = message["role"]
        content = message["content"]
        self.text: Template | None = None
        self.parts: list[_Part] = []
        if isinstance(content, str):
            self.text = compile_template(content)
        else:
            parts = [content] if isinstance(content, Mapping) else content
            self.parts = [_Part(p) for p in parts]

    def templates(self) -> list[Template]:
        if self.text is not None:
            return [self.text]
        return [t for p in self.parts for t in p.templates.values()]

    def render(self, ns: Mapping[str, Any], index: int, shown: dict[str, str]) -> dict:
        if self.text is not None:
            text = self.text.render(ns)
            shown[f"input[{index}]"] = text
            return {"role": self.role, "content": text}
        content = []
        for j, part in enumerate(self.parts):
            chat_part, text = part.render(ns)
            content.append(chat_part)
            if text is not None:
                shown[f"input[{index}][{j}]"] = text
        return {"role": self.role, "content": content}


# ---------------------------------------------------------------- graders


class _ModelGrader(Runner):
    """Shared by score_model and label_model: templates, request, answer handling."""

    process_pool_ok = False
    schema_name = "grader_result"

    def __init__(self, spec, settings=None, options=None) -> None:
        super().__init__(spec, settings, options)
        self.config = resolve_config(self.options, f"{self.type} graders")
        self.model: str = spec["model"]
        self.messages = [_Message(m) for m in spec["input"]]
        self.response_format = _json_schema(self.schema_name, self.result_schema())
        self.params = sampling_params(spec.get("sampling_params") or {})
        self._fields = _sample_fields([t for m in self.messages for t in m.templates()])
        self._warn_model()

    def result_schema(self) -> dict:
        raise NotImplementedError

    def score(self, parsed: Any) -> tuple[float, dict[str, Any], str] | str:
        """(reward, scores, details) from the parsed ``result``, or a parse-error message."""
        raise NotImplementedError

    @property
    def sample_fields(self) -> frozenset[str] | None:
        return self._fields

    def _warn_model(self) -> None:
        host = urlsplit(str(getattr(self.config.client, "base_url", ""))).hostname or ""
        if host == "api.openai.com" and self.model not in SERVICE_GRADER_MODELS:
            warnings.warn(
                f"grader {self.name!r}: model {self.model!r} is not in the service's list of "
                f"grader models ({', '.join(SERVICE_GRADER_MODELS)}); an RFT job may reject it",
                RftWarning,
                stacklevel=4,
            )

    def request(self, messages: list[dict]) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for rendered messages."""
        return {
            "model": self.model,
            "messages": messages,
            "response_format": self.response_format,
            **self.params,
        }

    def run_many(self, contexts: Sequence[Context]) -> list[Outcome]:
        out: list[Outcome | None] = [None] * len(contexts)
        todo: list[int] = []
        requests: list[dict] = []
        shown: list[dict[str, str]] = []
        for i, ctx in enumerate(contexts):
            rendered: dict[str, str] = {}
            try:
                messages = [m.render(ctx, j, rendered) for j, m in enumerate(self.messages)]
            except TemplateError as exc:
                out[i] = Outcome.failed("invalid_variable_error", str(exc))
                continue
            todo.append(i)
            requests.append(self.request(messages))
            shown.append(rendered)
        if requests:
            for i, result, rendered in zip(todo, self.config.complete_many(requests), shown):
                try:
                    out[i] = self.interpret(result, rendered)
                except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
                    out[i] = Outcome(
                        0.0,
                        {"model_grader_parse_error": True},
                        f"unexpected answer from the server ({type(exc).__name__}: {exc})",
                        rendered=rendered,
                    )
        return out  # type: ignore[return-value]

    def interpret(self, result: CallResult, rendered: dict[str, str]) -> Outcome:
        """The outcome of one call."""
        if result.answer is None:
            details = result.error or "no answer"
            return Outcome(
                0.0,
                {"model_grader_server_error": True, "model_grader_server_error_details": details},
                details,
                rendered=rendered,
            )
        answer = result.answer
        base = {
            "rendered": rendered,
            "token_usage": {self.model: token_usage(answer)},
            "sampled_model_name": answer.get("model") or self.model,
        }
        cached = {"cached": True} if result.cached else {}
        choice = (answer.get("choices") or [{}])[0] or {}
        message = choice.get("message") or {}
        if message.get("refusal"):
            return Outcome(
                0.0,
                {"model_grader_refusal_error": True},
                f"the model refused: {message['refusal']}",
                scores=dict(cached),
                **base,
            )
        parsed = parse_answer(message.get("content"))
        verdict = self.score(parsed) if isinstance(parsed, dict) else parsed
        if isinstance(verdict, str):
            if choice.get("finish_reason") == "length":
                verdict += " (the answer was cut at the token limit: raise max_completions_tokens)"
            return Outcome(
                0.0, {"model_grader_parse_error": True}, verdict, scores=dict(cached), **base
            )
        reward, scores, summary = verdict
        steps = _steps_text(parsed.get("steps"))
        details = summary + (f"\n{steps}" if steps else "")
        if len(details) > _DETAILS_LIMIT:
            details = details[: _DETAILS_LIMIT - 1] + "…"
        return Outcome(reward, details=details, scores={**scores, **cached}, **base)


class ScoreModelGrader(_ModelGrader):
    """A model scores the sample; the reward is its ``result`` clamped to ``range``."""

    schema_name = "score_result"

    def __init__(self, spec, settings=None, options=None) -> None:
        lo, hi = spec.get("range") or (0, 1)
        self.range = (float(lo), float(hi))
        super().__init__(spec, settings, options)

    def result_schema(self) -> dict:
        lo, hi = (_num(x) for x in self.range)
        return {"type": "number", "description": f"The score, from {lo} to {hi} inclusive."}

    def score(self, parsed: dict) -> tuple[float, dict[str, Any], str] | str:
        if "result" not in parsed:
            return f"the answer has no `result`: {_excerpt(parsed)}"
        raw = parsed["result"]
        value = _number(raw)
        if value is None:
            return f"`result` is not a number: {_excerpt(raw)}"
        lo, hi = self.range
        reward = min(max(value, lo), hi)
        note = ""
        if reward != value:
            note = f" (clamped to {_num(reward)}: range [{_num(lo)}, {_num(hi)}])"
        return reward, {"result": raw}, f"result {_num(value)}{note}"


class LabelModelGrader(_ModelGrader):
    """A model picks one of ``labels``; reward 1.0 when it is in ``passing_labels``."""

    schema_name = "label_result"

    def __init__(self, spec, settings=None, options=None) -> None:
        self.labels = list(spec["labels"])
        self.passing = frozenset(spec["passing_labels"])
        super().__init__(spec, settings, options)
        warnings.warn(
            f"grader {self.name!r}: the service accepts label_model graders in evals only, not "
            "in RFT jobs (use score_model there)",
            RftWarning,
            stacklevel=3,
        )

    def result_schema(self) -> dict:
        return {"type": "string", "enum": self.labels}

    def score(self, parsed: dict) -> tuple[float, dict[str, Any], str] | str:
        label = parsed.get("result")
        if not isinstance(label, str) or label not in self.labels:
            return f"`result` is not one of the labels {self.labels}: {_excerpt(label)}"
        passed = label in self.passing
        verdict = "passing" if passed else "not passing"
        return (1.0 if passed else 0.0), {"result": label}, f"label {label!r} ({verdict})"


# ---------------------------------------------------------------- helpers


def sampling_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The grader's ``sampling_params`` as Chat Completions arguments
    (``max_completions_tokens`` is sent as ``max_completion_tokens``)."""
    out: dict[str, Any] = {}
    for key in ("seed", "temperature", "top_p", "reasoning_effort"):
        if params.get(key) is not None:
            out[key] = params[key]
    if params.get("max_completions_tokens") is not None:
        out["max_completion_tokens"] = params["max_completions_tokens"]
    return out


def parse_answer(content: Any) -> dict | str:
    """The answer's JSON object, or a parse-error message. A ```json fence is tolerated
    (local servers that ignore ``response_format`` add one)."""
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    if not isinstance(content, str) or not content.strip():
        return "the model's answer is empty"
    fenced = _FENCE.match(content)
    text = fenced.group(1) if fenced else content
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"the answer is not JSON ({exc.msg} at column {exc.colno}): {_excerpt(content)}"
    if not isinstance(value, dict):
        return f"the answer is not a JSON object: {_excerpt(content)}"
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _excerpt(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _steps_text(steps: Any) -> str:
    if not isinstance(steps, list):
        return ""
    lines = []
    for n, step in enumerate(steps, 1):
        if isinstance(step, Mapping):
            desc = str(step.get("description", "")).strip()
            concl = str(step.get("conclusion", "")).strip()
            lines.append(f"{n}. {desc}" + (f" → {concl}" if concl else ""))
        else:
            lines.append(f"{n}. {step}")
    return "\n".join(lines)


__all__ = ["LabelModelGrader", "ScoreModelGrader", "SERVICE_GRADER_MODELS", "sampling_params"]
