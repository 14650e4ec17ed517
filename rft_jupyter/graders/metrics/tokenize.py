"""Fast, exact equivalents of the two tokenisers the text metrics use.

``nltk_tokens(text)`` returns exactly ``NLTKWordTokenizer().tokenize(text)`` (the Treebank rules,
~30 regex passes over the whole text, ~140 µs for 100 characters):

- ``treebank_tokens`` runs nltk's own compiled patterns in nltk's order, skipping each pass whose
  pattern cannot match (the text holds none of the characters it needs);
- ``nltk_tokens`` memoises per whitespace-separated chunk. Every rule looks at most one character
  beyond a chunk, except the string-level ones (a ``"`` at the very start; the final period and
  a final ``:``/``,`` at the very end). So a chunk's tokens depend only on the chunk and the
  whitespace characters on each side, and are memoised under that key. They are computed by
  ``treebank_tokens`` on the chunk between one-letter sentinel words (``x<ws>chunk<ws>x``), or
  built directly for a few simple shapes (plain ASCII words, with a bracket, a final mark or a
  clitic such as ``'s``/``n't``). The first chunk keeps the real start of the text, and the *tail*
  (the last chunk with a character other than closing quotes/brackets, and everything after
  it) is tokenised with its true end.

Tests check all of it against nltk with adversarial property tests and real datasets.
``rouge_tokens(text)`` returns exactly rouge-score's default tokenisation (no stemmer).
"""

from __future__ import annotations

import re
from itertools import chain

from nltk.tokenize import NLTKWordTokenizer

__all__ = [
    "clear_caches",
    "nltk_tokens",
    "reference_nltk_tokens",
    "rouge_token_bytes",
    "rouge_tokens",
    "treebank_tokens",
]

_TOKENIZER = NLTKWordTokenizer()
reference_nltk_tokens = _TOKENIZER.tokenize

# --------------------------------------------------------------------- the Treebank pipeline
# nltk's own compiled patterns, each with the substrings it cannot match without: a pass is
# skipped when the text (as it is at that point) holds none of them, since a regex that cannot
# match leaves the text unchanged. Only valid for the pattern lists below: if nltk's differ,
# every text goes through the real tokenizer.
_EXPECTED = (
    (
        r"([«“‘„]|[`]+)",
        r"^\"",
        r"(``)",
        r"([ \(\[{<])(\"|\'{2})",
        r"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)",
    ),
    (
        r"""([^\.])(\.)([\]\)}>"\'»”’ ]*+)\s*$""",
        r"([:,])([^\d])",
        r"([:,])$",
        r"\.{2,}",
        r"[;@#$%&]",
        r"[\u2012-\u2015]",
        r"""([^\.])(\.)([\]\)}>"\']*)\s*$""",
        r"[?!]",
        r"([^'])' ",
        r"[*]",
    ),
    r"[\]\[\(\)\{\}\<\>]",
    r"--",
    (
        r"([»”’])",
        r"''",
        r'"',
        r"\s+",
        r"([^' ])('[sS]|'[mM]|'[dD]|') ",
        r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ",
    ),
    (
        r"(?i)\b(can)(?#X)(not)\b",
        r"(?i)\b(d)(?#X)('ye)\b",
        r"(?i)\b(gim)(?#X)(me)\b",
        r"(?i)\b(gon)(?#X)(na)\b",
        r"(?i)\b(got)(?#X)(ta)\b",
        r"(?i)\b(lem)(?#X)(me)\b",
        r"(?i)\b(more)(?#X)('n)\b",
        r"(?i)\b(wan)(?#X)(na)(?=\s)",
    ),
    (r"(?i) ('t)(?#X)(is)\b", r"(?i) ('t)(?#X)(was)\b"),
)
_START_GUARDS = (("«", "“", "‘", "„", "`"), ('"',), ("``",), ('"', "''"), ("'",))
_PUNCT_GUARDS = (
    (".",),
    (":", ","),
    (":", ","),
    ("..",),
    (";", "@", "#", "$", "%", "&"),
    ("\u2012", "\u2013", "\u2014", "\u2015"),
    (".",),
    ("?", "!"),
    ("' ",),
    ("*",),
)
_PARENS_GUARD = ("[", "]", "(", ")", "{", "}", "<", ">")
_END_GUARDS = (("»", "”", "’"), ("''",), ('"',), (), ("'",), ("'",))
# Case-insensitive words of the contraction rules, tested on ASCII text only (re's IGNORECASE
# also folds a few non-ASCII letters, e.g. dotless i, onto these).
_CONTRACTION_WORDS = ("cannot", "d'ye", "gimme", "gonna", "gotta", "lemme", "more'n", "wanna")


