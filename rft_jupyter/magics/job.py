"""``%rft job ...``: attach to, create, replay or run a fine-tuning job, and watch it.

::

    %rft job attach ftjob-abc123 [--budget 50] [--price 100] [--client VAR]
    %rft job create GRADER TRAIN [VALID] --model o4-mini-2025-04-16 [--hp n_epochs=2 ...]
    %rft job replay events.jsonl [--speed 60 | --duration 20]
    %rft job local GRADER TRAIN [VALID] [--model PATH] [--hp max_steps=100 ...]
    %rft job watch [JOB]          # a monitor for JOB (a variable, a job id; default: the last)
    %rft job pause|resume|cancel [JOB]

GRADER is a ``%%grader`` name, a variable holding a spec, or a spec file; TRAIN / VALID a
DataFrame or list-of-dicts variable, or a JSONL path. Each command shows a live
``JobMonitor`` (``--no-watch``: not) and returns the Job (``job = %rft job replay x.jsonl``);
``-o VAR`` also stores it in VAR. The logic lives in the Python API (``rft_jupyter.jobs``).
"""

from __future__ import annotations

import ast
import weakref
from typing import Any

from .args import HelpShown, Parser, did_you_mean, split, usage_error

SUMMARY = "attach to, create, replay or run a local GRPO job, and watch it live"
USAGE = "job attach|create|replay|local|watch|pause|resume|cancel ..."
ACTIONS = ("attach", "create", "replay", "local", "watch", "pause", "resume", "cancel")
_LAST: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()  # shell -> last Job


def _parsers() -> dict[str, Parser]:
    out: dict[str, Parser] = {}

    def common(p: Parser, watch: bool = True) -> Parser:
        p.add_argument("-o", "--out", dest="out", metavar="VAR", help="store the Job in VAR")
        if watch:
            p.add_argument("--no-watch", action="store_true", help="do not show a monitor")
        return p

    def money(p: Parser) -> None:
        p.add_argument("--budget", type=float, help="USD: the cost guard pauses the job there")
        p.add_argument("--price", type=float, help="USD per training hour (default 100)")

    p = Parser("%rft job attach", "Attach to a fine-tuning job on OpenAI / Azure OpenAI.")
    p.add_argument("job_id", help="the job's id (ftjob-...)")
    p.add_argument("--client", metavar="VAR", help="a variable holding an openai client")
    money(p)
    out["attach"] = common(p)

    p = Parser("%rft job create", "Validate the data, upload it and start an RFT job.")
    p.add_argument("grader", help="a %%grader name, a variable holding a spec, or a spec file")
    p.add_argument("train", help="training data: a DataFrame / list variable or a JSONL path")
    p.add_argument("valid", nargs="?", help="validation data (Azure requires it)")
    p.add_argument("--model", required=True, help="base model, e.g. o4-mini-2025-04-16")
    p.add_argument("--hp", action="append", default=[], metavar="NAME=VALUE",
                   help="a hyperparameter (repeat: --hp n_epochs=2 --hp eval_interval=5)")
    p.add_argument("--response-format", metavar="VAR", help="a variable or JSON file with "
                   "the job's response_format")
    p.add_argument("--suffix", help="suffix of the fine-tuned model's name")
    p.add_argument("--seed", type=int)
    p.add_argument("--client", metavar="VAR", help="a variable holding an openai client")
    money(p)
    out["create"] = common(p)

    p = Parser("%rft job replay", "Replay a job from an events JSONL or a results CSV.")
    p.add_argument("path", help="events JSONL (as the events endpoint returns) or results CSV")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--speed", type=float, help="job seconds per real second (streams)")
    group.add_argument("--duration", type=float, help="seconds the whole replay takes")
    p.add_argument("--price", type=float, help="USD per training hour for the cost estimate")
    out["replay"] = common(p)

    p = Parser("%rft job local", "Train locally with TRL's GRPO, rewarded by the grader.")
    p.add_argument("grader", help="a %%grader name, a variable holding a spec, or a spec file")
    p.add_argument("train", help="training data: a DataFrame / list variable or a JSONL path")
    p.add_argument("valid", nargs="?", help="validation data (eval runs and checkpoints)")
    p.add_argument("--model", help="a local Hugging Face model directory (default: tiny model)")
    p.add_argument("--run-dir", help="where events, log and checkpoints go")
    p.add_argument("--hp", action="append", default=[], metavar="NAME=VALUE",
                   help="a hyperparameter (repeat: --hp max_steps=100 --hp eval_interval=10)")
    out["local"] = common(p)

    p = Parser("%rft job watch", "Show a live monitor of a job.")
    p.add_argument("job", nargs="?", help="a variable holding a Job, or a job id (default: "
                   "the last job of this session)")
    out["watch"] = p
    for action in ("pause", "resume", "cancel"):
        p = Parser(f"%rft job {action}", f"{action.capitalize()} a job.")
        p.add_argument("job", nargs="?", help="a variable holding a Job, or a job id (default: "
                       "the last job of this session)")
        out[action] = p
    return out


