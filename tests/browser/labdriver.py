"""A real JupyterLab server and Debian's Chromium for browser tests and benchmarks.

``Lab`` starts ``jupyter lab`` on 127.0.0.1 (free port, fixed token, its own config, settings,
workspace, runtime and IPython dirs; news off; widget state saved) and talks to its REST API.
``Notebook`` drives one notebook in a Playwright page: open, run all, wait for idle, screenshot.
Used by ``tests/browser/conftest.py`` and ``bench/`` (import it with this folder on sys.path).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
# Flags measured on these machines (see shared/design/toolchain-notes.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--headless",
]
TOKEN = "rft-jupyter-browser-tests"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

SETTINGS = {
    # no "would you like to receive news" toast over the screenshots
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # widget state goes into the saved notebook (renders when reopened without a kernel)
    "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings": {"saveState": True},
}


def chromium_path() -> str | None:
    """Debian's Chromium, or None when it is not installed (``make system-deps`` installs it)."""
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """One JupyterLab server in ``base`` (notebooks live in ``base / "notebooks"``)."""

    def __init__(self, base: Path, token: str = TOKEN) -> None:
        self.base = Path(base)
        self.root = self.base / "notebooks"
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.base / "jupyterlab.log"

    # ------------------------------------------------------------ life cycle

    def start(self, timeout: float = 60.0) -> Lab:
        dirs = {name: self.base / name for name in
                ("config", "runtime", "settings", "workspaces", "ipython", "data")}
        for path in [self.root, *dirs.values()]:
            path.mkdir(parents=True, exist_ok=True)
        for rel, values in SETTINGS.items():
            target = dirs["settings"] / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
            "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
            "IPYTHONDIR": str(dirs["ipython"]),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.allow_root=True",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={dirs['settings']}",
            f"--LabApp.workspaces_dir={dirs['workspaces']}",
        ]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=self.root)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: {self.log_tail()}")
            try:
                if self.api("GET", "/api/status") is not None:
                    return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.delete_sessions()
            except (OSError, urllib.error.URLError):
                pass
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if getattr(self, "_log", None) is not None:
            self._log.close()
        self.proc = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # ------------------------------------------------------------ REST API

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        """Call the server's REST API with the token; the decoded JSON (None when empty)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def delete_sessions(self) -> int:
        """Delete every kernel session (and leftover kernel): stale widgets live in kernels."""
        count = 0
        for session in self.api("GET", "/api/sessions") or []:
            self.api("DELETE", f"/api/sessions/{session['id']}")
            count += 1
        for kernel in self.api("GET", "/api/kernels") or []:
            self.api("DELETE", f"/api/kernels/{kernel['id']}")
            count += 1
        return count

    def write_notebook(self, name: str, cells: list[str], **metadata: Any) -> Path:
        """Write a notebook of code cells into the server's root."""
        nb = {
            "cells": [
                {"cell_type": "code", "execution_count": None, "id": f"cell-{i}",
                 "metadata": {}, "outputs": [], "source": source}
                for i, source in enumerate(cells)
            ],
            "metadata": {
                "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                               "name": "python3"},
                "language_info": {"name": "python"},
                **metadata,
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        path = self.root / name
        path.write_text(json.dumps(nb, indent=1))
        return path

    def lab_url(self, name: str, reset: bool = False) -> str:
        """The page of notebook ``name``; ``reset`` starts from an empty workspace (no tabs
        restored from earlier tests)."""
        return f"{self.url}/lab/tree/{name}?token={self.token}" + ("&reset" if reset else "")


def launch_chromium(playwright: Any, path: str | None = None) -> Any:
    """Debian's Chromium through Playwright (never a downloaded browser)."""
    return playwright.chromium.launch(
        executable_path=path or chromium_path(), args=CHROMIUM_ARGS, headless=True
    )


_KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(k && k.status === 'idle' && k.connectionStatus === 'connected');
}"""
_ALL_RAN = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  return w.content.widgets.filter((c) => c.model.type === 'code')
    .every((c) => c.model.executionCount !== null
      && !(c.promptNode && c.promptNode.textContent.includes('*')));  // unrendered: no prompt
}"""


class Notebook:
    """One notebook open in a Playwright page of a :class:`Lab`."""

    def __init__(self, lab: Lab, page: Any) -> None:
        self.lab = lab
        self.page = page

    def open(self, name: str, timeout: float = 60.0, reset: bool = False) -> Notebook:
        """Open ``name`` and wait until its kernel is idle."""
        self.page.goto(self.lab.lab_url(name, reset=reset))
        self.page.wait_for_function("() => !!window.jupyterapp", timeout=timeout * 1000)
        self.page.locator(".jp-NotebookPanel").first.wait_for(timeout=timeout * 1000)
        self.page.wait_for_function(_KERNEL_IDLE, timeout=timeout * 1000)
        return self

    def run_all(self, timeout: float = 90.0) -> Notebook:
        """Run every cell and wait until all have run and the kernel is idle."""
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_function(_ALL_RAN, timeout=timeout * 1000, polling=200)
        return self

    def command(self, name: str, args: dict | None = None) -> Any:
        return self.page.evaluate(
            "([n, a]) => window.jupyterapp.commands.execute(n, a)", [name, args or {}]
        )

    def errors(self) -> list[str]:
        """Error outputs and widget failures shown in the notebook."""
        texts = self.page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], "
            ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']"
        ).all_text_contents()
        body = self.page.locator(".jp-NotebookPanel").first.text_content() or ""
        if "Error displaying widget" in body:
            texts.append("Error displaying widget")
        return texts

    def screenshot(self, locator: Any, name: str) -> Path:
        """A screenshot of one element (JupyterLab scrolls inside its panel) in test-artifacts."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        locator.scroll_into_view_if_needed()
        locator.screenshot(path=str(path))
        return path
