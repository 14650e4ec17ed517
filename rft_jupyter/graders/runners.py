"""Compiled graders: one runner per grader type, each grading many samples at once.

A *context* is ``{"sample": {...}, "item": {...}}``. ``Runner.run_many(contexts)`` returns one
:class:`Outcome` per context; batching lets text metrics amortise tokenisation and lets later
grader types (python sandbox, model calls) keep workers and connections busy.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from .errors import MetricUnavailableError, TemplateError
from .formula import FormulaError, FormulaMathError, parse_formula
from .outcome import DETAIL_KEYS, ERROR_FLAGS, Outcome
from .settings import Settings
from .settings import settings as current_settings
from .templates import Template, compile_template

Context = Mapping[str, Any]


class Runner:
    """Base class: a validated spec compiled for fast repeated grading.

    ``settings`` are the engine settings in force; ``options`` carries per-call resources (e.g.
    ``client`` for model graders). Runners whose work is CPU-bound Python set
    ``process_pool_ok`` and are rebuilt from (spec, settings) inside worker processes; the others
    (sandboxed code, network calls) run in the calling process and manage their own concurrency.
    """

    process_pool_ok = True

    def __init__(
        self,
        spec: Mapping[str, Any],
        settings: Settings | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.name: str = spec.get("name", "")
        self.type: str = spec["type"]
        self.settings = settings if settings is not None else current_settings()
        self.options = dict(options or {})

    def close(self) -> None:
        """Release workers or connections (a no-op for deterministic graders)."""

    def render_one(self, context: Context) -> dict[str, str]:
        """The grader's templates rendered for one sample (what it saw), misses left out."""
        return {}

    @property
    def sample_fields(self) -> frozenset[str] | None:
        """Top-level sample keys this grader reads, or None when it may read anything."""
        return None

    def run_many(self, contexts: Sequence[Context]) -> list[Outcome]:
        raise NotImplementedError

    def run_one(self, context: Context) -> Outcome:
        return self.run_many([context])[0]


class _TwoTemplates(Runner):
    """Shared by string_check and text_similarity: render ``input`` and ``reference``."""

    def __init__(self, spec, settings=None, options=None) -> None:
        super().__init__(spec, settings, options)
        self.input = compile_template(spec["input"])
        self.reference = compile_template(spec["reference"])
        self._fields = _sample_fields([self.input, self.reference])

    @property
    def sample_fields(self) -> frozenset[str] | None:
        return self._fields

    def render_one(self, context: Context) -> dict[str, str]:
        out = {}
        for field, template in (("input", self.input), ("reference", self.reference)):
            try:
                out[field] = template.render(context)
            except TemplateError:
                pass
        return out

    def render(self, contexts: Sequence[Context]) -> tuple[list[int], list[str], list[str], dict]:
        """Indexes that rendered, their inputs and references, and failures by index."""
        ok: list[int] = []
        inputs: list[str] = []
        refs: list[str] = []
        failed: dict[int, Outcome] = {}
        render_in, render_ref = self.input.render, self.reference.render
        for i, ctx in enumerate(contexts):
            try:
                a = render_in(ctx)
                b = render_ref(ctx)
            except TemplateError as exc:
                failed[i] = Outcome.failed("invalid_variable_error", str(exc))
                continue
            ok.append(i)
            inputs.append(a)
            refs.append(b)
        return ok, inputs, refs, failed

    def assemble(self, n: int, ok, inputs, refs, failed, scores) -> list[Outcome]:
        out: list[Outcome | None] = [None] * n
        for i, outcome in failed.items():
            out[i] = outcome
        for i, a, b, s in zip(ok, inputs, refs, scores):
            out[i] = Outcome(float(s), rendered={"input": a, "reference": b})
        return out  # type: ignore[return-value]


_OPS: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "like": lambda a, b: b in a,
    "ilike": lambda a, b: b.lower() in a.lower(),
}


class StringCheck(_TwoTemplates):
    """``eq`` / ``ne`` / ``like`` (substring) / ``ilike`` (lower-cased substring): 1.0 or 0.0."""

    def run_many(self, contexts: Sequence[Context]) -> list[Outcome]:
        ok, inputs, refs, failed = self.render(contexts)
        op = _OPS[self.spec["operation"]]
        scores = [1.0 if op(a, b) else 0.0 for a, b in zip(inputs, refs)]
        return self.assemble(len(contexts), ok, inputs, refs, failed, scores)


class TextSimilarity(_TwoTemplates):
    """A text metric between the rendered input and reference (0..1)."""

    def __init__(self, spec, settings=None, options=None) -> None:
        super().__init__(spec, settings, options)
        self.metric = spec["evaluation_metric"]
        if self.metric == "cosine":
            raise MetricUnavailableError(
                "text_similarity with evaluation_metric 'cosine' needs an embeddings endpoint, "
                "which rft-jupyter does not support locally yet (the service runs it in evals only)"
            )
        if self.metric == "meteor":
            from .wordnet import ensure_wordnet

            ensure_wordnet()

    def run_many(self, contexts: Sequence[Context]) -> list[Outcome]:
        from . import metrics

        ok, inputs, refs, failed = self.render(contexts)
        if not ok:
            scores = []
        elif self.settings.is_default_for(self.metric):
            scores = metrics.score_batch(self.metric, inputs, refs)
        else:
            from .metrics.configured import configured_batch

            scores = configured_batch(self.metric, inputs, refs, self.settings)
        return self.assemble(len(contexts), ok, inputs, refs, failed, scores)


