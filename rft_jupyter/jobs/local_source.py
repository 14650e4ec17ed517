"""Local GRPO: ``local(grader, train, valid)`` trains with TRL in a subprocess, as a Job.

The trainer (:mod:`rft_jupyter.jobs.local_trainer`) runs in its own process and writes events
to ``RUN_DIR/events.jsonl``; the Job tails that file (whole lines only), so the kernel never
blocks and no thread touches a widget. Pause, resume and cancel write ``RUN_DIR/control``; the
trainer checks it after every step (cancel also stops a trainer that does not answer within
``cancel_grace`` seconds). A trainer that dies without saying so makes the job ``failed``, with
the end of ``RUN_DIR/trainer.log`` as the reason.

``model=None`` trains the tiny default model (a random Llama with a tokenizer trained on the
data; nothing is downloaded); any local Hugging Face model directory works too.

Hyperparameters: the service's (``n_epochs``, ``batch_size``, ``learning_rate_multiplier``,
``eval_interval``, ``eval_samples``), local ones (``max_steps``, ``num_generations`` (4),
``max_completion_length``, ``temperature``, ``learning_rate``, ``seed``, ``keep_checkpoints``
(3), ``beta``, ``threads``, ``eval_at_start``) and any other ``trl.GRPOConfig`` field.

Several GPUs: pass ``launcher=["accelerate", "launch", "--num_processes", "4"]`` (or
``["torchrun", "--nproc_per_node", "4"]``); the trainer module is started through it with
``-m``, and only the main process writes events, evaluates and saves checkpoints. An accelerate
config file goes in the launcher list (``"--config_file", "fsdp.yaml"``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .events import TERMINAL, Event
from .job import Job
from .local_trainer import CONFIG_FILE, CONTROL_FILE, EVENTS_FILE, LOG_FILE

POLL_INTERVAL = 0.25
CANCEL_GRACE = 15.0
_INTS = ("n_epochs", "batch_size", "eval_interval", "eval_samples", "max_steps",
         "num_generations", "max_completion_length", "seed", "keep_checkpoints", "threads")


class LocalSource:
    """Tails a local trainer's events file and controls the process."""

    kind = "local"

    def __init__(self, run_dir: Path, process: subprocess.Popen | None, info: Mapping[str, Any],
                 cancel_grace: float = CANCEL_GRACE) -> None:
        self.poll_interval = POLL_INTERVAL
        self.run_dir = Path(run_dir)
        self.process = process
        self._info = dict(info)
        self._offset = 0
        self._buffer = b""
        self._terminal = False
        self._cancel_at: float | None = None
        self._cancel_grace = cancel_grace
        self._n = 0

    def info(self) -> dict[str, Any]:
        return dict(self._info)

    @property
    def events_path(self) -> Path:
        return self.run_dir / EVENTS_FILE

    def _read_new(self) -> list[Event]:
        try:
            with open(self.events_path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._buffer + chunk
        lines = data.split(b"\n")
        self._buffer = lines.pop()  # an incomplete last line waits for its end
        out = []
        for line in lines:
            if line.strip():
                try:
                    out.append(Event.from_service(json.loads(line)))
                except ValueError:
                    continue
        return out

    def fetch(self) -> list[Event]:
        events = self._read_new()
        for e in events:
            if e.kind == "status" and e.status in TERMINAL:
                self._terminal = True
        if self._terminal or self.process is None:
            return events
        code = self.process.poll()
        if code is None:
            if self._cancel_at is not None and time.monotonic() - self._cancel_at > \
                    self._cancel_grace:
                self._stop_process()
                self._terminal = True
                events.append(self._status("cancelled", "cancelled (the trainer was stopped)"))
            return events
        events += self._read_new()  # what it wrote before exiting
        if any(e.kind == "status" and e.status in TERMINAL for e in events):
            self._terminal = True
            return events
        self._terminal = True
        status = "cancelled" if self._cancel_at is not None else "failed"
        events.append(self._status(status, f"the trainer exited (status {code}) without "
                                           f"finishing: {self.log_tail()}"))
        return events

    def _status(self, status: str, message: str) -> Event:
        self._n += 1
        return Event(f"local-parent-{self._n}-{status}", "status", time.time(), None,
                     {"status": status}, message, "error" if status == "failed" else "info")

    def log_tail(self, lines: int = 6) -> str:
        """The last lines the trainer printed (its errors)."""
        try:
            text = (self.run_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        kept = [ln for ln in text.splitlines() if ln.strip()][-lines:]
        return " | ".join(kept)[-1500:] or "(empty log)"

    def _write_control(self, word: str) -> None:
        tmp = self.run_dir / f".{CONTROL_FILE}.tmp"
        tmp.write_text(word, encoding="utf-8")
        os.replace(tmp, self.run_dir / CONTROL_FILE)

    def control(self, action: str) -> list[Event]:
        if self._terminal:
            return []
        if action == "pause":
            self._write_control("pause")
            return [self._status("pausing", "pause requested; the trainer pauses after this step")]
        if action == "resume":
            self._write_control("run")
            return []
        self._write_control("cancel")
        self._cancel_at = time.monotonic()
        return [self._status("cancelling", "cancel requested; the trainer stops after this step")]

    def _stop_process(self) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def close(self) -> None:
        """Stop the trainer if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self._write_control("cancel")
            self._stop_process()


def _write_rows(data: Any, path: Path) -> Path:
    if isinstance(data, (str, os.PathLike)):
        shutil.copyfile(os.fspath(data), path)
        return path
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        import math

        rows = [{k: v for k, v in r.items() if not (isinstance(v, float) and math.isnan(v))}
                for r in data.to_dict(orient="records")]
    else:
        rows = list(data)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    return path


def _check_hyperparameters(hp: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(hp)
    for key in _INTS:
        if key in out and out[key] is not None:
            value = out[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be a non-negative integer, not {value!r}")
    for key, value in out.items():
        if value == "auto":
            raise ValueError(f"{key}='auto' is the service's choice; give a value for local runs")
    try:
        json.dumps(out)
    except TypeError as exc:
        raise ValueError(f"hyperparameters must be JSON values ({exc})") from None
    return out


def local(
    grader: Any,
    train: Any,
    valid: Any = None,
    model: str | os.PathLike[str] | None = None,
    *,
    run_dir: str | os.PathLike[str] | None = None,
    response_format: Mapping[str, Any] | None = None,
    launcher: Sequence[str] | None = None,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
    validate: bool = True,
    **hyperparameters: Any,
) -> Job:
    """Start a local GRPO run (TRL, in a subprocess) and return its :class:`Job`.

    ``grader``: any spec this engine runs (every grader type). ``train`` / ``valid``: RFT JSONL
    paths, lists of row dicts or DataFrames (checked with ``validate_dataset`` first; ``valid``
    is optional but without it there are no eval runs or checkpoints). ``model``: a local
    Hugging Face model directory, or None for the tiny default model. ``run_dir``: where
    events, the log and checkpoints go (default: a new temporary directory). See the module
    docstring for hyperparameters and multi-GPU launchers.
    """
    from ..data import validate_dataset
    from ..graders.spec import load_grader

    spec = load_grader(grader)
    if validate:
        validate_dataset(train, grader=spec, kind="train").raise_for_problems()
        if valid is not None:
            validate_dataset(valid, grader=spec, kind="valid").raise_for_problems()
    if response_format is not None:
        from ..graders.sample import response_format as check_format

        check_format(response_format)
    if model is not None and not Path(model).is_dir():
        raise FileNotFoundError(f"model {os.fspath(model)!r} is not a local model directory "
                                "(local runs never download; pass a path or model=None)")
    hp = _check_hyperparameters(hyperparameters)
    directory = Path(run_dir) if run_dir is not None else Path(
        tempfile.mkdtemp(prefix="rft-local-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in (EVENTS_FILE, CONTROL_FILE):
        (directory / stale).unlink(missing_ok=True)
    job_id = f"local-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid() % 10000:04d}"
    config = {
        "job_id": job_id,
        "run_dir": str(directory),
        "grader": spec,
        "train": str(_write_rows(train, directory / "train.jsonl")),
        "valid": str(_write_rows(valid, directory / "valid.jsonl")) if valid is not None else None,
        "model": os.fspath(model) if model is not None else None,
        "response_format": dict(response_format) if response_format is not None else None,
        "hyperparameters": hp,
        "parent_pid": os.getpid(),
        "launcher": list(launcher) if launcher else None,
    }
    config_path = directory / CONFIG_FILE
    config_path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    (directory / CONTROL_FILE).write_text("run", encoding="utf-8")
    interpreter = python or sys.executable
    command = ([*launcher, "-m", "rft_jupyter.jobs.local_trainer", str(config_path)] if launcher
               else [interpreter, "-m", "rft_jupyter.jobs.local_trainer", str(config_path)])
    child_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                 "PYTHONUNBUFFERED": "1", **dict(env or {})}
    root = str(Path(__file__).resolve().parents[2])
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, child_env.get("PYTHONPATH", "")) if p)
    log = open(directory / LOG_FILE, "wb")  # noqa: SIM115 - the child keeps it
    try:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=child_env, cwd=directory,
                                   start_new_session=True)
    finally:
        log.close()
    info = {"id": job_id, "model": os.fspath(model) if model is not None else "tiny-llama (random)",
            "run_dir": str(directory), "pid": process.pid}
    job = Job(LocalSource(directory, process, info))
    job.refresh()
    return job


__all__ = ["LocalSource", "local"]
