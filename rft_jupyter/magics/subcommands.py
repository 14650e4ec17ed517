"""``%rft`` subcommands: one small handler each, dispatched by name.

A subcommand can also live in its own module (``job`` is ``rft_jupyter.magics.job``): the module
defines ``SUMMARY`` (one line) and ``run(magics, argv, local_ns)``, and may define
``complete(magics, words, current) -> list[str]``. Adding it is adding that module.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .args import Parser, did_you_mean, usage_error

if TYPE_CHECKING:  # pragma: no cover
    from .core import RftMagics

Handler = Callable[["RftMagics", Any, str, "dict[str, Any] | None"], Any]


@dataclass(frozen=True)
class Subcommand:
    """One ``%rft`` subcommand: its parser and handler, or the module that implements it.

    ``positionals`` tells completion what each positional argument is (``grader``, ``data``,
    ``setting``).
    """

    name: str
    summary: str
    usage: str = ""
    parser: Parser | None = None
    handler: Handler | None = None
    module: str | None = None
    coming: str = ""
    positionals: tuple[str, ...] = field(default_factory=tuple)

    def run(self, magics: RftMagics, argv: list[str], line: str,
            local_ns: dict[str, Any] | None) -> Any:
        if self.module is not None:
            mod = self.load()
            if mod is None:
                print(self.coming)
                return None
            return mod.run(magics, argv, local_ns)
        args = magics.parse(self.parser, argv)
        if args is None:
            return None
        return self.handler(magics, args, line, local_ns)

    def load(self) -> Any:
        """The implementing module, or None when it does not exist (yet)."""
        try:
            return importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if exc.name != self.module:
                raise
            return None

    def help_line(self) -> tuple[str, str]:
        """(usage, one-line summary) for the bare ``%rft`` listing."""
        if self.module is not None:
            if self.module in sys.modules or importlib.util.find_spec(self.module) is not None:
                mod = self.load()
                return getattr(mod, "USAGE", self.usage), getattr(mod, "SUMMARY", self.summary)
            return self.usage, f"{self.summary} (coming soon)"
        return self.usage, self.summary


# ---------------------------------------------------------------- validate


def _validate(m: RftMagics, a: Any, line: str, local_ns: dict[str, Any] | None) -> Any:
    from ..data import validate_dataset
    from .data import resolve
    from .display import show

    ns = m.namespace(local_ns)
    data = resolve(ns, a.data, "%rft validate")
    spec = m.grader_spec(a.grader, ns, "%rft validate") if a.grader else None
    report = m.engine(
        "%rft validate", lambda: validate_dataset(data, grader=spec, kind=a.kind)
    )
    if a.out:
        m.store(a.out, report, "%rft validate")
    show(m.shell, report, "rft", line, m.autodisplay)
    return report


VALIDATE = Parser("%rft validate", "Check RFT data (a DataFrame, list of dicts or JSONL file) "
                  "against the service's rules; with --grader, also that every {{ item.* }} it "
                  "reads resolves in every row.")
VALIDATE.add_argument("data", help="a DataFrame or list-of-dicts variable, or a JSONL path")
VALIDATE.add_argument("--grader", "-g", help="a registered grader whose variables to check")
VALIDATE.add_argument("--kind", "-k", default="train", help="train (default) or valid")
VALIDATE.add_argument("-o", "--out", dest="out", metavar="VAR", help="store the report in VAR")

# ---------------------------------------------------------------- probe


def _probe(m: RftMagics, a: Any, line: str, local_ns: dict[str, Any] | None) -> Any:
    from ..analysis.probe import PROBE_KINDS, probe
    from .data import check_columns, columns_of, resolve
    from .display import show

    ns = m.namespace(local_ns)
    spec = m.grader_spec(a.name, ns, "%rft probe")
    data = resolve(ns, a.data, "%rft probe")
    sample = a.sample
    if sample is None:
        columns = columns_of(data) or []
        sample = m.sample_column if m.sample_column in columns else None
    check_columns(spec, data, a.sample, a.data, "%rft probe")
    kinds = [k.strip() for k in a.kinds.split(",") if k.strip()] if a.kinds else None
    for kind in kinds or []:
        if kind not in PROBE_KINDS:
            raise usage_error(
                f"%rft probe: unknown kind {kind!r}{did_you_mean(kind, PROBE_KINDS)} "
                f"(kinds: {', '.join(PROBE_KINDS)})"
            )
    limit = a.limit if a.limit is not None else m.probe_rows
    seed = a.seed if a.seed is not None else m.seed
    report = m.engine("%rft probe", lambda: probe(
        spec, data, sample=sample, limit=limit, seed=seed, kinds=kinds, margin=a.margin,
    ))
    if a.out:
        m.store(a.out, report, "%rft probe")
    show(m.shell, report, "rft", line, m.autodisplay)
    return report


PROBE = Parser("%rft probe", "Score degenerate outputs (empty, the prompt echoed, the reference "
               "padded, answer spam, a huge output, invalid JSON) and flag the kinds that score "
               "near real answers.")
PROBE.add_argument("name", help="a registered grader")
PROBE.add_argument("data", help="a DataFrame or list-of-dicts variable, or a JSONL path")
PROBE.add_argument("--sample", "-s", help="column of real outputs (the baseline; default: "
                   "RftMagics.sample_column when present, else the gold answer)")
PROBE.add_argument("--limit", "-n", type=int, help="rows to probe (default RftMagics.probe_rows)")
PROBE.add_argument("--seed", type=int, help="pick the rows at random with this seed")
PROBE.add_argument("--kinds", help="comma-separated kinds (default: all)")
PROBE.add_argument("--margin", type=float, default=0.1,
                   help="how close to the baseline counts as gamed (default 0.1)")
PROBE.add_argument("-o", "--out", dest="out", metavar="VAR", help="store the report in VAR")

# ---------------------------------------------------------------- export / show / list


def _export(m: RftMagics, a: Any, line: str, local_ns: dict[str, Any] | None) -> None:
    spec = m.grader_spec(a.name, m.namespace(local_ns), "%rft export")
    print(json.dumps(spec, indent=a.indent if a.indent > 0 else None, ensure_ascii=False))
    if a.copy:
        m.store(a.copy, spec, "%rft export")


EXPORT = Parser("%rft export", "Print a grader exactly as the API takes it (JSON), e.g. for "
                "method.reinforcement.grader of a fine-tuning job.")
EXPORT.add_argument("name", help="a registered grader")
EXPORT.add_argument("--copy", "-c", metavar="VAR", help="also put the grader (a dict) in VAR")
EXPORT.add_argument("--indent", type=int, default=2, help="JSON indent (0: one line)")


def _show(m: RftMagics, a: Any, line: str, local_ns: dict[str, Any] | None) -> None:
    from .display import grader_summary

    entry = m.graders.get(a.name)
    if entry is None:
        raise usage_error(f"%rft show: {m.graders.unknown(a.name)}")
    print(grader_summary(entry.name, entry.spec, entry.body_format, "is").text)
    print(json.dumps(entry.spec, indent=2, ensure_ascii=False))


SHOW = Parser("%rft show", "Show a registered grader: summary and its spec.")
SHOW.add_argument("name", help="a registered grader")


def _list(m: RftMagics, a: Any, line: str, local_ns: dict[str, Any] | None) -> None:
    from .display import describe, reads

    if not len(m.graders):
        print("no grader registered yet: define one with %%grader NAME")
        return
    rows = [(e.name, describe(e.spec), ", ".join(reads(e.spec)) or "-") for e in m.graders]
    widths = [max(len(r[i]) for r in rows + [("name", "type", "reads")]) for i in range(2)]
    print(f"{'name':<{widths[0]}}  {'type':<{widths[1]}}  reads")
    for name, kind, variables in rows:
        print(f"{name:<{widths[0]}}  {kind:<{widths[1]}}  {variables}")


LIST = Parser("%rft list", "List the graders registered in this session.")

# ---------------------------------------------------------------- config


def literal(text: str) -> Any:
    """``100`` -> 100, ``None`` -> None, ``'a b'`` -> 'a b', ``answer`` -> 'answer'."""
    lowered = {"true": True, "false": False, "none": None, "null": None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _config(m: RftMagics, a: Any, line: str, local_ns: dict[str, Any] | None) -> None:
    from traitlets import TraitError

    from ..graders.settings import configure, settings

    names = sorted(m.trait_names(config=True))
    if not a.assignments:
        engine = dataclasses.asdict(settings())
        width = max(len(n) for n in [*names, *(f"engine.{k}" for k in engine)]) + 4
        print("RftMagics settings (%config RftMagics.NAME = VALUE, %rft config NAME=VALUE, "
              "or [tool.rft_jupyter] in pyproject.toml):")
        for name in names:
            trait = m.traits()[name]
            origin = m.sources.get(name, "")
            origin = f"  [{origin}]" if origin else ""
            print(f"  {name:<{width - 2}}= {getattr(m, name)!r}{origin}")
            print(f"  {'':<{width - 2}}  {trait.help}")
        print("engine settings (engine.NAME=VALUE, [tool.rft_jupyter.engine]):")
        for key, value in engine.items():
            print(f"  {'engine.' + key:<{width - 2}}= {value!r}")
        return
    changed = []
    for assignment in a.assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise usage_error(f"%rft config: expected NAME=VALUE, got {assignment!r}")
        value = literal(raw.strip())
        if key.startswith("engine."):
            try:
                configure(**{key[len("engine."):]: value})
            except ValueError as exc:
                raise usage_error(f"%rft config: {exc}") from None
        elif key in names:
            try:
                setattr(m, key, value)
            except TraitError as exc:
                raise usage_error(f"%rft config: {key}={value!r}: {exc}") from None
            m.sources[key] = "%rft config"
        else:
            raise usage_error(
                f"%rft config: unknown setting {key!r}{did_you_mean(key, names)} "
                f"(settings: {', '.join(names)}, engine.*)"
            )
        changed.append(f"{key}={value!r}")
    print(f"settings changed: {', '.join(changed)}")


CONFIG = Parser("%rft config", "Show the settings, or change some: %rft config "
                "sample_column=answer limit=100 engine.rouge_stemmer=True")
CONFIG.add_argument("assignments", nargs="*", metavar="NAME=VALUE")

# ---------------------------------------------------------------- the table

SUBCOMMANDS: dict[str, Subcommand] = {
    s.name: s
    for s in (
        Subcommand("validate", "check RFT data, and the grader's item.* variables",
                   "validate DATA [--grader NAME] [--kind train|valid]", VALIDATE, _validate,
                   positionals=("data",)),
        Subcommand("probe", "score degenerate outputs: is the grader gameable?",
                   "probe NAME DATA [--sample COL] [--limit N]", PROBE, _probe,
                   positionals=("grader", "data")),
        Subcommand("export", "print the grader as the API's JSON (--copy VAR: to a variable)",
                   "export NAME [--copy VAR]", EXPORT, _export, positionals=("grader",)),
        Subcommand("list", "list the graders defined with %%grader", "list", LIST, _list),
        Subcommand("show", "show one grader: summary and spec", "show NAME", SHOW, _show,
                   positionals=("grader",)),
        Subcommand("config", "show or change settings", "config [NAME=VALUE ...]", CONFIG,
                   _config, positionals=("setting",)),
        Subcommand("job", "attach to, create, replay or run a fine-tuning job and watch it",
                   "job attach|create|replay|local|watch|pause|resume|cancel ...",
                   module="rft_jupyter.magics.job",
                   coming="%rft job (attach, create, replay, local, watch, pause, resume, "
                   "cancel) is coming with the jobs feature; it is not available in this "
                   "version yet."),
    )
}


def overview() -> str:
    """Bare ``%rft``: every subcommand with one line of help."""
    lines = ["%rft SUBCOMMAND ... — rft-jupyter commands (%rft help SUBCOMMAND for options)"]
    entries = [s.help_line() for s in SUBCOMMANDS.values()]
    width = max(len(u) for u, _ in entries) + 2
    for usage, summary in entries:
        lines.append(f"  %rft {usage:<{width}}{summary}")
    lines.append("Also: %%grader NAME (define a grader in a cell), %grade NAME DATA (grade a "
                 "DataFrame), %config RftMagics (settings).")
    return "\n".join(lines)
