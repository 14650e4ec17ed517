"""Hostile python graders against each isolation mode that can run on this machine.

Every test runs a hostile sample then a normal one in the same batch (one worker, so the normal
sample runs in the worker that replaced a crashed one) and checks the reason given, that the
next sample still grades, and that nothing reached the host. A mode that cannot run here is
skipped with the reason (see ``pytest -rs``). As root, the modes take their root paths; the
unprivileged ones are tested by ``test_sandbox_unprivileged.py``.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
import warnings
from pathlib import Path

import pytest

from rft_jupyter.graders import sandbox
from rft_jupyter.graders.runners import compile_runner
from rft_jupyter.graders.sandbox import modes
from rft_jupyter.graders.sandbox.pool import default_cpus
from rft_jupyter.graders.settings import using
from rft_jupyter.graders.warnings import RftWarning

REPO = Path(__file__).resolve().parents[1]
SLEEP = f"1000.{secrets.randbelow(10**9):09d}"  # "sleep SLEEP" tags the processes graders start

SOURCE = r'''
import os, resource, socket, subprocess, sys, time

def grade(sample, item):
    case = item["case"]
    if case == "ok":
        return 2.5
    if case == "env":
        return float(sum(k in os.environ for k in item["keys"]))
    if case == "environ":
        return float(len(os.environ))
    if case == "connect":
        socket.create_connection(("127.0.0.1", item["port"]), timeout=3).close()
        return 1.0
    if case == "interfaces":
        return float(len(socket.if_nameindex()))
    if case == "write":
        landed = 0
        for path in item["paths"]:
            try:
                with open(path, "w") as fh:
                    fh.write("escaped")
                landed += 1
            except OSError:
                pass
        return float(landed)
    if case == "read":
        with open(item["path"]) as fh:
            return float(fh.read() == "secret")
    if case == "exists":
        return float(sum(os.path.exists(path) for path in item["paths"]))
    if case == "workdir":
        before = sorted(os.listdir("."))
        with open("left-behind.txt", "w") as fh:
            fh.write("x")
        os.makedirs("sub/dir")
        os.environ["LEFT_BEHIND"] = "1"
        os.chdir("/")
        return float(len(before))
    if case == "workdir_check":
        return float(len(os.listdir(os.environ["HOME"])) + ("LEFT_BEHIND" in os.environ))
    if case == "popen":
        subprocess.Popen(["sleep", item["seconds"]])
        return 1.0
    if case == "daemon":
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp("sleep", ["sleep", item["seconds"]])
            os._exit(0)
        os.wait()
        return 1.0
    if case == "count_processes":
        return float(sum(name.isdigit() for name in os.listdir("/proc")))
    if case == "fork_bomb":
        while True:
            os.fork()
    if case == "memory":
        bytearray(3 * 2 ** 30)
    if case == "memory_loop":
        chunks = []
        while True:
            chunks.append(bytearray(100 * 2 ** 20))
    if case == "kill_parent":
        os.kill(os.getppid(), 9)
        return 4.0
    if case == "limits":
        return [resource.getrlimit(resource.RLIMIT_AS)[0], len(os.sched_getaffinity(0)),
                os.getuid()]
    if case == "uid":
        return float(os.getuid())
    if case == "exit":
        os._exit(3)
    if case == "spin":
        while True:
            pass
    if case == "sleep":
        time.sleep(10 ** 6)
    if case == "segfault":
        import ctypes
        ctypes.string_at(0)
    if case == "kill_self":
        os.kill(os.getpid(), 9)
    if case == "close_fds":
        os.closerange(3, 4096)
        return 1.0
    if case == "garbage":
        for fd in range(3, 64):
            try:
                os.write(fd, b"not a result\n")
            except OSError:
                pass
        return 1.0
    raise ValueError(case)
'''
SPEC = {"type": "python", "name": "hostile", "source": SOURCE}
ISOLATED = ("bubblewrap", "namespaces")


def ctx(case: str, **item) -> dict:
    return {"sample": {"output_text": ""}, "item": {"case": case, **item}}


OK = ctx("ok")


def marked_processes() -> list[int]:
    """Host processes running ``sleep SLEEP`` (started by this run's graders)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if SLEEP.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                    found.append(int(name))
            except OSError:
                pass
    return found


def available(mode: str) -> str:
    iso = sandbox.isolation(mode)
    if iso.mode is None:
        if os.environ.get("CI") and os.geteuid() == 0 and mode != "python-only":
            # CI runs as root with bubblewrap installed by the Makefile: every mode must work.
            pytest.fail(f"{mode} mode must run in CI but cannot: {iso.error}")
        pytest.skip(f"{mode} mode cannot run here: {iso.error}")
    return mode


def make_runner(mode: str, timeout: float):
    with using(python_timeout=timeout), warnings.catch_warnings():
        warnings.simplefilter("ignore", RftWarning)
        return compile_runner(SPEC, options={"sandbox": mode, "workers": 1})


@pytest.fixture(scope="module", params=ISOLATED)
def mode(request) -> str:
    return available(request.param)


@pytest.fixture(scope="module")
def runner(mode):
    r = make_runner(mode, 20)
    yield r
    r.close()


@pytest.fixture(scope="module")
def weak():
    """The python-only mode (forced): what it still promises."""
    available("python-only")
    r = make_runner("python-only", 20)
    yield r
    r.close()


def check_next(outcomes) -> None:
    assert outcomes[-1].reward == 2.5 and not outcomes[-1].errors


def runtime_reason(outcome) -> str:
    assert outcome.reward == 0.0
    assert outcome.errors.get("python_grader_runtime_error") is True
    return outcome.errors["python_grader_runtime_error_details"]


# ------------------------------------------------------------------------ modes


def test_isolation_mode_is_reported():
    assert sandbox.isolation_mode() in sandbox.MODES
    iso = sandbox.isolation()
    if iso.mode != "bubblewrap":  # say why the better modes were not used
        assert "bubblewrap" in iso.skipped


def test_python_only_warns_loudly(monkeypatch):
    available("python-only")
    monkeypatch.setattr(modes, "_warned", set())
    with pytest.warns(RftWarning, match="WITHOUT an OS sandbox"):
        compile_runner(SPEC, options={"sandbox": "python-only"}).close()


# ------------------------------------------------------------------------ every mode


@pytest.fixture(scope="module", params=sandbox.MODES)
def quick(request):
    """Each mode that runs here, with python_timeout=1.5 s."""
    r = make_runner(available(request.param), 1.5)
    yield r
    r.close()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("spin", "timed out after 1.5 s"),
        ("sleep", "timed out after 1.5 s"),
        ("exit", "the grader process exited with status 3 (os._exit?)"),
        ("segfault", "killed by signal 11 (SIGSEGV: segmentation fault)"),
        ("kill_self", "killed by signal 9 (SIGKILL: out of memory, or killed?)"),
        ("close_fds", "result channel"),
        ("garbage", "the grader wrote garbage to the sandbox's result channel"),
    ],
)
def test_failures_in_every_mode(quick, case, reason):
    started = quick._pool.started if quick._pool else 0
    outcomes = quick.run_many([OK, ctx(case), OK])
    assert reason in runtime_reason(outcomes[1])
    assert outcomes[0].reward == 2.5
    check_next(outcomes)
    assert quick._pool.started > started  # the worker was replaced


