"""The ``rft-jupyter`` command line, for scripts and CI.

Exit status: 0 ok; 1 problems found in the input (dataset errors, rows the grader could not score);
2 usage error, unreadable file or invalid grader. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rft-jupyter", description="Validate RFT graders and data; grade locally.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    v = sub.add_parser("validate-grader", help="check a grader JSON/YAML file")
    v.add_argument("grader", help="grader file (.json or .yaml)")

    d = sub.add_parser("validate-data", help="check an RFT JSONL file (and a grader's item.* use)")
    d.add_argument("data", help="training or validation JSONL")
    d.add_argument("--grader", help="grader file whose {{ item.* }} variables every row must have")
    d.add_argument("--kind", choices=("train", "valid"), default="train")

    g = sub.add_parser("grade", help="grade a JSONL of rows with a grader, locally")
    g.add_argument("--grader", required=True, help="grader file (.json or .yaml)")
    g.add_argument("--data", required=True, help="JSONL rows: the items plus the model output")
    g.add_argument("--sample", default="output_text", help="column with the model output")
    g.add_argument("--response-format", help="JSON file: the job's response_format")
    g.add_argument("--limit", type=int, help="grade only the first N rows")
    g.add_argument("--out", help="write per-row results to this CSV")
    g.add_argument("--workers", type=int, help="processes to use (default: all cores)")

    w = sub.add_parser("install-wordnet", help="install WordNet 3.0 for METEOR")
    w.add_argument("--target", help="nltk data folder (default: <venv>/share/nltk_data)")
    return p


def _load_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def _grader(path: str) -> dict:
    from .graders.spec import load_grader

    if not Path(path).is_file():
        raise ValueError(f"cannot read {path}: no such file")
    return load_grader(Path(path))


def _validate_grader(args: argparse.Namespace) -> int:
    from .graders.templates import grader_variables

    spec = _grader(args.grader)
    names = ", ".join(v.text for v in grader_variables(spec)) or "no template variables"
    subs = f", sub-graders: {', '.join(spec['graders'])}" if spec["type"] == "multi" else ""
    print(f"ok: {spec['type']} grader {spec['name']!r} (reads {names}{subs})")
    return EXIT_OK


def _validate_data(args: argparse.Namespace) -> int:
    from .data import validate_dataset

    grader = _grader(args.grader) if args.grader else None
    if not Path(args.data).is_file():
        raise ValueError(f"cannot read {args.data}: no such file")
    report = validate_dataset(args.data, grader=grader, kind=args.kind)
    print(report)
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def _grade(args: argparse.Namespace) -> int:
    from .graders.batch import grade

    grader = _grader(args.grader)
    fmt = _load_json(args.response_format) if args.response_format else None
    if not Path(args.data).is_file():
        raise ValueError(f"cannot read {args.data}: no such file")
    result = grade(
        grader,
        args.data,
        sample=args.sample,
        response_format=fmt,
        limit=args.limit,
        workers=args.workers,
    )
    if args.out:
        result.to_pandas().to_csv(args.out)
    print(result._summary_line())
    return EXIT_PROBLEMS if result.error_counts() else EXIT_OK


def _install_wordnet(args: argparse.Namespace) -> int:
    from .graders.wordnet import install_wordnet

    where = install_wordnet(Path(args.target) if args.target else None)
    print(f"WordNet 3.0 installed in {where}")
    return EXIT_OK


COMMANDS = {
    "validate-grader": _validate_grader,
    "validate-data": _validate_data,
    "grade": _grade,
    "install-wordnet": _install_wordnet,
}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("rft-jupyter: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError) as exc:  # GraderValidationError is a ValueError
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"rft-jupyter: error: {message}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
