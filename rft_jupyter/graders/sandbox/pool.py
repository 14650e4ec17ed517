"""The parent side: long-lived sandboxed workers, fed batches of samples, watched with deadlines.

One worker per core (each pinned to its own CPU). A run splits the samples into chunks; an idle
worker gets the next chunk as one message and streams one result line per sample back. The
parent never blocks: every pipe is non-blocking and watched by a selector whose timeout is the
nearest deadline (``timeout`` seconds per sample, reset by each result). A worker that dies,
breaks the protocol or passes a deadline is killed with its whole sandbox; the sample it was
running is reported with the reason, a fresh worker takes over, and the batch goes on.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .launch import SandboxStartError, Spawned, spawn
from .limits import Limits

MAX_CHUNK = 512  # samples per message
CONSOLE_KEEP = 2048  # bytes of a worker's own stdout/stderr kept for error reports
READ_SIZE = 1 << 16
CHANNEL_BROKEN = 70  # worker.py's exit status when its result channel fails
SETUP_FAILED = 71  # boot.py's exit status when the sandbox cannot be built


@dataclass(frozen=True)
class Failure:
    """A sample that did not produce a reward: why, with details (traceback, output)."""

    reason: str
    details: str = ""
    server: bool = False  # the sandbox itself failed (python_grader_server_error)
    kind: str | None = None  # python_grader_server_error_type


Result = float | Failure


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def default_cpus() -> list[int]:
    """The CPUs this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return list(range(os.cpu_count() or 1))


def describe_exit(returncode: int, wrapped: bool, timeout: float) -> str:
    """A reason for a worker that ended while grading a sample."""
    sig = None
    if returncode < 0:
        sig = -returncode
    elif wrapped and 128 < returncode < 128 + 65:  # bwrap / boot.py report 128 + signal
        sig = returncode - 128
    if sig is not None:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        hint = {
            signal.SIGKILL: "out of memory, or killed?",
            signal.SIGSEGV: "segmentation fault",
            signal.SIGABRT: "abort",
            signal.SIGXCPU: f"CPU time limit of {timeout:g} s",
            signal.SIGBUS: "bus error",
        }.get(sig)
        detail = f"{name}: {hint}" if hint else name
        return f"the grader process was killed by signal {sig} ({detail})"
    if returncode == CHANNEL_BROKEN:
        return "the grader broke the sandbox's result channel (closed its file descriptors?)"
    if returncode == 0:
        return "the grader process exited with status 0 before returning a result (os._exit?)"
    return f"the grader process exited with status {returncode} (os._exit?)"


class Worker:
    """One sandboxed process as the parent sees it."""

    def __init__(self, spawned: Spawned, slot: int, start_deadline: float) -> None:
        self.s = spawned
        self.slot = slot
        self.state = "starting"  # starting -> booted -> idle <-> busy; dead
        self.inbuf = bytearray()
        self.console = bytearray()
        self.out = memoryview(b"")
        self.chunk: list[int] = []
        self.pos = 0
        self.deadline = start_deadline
        self.result_open = True

    @property
    def pid(self) -> int:
        return self.s.proc.pid

    def console_tail(self) -> str:
        text = bytes(self.console).decode("utf-8", "replace").strip()
        return f"--- process output (last {len(self.console)} bytes) ---\n{text}" if text else ""