def test_cpu_limit_is_rearmed_for_each_sample():
    """RLIMIT_CPU counts the whole process: each sample gets the full budget again."""
    source = "def grade(s, i):\n    if i:\n        while True:\n            pass\n    return 1.0"
    pool = sandbox.SandboxPool(source, sandbox.isolation_mode(), sandbox.Limits(timeout=1.0), 1)
    try:
        assert pool.run([[{}, {}]]) == [1.0]  # the worker now runs with a 1 s CPU budget
        pool.limits = sandbox.Limits(timeout=30.0)  # and the parent's wall clock is far away
        results = pool.run([[{}, {"spin": 1}], [{}, {"spin": 1}], [{}, {}]])
    finally:
        pool.close()
    for failure in results[:2]:
        assert failure.reason == "the grader used more than 1 s of CPU time"
        assert "CpuTimeExceeded" in failure.details and '"<string>"' not in failure.details
    assert results[2] == 1.0 and pool.started == 1  # the same worker, limit re-armed


def test_segfault_details_show_the_python_stack(quick):
    (outcome,) = quick.run_many([ctx("segfault")])
    details = runtime_reason(outcome)
    assert "Segmentation fault" in details and 'File "grader.py"' in details


# ------------------------------------------------------------------------ isolated modes


def test_runs_as_nobody_on_one_core_with_2_gb(runner):
    (outcome,) = runner.run_many([ctx("uid")])
    assert outcome.reward == 65534.0
    (limits,) = runner.run_many([ctx("limits")])  # a list is not a reward: read the details
    text = runtime_reason(limits)
    assert f"[{2 * 2**30}, 1, 65534]" in text


