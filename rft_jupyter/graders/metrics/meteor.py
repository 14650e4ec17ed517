"""METEOR on token lists, equal to ``nltk.translate.meteor_score.meteor_score([ref], hyp)``.

nltk aligns in three stages (exact words, Porter stems of the words left over, WordNet synonyms
of the stems left over); each stage walks the hypothesis from its last word and takes the
latest still-unmatched reference word. This module replays those stages with the same order and
tie-breaking, but memoises the Porter stem of each word and the WordNet synonym set of each stem
(the costly parts), and uses nltk's defaults alpha=0.9, beta=3, gamma=0.5.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["meteor"]

_ALPHA = 0.9
_BETA = 3.0
_GAMMA = 0.5
_MAX_CACHE = 200_000

_stems: dict[str, str] = {}
_synonyms: dict[str, frozenset[str]] = {}
_stem_fn = None
_wordnet = None


def clear_caches() -> None:
    """Forget memoised stems, synonym sets and lemma names."""
    _stems.clear()
    _synonyms.clear()
    if _lemma_names is not None:
        _lemma_names.names.clear()


def _default(name: str) -> Any:
    """The default ``stemmer`` / ``wordnet`` object of nltk's ``meteor_score``."""
    from nltk.translate.meteor_score import meteor_score

    return inspect.signature(meteor_score).parameters[name].default


def _stem(word: str) -> str:
    global _stem_fn
    s = _stems.get(word)
    if s is None:
        if _stem_fn is None:
            _stem_fn = _default("stemmer").stem
        if len(_stems) >= _MAX_CACHE:
            _stems.clear()
        s = _stems[word] = _stem_fn(word)
    return s


def _nltk_synonyms(word: str) -> set[str]:
    """The synonym set exactly as nltk's ``_enum_wordnetsyn_match`` builds it."""
    return {
        lemma.name()
        for synset in _wordnet.synsets(word)
        for lemma in synset.lemmas()
        if lemma.name().find("_") < 0
    }


class _LemmaNames:
    """Lemma names of WordNet synsets read straight from the data files.

    ``wordnet.synsets(word)`` builds full Synset objects (pointers, glosses, sense keys, and
    for adjective satellites their head synsets): that is most of METEOR's first-pass cost.
    This finds the same (pos, offset) pairs through nltk's own ``_morphy`` and lemma index,
    then reads only the lemma names from each data line, as nltk parses them. Anything
    unusual (a zipped corpus, a line nltk would reject) defers to nltk.
    """

    _MARKER = re.compile(r"(.*?)(\([^()]*\))?$")  # nltk's syntactic-marker split

    def __init__(self, reader: Any) -> None:
        from nltk.corpus.reader.wordnet import POS_LIST

        self.reader = reader
        self.pos_list = tuple(POS_LIST)
        self.index = reader._lemma_pos_offset_map
        self.morphy = reader._morphy
        root = getattr(reader.root, "path", None)
        if not isinstance(root, str) or not os.path.isdir(root):
            raise LookupError("WordNet is not a plain directory")
        self.paths = {p: os.path.join(root, f"data.{reader._FILEMAP[p]}") for p in self.pos_list}
        for path in self.paths.values():
            if not os.path.isfile(path):
                raise LookupError(path)
        self.files: dict[str, Any] = {}
        self.names: dict[tuple[str, int], tuple[str, ...]] = {}

    def synonyms(self, word: str) -> set[str] | None:
        """Names of every lemma of every synset of ``word``, or None to ask nltk."""
        lemma = word.lower()
        out: set[str] = set()
        for p in self.pos_list:
            for form in self.morphy(lemma, p, True):
                for offset in self.index[form].get(p, []):
                    names = self.names.get((p, offset))
                    if names is None:
                        names = self._read(p, offset)
                        if names is None:
                            return None
                    out.update(names)
        return out

    def _read(self, pos: str, offset: int) -> tuple[str, ...] | None:
        fh = self.files.get(pos)
        if fh is None:
            fh = self.files[pos] = open(self.paths[pos], "rb")  # kept open for the process
        fh.seek(offset)
        line = fh.readline().decode("utf-8")
        head = line[:8]
        if not (head.isalnum() and head == f"{offset:08d}") or line.count("|") != 1:
            return None
        columns = line.strip().split("|")[0].split()
        count = int(columns[3], 16)
        names = tuple(
            self._MARKER.match(columns[4 + 2 * k]).group(1)  # type: ignore[union-attr]
            for k in range(count)
        )
        self.names[pos, offset] = names
        return names


_lemma_names: _LemmaNames | None = None
_light = True


