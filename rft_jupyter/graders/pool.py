"""A small pool of long-lived grading processes for CPU-bound graders (text metrics).

Why not ``multiprocessing``: its ``spawn``/``forkserver`` children re-import the caller's
``__main__`` (a script without a ``__main__`` guard would run again in every worker), and ``fork``
from a multi-threaded Jupyter kernel can deadlock. These workers are plain
``python -c "...serve()"`` processes speaking length-prefixed pickle frames over their
stdin/stdout; they start once per session and are reused.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

_HEADER = struct.Struct("!Q")


class WorkerCrashed(RuntimeError):
    """A grading worker died or answered with an error."""


def _write_frame(stream, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_frame(stream) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from rft_jupyter.graders.pool import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def call(self, fn: str, args: tuple) -> Any:
        try:
            _write_frame(self.proc.stdin, (fn, args))
            status, payload = _read_frame(self.proc.stdout)
        except (EOFError, OSError):
            code = self.proc.poll()
            raise WorkerCrashed(f"a grading worker exited unexpectedly (status {code})") from None
        if status == "error":
            raise WorkerCrashed(payload)
        return payload

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


class WorkerPool:
    """``size`` worker processes; :meth:`submit` runs a registered function in one of them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="rft-grade")

    def _checkout(self) -> _Worker:
        with self._lock:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            if len(self._workers) < self.size:
                worker = _Worker()
                self._workers.append(worker)
                return worker
        return self._idle.get()

    def _run(self, fn: str, args: tuple) -> Any:
        worker = self._checkout()
        try:
            result = worker.call(fn, args)
        except BaseException:
            if worker.alive:
                self._idle.put(worker)
            else:
                with self._lock:
                    if worker in self._workers:
                        self._workers.remove(worker)
                worker.kill()
            raise
        self._idle.put(worker)
        return result

    def submit(self, fn: str, *args: Any) -> Future:
        """Run ``FUNCTIONS[fn](*args)`` in a worker process."""
        return self._threads.submit(self._run, fn, args)

    def shutdown(self) -> None:
        """Stop every worker (busy ones are killed)."""
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.kill()
        self._threads.shutdown(wait=False, cancel_futures=True)


_POOL: WorkerPool | None = None


def get_pool(size: int) -> WorkerPool:
    """The session's pool, (re)built with ``size`` workers."""
    global _POOL
    if _POOL is None or _POOL.size != size:
        if _POOL is not None:
            _POOL.shutdown()
        _POOL = WorkerPool(size)
    return _POOL


@atexit.register
def shutdown_pool() -> None:
    """Stop the session's workers (also done at interpreter exit)."""
    global _POOL
    if _POOL is not None:
        _POOL.shutdown()
        _POOL = None


def _functions() -> dict[str, Callable[..., Any]]:
    from .batch import worker_grade

    return {"grade": worker_grade}


def serve() -> None:
    """The worker's loop: read (function, args) frames, answer (status, payload) frames."""
    channel_in = os.fdopen(os.dup(0), "rb")
    channel_out = os.fdopen(os.dup(1), "wb")
    # Whatever the graded code prints must not corrupt the channel.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    functions = _functions()
    while True:
        try:
            fn, args = _read_frame(channel_in)
        except EOFError:
            return
        try:
            reply = ("ok", functions[fn](*args))
        except Exception as exc:  # report, keep serving
            reply = ("error", f"{type(exc).__name__}: {exc}")
        _write_frame(channel_out, reply)
