"""Browser fixtures: a real JupyterLab and Debian's Chromium driven by Playwright.

Reusable by every widget's browser tests (ScoreTable, JobMonitor…):

- ``lab`` (session): JupyterLab on 127.0.0.1, a free port, token ``labdriver.TOKEN``, its own
  config / settings / workspace / runtime / IPython dirs under a temp dir,
  ``expose_app_in_browser`` (``window.jupyterapp``), news off, widget state saved. ``lab.root``
  is its notebook folder; ``lab.write_notebook(name, cells)`` writes one there.
- kernel sessions are deleted through the REST API before and after each test that uses ``lab``.
- ``page``: a fresh Playwright page (1400×1000) in Chromium at /usr/bin/chromium.
- ``notebook``: ``labdriver.Notebook`` for that page — ``.open(name)``, ``.run_all()``,
  ``.errors()``, ``.screenshot(locator, name)`` (into ``test-artifacts/``).

Without /usr/bin/chromium every browser test is skipped, saying why.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from labdriver import Lab, Notebook, chromium_path, launch_chromium  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: runs a real JupyterLab in Chromium (slow)")


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        reason = "Chromium not found at /usr/bin/chromium (make system-deps installs it)"
        print(f"skipping browser tests: {reason}", file=sys.stderr)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A fresh JupyterLab (and workspace) per test module: layouts restored from another
    module's notebooks must not get in the way (lab starts in ~2 s)."""
    server = Lab(tmp_path_factory.mktemp("jupyterlab")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _fresh_kernels(request: pytest.FixtureRequest) -> Iterator[None]:
    """Kernels outlive the browser and keep stale widgets: none before or after a test."""
    if "lab" not in request.fixturenames:
        yield
        return
    server: Lab = request.getfixturevalue("lab")
    server.delete_sessions()
    yield
    server.delete_sessions()


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = launch_chromium(playwright, chromium)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def notebook(lab: Lab, page: object) -> Notebook:
    return Notebook(lab, page)