class Multi(Runner):
    """Named sub-graders combined by ``calculate_output``."""

    def __init__(self, spec, settings=None, options=None) -> None:
        super().__init__(spec, settings, options)
        self.subs = {
            key: compile_runner(sub, self.settings, self.options)
            for key, sub in spec["graders"].items()
        }
        self.process_pool_ok = all(r.process_pool_ok for r in self.subs.values())
        try:
            self.formula = parse_formula(spec["calculate_output"], frozenset(self.subs))
            self.formula_error: str | None = None
        except FormulaError as exc:  # validation catches this; kept for unvalidated specs
            self.formula, self.formula_error = None, f"calculate_output: {exc}"

    @property
    def sample_fields(self) -> frozenset[str] | None:
        fields: set[str] = set()
        for runner in self.subs.values():
            if runner.sample_fields is None:
                return None
            fields |= runner.sample_fields
        return frozenset(fields)

    def close(self) -> None:
        for runner in self.subs.values():
            runner.close()

    def render_one(self, context: Context) -> dict[str, str]:
        return {
            f"{key}.{field}": text
            for key, runner in self.subs.items()
            for field, text in runner.render_one(context).items()
        }

    def run_many(self, contexts: Sequence[Context]) -> list[Outcome]:
        results = {key: runner.run_many(contexts) for key, runner in self.subs.items()}
        out = []
        for i in range(len(contexts)):
            subs = {key: results[key][i] for key in self.subs}
            out.append(self._combine(subs))
        return out

    def _combine(self, subs: dict[str, Outcome]) -> Outcome:
        rewards = {key: o.reward for key, o in subs.items()}
        errors: dict[str, Any] = {}
        details: list[str] = []
        usage: dict[str, dict[str, int]] = {}
        rendered: dict[str, str] = {}
        for key, o in subs.items():
            for flag, value in o.errors.items():
                if flag in DETAIL_KEYS:
                    errors[flag] = f"{errors[flag]}\n{key}: {value}" if flag in errors else value
                elif value:
                    errors[flag] = True
            if o.details:
                details.append(f"{key}: {o.details}")
            for model, u in o.token_usage.items():
                acc = usage.setdefault(model, {})
                for k, v in u.items():
                    acc[k] = acc.get(k, 0) + v
            for field, text in o.rendered.items():
                rendered[f"{key}.{field}"] = text
        if self.formula is None:
            errors["formula_parse_error"] = True
            details.append(self.formula_error or "calculate_output does not parse")
            reward = 0.0
        else:
            try:
                reward = self.formula.evaluate(rewards)
            except FormulaMathError as exc:
                errors["other_error"] = True
                details.append(f"calculate_output: {exc}")
                reward = 0.0
        sampled = next((o.sampled_model_name for o in subs.values() if o.sampled_model_name), None)
        return Outcome(
            reward,
            errors,
            "\n".join(details) or None,
            sub_rewards=rewards,
            rendered=rendered,
            token_usage=usage,
            sampled_model_name=sampled,
            scores=dict(rewards),
        )


def _sample_fields(templates: Sequence[Template]) -> frozenset[str] | None:
    fields = set()
    for template in templates:
        for var in template.variables:
            if var.namespace == "sample":
                if not var.steps or not isinstance(var.steps[0], str):
                    return None  # the whole sample is rendered
                fields.add(var.steps[0])
    return frozenset(fields)


# Runner per grader type; "module:Class" entries are imported on first use (they pull in the
# sandbox or the openai SDK).
RUNNERS: dict[str, type[Runner] | str] = {
    "string_check": StringCheck,
    "text_similarity": TextSimilarity,
    "multi": Multi,
    "python": "rft_jupyter.graders.python_grader:PythonGrader",
    "score_model": "rft_jupyter.graders.model_graders:ScoreModelGrader",
    "label_model": "rft_jupyter.graders.model_graders:LabelModelGrader",
    "endpoint": "rft_jupyter.graders.endpoint:EndpointGrader",
}


def runner_class(gtype: str) -> type[Runner]:
    """The Runner class for a grader type."""
    entry = RUNNERS[gtype]
    if isinstance(entry, str):
        module, _, name = entry.partition(":")
        entry = RUNNERS[gtype] = getattr(importlib.import_module(module), name)
    return entry


def compile_runner(
    spec: Mapping[str, Any],
    settings: Settings | None = None,
    options: Mapping[str, Any] | None = None,
) -> Runner:
    """Compile a validated spec with the Runner registered for its type in :data:`RUNNERS`."""
    return runner_class(spec["type"])(spec, settings, options)


@lru_cache(maxsize=64)
def _cached(key: str, settings: Settings) -> Runner:
    return compile_runner(json.loads(key), settings)


def cached_runner(spec: Mapping[str, Any], settings: Settings | None = None) -> Runner:
    """Compile once per distinct (spec, settings): for process-pool graders without options."""
    s = settings if settings is not None else current_settings()
    return _cached(json.dumps(spec, sort_keys=True), s)


__all__ = ["ERROR_FLAGS", "Runner", "cached_runner", "compile_runner", "runner_class"]
