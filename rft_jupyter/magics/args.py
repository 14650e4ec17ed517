"""Argument parsing for the magics: argparse whose errors are one-line ``UsageError``s.

IPython prints a ``UsageError`` as ``UsageError: message`` with no traceback (only the exact
class: subclasses get a traceback), so every user mistake goes through :func:`usage_error`.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
from collections.abc import Iterable
from typing import Any, NoReturn

from IPython.core.error import UsageError


def one_line(text: str) -> str:
    """Line breaks escaped: a usage error stays on one line."""
    return " ".join(part.strip() for part in str(text).strip().splitlines() if part.strip())


def usage_error(message: str) -> UsageError:
    """A one-line UsageError (IPython shows it without a traceback)."""
    return UsageError(one_line(message))


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or ``""``."""
    options = [str(c) for c in choices]
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return f"; did you mean {lowered[word.lower()]!r}?"
    hint = difflib.get_close_matches(word, options, n=1, cutoff=cutoff)
    return f"; did you mean {hint[0]!r}?" if hint else ""


def split(line: str) -> list[str]:
    """Shell-like split of a magic line; an unclosed quote is a usage error."""
    try:
        return shlex.split(line, posix=True)
    except ValueError as exc:
        raise usage_error(f"cannot parse {line.strip()!r}: {exc} (check the quotes)") from None


class HelpShown(Exception):
    """``--help`` was asked for: the help was printed, nothing else to do."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser for a magic: errors raise UsageError, ``--help`` prints and stops."""

    def __init__(self, prog: str, description: str = "", **kwargs: Any) -> None:
        super().__init__(prog=prog, description=description, add_help=True,
                         allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            unknown = message.split(":", 1)[1].split()
            flags = [o for a in self._actions for o in a.option_strings]
            hint = did_you_mean(unknown[0], flags) if unknown and unknown[0].startswith("-") \
                else ""
            message = f"{message}{hint}"
        raise usage_error(f"{self.prog}: {message} (usage: {self.format_usage().strip()[7:]})")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise usage_error(f"{self.prog}: {message}")
        raise HelpShown()

    def parse(self, argv: list[str]) -> argparse.Namespace:
        """Parse ``argv``; HelpShown after ``--help``."""
        return self.parse_args(argv)

    def option_strings(self) -> list[str]:
        """Every ``--option`` of this parser (for completion and hints)."""
        return [o for a in self._actions for o in a.option_strings if o.startswith("--")]
