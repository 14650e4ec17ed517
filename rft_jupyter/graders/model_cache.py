"""A persistent cache of model-grader answers, so re-running a grader costs nothing.

Keys are SHA-256 digests of the full request: where it goes (base URL, Azure deployment and API
version — never the key) and everything sent (model, messages, response format, sampling
parameters). Values are the server's JSON answer. sqlite3 in WAL mode makes it safe to share
between threads and processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

FILENAME = "calls.sqlite3"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rft-jupyter/model-calls`` (``~/.cache/...`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rft-jupyter" / "model-calls"


def request_key(endpoint: str, request: Mapping[str, Any]) -> str:
    """The cache key of one request sent to ``endpoint``."""
    blob = json.dumps(
        {"endpoint": endpoint, "request": request},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class CallCache:
    """Answers by request key in ``<directory>/calls.sqlite3``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()
        self.path = self.directory / FILENAME
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def __repr__(self) -> str:
        return f"CallCache({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # a forked child opens its own
            self.directory.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, answer TEXT NOT NULL, "
                "created REAL NOT NULL)"
            )
            conn.commit()
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get_many(self, keys: Iterable[str]) -> dict[str, dict]:
        """The cached answers among ``keys``."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, dict] = {}
        with self._lock:
            conn = self._connect()
            for lo in range(0, len(wanted), 500):
                chunk = wanted[lo : lo + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT key, answer FROM calls WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, answer in rows:
                    found[key] = json.loads(answer)
        return found

    def put(self, key: str, answer: Mapping[str, Any]) -> None:
        """Store one answer (replacing an older one for the same request)."""
        text = json.dumps(answer, ensure_ascii=False)
        with self._lock:
            conn = self._connect()
            conn.execute(
                "INSERT OR REPLACE INTO calls (key, answer, created) VALUES (?, ?, ?)",
                (key, text, time.time()),
            )
            conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._connect().execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def clear(self) -> None:
        """Forget every cached answer."""
        with self._lock:
            conn = self._connect()
            conn.execute("DELETE FROM calls")
            conn.commit()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
