"""Engine settings: the choices the service does not document, each behind a name.

The defaults are the behaviour fixed in the project's semantics (see the README, "How
rft-jupyter scores"). Change them for a session with :func:`configure`, or for a block with
:func:`using`; ``grade`` hands the current settings to its worker processes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

TOKENIZERS = ("nltk", "whitespace")
FUZZY_SCORERS = ("WRatio", "QRatio", "ratio", "partial_ratio", "token_sort_ratio",
                 "token_set_ratio")


@dataclass(frozen=True)
class Settings:
    """How text metrics tokenise and score.

    - ``tokenizer``: tokens for bleu / gleu / meteor: ``"nltk"`` (NLTKWordTokenizer, Treebank
      rules without sentence splitting) or ``"whitespace"`` (``str.split``).
    - ``fuzzy_scorer``: the ``rapidfuzz.fuzz`` scorer for fuzzy_match (with ``default_process``).
    - ``rouge_stemmer``: whether rouge_* use rouge-score's Porter stemmer.
    - ``python_timeout``: seconds of wall-clock time a python grader gets per sample (the
      service allows 2 minutes).
    """

    tokenizer: str = "nltk"
    fuzzy_scorer: str = "WRatio"
    rouge_stemmer: bool = False
    python_timeout: float = 120.0

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(
                f"settings.tokenizer {self.tokenizer!r} is not allowed (allowed: "
                f"{', '.join(TOKENIZERS)})"
            )
        if self.fuzzy_scorer not in FUZZY_SCORERS:
            raise ValueError(
                f"settings.fuzzy_scorer {self.fuzzy_scorer!r} is not allowed (allowed: "
                f"{', '.join(FUZZY_SCORERS)})"
            )
        if not isinstance(self.rouge_stemmer, bool):
            raise ValueError("settings.rouge_stemmer must be True or False")
        if isinstance(self.python_timeout, bool) or not (
            isinstance(self.python_timeout, (int, float)) and self.python_timeout > 0
        ):
            raise ValueError("settings.python_timeout must be a number of seconds > 0")

    def is_default_for(self, metric: str) -> bool:
        """Whether ``metric`` scores exactly as the semantics' reference calls."""
        if metric in ("bleu", "gleu", "meteor"):
            return self.tokenizer == "nltk"
        if metric == "fuzzy_match":
            return self.fuzzy_scorer == "WRatio"
        if metric.startswith("rouge_"):
            return not self.rouge_stemmer
        return True


_current = Settings()


def settings() -> Settings:
    """The settings in force."""
    return _current


def replace_settings(current: T, changes: dict[str, Any], what: str = "setting") -> T:
    """``dataclasses.replace`` for a settings dataclass; an unknown name is a clear error."""
    names = sorted(f.name for f in dataclasses.fields(current))
    unknown = sorted(set(changes) - set(names))
    if unknown:
        raise ValueError(f"unknown {what} {unknown[0]!r} (settings: {', '.join(names)})")
    return dataclasses.replace(current, **changes)


def configure(**changes: Any) -> Settings:
    """Change settings for this session (unknown names are an error)."""
    global _current
    _current = replace_settings(_current, changes)
    return _current


@contextmanager
def using(**changes: Any) -> Iterator[Settings]:
    """Change settings inside a ``with`` block only."""
    global _current
    before = _current
    try:
        yield configure(**changes)
    finally:
        _current = before