def _build_pipeline() -> list[tuple[tuple[str, ...], object, str]] | None:
    T = NLTKWordTokenizer
    try:
        found = (
            tuple(p.pattern for p, _ in T.STARTING_QUOTES),
            tuple(p.pattern for p, _ in T.PUNCTUATION),
            T.PARENS_BRACKETS[0].pattern,
            T.DOUBLE_DASHES[0].pattern,
            tuple(p.pattern for p, _ in T.ENDING_QUOTES),
            tuple(p.pattern for p in T.CONTRACTIONS2),
            tuple(p.pattern for p in T.CONTRACTIONS3),
        )
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - another nltk
        return None
    if found != _EXPECTED:  # pragma: no cover - another nltk: use the real tokenizer
        return None
    steps: list[tuple[tuple[str, ...], object, str]] = []
    for guard, (rx, repl) in zip(_START_GUARDS, T.STARTING_QUOTES):
        steps.append((guard, rx, repl))
    for guard, (rx, repl) in zip(_PUNCT_GUARDS, T.PUNCTUATION):
        steps.append((guard, rx, repl))
    steps.append((_PARENS_GUARD, *T.PARENS_BRACKETS))
    steps.append((("--",), *T.DOUBLE_DASHES))
    steps.append((("PAD",), None, ""))  # text = " " + text + " "
    for guard, (rx, repl) in zip(_END_GUARDS, T.ENDING_QUOTES):
        steps.append((guard, rx, repl))
    return steps


_PIPELINE = _build_pipeline()
_CONTRACTIONS2 = tuple(zip(_CONTRACTION_WORDS, NLTKWordTokenizer.CONTRACTIONS2))
_CONTRACTIONS3 = tuple(NLTKWordTokenizer.CONTRACTIONS3)


def treebank_tokens(text: str) -> list[str]:
    """``NLTKWordTokenizer().tokenize(text)``, skipping the passes that cannot match."""
    if _PIPELINE is None:  # pragma: no cover
        return _TOKENIZER.tokenize(text)
    for guard, rx, repl in _PIPELINE:
        if rx is None:
            text = " " + text + " "
            continue
        if guard:
            for g in guard:
                if g in text:
                    break
            else:
                continue
        text = rx.sub(repl, text)
    if text.isascii():
        low = text.lower()
        for word, rx in _CONTRACTIONS2:
            if word in low:
                text = rx.sub(r" \1 \2 ", text)
    else:
        for _, rx in _CONTRACTIONS2:
            text = rx.sub(r" \1 \2 ", text)
    if "'" in text:
        for rx in _CONTRACTIONS3:
            text = rx.sub(r" \1 \2 ", text)
    return text.split()


# ------------------------------------------------------------------ chunk-wise memoisation
# Whitespace exactly as str.split() sees it (re's \s for str patterns is str.isspace()).
_OTHER_SPACE = re.compile(r"[^\S \n]")  # whitespace other than " " and "\n"
_ASCII_OTHER_SPACE = "\t\r\x0b\x0c\x1c\x1d\x1e\x1f"  # the same, in ASCII
_SEGMENTS = re.compile(r"([^\S ]+)")  # runs of whitespace holding no plain space
# A plain ASCII word (parts joined by - . /), maybe in one bracket, maybe with a final mark.
_SHAPE = re.compile(r"([(\[{<]?)((?:[A-Za-z0-9]+[-./])*[A-Za-z0-9]+)([)\]}>]?)(\.{2,}|[.,;:?!]?)")
_PARTS = re.compile(r"[-./]")
# A plain ASCII word with one of the clitics the Treebank rules split off, maybe with a mark.
_CLITIC = re.compile(
    r"([A-Za-z0-9]+?)(n't|N'T|'[sSmMdD]|'ll|'re|'ve|'LL|'RE|'VE)(\.{2,}|[.,;:?!]?)"
)
# Words the MacIntyre contraction rules split (only as a whole chunk of plain letters).
_SPLIT_WORDS = frozenset({"cannot", "gimme", "gonna", "gotta", "lemme", "wanna"})
# Characters the final-period rule may skip after the period (besides whitespace).
_CLOSERS = "])}>\"'»”’"
_CLOSER_ONLY = re.compile("[" + re.escape(_CLOSERS) + "]+")

