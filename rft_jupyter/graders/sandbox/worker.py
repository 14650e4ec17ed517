"""The sandboxed side of a python grader: runs ``grade(sample, item)`` for batches of samples.

Runs as ``python -I -c <this file's text> <config JSON>`` inside the sandbox (standard library
only, nothing from rft_jupyter). Channels:

- fd 0 (moved to a private descriptor; fd 0 becomes /dev/null): one JSON line to start,
  ``{"source": ..., "filename": ...}``, then one JSON line per batch: ``[[sample, item], ...]``;
- the result descriptor (``result_fd`` in the config, moved to a private descriptor): one line per
  sample: a number (the reward) or a JSON object ``{"error": reason, "details": text}``. Control
  lines are JSON objects too: ``{"boot": 1}``, ``{"ready": 1}`` / ``{"setup_error": ...}`` and
  ``{"recycle": reason}`` (this worker stops after that sample);
- fds 1 and 2: drained by the parent. ``print`` goes to a bounded in-memory capture instead, so
  output of any size neither corrupts the results nor fills memory.

Per sample: the CPU-time limit is re-armed, the working directory is emptied, the environment
restored, and (inside a PID namespace) every other process of the sandbox is killed.
"""

import io
import json
import math
import os
import resource
import signal
import sys
import time
import traceback

DETAILS_LIMIT = 8000  # characters of traceback or reason kept per failing sample
OUTPUT_LIMIT = 2000  # characters of stdout / stderr kept per failing sample
RECYCLE_EXIT = 0
CHANNEL_BROKEN = 70


class CpuTimeExceeded(BaseException):
    """The sample used its CPU time (RLIMIT_CPU's SIGXCPU)."""


def clip(text, limit):
    """``text`` with its middle cut when longer than ``limit`` characters."""
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit:,} characters cut ...]\n{text[-tail:]}"


class Capture(io.TextIOBase):
    """A text stream that keeps the first and last characters written, and counts the rest."""

    def __init__(self, name, fd, limit=OUTPUT_LIMIT):
        self.name = name
        self._fd = fd
        self._limit = limit
        self.reset()

    def reset(self):
        self.head = ""
        self.tail = ""
        self.total = 0

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return self._fd

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    @property
    def buffer(self):
        return _BinaryCapture(self)

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        n = len(text)
        if not n:
            return 0
        self.total += n
        room = self._limit - len(self.head)
        if room > 0:
            self.head += text[:room]
            text = text[room:]
        if text:
            self.tail = (self.tail + text[-self._limit:])[-self._limit:]
        return n

    def flush(self):
        pass

    def text(self):
        if not self.total:
            return ""
        cut = self.total - len(self.head) - len(self.tail)
        if cut > 0:
            return f"{self.head}\n[... {cut:,} characters cut ...]\n{self.tail}"
        return self.head + self.tail


class _BinaryCapture(io.RawIOBase):
    def __init__(self, capture):
        self._capture = capture

    def writable(self):
        return True

    def write(self, data):
        self._capture.write(bytes(data).decode("utf-8", "replace"))
        return len(data)


