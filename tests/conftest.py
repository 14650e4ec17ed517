"""Shared fixtures: the real third-party RFT files beside the repo (../shared/datasets)."""

from __future__ import annotations

import fcntl
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The shared datasets folder; tests that need it skip (with the path) when it is absent."""
    if not DATASETS.is_dir():
        pytest.skip(f"real RFT datasets not found at {DATASETS}")
    return DATASETS


def load_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def one_grpo_at_a_time() -> Iterator[None]:
    """A GRPO run takes both cores: two at once (pytest -n 2) starve each other past their
    time limits, so tests that train hold this lock (a file lock, across xdist workers)."""
    with open(Path(tempfile.gettempdir()) / "rft-jupyter-tests-grpo.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