_MAX_CACHE = 200_000


class _MiddleMemo(dict):
    """Chunk between two plain spaces -> its tokens, computed on first use ('' -> ())."""

    def __missing__(self, chunk: str) -> tuple[str, ...]:
        if len(self) >= _MAX_CACHE:
            self.clear()
            self[""] = ()
        toks = self[chunk] = _chunk_tokens(" ", chunk, " ") if chunk else ()
        return toks


_middle: dict[str, tuple[str, ...]] = _MiddleMemo({"": ()})
_context: dict[tuple[str, str, str], tuple[str, ...]] = {}  # (before, chunk, after) -> tokens
_tails: dict[tuple[str, str], tuple[str, ...]] = {}  # (before, end of text) -> tokens


def clear_caches() -> None:
    """Forget every memoised chunk (tests use it; memory is otherwise bounded)."""
    _middle.clear()
    _middle[""] = ()
    _context.clear()
    _tails.clear()


def _shape_tokens(chunk: str, at_end: bool, after: str = " ") -> tuple[str, ...] | None:
    """Tokens of a chunk of a simple shape (``_SHAPE``, ``_CLITIC``), else None.

    Brackets and marks are split off, except a single final period before the end of the
    text ("etc." stays whole mid-text, as in nltk); at the end it is split ("etc", ".").
    ``after`` is the whitespace character that follows the chunk.
    """
    m = _SHAPE.fullmatch(chunk)
    if m is None:
        if "'" in chunk:
            return _clitic_tokens(chunk, at_end, after)
        return None
    opening, body, closing, mark = m.groups()
    if body.lower() in _SPLIT_WORDS or (
        _PARTS.search(body) and any(p.lower() in _SPLIT_WORDS for p in _PARTS.split(body))
    ):
        return None
    if not (opening or closing or mark):
        return (chunk,)
    out = [opening] if opening else []
    if mark == "." and not closing and not at_end:
        out.append(body + ".")
        return tuple(out)
    out.append(body)
    if closing:
        out.append(closing)
    if mark:
        out.append(mark)
    return tuple(out)


def _clitic_tokens(chunk: str, at_end: bool, after: str) -> tuple[str, ...] | None:
    """Split a clitic off a plain word: "don't," -> do, n't, ","; "John's." stays whole mid-text."""
    m = _CLITIC.fullmatch(chunk)
    if m is None:
        return None
    body, clitic, mark = m.groups()
    if body.lower() in _SPLIT_WORDS:
        return None
    if mark == "." and not at_end:
        return (chunk,)
    if not mark and not at_end and after not in " \n\t\r":
        return None  # the clitic rules need a (normalised) space after them
    return (body, clitic, mark) if mark else (body, clitic)


def _chunk_tokens(before: str, chunk: str, after: str) -> tuple[str, ...]:
    """Tokens of ``chunk`` inside a text, between whitespace characters ``before``/``after``."""
    shaped = _shape_tokens(chunk, False, after)
    if shaped is not None:
        return shaped
    if before:
        toks = treebank_tokens("x" + before + chunk + after + "x")
        ok = toks[0] == "x" and toks[-1] == "x"
        inner = toks[1:-1]
    else:  # the text starts with this chunk: keep the real start of string
        toks = treebank_tokens(chunk + after + "x")
        ok = toks[-1] == "x"
        inner = toks[:-1]
    if not ok:  # pragma: no cover - the sentinels never merge; refuse rather than guess
        raise AssertionError(f"tokenizer sentinel check failed for {chunk!r}")
    return tuple(inner)


def _context_tokens(before: str, chunk: str, after: str) -> tuple[str, ...]:
    key = (before, chunk, after)
    toks = _context.get(key)
    if toks is None:
        if len(_context) >= _MAX_CACHE:
            _context.clear()
        toks = _context[key] = _chunk_tokens(before, chunk, after)
    return toks


