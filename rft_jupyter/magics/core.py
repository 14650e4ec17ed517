"""``RftMagics``: ``%%grader``, ``%grade`` and ``%rft`` — parse the line, call the API, display.

Settings are traitlets (``%config RftMagics.sample_column = "answer"``, or
``[tool.rft_jupyter]`` in pyproject.toml). User mistakes raise one-line ``UsageError``s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from IPython.core.magic import (
    Magics,
    cell_magic,
    line_magic,
    magics_class,
    needs_local_scope,
    no_var_expand,
)
from traitlets import Bool, Int, TraitError, Unicode, observe, validate

from .args import HelpShown, Parser, did_you_mean, split, usage_error
from .grader_cell import FORMATS, build_grader, unknown_format
from .registry import GraderRegistry, Registered

T = TypeVar("T")

GRADER = Parser("%%grader", "Define (and validate) a grader from the cell body.")
GRADER.add_argument("name", help="the name to register the grader under")
GRADER.add_argument("--format", "-f", help="json, yaml or python (default: detected)")

GRADE = Parser("%grade", "Grade every row of DATA with a registered grader.")
GRADE.add_argument("name", help="a registered grader (or a variable / file holding a spec)")
GRADE.add_argument("data", help="a DataFrame or list-of-dicts variable, or a JSONL path")
GRADE.add_argument("--sample", "-s", help="the column with the model output")
GRADE.add_argument("--limit", "-n", type=int, help="grade N rows (the first, or random with "
                   "--seed)")
GRADE.add_argument("--seed", type=int, help="pick the --limit rows at random with this seed")
GRADE.add_argument("-o", "--out", dest="out", metavar="VAR",
                   help="also store the GradeResult in variable VAR")


@magics_class
class RftMagics(Magics):
    """rft-jupyter's magics. Settings: ``%config RftMagics`` lists them."""

    sample_column = Unicode(
        "output_text", help="Column holding the model output when --sample is not given."
    ).tag(config=True)
    limit = Int(
        None, allow_none=True, help="Rows %grade grades when --limit is not given (None: all)."
    ).tag(config=True)
    seed = Int(None, allow_none=True, help="Default --seed (random rows with --limit).").tag(
        config=True
    )
    progress = Bool(True, help="Show a progress bar on long %grade runs.").tag(config=True)
    autodisplay = Bool(
        True, help="Display results even when assigned (res = %grade ...)."
    ).tag(config=True)
    page_size = Int(25, help="Rows per page of the score table.").tag(config=True)
    probe_rows = Int(20, help="Rows %rft probe uses when --limit is not given.").tag(
        config=True
    )
    short_errors = Bool(
        True, help="Show engine errors as one line (False: full traceback)."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.graders = GraderRegistry()
        self.sources: dict[str, str] = {}  # setting -> where its value came from
        self._sync_page_size()

    # ------------------------------------------------------------ settings

    @validate("limit", "probe_rows")
    def _non_negative(self, proposal: Any) -> Any:
        value = proposal["value"]
        if value is not None and value < (1 if proposal["trait"].name == "probe_rows" else 0):
            raise TraitError(f"{proposal['trait'].name} must be >= 0, got {value}")
        return value

    @validate("page_size")
    def _page_size(self, proposal: Any) -> int:
        value = proposal["value"]
        if not 1 <= value <= 1000:
            raise TraitError(f"page_size must be between 1 and 1000, got {value}")
        return value

    @observe("page_size")
    def _on_page_size(self, change: Any) -> None:
        self._sync_page_size()

    def _sync_page_size(self) -> None:
        from ..widgets import bundle

        bundle.DEFAULTS["page_size"] = self.page_size

    # ------------------------------------------------------------ helpers

    @property
    def user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    def namespace(self, local_ns: dict[str, Any] | None) -> dict[str, Any]:
        """User variables, with a function's locals on top when called inside one."""
        return {**self.user_ns, **(local_ns or {})}

    def engine(self, magic: str, fn: Callable[[], T]) -> T:
        """Run an engine call; its errors become one-line usage errors (``short_errors``)."""
        from ..graders.errors import MetricUnavailableError

        try:
            return fn()
        except (ValueError, OSError, MetricUnavailableError) as exc:
            if not self.short_errors:
                raise
            raise usage_error(f"{magic}: {exc}") from None

    def grader_spec(self, name: str, ns: dict[str, Any], magic: str) -> dict[str, Any]:
        """A registered grader's spec; else a variable holding a spec, or a spec file."""
        if name in self.graders:
            return self.graders.spec(name)
        value = ns.get(name)
        if isinstance(value, dict) or (
            value is not None and hasattr(value, "model_dump")
        ) or name.endswith((".json", ".yaml", ".yml")):
            from ..graders.spec import load_grader

            return self.engine(magic, lambda: load_grader(value if value is not None else name))
        raise usage_error(f"{magic}: {self.graders.unknown(name)}")

    def parse(self, parser: Parser, argv: list[str]) -> Any:
        """Parsed arguments, or None after printing ``--help``."""
        try:
            return parser.parse(argv)
        except HelpShown:
            parser.print_help()
            return None

    # ------------------------------------------------------------ %%grader

    @no_var_expand
    @cell_magic("grader")
    def grader(self, line: str, cell: str) -> None:
        """Define a grader: ``%%grader NAME [--format json|yaml|python]`` + a spec body.

        The body is a JSON or YAML grader spec, or the python source of a python grader (one
        that defines ``grade(sample, item)``). A multi grader's sub-graders may be the names of
        graders defined before. ``{{ }}`` and ``$`` are never expanded.
        """
        args = self.parse(GRADER, split(line))
        if args is None:
            return
        if not args.name.isidentifier():
            raise usage_error(
                f"%%grader: the name {args.name!r} must be an identifier (letters, digits, _)"
            )
        fmt = args.format
        if fmt is not None:
            fmt = fmt.lower()
            if fmt not in FORMATS:
                raise usage_error(f"%%grader {args.name}: {unknown_format(fmt)}")
        spec, used = build_grader(args.name, cell or "", fmt, self.graders)
        verb = "redefined" if args.name in self.graders else "registered"
        self.graders.add(Registered(args.name, spec, used, cell))
        from .display import grader_summary, show

        show(self.shell, grader_summary(args.name, spec, used, verb), "grader", line)

    # ------------------------------------------------------------ %grade

    @no_var_expand
    @needs_local_scope
    @line_magic("grade")
    def grade(self, line: str, local_ns: dict[str, Any] | None = None) -> Any:
        """Grade DATA: ``%grade NAME DATA [--sample COL] [--limit N] [--seed S] [-o VAR]``.

        DATA is a DataFrame (or list of dicts) variable or a JSONL path. Returns the
        GradeResult (``res = %grade ...`` works) and shows it as a score table.
        """
        args = self.parse(GRADE, split(line))
        if args is None:
            return None
        ns = self.namespace(local_ns)
        spec = self.grader_spec(args.name, ns, "%grade")
        from .data import check_columns, resolve

        data = resolve(ns, args.data, "%grade")
        sample = args.sample or self.sample_column
        hint = "" if args.sample else (
            "; pass --sample COL or set %config RftMagics.sample_column"
        )
        check_columns(spec, data, sample, args.data, "%grade", hint)
        limit = args.limit if args.limit is not None else self.limit
        seed = args.seed if args.seed is not None else self.seed
        from ..graders.batch import grade

        result = self.engine("%grade", lambda: grade(
            spec, data, sample=sample, limit=limit, seed=seed,
            progress=None if self.progress else False,
        ))
        if args.out:
            self.store(args.out, result, "%grade")
        from .display import show

        show(self.shell, result, "grade", line, self.autodisplay)
        return result

    def store(self, var: str, value: Any, magic: str) -> None:
        """Put ``value`` in the user's variable ``var``."""
        if not var.isidentifier():
            raise usage_error(f"{magic}: -o {var!r}: a variable name is an identifier")
        self.user_ns[var] = value

    # ------------------------------------------------------------ %rft

    @no_var_expand
    @needs_local_scope
    @line_magic("rft")
    def rft(self, line: str, local_ns: dict[str, Any] | None = None) -> Any:
        """rft-jupyter commands: ``%rft`` alone lists them (validate, probe, export, list,
        show, config, job)."""
        from .subcommands import SUBCOMMANDS, overview

        argv = split(line)
        if not argv or argv[0] in ("-h", "--help", "help") and len(argv) == 1:
            print(overview())
            return None
        name, rest = argv[0], argv[1:]
        if name == "help":
            name, rest = rest[0], ["--help"]
        command = SUBCOMMANDS.get(name)
        if command is None:
            raise usage_error(
                f"%rft: unknown subcommand {name!r}{did_you_mean(name, SUBCOMMANDS)} "
                f"(subcommands: {', '.join(SUBCOMMANDS)}; %rft alone explains them)"
            )
        return command.run(self, rest, line, local_ns)
