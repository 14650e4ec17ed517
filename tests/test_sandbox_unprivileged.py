"""The unprivileged code paths of every isolation mode, exercised from root.

As root the sandbox takes its root paths (bubblewrap behind a mount namespace, namespaces without
a user namespace, python-only with processes refused). A user who is not root gets the other
paths: bubblewrap run directly, namespaces inside a user namespace, python-only with
RLIMIT_NPROC and a subreaper. To test those here, a child process runs as uid 65534 with the
system's interpreter (the venv's lives under /root, which 65534 cannot read; the sandbox package
needs only the standard library) and drives ``SandboxPool`` in each mode.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = "/usr/bin/python3"

DRIVER = r'''
import json, os, sys
sys.path.insert(0, sys.argv[1])
from rft_jupyter.graders.sandbox import Failure, Limits, SandboxPool, isolation
print("IMPORTED", flush=True)

SOURCE = """
import os, socket, subprocess, time

def grade(sample, item):
    case = item["case"]
    if case == "ok":
        return 2.5
    if case == "uid":
        return float(os.getuid())
    if case == "connect":
        socket.create_connection(("127.0.0.1", item["port"]), timeout=3).close()
        return 1.0
    if case == "read":
        with open(item["path"]) as fh:
            return float(fh.read() == "secret")
    if case == "fork_bomb":
        while True:
            os.fork()
    if case == "popen":
        subprocess.Popen(["sleep", item["sleep"]])
        return 1.0
    if case == "daemon":
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp("sleep", ["sleep", item["sleep"]])
            os._exit(0)
        os.wait()
        return 1.0
    if case == "sleep":
        time.sleep(10 ** 6)
    if case == "exit":
        os._exit(3)
    raise ValueError(case)
"""

args = json.loads(sys.argv[2])
report = {}
for mode in ("bubblewrap", "namespaces", "python-only"):
    iso = isolation(mode)
    if iso.mode is None:
        report[mode] = {"error": iso.error}
        continue
    results = []
    for timeout, cases in ((10.0, ["uid", "connect", "read", "fork_bomb", "popen", "daemon"]),
                           (1.5, ["sleep", "exit"])):
        pool = SandboxPool(SOURCE, mode, Limits(timeout=timeout), workers=1)
        pairs = []
        for case in cases:
            pairs += [[{}, {"case": case, **args}], [{}, {"case": "ok"}]]
        try:
            results += pool.run(pairs)
        finally:
            pool.close()
    cases = ["uid", "connect", "read", "fork_bomb", "popen", "daemon", "sleep", "exit"]
    report[mode] = {
        case: (r.reason if isinstance(r, Failure) else r)
        for case, r in zip(cases, results[::2])
    }
    report[mode]["next"] = [r if not isinstance(r, Failure) else r.reason for r in results[1::2]]
    report[mode]["euid"] = os.geteuid()
print(json.dumps(report))
'''


def marked(sleep: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if sleep.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                    found.append(int(name))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def report():
    if os.geteuid() != 0:
        pytest.skip("not root: test_sandbox.py already runs every mode's unprivileged path")
    if not os.access(SYSTEM_PYTHON, os.X_OK) or not shutil.which("setpriv"):
        pytest.skip(f"needs {SYSTEM_PYTHON} and setpriv (util-linux) to run as uid 65534")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    home = Path(tempfile.mkdtemp(prefix="rft-nobody-home-"))
    secret = home / ".secret"
    secret.write_text("secret")
    sleep = f"1000.{secrets.randbelow(10**9):09d}"
    try:
        os.chown(home, 65534, 65534)
        os.chown(secret, 65534, 65534)
        secret.chmod(0o600)
        args = {"port": listener.getsockname()[1], "path": str(secret), "sleep": sleep}
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             SYSTEM_PYTHON, "-I", "-c", DRIVER, str(REPO), json.dumps(args)],
            capture_output=True, text=True, timeout=120, cwd=home,
            env={"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"},
        )
        leftover = marked(sleep)
    finally:
        listener.close()
        shutil.rmtree(home, ignore_errors=True)
    if "IMPORTED" not in done.stdout:
        pytest.skip(f"{SYSTEM_PYTHON} cannot import the sandbox package: {done.stderr[-300:]}")
    if done.returncode != 0:
        pytest.fail(f"driver failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["leftover"] = leftover
    return result


def mode_report(report, mode):
    if "error" in report[mode]:
        pytest.skip(f"{mode} mode cannot run unprivileged here: {report[mode]['error']}")
    return report[mode]


@pytest.mark.parametrize("mode", ["bubblewrap", "namespaces"])
def test_isolated_modes_unprivileged(report, mode):
    r = mode_report(report, mode)
    assert r["euid"] == 65534
    assert r["uid"] == 65534.0
    assert "Connection refused" in r["connect"] or "unreachable" in r["connect"]
    assert "FileNotFoundError" in r["read"]  # the caller's own mode-600 file is not there
    assert "BlockingIOError" in r["fork_bomb"]  # RLIMIT_NPROC, counted per user namespace
    assert r["popen"] == 1.0 and r["daemon"] == 1.0
    assert r["sleep"] == "timed out after 1.5 s"
    assert "status 3" in r["exit"]
    assert r["next"] == [2.5] * 8
    assert report["leftover"] == []


def test_python_only_unprivileged(report):
    r = mode_report(report, "python-only")
    assert r["uid"] == 65534.0  # the caller's uid: no isolation of files
    assert "network access is disabled" in r["connect"]
    assert r["read"] == 1.0  # python-only cannot hide the caller's files (documented)
    assert "BlockingIOError" in r["fork_bomb"]  # RLIMIT_NPROC binds a non-root user
    assert r["popen"] == 1.0 and r["daemon"] == 1.0  # ...and the subreaper kills them after
    assert r["sleep"] == "timed out after 1.5 s"
    assert "status 3" in r["exit"]
    assert r["next"] == [2.5] * 8
    assert report["leftover"] == []
