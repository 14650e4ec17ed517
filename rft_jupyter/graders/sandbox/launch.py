"""Starting one sandboxed worker process in a given isolation mode."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .limits import SANDBOX_GID, SANDBOX_UID, Limits
from .paths import sandbox_executable, sandbox_view

HERE = Path(__file__).resolve().parent
# A top-level tmpfs of its own: the private /tmp may hold binds (a venv under /tmp), this never.
SANDBOX_WORKDIR = "/grader"
SMALL_TMPFS = 64 * 2**20  # /tmp and /dev/shm


class SandboxStartError(RuntimeError):
    """A sandbox could not be started (missing tool, kernel refusal, ...)."""


@lru_cache(maxsize=4)
def _source(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def bwrap_path() -> str | None:
    """The bubblewrap executable, or None."""
    return shutil.which("bwrap") or next(
        (p for p in ("/usr/bin/bwrap", "/usr/local/bin/bwrap") if os.access(p, os.X_OK)), None
    )


@lru_cache(maxsize=1)
def _bwrap_help() -> str:
    path = bwrap_path()
    if path is None:
        return ""
    try:
        done = subprocess.run(
            [path, "--help"], capture_output=True, text=True, timeout=10, env={}, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout + done.stderr


def sandbox_env(home: str) -> dict[str, str]:
    """The whole environment of a sandboxed grader: nothing is inherited."""
    bindir = os.path.dirname(sandbox_executable())
    return {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": home,
        "TMPDIR": home,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _python_argv(config: dict) -> list[str]:
    return [sandbox_executable(), "-I", "-B", "-c", _source("worker.py"), json.dumps(config)]


def _bwrap_argv(config: dict, limits: Limits) -> list[str]:
    path = bwrap_path()
    if path is None:
        raise SandboxStartError("bubblewrap (bwrap) is not installed")
    help_text = _bwrap_help()
    argv = [
        path, "--unshare-all", "--die-with-parent", "--new-session",
        "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
        "--clearenv",
    ]
    for key, value in sandbox_env(SANDBOX_WORKDIR).items():
        argv += ["--setenv", key, value]
    sized = "--size" in help_text  # tmpfs sizes (bubblewrap >= 0.7): writes cannot fill the RAM
    # The private /tmp before the binds, so that a bind below /tmp (a venv) stays visible.
    argv += [*(["--size", str(SMALL_TMPFS)] if sized else []), "--tmpfs", "/tmp"]
    view = sandbox_view()
    for bind in view.binds:
        argv += ["--ro-bind", bind, bind]
    for target, link in view.symlinks:
        argv += ["--symlink", target, link]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += [*(["--size", str(SMALL_TMPFS)] if sized else []), "--tmpfs", "/dev/shm"]
    argv += [*(["--size", str(limits.disk)] if sized else []), "--tmpfs", SANDBOX_WORKDIR]
    argv += ["--chdir", SANDBOX_WORKDIR]
    argv += ["--remount-ro", "/"]  # bubblewrap's own root (the binds' parents) too
    if "--disable-userns" in help_text:
        argv += ["--disable-userns"]
    return [*argv, "--", *_python_argv(config)]


def _boot_argv(kind: str, argv: list[str], env: dict[str, str], limits: Limits) -> list[str]:
    view = sandbox_view()
    config = {
        "kind": kind,
        "workdir": SANDBOX_WORKDIR,
        "binds": list(view.binds),
        "symlinks": [list(s) for s in view.symlinks],
        "uid": SANDBOX_UID,
        "gid": SANDBOX_GID,
        "disk": limits.disk,
        "processes": limits.processes,
        "argv": argv,
        "env": env,
    }
    return [sandbox_executable(), "-I", "-S", "-B", "-c", _source("boot.py"), json.dumps(config)]


@dataclass
class Spawned:
    """A started worker: its process and the parent's ends of its pipes."""

    proc: subprocess.Popen
    command_fd: int  # the parent writes the source and batches here
    result_fd: int  # results come back here
    console_fd: int  # the process's stdout and stderr
    pidfd: int | None  # readable when the process exits (None if the kernel lacks pidfd)
    workdir: str | None  # a host directory to remove afterwards (python-only mode)


def spawn(mode: str, limits: Limits, cpu: int | None) -> Spawned:
    """Start a worker in ``mode`` ("bubblewrap", "namespaces" or "python-only")."""
    cmd_r, cmd_w = os.pipe()
    res_r, res_w = os.pipe()
    con_r, con_w = os.pipe()
    root = os.geteuid() == 0
    workdir: str | None = None
    config = {
        "result_fd": res_w,
        "cpu": cpu,
        "timeout": limits.timeout,
        "memory": limits.memory,
        "disk": limits.disk,
        "workdir": SANDBOX_WORKDIR,
        "pidns": mode != "python-only",
        "processes": limits.processes,
    }
    try:
        if mode == "bubblewrap":
            argv = _bwrap_argv(config, limits)
            if root:  # see boot.py: never let bubblewrap map the sandbox to root
                argv = _boot_argv("bwrap", argv, {}, limits)
            env, cwd = {}, "/"
        elif mode == "namespaces":
            config["processes"] = None  # boot.py sets RLIMIT_NPROC for the whole sandbox
            env = sandbox_env(SANDBOX_WORKDIR)
            argv = _boot_argv("namespaces", _python_argv(config), env, limits)
            cwd = "/"
        elif mode == "python-only":
            workdir = tempfile.mkdtemp(prefix="rft-grader-")
            config.update(
                workdir=workdir,
                guard_network=True,
                guard_signals=True,
                guard_processes=root,
                subreaper=True,
                shared_uid=not root,
                processes=None if root else limits.processes,
            )
            env, cwd = sandbox_env(workdir), workdir
            argv = _python_argv(config)
        else:
            raise SandboxStartError(f"unknown sandbox mode {mode!r}")
        try:
            proc = subprocess.Popen(
                argv,
                stdin=cmd_r,
                stdout=con_w,
                stderr=con_w,
                pass_fds=(res_w,),
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise SandboxStartError(f"cannot start {argv[0]}: {exc}") from exc
    except BaseException:
        for fd in (cmd_w, res_r, con_r):
            os.close(fd)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        for fd in (cmd_r, res_w, con_w):
            os.close(fd)
    for fd in (cmd_w, res_r, con_r):
        os.set_blocking(fd, False)
    try:
        pidfd: int | None = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = None
    return Spawned(proc, cmd_w, res_r, con_r, pidfd, workdir)