def test_no_api_keys_in_the_environment(runner, monkeypatch):
    keys = ["OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"]
    for key in keys:
        monkeypatch.setenv(key, "sk-must-not-leak")
    outcomes = runner.run_many([ctx("env", keys=keys), ctx("environ"), OK])
    assert outcomes[0].reward == 0.0 and not outcomes[0].errors
    assert outcomes[1].reward <= 10  # PATH, LANG, HOME, TMPDIR, thread counts, PWD
    check_next(outcomes)


@pytest.fixture
def server():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []

    def serve():
        try:
            while True:
                conn, _ = listener.accept()
                accepted.append(conn)
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], accepted
    listener.close()


def test_no_network(runner, server):
    port, accepted = server
    with socket.create_connection(("127.0.0.1", port), timeout=3):
        pass  # the server is reachable from here
    time.sleep(0.05)
    before = len(accepted)
    outcomes = runner.run_many([ctx("connect", port=port), ctx("interfaces"), OK])
    reason = runtime_reason(outcomes[0])
    assert "Connection refused" in reason or "Network is unreachable" in reason
    assert outcomes[1].reward == 1.0  # loopback only
    assert len(accepted) == before
    check_next(outcomes)


def test_writes_never_reach_the_host(runner):
    tag = secrets.token_hex(4)
    paths = [f"/tmp/rft-escape-{tag}", str(REPO / f"rft-escape-{tag}"),
             str(Path.home() / f"rft-escape-{tag}")]
    try:
        outcomes = runner.run_many([ctx("write", paths=paths), OK])
        # at most the sandbox's own private /tmp took some (the repo may live under /tmp too)
        assert outcomes[0].reward <= sum(p.startswith("/tmp/") for p in paths)
        check_next(outcomes)
    finally:
        leaked = [p for p in paths if os.path.exists(p)]
        for path in leaked:
            os.unlink(path)
    assert leaked == []


def test_callers_secret_files_are_invisible(runner):
    secret = Path.home() / f".rft-test-secret-{secrets.token_hex(4)}"
    secret.write_text("secret")
    secret.chmod(0o600)
    try:
        hidden = [str(secret), str(REPO / "pyproject.toml"), str(REPO / "rft_jupyter"),
                  "/etc/shadow", "/etc/passwd", str(Path.home() / ".bashrc")]
        outcomes = runner.run_many([ctx("read", path=str(secret)), ctx("exists", paths=hidden), OK])
    finally:
        secret.unlink()
    assert "FileNotFoundError" in runtime_reason(outcomes[0])
    assert outcomes[1].reward == 0.0 and not outcomes[1].errors
    check_next(outcomes)


def test_fresh_empty_workdir_and_environment_per_sample(runner):
    outcomes = runner.run_many([ctx("workdir"), ctx("workdir_check"), OK])
    assert outcomes[0].reward == 0.0 and outcomes[1].reward == 0.0
    check_next(outcomes)


@pytest.mark.parametrize("case", ["popen", "daemon"])
def test_processes_do_not_outlive_their_sample(runner, case):
    outcomes = runner.run_many([ctx(case, seconds=SLEEP), ctx("count_processes"), OK])
    assert outcomes[0].reward == 1.0
    assert outcomes[1].reward == 2  # PID 1 and the worker
    assert marked_processes() == []
    check_next(outcomes)