def _help() -> str:
    return (
        "%rft job SUBCOMMAND — fine-tuning jobs, live\n"
        "  attach JOB_ID [--budget USD]             a job on OpenAI / Azure OpenAI\n"
        "  create GRADER TRAIN [VALID] --model M    validate, upload, start an RFT job\n"
        "  replay PATH [--speed X | --duration S]   an events JSONL or a results CSV\n"
        "  local GRADER TRAIN [VALID] [--model P]   TRL GRPO in a subprocess\n"
        "  watch [JOB]                              a live monitor (default: the last job)\n"
        "  pause | resume | cancel [JOB]\n"
        "Each returns the Job (job = %rft job ...) and shows a monitor (--no-watch: not)."
    )


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        low = text.lower()
        return {"true": True, "false": False, "none": None, "null": None}.get(low, text)


def _hyperparameters(pairs: list[str], magic: str) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise usage_error(f"{magic}: --hp takes NAME=VALUE, not {pair!r}")
        out[name.strip()] = _value(value.strip())
    return out


class _Context:
    """What a job command needs from the session: the shell, magics (if loaded), names."""

    def __init__(self, shell: Any, magics: Any = None, local_ns: dict[str, Any] | None = None):
        self.shell = shell
        if magics is None and shell is not None:
            registry = getattr(getattr(shell, "magics_manager", None), "registry", {})
            magics = registry.get("RftMagics")
        self.magics = magics
        user = getattr(shell, "user_ns", {}) if shell is not None else {}
        self.ns = {**user, **(local_ns or {})}

    def grader(self, name: str, magic: str) -> dict[str, Any]:
        if self.magics is not None:
            return self.magics.grader_spec(name, self.ns, magic)
        from ..graders.spec import load_grader

        value = self.ns.get(name, name)
        return _engine(magic, lambda: load_grader(value))

    def data(self, token: str | None, magic: str) -> Any:
        if token is None:
            return None
        from .data import resolve

        return resolve(self.ns, token, magic)

    def variable(self, name: str | None, magic: str, what: str) -> Any:
        if name is None:
            return None
        if name not in self.ns:
            raise usage_error(f"{magic}: no variable {name!r} ({what})")
        return self.ns[name]

    def store(self, var: str | None, value: Any, magic: str) -> None:
        if var is None:
            return
        if not var.isidentifier():
            raise usage_error(f"{magic}: -o {var!r}: a variable name is an identifier")
        if self.shell is not None:
            self.shell.user_ns[var] = value

    def job(self, token: str | None, magic: str) -> Any:
        from ..jobs.job import Job

        if token is None:
            job = _LAST.get(self.shell) if self.shell is not None else None
            if job is None:
                raise usage_error(f"{magic}: no job yet in this session: name one (a variable "
                                  "or a job id), or start one with %rft job attach|create|"
                                  "replay|local")
            return job
        value = self.ns.get(token)
        if isinstance(value, Job):
            return value
        if value is not None and hasattr(value, "job") and isinstance(value.job, Job):
            return value.job
        if token.isidentifier() and not token.startswith(("ftjob", "local-")):
            jobs = [k for k, v in self.ns.items() if isinstance(v, Job)]
            raise usage_error(f"{magic}: no Job variable {token!r}{did_you_mean(token, jobs)}"
                              + (f" (Job variables: {', '.join(jobs)})" if jobs else ""))
        from ..jobs.openai_source import attach, attached

        return attached(token) or _engine(magic, lambda: attach(token))


def _engine(magic: str, fn: Any) -> Any:
    from ..data.report import DatasetValidationError
    from ..graders.errors import GraderValidationError, MetricUnavailableError
    from ..jobs.job import JobConnectionError

    try:
        return fn()
    except (DatasetValidationError, GraderValidationError, JobConnectionError,
            MetricUnavailableError, ValueError, TypeError, OSError) as exc:
        raise usage_error(f"{magic}: {exc}") from None


def _finish(ctx: _Context, job: Any, args: Any, magic: str, argv: list[str]) -> Any:
    """Remember the job, store it, show a monitor; the value the magic returns."""
    if ctx.shell is not None:
        _LAST[ctx.shell] = job
    ctx.store(getattr(args, "out", None), job, magic)
    if getattr(args, "no_watch", False):
        return job
    return _watch(ctx, job, argv)


def _watch(ctx: _Context, job: Any, argv: list[str]) -> Any:
    from ..widgets.job_monitor import JobMonitor

    monitor = JobMonitor(job)
    if _displayed_by_hook(ctx.shell, argv):
        return monitor  # the displayhook shows it (and Out[n] holds it: .job is the Job)
    from IPython.display import display

    display(monitor)
    return job


