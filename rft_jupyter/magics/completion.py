"""Tab completion for the magics through IPython's matcher API (v2).

``%grade <tab>`` grader names, then DataFrame variables, then options; ``--sample <tab>`` the
DATA's columns; ``%rft <tab>`` subcommands and their arguments; ``%%grader NAME --format
<tab>``; inside a ``%%grader`` body, ``{{ sample.`` / ``{{ item.`` fields (item fields from the
DataFrames in the session).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from IPython.core.completer import (
    CompletionContext,
    SimpleCompletion,
    SimpleMatcherResult,
    context_matcher,
)

from .data import columns_of, data_variables

if TYPE_CHECKING:  # pragma: no cover
    from .core import RftMagics

SAMPLE_FIELDS = ("sample.output_text", "sample.output_json", "sample.output_tools",
                 "sample.choices")
_TEMPLATE = re.compile(r"\{\{\s*([\w.\[\]]*)\Z")
OPTION_VALUES = {"--format": ("json", "yaml", "python"), "-f": ("json", "yaml", "python"),
                 "--kind": ("train", "valid"), "-k": ("train", "valid")}


def _words(text: str) -> tuple[list[str], str]:
    """Words before the cursor, and the word being typed ('' after a space)."""
    parts = text.split()
    if not parts or text[-1:].isspace():
        return parts, ""
    return parts[:-1], parts[-1]


def _positionals(words: list[str], takes_value: set[str]) -> list[str]:
    out = []
    skip = False
    for w in words:
        if skip:
            skip = False
        elif w.startswith("-"):
            skip = w in takes_value
        else:
            out.append(w)
    return out


def _value_options(parser: Any) -> set[str]:
    return {o for a in parser._actions if a.nargs != 0 for o in a.option_strings}


class Completer:
    """Completions for one RftMagics instance (its registry, its shell's variables)."""

    def __init__(self, magics: RftMagics) -> None:
        self.magics = magics

    @property
    def ns(self) -> dict[str, Any]:
        return self.magics.user_ns

    def graders(self) -> list[str]:
        return self.magics.graders.names()

    def data(self) -> list[str]:
        return data_variables(self.ns)

    def columns(self, token: str | None) -> list[str]:
        if not token:
            return []
        value = self.ns.get(token, token)
        return columns_of(value) or []

    def item_fields(self) -> list[str]:
        seen: dict[str, None] = {}
        for name in self.data():
            for col in columns_of(self.ns[name]) or []:
                seen[f"item.{col}"] = None
        return list(seen)

    # ------------------------------------------------------------ per magic

    def grade(self, words: list[str], current: str) -> list[str]:
        from .core import GRADE

        if words and words[-1] in ("--sample", "-s"):
            pos = _positionals(words[1:], _value_options(GRADE))
            return self.columns(pos[1] if len(pos) > 1 else None)
        if current.startswith("-"):
            return GRADE.option_strings()
        pos = _positionals(words[1:], _value_options(GRADE))
        if words and words[-1] in _value_options(GRADE):
            return []
        if len(pos) == 0:
            return self.graders()
        if len(pos) == 1:
            return self.data()
        return GRADE.option_strings()

    def rft(self, words: list[str], current: str) -> list[str]:
        from .subcommands import SUBCOMMANDS

        if len(words) == 1:
            return [*SUBCOMMANDS, "help"]
        name = words[1]
        if name == "help":
            return list(SUBCOMMANDS) if len(words) == 2 else []
        command = SUBCOMMANDS.get(name)
        if command is None:
            return []
        if command.module is not None:
            mod = command.load()
            fn = getattr(mod, "complete", None)
            return list(fn(self.magics, words[2:], current)) if fn else []
        parser = command.parser
        takes = _value_options(parser)
        last = words[-1] if len(words) > 2 else ""
        pos = _positionals(words[2:], takes)
        if last in ("--grader", "-g"):
            return self.graders()
        if last in ("--sample", "-s"):
            data_pos = command.positionals.index("data") if "data" in command.positionals \
                else None
            data = pos[data_pos] if data_pos is not None and len(pos) > data_pos else None
            return self.columns(data)
        if last == "--kinds":
            from ..analysis.probe import PROBE_KINDS

            return list(PROBE_KINDS)
        if last in OPTION_VALUES:
            return list(OPTION_VALUES[last])
        if last in takes:
            return []
        if current.startswith("-"):
            return parser.option_strings()
        if len(pos) < len(command.positionals) or command.positionals == ("setting",):
            kind = command.positionals[min(len(pos), len(command.positionals) - 1)]
            if kind == "grader":
                return self.graders()
            if kind == "data":
                return self.data()
            if kind == "setting":
                names = sorted(self.magics.trait_names(config=True))
                return [f"{n}=" for n in names]
        return parser.option_strings()

    def grader_line(self, words: list[str], current: str) -> list[str]:
        if words and words[-1] in OPTION_VALUES:
            return list(OPTION_VALUES[words[-1]])
        if current.startswith("-"):
            return ["--format"]
        if len(words) == 1:
            return self.graders()
        return ["--format"]

    def template(self, prefix: str) -> list[str]:
        return [*SAMPLE_FIELDS, *self.item_fields()] if prefix is not None else []

    # ------------------------------------------------------------ the matcher

    def candidates(self, context: CompletionContext) -> tuple[list[str], str] | None:
        """(candidates, the text they complete) for a magic line, else None."""
        full = context.full_text
        line = context.text_until_cursor
        first = full.split("\n", 1)[0]
        if context.cursor_line > 0 and first.lstrip().startswith("%%grader"):
            m = _TEMPLATE.search(line)
            if m is None:
                return None
            return self.template(m.group(1)), m.group(1)
        stripped = line.lstrip()
        words, current = _words(stripped)
        if not words:
            return None
        head = words[0]
        if head == "%%grader" and context.cursor_line == 0:
            return self.grader_line(words, current), current
        if head == "%grade":
            return self.grade(words, current), current
        if head == "%rft":
            return self.rft(words, current), current
        return None

    def __call__(self, context: CompletionContext) -> SimpleMatcherResult:
        found = self.candidates(context)
        if found is None:
            return {"completions": [], "suppress": False}
        candidates, current = found
        token = context.token
        matches = [c for c in dict.fromkeys(candidates) if c.startswith(current)]
        if token.endswith(current):
            fragment = current
            texts = matches
        elif current.endswith(token):  # IPython split the word further: complete its tail
            cut = len(current) - len(token)
            fragment = token
            texts = [c[cut:] for c in matches]
        else:
            fragment, texts = current, matches
        return {
            "completions": [SimpleCompletion(t, type="rft") for t in texts],
            "matched_fragment": fragment,
            "suppress": bool(texts),
        }


def install(magics: RftMagics) -> Any:
    """Add the matcher to the shell's completer; returns it (for :func:`uninstall`)."""
    completer = Completer(magics)

    @context_matcher()
    def rft_magics_matcher(context: CompletionContext) -> SimpleMatcherResult:
        return completer(context)

    shell_completer = getattr(magics.shell, "Completer", None)
    if shell_completer is not None:
        shell_completer.custom_matchers.append(rft_magics_matcher)
    return rft_magics_matcher


def uninstall(magics: RftMagics, matcher: Any) -> None:
    """Remove a matcher added by :func:`install`."""
    shell_completer = getattr(magics.shell, "Completer", None)
    if shell_completer is not None and matcher in shell_completer.custom_matchers:
        shell_completer.custom_matchers.remove(matcher)