def test_fork_bomb_is_contained(runner):
    start = time.monotonic()
    outcomes = runner.run_many([ctx("fork_bomb"), ctx("count_processes"), OK])
    assert time.monotonic() - start < 10
    assert "BlockingIOError" in runtime_reason(outcomes[0])  # RLIMIT_NPROC said no
    assert outcomes[1].reward == 2  # every forked process is gone: PID 1 and the worker remain
    check_next(outcomes)


def test_memory_bombs_raise_memory_error(runner):
    started = runner._pool.started if runner._pool else 0
    outcomes = runner.run_many([ctx("memory"), ctx("memory_loop"), OK])
    assert "MemoryError" in runtime_reason(outcomes[0])
    assert "MemoryError" in runtime_reason(outcomes[1])
    check_next(outcomes)
    assert runner._pool.started >= started + 2  # a fresh heap after each


def test_killing_its_parent_only_hurts_the_sandbox(runner):
    outcomes = runner.run_many([ctx("kill_parent"), OK])
    assert outcomes[0].reward == 4.0 or outcomes[0].errors
    check_next(outcomes)


def test_workers_are_pinned_to_distinct_cores(mode):
    cpus = default_cpus()
    if len(cpus) < 2:
        pytest.skip("one CPU here: nothing to spread")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RftWarning)
        r = compile_runner(
            {"type": "python", "name": "cpu", "source": "import os, time\ndef grade(s, i):\n"
             "    time.sleep(0.02)\n    (cpu,) = os.sched_getaffinity(0)\n    return cpu"},
            options={"sandbox": mode, "workers": 2},
        )
    try:
        cores = {o.reward for o in r.run_many([OK] * 40)}  # 0.8 s of work: both get some
    finally:
        r.close()
    assert cores <= set(map(float, cpus)) and len(cores) == 2


def test_closing_stops_every_sandbox_process(mode):
    r = make_runner(mode, 20)
    outcomes = r.run_many([OK] * 4)
    pids = [w.pid for w in r._pool.workers]
    r.close()
    assert [o.reward for o in outcomes] == [2.5] * 4
    time.sleep(0.1)
    assert [p for p in pids if os.path.exists(f"/proc/{p}")] == []


# ------------------------------------------------------------------------ python-only


def test_python_only_blocks_sockets(weak, server):
    port, accepted = server
    outcomes = weak.run_many([ctx("connect", port=port), OK])
    assert "network access is disabled" in runtime_reason(outcomes[0])
    check_next(outcomes)


def test_python_only_has_no_api_keys(weak, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    outcomes = weak.run_many([ctx("env", keys=["OPENAI_API_KEY"]), OK])
    assert outcomes[0].reward == 0.0
    check_next(outcomes)


def test_python_only_protects_its_parent(weak):
    outcomes = weak.run_many([ctx("kill_parent"), OK])
    assert "signalling process" in runtime_reason(outcomes[0])
    check_next(outcomes)


def test_python_only_processes(weak):
    outcomes = weak.run_many([ctx("fork_bomb"), ctx("popen", seconds=SLEEP), OK])
    if os.geteuid() == 0:  # RLIMIT_NPROC does not bind root: process creation is refused
        assert "starting processes is disabled" in runtime_reason(outcomes[0])
        assert "starting processes is disabled" in runtime_reason(outcomes[1])
    else:
        assert "BlockingIOError" in runtime_reason(outcomes[0])
        assert outcomes[1].reward == 1.0
    assert marked_processes() == []
    check_next(outcomes)


def test_python_only_cleans_its_workdir(weak):
    outcomes = weak.run_many([ctx("workdir"), ctx("workdir_check"), OK])
    assert outcomes[1].reward == 0.0
    workdirs = [w.s.workdir for w in weak._pool.workers]
    check_next(outcomes)
    r = make_runner("python-only", 5)
    r.run_many([OK])
    workdir = r._pool.workers[0].s.workdir
    r.close()
    assert workdirs and not os.path.exists(workdir)