class Worker:
    def __init__(self, cfg):
        self.cfg = cfg
        self.pid = os.getpid()
        self.result_fd = os.dup(cfg["result_fd"])  # os.dup: not inherited by children
        os.close(cfg["result_fd"])
        self.commands = os.fdopen(os.dup(0), "rb", buffering=1 << 16)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        self.workdir = cfg["workdir"]
        self.timeout = float(cfg["timeout"])
        self.pidns = bool(cfg.get("pidns"))
        self.stdout = Capture("<stdout>", 1)
        self.stderr = Capture("<stderr>", 2)
        self.environ = os.environ
        self.env = dict(getattr(os.environ, "_data", os.environ))
        self.grade = None
        self.setup_error = None
        self.cpu_hard = resource.RLIM_INFINITY
        self.recycle = None
        self.loads = json.loads  # before the grader's code runs (it may patch json)

    # ---------------------------------------------------------------- channel

    def send(self, data, write=os.write, exit=os._exit):  # bound early: grade may patch os
        view = memoryview(data)
        try:
            while view:
                view = view[write(self.result_fd, view):]
        except OSError:
            exit(CHANNEL_BROKEN)

    def send_json(self, obj):
        self.send(json.dumps(obj).encode() + b"\n")

    # ---------------------------------------------------------------- limits

    def apply_limits(self):
        cfg = self.cfg
        if cfg.get("cpu") is not None:
            try:
                os.sched_setaffinity(0, {int(cfg["cpu"])})
            except (OSError, AttributeError):
                pass
        set_limit(resource.RLIMIT_CORE, 0)
        set_limit(resource.RLIMIT_AS, cfg["memory"])
        set_limit(resource.RLIMIT_FSIZE, cfg["disk"])
        if cfg.get("processes"):
            extra = count_own_processes() if cfg.get("shared_uid") else 0
            set_limit(resource.RLIMIT_NPROC, int(cfg["processes"]) + extra)
        self.cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # too-large writes fail with EFBIG
        import faulthandler

        faulthandler.enable()  # a crash prints the Python stack on fd 2, which the parent keeps
        signal.signal(signal.SIGXCPU, self._on_cpu_limit)
        if cfg.get("guard_network"):
            guard_network()
        if cfg.get("guard_processes"):
            guard_processes()
        if cfg.get("guard_signals"):
            guard_signals()
        if cfg.get("subreaper"):
            set_subreaper()

    def _on_cpu_limit(self, signum, frame):
        raise CpuTimeExceeded(f"used more than {self.timeout:g} s of CPU time")

    def arm_cpu(self):
        """Allow ``timeout`` more seconds of CPU time (RLIMIT_CPU counts the whole process)."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime + self.timeout)
        hard = self.cpu_hard
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    # ---------------------------------------------------------------- setup

    def load(self, message):
        source = message["source"]
        filename = message.get("filename") or "grader.py"
        import linecache
        import types

        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        module = types.ModuleType("grader")
        module.__file__ = filename
        sys.modules["grader"] = module
        self.arm_cpu()
        sys.stdout, sys.stderr = self.stdout, self.stderr
        try:
            exec(compile(source, filename, "exec"), module.__dict__)
            grade = module.__dict__.get("grade")
            if not callable(grade):
                raise TypeError("the code does not define a function grade(sample, item)")
        except BaseException as exc:  # any failure is the grader's
            if os.getpid() != self.pid:
                os._exit(0)
            self.setup_error = self.describe_exception(exc, "the grader's module code raised")
        else:
            if os.getpid() != self.pid:
                os._exit(0)
            self.grade = grade
        finally:
            sys.stdout, sys.stderr = self.stdout, self.stderr
        self.tidy()

    # ---------------------------------------------------------------- samples

    def describe_exception(self, exc, prefix="grade raised"):
        tb = exc.__traceback__
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next  # hide this worker's own frame
        try:
            report = traceback.TracebackException(type(exc), exc, tb)
            frames = [f for f in report.stack if f.filename != "<string>"]  # this worker's
            report.stack = traceback.StackSummary.from_list(frames)
            text = "".join(report.format())
        except BaseException:  # e.g. MemoryError while formatting
            text = f"{type(exc).__name__}"
        try:
            message = str(exc)
        except BaseException:
            message = ""
        name = type(exc).__name__
        if isinstance(exc, CpuTimeExceeded):
            reason = f"the grader {message}"
        elif isinstance(exc, SystemExit):
            reason = f"grade called sys.exit({message})"
        else:
            reason = f"{prefix} {name}: {message}" if message else f"{prefix} {name}"
        return clip(reason, 500), clip(text, DETAILS_LIMIT)

    def failure(self, reason, details):
        parts = [details] if details else []
        for capture in (self.stdout, self.stderr):
            text = capture.text()
            if text:
                label = capture.name.strip("<>")
                parts.append(f"--- {label} ({capture.total:,} characters) ---\n{text}")
        obj = {"error": reason, "details": "\n\n".join(parts)}
        try:
            return json.dumps(obj).encode() + b"\n"
        except BaseException:
            return b'{"error": "grade failed (the report could not be encoded)"}\n'

    def check(self, value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                reward = float(value)
            except (OverflowError, TypeError, ValueError) as exc:
                return self.failure(f"grade returned a number that is not a float: {exc}", "")
            if math.isfinite(reward):
                return repr(reward).encode() + b"\n"
            return self.failure(f"grade returned {reward!r}, not a finite number", "")
        try:
            import reprlib

            shown = reprlib.repr(value)
        except BaseException:  # a hostile __repr__
            shown = "?"
        kind = type(value).__name__
        if value is None:
            reason = "grade returned None (a missing return?); it must return a float"
        elif isinstance(value, bool):
            reason = f"grade returned a bool ({value}); it must return an int or a float"
        elif hasattr(value, "__float__") and type(value).__module__ == "numpy":
            reason = f"grade returned {shown} (numpy.{kind}); return float(...) instead"
        else:
            reason = f"grade returned {kind} {shown}; it must return an int or a float"
        return self.failure(reason, "")

    def run_sample(self, sample, item):
        self.stdout.reset()
        self.stderr.reset()
        sys.stdout, sys.stderr = self.stdout, self.stderr
        if self.setup_error is not None:
            return self.failure(*self.setup_error)
        self.arm_cpu()
        try:
            value = self.grade(sample, item)
        except BaseException as exc:  # any failure is the grader's
            if os.getpid() != self.pid:
                os._exit(0)  # a process forked by grade must not act as the worker
            if isinstance(exc, MemoryError):  # start the next sample on a fresh heap
                self.recycle = "the grader ran out of memory"
            return self.failure(*self.describe_exception(exc))
        if os.getpid() != self.pid:
            os._exit(0)
        return self.check(value)

    def tidy(self):
        """Undo what a sample may have changed: cwd, files, environment, other processes."""
        sys.stdout, sys.stderr = self.stdout, self.stderr
        recycle = None
        if self.pidns:
            if not kill_other_processes():
                recycle = "processes started by grade could not be stopped"
        elif not reap_children():
            recycle = "processes started by grade could not be stopped"
        try:
            os.chdir(self.workdir)
            if os.listdir(self.workdir):
                empty_dir(self.workdir)
        except OSError as exc:
            recycle = f"the working directory could not be emptied ({exc})"
        environ = self.environ  # compare its dict: comparing os.environ itself costs ~35 us
        if os.environ is not environ or getattr(environ, "_data", None) != self.env:
            os.environ = environ  # noqa: B003 - put back the object a sample replaced
            data = getattr(environ, "_data", None)
            if data is not None and data != self.env:
                environ.clear()
                for key, value in self.env.items():
                    environ[environ.decodekey(key)] = environ.decodevalue(value)
        return recycle

    def serve(self):
        self.send_json({"boot": 1})
        self.apply_limits()
        line = self.commands.readline()
        if not line:
            return
        self.load(json.loads(line))
        if self.setup_error is not None:
            self.send_json({"setup_error": self.setup_error[0], "details": self.setup_error[1]})
        else:
            self.send_json({"ready": 1})
        loads = self.loads
        while True:
            line = self.commands.readline()
            if not line:
                return
            for sample, item in loads(line):
                result = self.run_sample(sample, item)
                recycle = self.tidy() or self.recycle
                self.send(result)
                if recycle:
                    self.send_json({"recycle": recycle})
                    os._exit(RECYCLE_EXIT)


def set_limit(which, value):
    """Soft and hard limit ``value``, or the hard limit already in force if lower."""
    hard = resource.getrlimit(which)[1]
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


# -------------------------------------------------------------------- processes


def kill_other_processes():
    """Inside a PID namespace: SIGKILL every process but PID 1 and this one, until none is left
    (a process forked while the first signals went out escapes one round, not the next)."""
    deadline = time.monotonic() + 2
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return True  # nothing left, not even a zombie
        except PermissionError:
            return False
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0005)


def _children():
    pid = os.getpid()
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found += [int(p) for p in fh.read().split()]
        return found
    except OSError:
        pass
    for name in os.listdir("/proc"):  # no /proc/PID/task/TID/children: scan every process
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def reap_children():
    """Without a PID namespace: kill and reap every descendant (this process is a subreaper)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid:
            continue
        for child in _children():
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.001)
    return False


