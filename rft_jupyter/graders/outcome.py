"""What grading one sample produced, and the run endpoint's response shape built from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The run endpoint's ``metadata.errors``, in the service's order: flags and their detail fields.
ERROR_KEYS = (
    "formula_parse_error",
    "sample_parse_error",
    "truncated_observation_error",
    "unresponsive_reward_error",
    "invalid_variable_error",
    "other_error",
    "python_grader_server_error",
    "python_grader_server_error_type",
    "python_grader_runtime_error",
    "python_grader_runtime_error_details",
    "model_grader_server_error",
    "model_grader_refusal_error",
    "model_grader_parse_error",
    "model_grader_server_error_details",
)
DETAIL_KEYS = frozenset(
    {
        "python_grader_server_error_type",
        "python_grader_runtime_error_details",
        "model_grader_server_error_details",
    }
)
ERROR_FLAGS = tuple(k for k in ERROR_KEYS if k not in DETAIL_KEYS)


@dataclass(slots=True)
class Outcome:
    """The result of grading one sample.

    ``errors`` holds only what is set (flags as True, detail fields as strings); ``details`` is a
    human-readable reason for any error; ``rendered`` the template strings as the grader saw them.
    """

    reward: float
    errors: dict[str, Any] = field(default_factory=dict)
    details: str | None = None
    sub_rewards: dict[str, float] = field(default_factory=dict)
    rendered: dict[str, str] = field(default_factory=dict)
    token_usage: dict[str, dict[str, int]] = field(default_factory=dict)
    sampled_model_name: str | None = None
    scores: dict[str, Any] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        """The first error flag set, in the service's order, else None."""
        for key in ERROR_FLAGS:
            if self.errors.get(key):
                return key
        return None

    @classmethod
    def failed(cls, flag: str, details: str, **extra: Any) -> Outcome:
        """Reward 0 with one error flag set."""
        return cls(0.0, {flag: True, **extra}, details)

    def to_wire(self) -> tuple:
        """A compact tuple for worker processes (``rendered`` is left out: re-rendered on demand).

        Pickling tuples of builtins is ~50x cheaper than pickling dataclasses with dicts.
        """
        return (
            self.reward,
            self.errors or None,
            self.details,
            self.sub_rewards or None,
            self.token_usage or None,
            self.sampled_model_name,
            self.scores or None,
        )

    @classmethod
    def from_wire(cls, wire: tuple) -> Outcome:
        """The inverse of :meth:`to_wire`."""
        reward, errors, details, sub_rewards, usage, sampled, scores = wire
        return cls(
            reward,
            errors or {},
            details,
            sub_rewards or {},
            {},
            usage or {},
            sampled,
            scores or {},
        )


def error_block(errors: dict[str, Any]) -> dict[str, Any]:
    """All 14 error keys: flags False and details None unless set."""
    return {k: errors.get(k, None if k in DETAIL_KEYS else False) for k in ERROR_KEYS}


def run_response(
    outcome: Outcome, name: str, gtype: str, execution_time: float
) -> dict[str, Any]:
    """The ``/fine_tuning/alpha/graders/run`` response shape.

    ``metadata.error_details`` (a local extension) carries the human-readable reason.
    """
    total: dict[str, int] | None = None
    for usage in outcome.token_usage.values():
        total = total or {}
        for k, v in usage.items():
            total[k] = total.get(k, 0) + v
    return {
        "reward": float(outcome.reward),
        "metadata": {
            "name": name,
            "type": gtype,
            "execution_time": execution_time,
            "sampled_model_name": outcome.sampled_model_name,
            "scores": dict(outcome.scores),
            "token_usage": total,
            "errors": error_block(outcome.errors),
            "error_details": outcome.details,
        },
        "sub_rewards": dict(outcome.sub_rewards),
        "model_grader_token_usage_per_model": dict(outcome.token_usage),
    }