def _syns(word: str) -> frozenset[str]:
    """``word`` and the names (without "_") of the lemmas of its WordNet synsets."""
    global _wordnet, _lemma_names, _light
    syns = _synonyms.get(word)
    if syns is None:
        if _wordnet is None:
            _wordnet = _default("wordnet")
        names = None
        if _light:
            if _lemma_names is None:
                try:
                    _lemma_names = _LemmaNames(_wordnet)
                except (AttributeError, LookupError, KeyError, TypeError, ImportError):
                    _light = False
            if _lemma_names is not None:
                found = _lemma_names.synonyms(word)
                if found is not None:
                    names = {n for n in found if n.find("_") < 0}
        if names is None:
            names = _nltk_synonyms(word)
        names.add(word)
        if len(_synonyms) >= _MAX_CACHE:
            _synonyms.clear()
        syns = _synonyms[word] = frozenset(names)
    return syns


def _positions(words: list[str], keep: Sequence[int]) -> dict[str, list[int]]:
    """``word -> [indexes in keep]`` (ascending) for the reference words still unmatched."""
    positions: dict[str, list[int]] = {}
    get = positions.get
    for j in keep:
        w = words[j]
        lst = get(w)
        if lst is None:
            positions[w] = [j]
        else:
            lst.append(j)
    return positions


def _leftover(positions: dict[str, list[int]]) -> list[int]:
    return sorted([j for lst in positions.values() for j in lst])


def _match(
    hyp: list[str], hyp_keep: Sequence[int], ref: list[str], ref_keep: Sequence[int], matches: list
) -> tuple[list[int], list[int]]:
    """nltk's ``_match_enums`` over the still unmatched indexes (ascending); returns leftovers.

    Walking the hypothesis from its end, each word takes the latest unmatched reference
    position holding the same word.
    """
    positions = _positions(ref, ref_keep)
    get = positions.get
    hyp_left: list[int] = []
    for i in reversed(hyp_keep):
        lst = get(hyp[i])
        if lst:
            matches.append((i, lst.pop()))
        else:
            hyp_left.append(i)
    hyp_left.reverse()
    if len(hyp_left) == len(hyp_keep):
        return hyp_left, list(ref_keep)
    return hyp_left, _leftover(positions)


def _match_synonyms(
    hyp: list[str], hyp_keep: Sequence[int], ref: list[str], ref_keep: Sequence[int], matches: list
) -> None:
    """nltk's ``_enum_wordnetsyn_match``: a hypothesis word takes the latest unmatched
    reference position whose word is in its WordNet synonym set (which holds the word)."""
    positions = _positions(ref, ref_keep)
    for i in reversed(hyp_keep):
        syns = _syns(hyp[i])
        best_j = -1
        best_word = None
        if len(syns) <= len(positions):
            for syn in syns:
                lst = positions.get(syn)
                if lst and lst[-1] > best_j:
                    best_j = lst[-1]
                    best_word = syn
        else:
            for word, lst in positions.items():
                if lst and lst[-1] > best_j and word in syns:
                    best_j = lst[-1]
                    best_word = word
        if best_word is not None:
            positions[best_word].pop()
            matches.append((i, best_j))


def _count_chunks(matches: list[tuple[int, int]]) -> int:
    """Runs of matches adjacent in both texts (``matches`` sorted by hypothesis index)."""
    chunks = 1
    prev_h, prev_r = matches[0]
    for h, r in matches[1:]:
        if h != prev_h + 1 or r != prev_r + 1:
            chunks += 1
        prev_h, prev_r = h, r
    return chunks


def meteor(hyp_tokens: Sequence[str], ref_tokens: Sequence[str]) -> float:
    """METEOR of a tokenised hypothesis against one tokenised reference."""
    hyp = list(map(str.lower, hyp_tokens))
    ref = list(map(str.lower, ref_tokens))
    translation_length = len(hyp)
    reference_length = len(ref)
    if translation_length == 0 or reference_length == 0:
        return 0.0
    matches: list[tuple[int, int]] = []
    everything = range(max(translation_length, reference_length))
    hyp_keep, ref_keep = _match(
        hyp, everything[:translation_length], ref, everything[:reference_length], matches
    )
    if hyp_keep and ref_keep:
        stem = _stem
        for i in hyp_keep:
            hyp[i] = stem(hyp[i])
        for j in ref_keep:
            ref[j] = stem(ref[j])
        hyp_keep, ref_keep = _match(hyp, hyp_keep, ref, ref_keep, matches)
        if hyp_keep and ref_keep:
            _match_synonyms(hyp, hyp_keep, ref, ref_keep, matches)
    matches_count = len(matches)
    if matches_count == 0:
        return 0.0
    matches.sort()
    precision = float(matches_count) / translation_length
    recall = float(matches_count) / reference_length
    fmean = (precision * recall) / (_ALPHA * precision + (1 - _ALPHA) * recall)
    frag_frac = float(_count_chunks(matches)) / matches_count
    penalty = _GAMMA * frag_frac**_BETA
    return (1 - penalty) * fmean
