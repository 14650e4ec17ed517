"""A running tally of model-grader calls: requests, cache hits, tokens and estimated cost per model.

Cost is estimated from prices in US dollars per 1M tokens (``configure_client(prices=...)``),
looked up by the grader's model name or the longest price key it starts with (prices for
``gpt-4o-mini`` apply to ``gpt-4o-mini-2024-07-18``). Without a price the cost is unknown (None).
Answers served from the cache cost nothing and count only as ``cached``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens")
COLUMNS = ("requests", "cached", "errors", *TOKEN_FIELDS, "cost_usd")


def normalize_prices(prices: Mapping[str, Any] | None) -> dict[str, dict[str, float]]:
    """``{model: {"input", "output", "cached_input"}}`` (USD per 1M tokens) from a dict of dicts
    or of ``(input, output[, cached_input])`` tuples."""
    out: dict[str, dict[str, float]] = {}
    for model, price in (prices or {}).items():
        if isinstance(price, Mapping):
            unknown = set(price) - {"input", "output", "cached_input"}
            if unknown or "input" not in price or "output" not in price:
                raise ValueError(
                    f"prices[{model!r}] needs 'input' and 'output' (and optionally "
                    "'cached_input'), in USD per 1M tokens"
                )
            entry = {k: float(v) for k, v in price.items()}
        elif isinstance(price, (tuple, list)) and len(price) in (2, 3):
            entry = dict(zip(("input", "output", "cached_input"), map(float, price)))
        else:
            raise ValueError(
                f"prices[{model!r}] must be {{'input': x, 'output': y}} or (input, output), "
                "in USD per 1M tokens"
            )
        entry.setdefault("cached_input", entry["input"])
        out[str(model)] = entry
    return out


def price_for(model: str, prices: Mapping[str, Mapping[str, float]]) -> Mapping[str, float] | None:
    """The price entry for ``model``: exact name, else the longest key that prefixes it."""
    if model in prices:
        return prices[model]
    keys = [k for k in prices if model.startswith(k)]
    return prices[max(keys, key=len)] if keys else None


@dataclass
class ModelUsage:
    """Counters for one model."""

    requests: int = 0
    cached: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0

    def cost(self, price: Mapping[str, float] | None) -> float | None:
        """Estimated USD for the requests actually sent (None without a price)."""
        if price is None:
            return None
        fresh = max(0, self.prompt_tokens - self.cached_tokens)
        return (
            fresh * price["input"]
            + self.cached_tokens * price["cached_input"]
            + self.completion_tokens * price["output"]
        ) / 1e6


@dataclass
class Usage:
    """A snapshot of the tally: ``by_model`` counters and the prices used for ``cost_usd``."""

    by_model: dict[str, ModelUsage] = field(default_factory=dict)
    prices: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{model: {requests, cached, errors, *_tokens, cost_usd}}`` (DataFrame-able)."""
        out = {}
        for model, u in self.by_model.items():
            row: dict[str, Any] = {k: getattr(u, k) for k in COLUMNS[:-1]}
            row["cost_usd"] = u.cost(price_for(model, self.prices))
            out[model] = row
        return out

    @property
    def total_cost(self) -> float | None:
        """Sum of the known costs; None when no model has a price."""
        costs = [r["cost_usd"] for r in self.to_dict().values() if r["cost_usd"] is not None]
        return sum(costs) if costs else None

    def to_pandas(self):
        """One row per model, the columns of :meth:`to_dict`."""
        import pandas as pd

        return pd.DataFrame.from_dict(self.to_dict(), orient="index", columns=list(COLUMNS))

    def __str__(self) -> str:
        rows = self.to_dict()
        if not rows:
            return "model-grader usage: no calls yet"
        lines = ["model-grader usage:"]
        for model, r in rows.items():
            cost = "cost unknown" if r["cost_usd"] is None else f"${r['cost_usd']:.4f}"
            lines.append(
                f"  {model}: {r['requests']} requests, {r['cached']} from the cache, "
                f"{r['errors']} errors, {r['prompt_tokens']} prompt tokens "
                f"({r['cached_tokens']} cached by the API) + {r['completion_tokens']} completion "
                f"tokens, {cost}"
            )
        return "\n".join(lines)

    __repr__ = __str__


class UsageTally:
    """Thread-safe counters per model, for the whole session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_model: dict[str, ModelUsage] = {}

    def record(
        self, model: str, tokens: Mapping[str, int] | None, *, cached: bool = False,
        error: bool = False,
    ) -> None:
        """Count one call: an answer sent by the server, one served from the cache, or a failure."""
        with self._lock:
            u = self._by_model.setdefault(model, ModelUsage())
            if error:
                u.errors += 1
                return
            if cached:
                u.cached += 1
                return
            u.requests += 1
            for key in TOKEN_FIELDS:
                setattr(u, key, getattr(u, key) + int((tokens or {}).get(key) or 0))

    def snapshot(self, prices: Mapping[str, Mapping[str, float]]) -> Usage:
        with self._lock:
            copied = {m: ModelUsage(**vars(u)) for m, u in self._by_model.items()}
        return Usage(copied, {k: dict(v) for k, v in prices.items()})

    def reset(self) -> None:
        with self._lock:
            self._by_model.clear()


TALLY = UsageTally()
