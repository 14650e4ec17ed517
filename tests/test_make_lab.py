"""`make lab` on this machine: the README's first command starts JupyterLab on notebooks/ with the
extension, also as root (CI and these machines run as root)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "make-lab-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> bytes | None:
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read()
    except (OSError, urllib.error.URLError):
        return None


@pytest.mark.timeout(120)
def test_make_lab_serves_the_tutorials_with_the_extension(tmp_path):
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    port = free_port()
    dirs = {name: tmp_path / name for name in ("config", "runtime", "data")}
    for path in dirs.values():
        path.mkdir()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(dirs["config"]),
           "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]), "JUPYTER_PLATFORM_DIRS": "1"}
    args = (f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} "
            f"--ServerApp.port_retries=0 --IdentityProvider.token={TOKEN}")
    log = (tmp_path / "lab.log").open("wb")
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            status = get(f"{base}/api/status")
            if status:
                break
            time.sleep(0.3)
        assert status, (tmp_path / "lab.log").read_text(errors="replace")[-2000:]
        listing = json.loads(get(f"{base}/api/contents/") or b"{}")
        names = {item["name"] for item in listing.get("content", [])}
        assert {"01_quickstart.ipynb", "04_local_grpo.ipynb"} <= names  # rooted at notebooks/
        page = (get(f"{base}/lab") or b"").decode()
        assert '"name": "rft-jupyter"' in page or '"name":"rft-jupyter"' in page
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