def _tail(before: str, tail: str) -> tuple[str, ...]:
    """Tokens of the end of a text (``tail`` runs to the end; ``before`` is the whitespace)."""
    key = (before, tail)
    toks = _tails.get(key)
    if toks is None:
        shaped = _shape_tokens(tail, True)
        if shaped is not None:
            toks = shaped
        else:
            full = treebank_tokens("x" + before + tail)
            if full[0] != "x":  # pragma: no cover
                raise AssertionError(f"tokenizer sentinel check failed for {tail!r}")
            toks = tuple(full[1:])
        if len(_tails) >= _MAX_CACHE:
            _tails.clear()
        _tails[key] = toks
    return toks


def nltk_tokens(text: str) -> list[str]:
    """``NLTKWordTokenizer().tokenize(text)``, memoised per whitespace-separated chunk."""
    if not text:
        return []
    # Segments are separated by runs of whitespace other than plain spaces; inside a segment,
    # ``split(" ")`` gives the chunks ('' for a space next to a space or an end). A chunk's
    # neighbours are then " " inside a segment, or the separators' characters at its ends.
    if (
        any(c in text for c in _ASCII_OTHER_SPACE)
        if text.isascii()
        else _OTHER_SPACE.search(text) is not None
    ):
        parts = _SEGMENTS.split(text)
        segs = parts[0::2]
        seps = parts[1::2]
    else:
        segs = text.split("\n") if "\n" in text else [text]
        seps = None  # every separator is a single "\n"
    # Find the tail: the last chunk holding a character other than closing quotes/brackets.
    si = len(segs) - 1
    while si >= 0:
        words = segs[si].split(" ")
        ci = len(words) - 1
        while ci >= 0 and (not words[ci] or _CLOSER_ONLY.fullmatch(words[ci])):
            ci -= 1
        if ci >= 0:
            break
        si -= 1
    else:
        return treebank_tokens(text)
    if ci > 0:
        tail_before = " "
    elif si > 0:
        tail_before = "\n" if seps is None else seps[si - 1][-1]
    else:  # the tail starts the text: nothing to memoise
        shaped = _shape_tokens(text, True)
        return list(shaped) if shaped is not None else treebank_tokens(text)
    pieces: list[tuple[str, ...]] = []
    middle_lookup = _middle.__getitem__
    for s in range(si + 1):
        seg_words = words[:ci] if s == si else segs[s].split(" ")
        n = len(seg_words)
        if n == 0:
            continue
        sep_after = " " if s == si else "\n" if seps is None else seps[s][0]
        # The first chunk of a segment follows the start of the text or a separator.
        w = seg_words[0]
        if w:
            before = "" if s == 0 else "\n" if seps is None else seps[s - 1][-1]
            pieces.append(_context_tokens(before, w, " " if n > 1 else sep_after))
        if n == 1:
            continue
        # Inner chunks have a plain space on each side (so has the last one before the tail).
        inner = seg_words[1:] if sep_after == " " else seg_words[1:-1]
        pieces += map(middle_lookup, inner)
        if sep_after != " ":
            w = seg_words[-1]
            if w:
                pieces.append(_context_tokens(" ", w, sep_after))
    tail = " ".join(words[ci:])
    if si < len(segs) - 1:
        if seps is None:
            tail += "\n" + "\n".join(segs[si + 1 :])
        else:
            tail += "".join(x for pair in zip(seps[si:], segs[si + 1 :]) for x in pair)
    pieces.append(_tail(tail_before, tail))
    return list(chain.from_iterable(pieces))


_ROUGE_WORD = re.compile(r"[a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's default tokenizer, no stemmer: the [a-z0-9] runs of ``text.lower()``.

    (rouge-score replaces every other character by a space, splits and drops empty tokens.)
    """
    return _ROUGE_WORD.findall(text.lower())


# ASCII bytes: A-Z -> a-z, a-z and 0-9 kept, everything else -> space.
_ROUGE_TABLE = bytes(
    (c | 0x20) if (0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or 0x30 <= c <= 0x39) else 0x20
    for c in range(256)
)


def rouge_token_bytes(text: str) -> list[bytes]:
    """:func:`rouge_tokens` as ASCII ``bytes`` (equal iff the tokens are), computed faster."""
    if text.isascii():
        return text.encode("ascii").translate(_ROUGE_TABLE).split()
    return " ".join(_ROUGE_WORD.findall(text.lower())).encode("ascii").split()
