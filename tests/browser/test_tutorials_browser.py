"""The front door in the real UI: tutorial 01 runs in JupyterLab (with the extension) with no
error, its widgets render and its %%grader cells are highlighted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_quickstart_runs_in_jupyterlab(lab, notebook, page):
    shutil.copy(NOTEBOOKS / "01_quickstart.ipynb", lab.root / "01_quickstart.ipynb")
    notebook.open("01_quickstart.ipynb", reset=True).run_all(timeout=120)
    assert notebook.errors() == []
    table = page.locator(".rft-st").first
    table.wait_for(state="visible", timeout=30_000)
    assert "mean reward" in table.locator(".rft-st-cards").inner_text()
    graders = page.locator(".jp-Cell").filter(has=page.locator(".cm-rft-grader-magic"))
    assert graders.count() >= 3
    assert graders.first.locator(".cm-rft-template-variable").count() >= 2