class SandboxPool:
    """Workers running one grader's source; :meth:`run` grades ``[sample, item]`` pairs in order."""

    def __init__(
        self,
        source: str,
        mode: str,
        limits: Limits,
        workers: int | None = None,
        filename: str = "grader.py",
    ) -> None:
        self.source = source
        self.mode = mode
        self.limits = limits
        self.cpus = default_cpus()
        self.max_workers = max(1, workers if workers else len(self.cpus))
        self.filename = filename
        self.workers: list[Worker] = []
        self.setup_failure: Failure | None = None
        self.broken: Failure | None = None
        self._zombies: list[subprocess.Popen] = []
        self.started = 0  # workers started so far (for reports)
        self.owner = os.getpid()  # a forked copy of this pool must not touch the workers

    # ---------------------------------------------------------------- lifecycle

    def _start(self, slot: int) -> Worker:
        cpu = self.cpus[slot % len(self.cpus)] if self.cpus else None
        spawned = spawn(self.mode, self.limits, cpu)
        worker = Worker(spawned, slot, time.monotonic() + self.limits.start_timeout)
        message = json.dumps({"source": self.source, "filename": self.filename}) + "\n"
        worker.out = memoryview(message.encode())
        self.workers.append(worker)
        self.started += 1
        return worker

    def _kill(self, worker: Worker) -> None:
        """SIGKILL the worker's process group (its sandbox dies with it), reap, close."""
        if worker.state == "dead":
            return
        worker.state = "dead"
        proc = worker.s.proc
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                proc.kill()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._zombies.append(proc)
        for fd in (worker.s.command_fd, worker.s.result_fd, worker.s.console_fd, worker.s.pidfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if worker.s.workdir:
            shutil.rmtree(worker.s.workdir, ignore_errors=True)
        if worker in self.workers:
            self.workers.remove(worker)

    def forget(self) -> None:
        """Drop the workers without stopping them (in a forked child: they are the parent's)."""
        for worker in self.workers:
            for fd in (worker.s.command_fd, worker.s.result_fd, worker.s.console_fd,
                       worker.s.pidfd):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
        self.workers, self._zombies = [], []

    def close(self) -> None:
        """Stop every worker."""
        if os.getpid() != self.owner:
            self.forget()
            return
        for worker in list(self.workers):
            self._kill(worker)
        for proc in self._zombies:
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        self._zombies = [p for p in self._zombies if p.returncode is None]

    # ---------------------------------------------------------------- running

    def run(self, pairs: Sequence[Any], dumps: Callable[[Any], bytes] = _dumps) -> list[Result]:
        """Grade every ``[sample, item]`` pair, in order; a Failure in ``pairs`` is passed through.

        ``dumps`` turns a list of pairs into one JSON line (no newline); pairs it cannot encode
        fail alone.
        """
        if os.getpid() != self.owner:  # forked: start workers of this process's own
            self.forget()
            self.owner = os.getpid()
        results: list[Result | None] = [None] * len(pairs)
        pending: deque[int] = deque()
        for i, pair in enumerate(pairs):
            if isinstance(pair, Failure):
                results[i] = pair
            else:
                pending.append(i)
        if pending:
            _Run(self, pairs, results, pending, dumps).loop()
        return results  # type: ignore[return-value]


class _Run:
    """One call of :meth:`SandboxPool.run`: the selector loop."""

    def __init__(
        self,
        pool: SandboxPool,
        pairs: Sequence[Any],
        results: list[Result | None],
        pending: deque[int],
        dumps: Callable[[Any], bytes],
    ) -> None:
        self.pool = pool
        self.pairs = pairs
        self.dumps = dumps
        self.results = results
        self.pending = pending
        self.want = min(pool.max_workers, len(pending))
        self.chunk = max(1, min(MAX_CHUNK, math.ceil(len(pending) / (self.want * 4))))
        self.sel = selectors.DefaultSelector()
        self.timeout = pool.limits.timeout

    # ---------------------------------------------------------------- helpers

    def fail_pending(self, failure: Failure) -> None:
        while self.pending:
            self.results[self.pending.popleft()] = failure

    def register(self, worker: Worker) -> None:
        s = worker.s
        self.sel.register(s.result_fd, selectors.EVENT_READ, (worker, "result"))
        self.sel.register(s.console_fd, selectors.EVENT_READ, (worker, "console"))
        if s.pidfd is not None:
            self.sel.register(s.pidfd, selectors.EVENT_READ, (worker, "exit"))
        if worker.out:
            self.sel.register(s.command_fd, selectors.EVENT_WRITE, (worker, "command"))

    def unregister(self, worker: Worker) -> None:
        s = worker.s
        for fd in (s.result_fd, s.console_fd, s.pidfd, s.command_fd):
            if fd is not None:
                try:
                    self.sel.unregister(fd)
                except (KeyError, ValueError):
                    pass

    def kill(self, worker: Worker) -> None:
        self.unregister(worker)
        self.pool._kill(worker)

    def start_workers(self) -> None:
        pool = self.pool
        while (
            self.pending
            and len(pool.workers) < self.want
            and pool.setup_failure is None
            and pool.broken is None
        ):
            used = {w.slot for w in pool.workers}
            slot = next(i for i in range(self.want + 1) if i not in used)
            try:
                worker = pool._start(slot)
            except SandboxStartError as exc:
                pool.broken = Failure(str(exc), "", server=True, kind="sandbox_unavailable")
                break
            self.register(worker)
        if pool.setup_failure is not None:
            self.fail_pending(pool.setup_failure)
        elif pool.broken is not None and not pool.workers:
            self.fail_pending(pool.broken)

    def encode(self, chunk: list[int]) -> tuple[list[int], bytes]:
        """The chunk as one message; pairs that cannot be encoded fail and are left out."""
        pairs = self.pairs
        try:
            return chunk, self.dumps([pairs[i] for i in chunk]) + b"\n"
        except (TypeError, ValueError, RecursionError):
            pass
        good = []
        for i in chunk:
            try:
                self.dumps([pairs[i]])
                good.append(i)
            except (TypeError, ValueError, RecursionError) as exc:
                self.results[i] = Failure(
                    f"the sample or item cannot be sent to the grader as JSON: {exc}"
                )
        return good, (self.dumps([pairs[i] for i in good]) + b"\n" if good else b"")

    def dispatch(self, worker: Worker) -> None:
        chunk: list[int] = []
        while not chunk and self.pending:
            taken = [self.pending.popleft() for _ in range(min(self.chunk, len(self.pending)))]
            chunk, message = self.encode(taken)
        if not chunk:
            return
        worker.chunk, worker.pos, worker.state = chunk, 0, "busy"
        worker.out = memoryview(message)
        worker.deadline = time.monotonic() + self.timeout
        self.sel.register(worker.s.command_fd, selectors.EVENT_WRITE, (worker, "command"))
        self.flush(worker)

    def requeue_rest(self, worker: Worker, start: int) -> None:
        rest = worker.chunk[start:]
        self.pending.extendleft(reversed(rest))
        worker.chunk, worker.pos = [], 0

    def blame(self, worker: Worker, reason: str) -> None:
        """The sample ``worker`` is on fails with ``reason``; the rest of its chunk goes back."""
        if worker.state == "busy" and worker.pos < len(worker.chunk):
            self.results[worker.chunk[worker.pos]] = Failure(reason, worker.console_tail())
            self.requeue_rest(worker, worker.pos + 1)
        elif worker.state == "busy":
            worker.chunk = []
        elif worker.state == "starting":
            self.pool.broken = Failure(
                f"the sandbox could not start ({self.pool.mode} mode): {reason}",
                worker.console_tail(),
                server=True,
                kind="sandbox_start_failed",
            )
        elif worker.state == "booted":
            self.pool.setup_failure = Failure(
                f"the grader's module code failed: {reason}", worker.console_tail()
            )
        self.kill(worker)

    # ---------------------------------------------------------------- events

    def flush(self, worker: Worker) -> None:
        try:
            while worker.out:
                n = os.write(worker.s.command_fd, worker.out)
                worker.out = worker.out[n:]
        except BlockingIOError:
            return
        except OSError:  # the worker is gone: its exit is handled by the exit/EOF events
            worker.out = memoryview(b"")
        try:
            self.sel.unregister(worker.s.command_fd)
        except (KeyError, ValueError):
            pass

    def read_console(self, worker: Worker) -> None:
        try:
            while True:
                data = os.read(worker.s.console_fd, READ_SIZE)
                if not data:
                    try:
                        self.sel.unregister(worker.s.console_fd)
                    except (KeyError, ValueError):
                        pass
                    return
                worker.console += data[-CONSOLE_KEEP:]
                del worker.console[:-CONSOLE_KEEP]
        except BlockingIOError:
            return
        except OSError:
            return

    def read_results(self, worker: Worker) -> bool:
        """Read what is available; False at end of file."""
        try:
            while True:
                data = os.read(worker.s.result_fd, READ_SIZE)
                if not data:
                    return False
                worker.inbuf += data
                if len(data) < READ_SIZE:
                    return True
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            self.process_lines(worker)

    def process_lines(self, worker: Worker) -> None:
        buf = worker.inbuf
        end = buf.rfind(b"\n")
        if end < 0:
            if len(buf) > 1 << 24 and worker.state != "dead":
                self.blame(worker, "the grader wrote garbage to the sandbox's result channel")
            return
        lines = bytes(buf[:end]).split(b"\n")
        del buf[: end + 1]
        for line in lines:
            if worker.state == "dead":
                return
            self.handle_line(worker, line)

    def handle_line(self, worker: Worker, line: bytes) -> None:
        results = self.results
        if worker.state == "busy" and worker.pos < len(worker.chunk) and line[:1] != b"{":
            try:
                value = float(line)
            except ValueError:
                self.blame(worker, "the grader wrote garbage to the sandbox's result channel")
                return
            if not math.isfinite(value):
                self.blame(worker, "the grader wrote garbage to the sandbox's result channel")
                return
            results[worker.chunk[worker.pos]] = value
            self.advance(worker)
            return
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError
        except ValueError:
            self.blame(worker, "the grader wrote garbage to the sandbox's result channel")
            return
        state = worker.state
        if state == "busy" and "error" in obj and worker.pos < len(worker.chunk):
            results[worker.chunk[worker.pos]] = Failure(
                str(obj["error"]), str(obj.get("details") or "")
            )
            self.advance(worker)
        elif "recycle" in obj and state in ("busy", "idle"):
            self.requeue_rest(worker, worker.pos)  # it stops after this sample: no blame
            self.kill(worker)
        elif state == "starting" and "boot" in obj:
            worker.state = "booted"
            worker.deadline = time.monotonic() + self.timeout
        elif state == "booted" and "ready" in obj:
            worker.state = "idle"
        elif state == "booted" and "setup_error" in obj:
            self.pool.setup_failure = Failure(
                str(obj["setup_error"]), str(obj.get("details") or "")
            )
            self.kill(worker)
        else:
            self.blame(worker, "the grader wrote garbage to the sandbox's result channel")

    def advance(self, worker: Worker) -> None:
        worker.pos += 1
        if worker.pos >= len(worker.chunk):
            worker.state, worker.chunk, worker.pos = "idle", [], 0
        else:
            worker.deadline = time.monotonic() + self.timeout

    def on_exit(self, worker: Worker) -> None:
        """The process ended or closed its result channel: take its last results, then blame."""
        if worker.state == "dead":
            return
        if worker.result_open:
            worker.result_open = self.read_results(worker)
            if worker.state == "dead":
                return
        self.read_console(worker)
        proc = worker.s.proc
        try:
            returncode = proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            returncode = None
        if worker.state == "idle" and returncode is not None:
            self.kill(worker)
            return
        if returncode is None:
            reason = "the grader closed the sandbox's result channel"
        else:
            reason = describe_exit(returncode, self.pool.mode != "python-only", self.timeout)
        self.blame(worker, reason)

    def check_deadlines(self) -> None:
        now = time.monotonic()
        for worker in list(self.pool.workers):
            if worker.state in ("busy", "starting", "booted") and now >= worker.deadline:
                if worker.state == "busy":
                    reason = f"timed out after {self.timeout:g} s"
                elif worker.state == "starting":
                    reason = f"no answer within {self.pool.limits.start_timeout:g} s"
                else:
                    reason = f"it did not finish within {self.timeout:g} s"
                self.blame(worker, reason)

    # ---------------------------------------------------------------- loop

    def loop(self) -> None:
        pool = self.pool
        for worker in list(pool.workers):  # workers left from an earlier run
            if worker.state == "busy" or worker.s.proc.poll() is not None:
                pool._kill(worker)
            else:
                self.register(worker)  # idle, or still starting: the handshake goes on
        try:
            while self.pending or any(w.state == "busy" for w in pool.workers):
                self.start_workers()
                for worker in list(pool.workers):
                    if worker.state == "idle" and self.pending:
                        self.dispatch(worker)
                active = [w for w in pool.workers if w.state in ("starting", "booted", "busy")]
                if not active:
                    if self.pending and not pool.workers:
                        self.fail_pending(
                            pool.broken or pool.setup_failure or Failure("no sandbox worker")
                        )
                    continue
                deadline = min(w.deadline for w in active)
                timeout = max(0.0, min(1.0, deadline - time.monotonic()))
                for key, _ in self.sel.select(timeout):
                    worker, what = key.data
                    if worker.state == "dead":
                        continue
                    if what == "result":
                        if not self.read_results(worker) and worker.state != "dead":
                            worker.result_open = False
                            self.unregister_fd(worker.s.result_fd)
                            self.on_exit(worker)
                    elif what == "console":
                        self.read_console(worker)
                    elif what == "command":
                        self.flush(worker)
                    elif what == "exit":
                        self.on_exit(worker)
                self.check_deadlines()
                for worker in list(pool.workers):
                    if worker.s.pidfd is None and worker.s.proc.poll() is not None:
                        self.on_exit(worker)  # no pidfd: notice exits by polling
        except BaseException:
            for worker in list(pool.workers):
                if worker.state != "idle":
                    self.kill(worker)
            raise
        finally:
            for worker in list(pool.workers):
                self.unregister(worker)
            self.sel.close()

    def unregister_fd(self, fd: int) -> None:
        try:
            self.sel.unregister(fd)
        except (KeyError, ValueError):
            pass
