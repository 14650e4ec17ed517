"""Shared fixtures: the real third-party RFT files beside the repo (../shared/datasets)."""

from __future__ import annotations

import json
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