def count_own_processes():
    uid = os.getuid()
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def set_subreaper():
    """Orphans of grade's processes come back to this process (to be reaped and killed), and
    this process dies with its parent (python-only mode: no sandbox does it)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def empty_dir(path):
    for entry in os.scandir(path):
        full = entry.path
        try:
            if entry.is_dir(follow_symlinks=False):
                os.chmod(full, 0o700)
                empty_dir(full)
                os.rmdir(full)
            else:
                os.unlink(full)
        except FileNotFoundError:
            pass


# -------------------------------------------------------------------- python-only guards


def guard_network():
    """Refuse sockets other than AF_UNIX (the python-only mode has no network namespace)."""
    import _socket
    import socket

    unix = int(getattr(_socket, "AF_UNIX", 1))

    def check(family, fileno):
        if fileno is None and (family == -1 or int(family) != unix):
            raise PermissionError(
                1, "network access is disabled in rft-jupyter's python grader sandbox"
            )

    original = socket.socket.__init__

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        check(family, fileno)
        original(self, family, type, proto, fileno)

    socket.socket.__init__ = __init__

    class GuardedSocket(_socket.socket):
        def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
            check(family, fileno)
            super().__init__(family, type, proto, fileno)

    _socket.socket = _socket.SocketType = GuardedSocket


def guard_processes():
    """Refuse to start processes (python-only mode as root: RLIMIT_NPROC is not enforced)."""

    def refuse(*args, **kwargs):
        raise PermissionError(
            1,
            "starting processes is disabled in rft-jupyter's python-only sandbox when running "
            "as root (a fork bomb could not be contained); install bubblewrap",
        )

    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "execv", "execve"):
        if hasattr(os, name):
            setattr(os, name, refuse)
    try:
        import _posixsubprocess

        _posixsubprocess.fork_exec = refuse
    except ImportError:
        pass


def _parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return int(fh.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def guard_signals():
    """Signal only this process and its descendants (python-only mode: no PID namespace, and
    the parent would otherwise be ``os.getppid()`` away)."""
    real_kill, real_killpg = os.kill, os.killpg
    me = os.getpid()

    def refuse(target):
        raise PermissionError(
            1, f"signalling {target} is disabled in rft-jupyter's python-only sandbox"
        )

    def mine(pid):
        for _ in range(64):
            if pid == me:
                return True
            if pid <= 1:
                return False
            pid = _parent_of(pid)
        return False

    def kill(pid, sig):
        if pid == 0 or (pid > 0 and mine(pid)) or (pid < -1 and -pid == os.getpgid(0)):
            return real_kill(pid, sig)
        refuse(f"process {pid}")

    def killpg(pgid, sig):
        if pgid in (0, os.getpgid(0)):
            return real_killpg(pgid, sig)
        refuse(f"process group {pgid}")

    os.kill, os.killpg = kill, killpg


def main():
    cfg = json.loads(sys.argv[1])
    Worker(cfg).serve()


if __name__ == "__main__":
    main()