def _displayed_by_hook(shell: Any, argv: list[str]) -> bool:
    """Whether this ``%rft job ...`` call is the cell's displayed last expression."""
    info = getattr(getattr(getattr(shell, "displayhook", None), "exec_result", None), "info",
                   None)
    raw = getattr(info, "raw_cell", None)
    if not raw or getattr(shell, "ast_node_interactivity", "last_expr") == "none":
        return False
    try:
        tree = ast.parse(shell.transform_cell(raw))
    except Exception:  # noqa: BLE001 - not Python after all: let the magic display
        return False
    last = tree.body[-1] if tree.body else None
    call = last.value if isinstance(last, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "run_line_magic" and len(call.args) >= 2):
        return False
    name, text = (a.value if isinstance(a, ast.Constant) else None for a in call.args[:2])
    if name != "rft" or not isinstance(text, str):
        return False
    try:
        words = split(text)
    except Exception:  # noqa: BLE001
        return False
    return words[:1] == ["job"] and words[1:] == argv


def run_job_command(shell: Any, line: str, *, magics: Any = None,
                    local_ns: dict[str, Any] | None = None) -> Any:
    """Run ``%rft job LINE`` (LINE without the leading ``job``) in ``shell``.

    Returns the Job, or the JobMonitor when the call is a cell's displayed last expression (so
    the displayhook shows the monitor once); None for help.
    """
    return _run(_Context(shell, magics, local_ns), split(line))


def run(magics: Any, argv: list[str], local_ns: dict[str, Any] | None) -> Any:
    """Entry point for ``%rft``'s dispatcher (``rft_jupyter.magics.subcommands``)."""
    shell = getattr(magics, "shell", None)
    return _run(_Context(shell, magics, local_ns), list(argv))


def _run(ctx: _Context, argv: list[str]) -> Any:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_help())
        return None
    action, rest = argv[0], argv[1:]
    parsers = _parsers()
    if action not in parsers:
        raise usage_error(f"%rft job: unknown subcommand {action!r}"
                          f"{did_you_mean(action, ACTIONS)} (subcommands: {', '.join(ACTIONS)})")
    parser = parsers[action]
    try:
        args = parser.parse(rest)
    except HelpShown:
        parser.print_help()
        return None
    magic = f"%rft job {action}"
    if action == "attach":
        from ..jobs.openai_source import attach

        client = ctx.variable(args.client, magic, "an openai client")
        job = _engine(magic, lambda: attach(args.job_id, client, budget=args.budget,
                                            price_per_hour=args.price))
        return _finish(ctx, job, args, magic, argv)
    if action == "create":
        from ..jobs.openai_source import create

        spec = ctx.grader(args.grader, magic)
        train, valid = ctx.data(args.train, magic), ctx.data(args.valid, magic)
        fmt = None
        if args.response_format:
            fmt = ctx.ns.get(args.response_format)
            if fmt is None:
                import json
                from pathlib import Path

                path = Path(args.response_format)
                if not path.is_file():
                    raise usage_error(f"{magic}: --response-format {args.response_format!r} "
                                      "is neither a variable nor a file")
                fmt = _engine(magic, lambda: json.loads(path.read_text(encoding="utf-8")))
        client = ctx.variable(args.client, magic, "an openai client")
        hp = _hyperparameters(args.hp, magic)
        job = _engine(magic, lambda: create(
            spec, train, valid, model=args.model, client=client, hyperparameters=hp,
            response_format=fmt, suffix=args.suffix, seed=args.seed, budget=args.budget,
            price_per_hour=args.price))
        return _finish(ctx, job, args, magic, argv)
    if action == "replay":
        from ..jobs.replay_source import replay

        job = _engine(magic, lambda: replay(args.path, args.speed, duration=args.duration,
                                            price_per_hour=args.price))
        return _finish(ctx, job, args, magic, argv)
    if action == "local":
        from ..jobs.local_source import local

        spec = ctx.grader(args.grader, magic)
        train, valid = ctx.data(args.train, magic), ctx.data(args.valid, magic)
        hp = _hyperparameters(args.hp, magic)
        job = _engine(magic, lambda: local(spec, train, valid, args.model, run_dir=args.run_dir,
                                           **hp))
        return _finish(ctx, job, args, magic, argv)
    job = ctx.job(args.job, magic)
    if ctx.shell is not None:
        _LAST[ctx.shell] = job
    if action == "watch":
        return _watch(ctx, job, argv)
    status = _engine(magic, lambda: getattr(job, action)())
    print(f"{job.id}: {status}")
    return None


def complete(magics: Any, words: list[str], current: str) -> list[str]:
    """Completions after ``%rft job``: subcommands, then options, then graders."""
    if not words or (len(words) == 1 and not current.endswith(" ")):
        return list(ACTIONS)
    parser = _parsers().get(words[0])
    if parser is None:
        return []
    options = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    if words[0] in ("create", "local") and len(words) <= 2 and magics is not None:
        return [*magics.graders.names(), *options]
    return options


__all__ = ["ACTIONS", "SUMMARY", "USAGE", "complete", "run", "run_job_command"]
