"""The local GRPO trainer: ``python -m rft_jupyter.jobs.local_trainer RUN_DIR/config.json``.

Runs TRL's ``GRPOTrainer`` with the grader as its reward (through this engine, so every grader
type works) and writes the job's events to ``RUN_DIR/events.jsonl``, one JSON line each, in the
events endpoint's shape (see :mod:`rft_jupyter.jobs.events`):

- ``metrics`` every step: ``scores.train_reward_mean``, per-grader ``scores.graders[]`` (the
  sub-rewards of a multigrader), ``errors.graders[]`` (error-flag rates of the grader),
  ``completion_tokens_mean``, loss, entropy, learning rate, step timing;
- every ``eval_interval`` steps (and at step 0 and the last step): completions for the
  validation rows (``eval_samples`` each), graded, as an ``eval_run`` event with per-sample
  rewards, plus ``valid_*`` metrics;
- ``checkpoint`` events: a checkpoint is saved when its valid_reward_mean is among the best
  ``keep_checkpoints`` (3, as the service keeps); the one it pushes out is deleted;
- ``status`` events (``running``, ``paused``, ``cancelled``, ``succeeded``, ``failed``).

The parent controls the run through ``RUN_DIR/control`` (one word: ``run``, ``pause`` or
``cancel``), checked after every step; the trainer stops when its parent dies.

Multi-GPU: TRL/accelerate launch this module, e.g. ``launcher=["accelerate", "launch",
"--num_processes", "4"]`` in :func:`rft_jupyter.jobs.local` runs ``accelerate launch
--num_processes 4 -m rft_jupyter.jobs.local_trainer RUN_DIR/config.json``; only the main process
writes events, evaluates and saves checkpoints.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..graders.outcome import ERROR_FLAGS, Outcome
from .events import Event

EVENTS_FILE = "events.jsonl"
CONTROL_FILE = "control"
CONFIG_FILE = "config.json"
LOG_FILE = "trainer.log"

# Our names (the service's hyperparameters and a few local ones) -> GRPOConfig's.
SERVICE_NAMES = ("n_epochs", "batch_size", "learning_rate_multiplier", "eval_interval",
                 "eval_samples", "reasoning_effort", "compute_multiplier")
LOCAL_DEFAULTS: dict[str, Any] = {
    "max_steps": None,
    "num_generations": 4,
    "max_completion_length": None,
    "temperature": 1.0,
    "learning_rate": None,
    "seed": 0,
    "keep_checkpoints": 3,
    "beta": 0.0,
    "threads": None,
    "vocab_size": 400,
    "eval_at_start": True,
}


# ---------------------------------------------------------------- events


class EventWriter:
    """Appends events to the JSONL the parent tails (whole lines, flushed)."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        self.fh = open(path, "a", encoding="utf-8") if enabled else None  # noqa: SIM115
        self.n = 0

    def emit(self, kind: str, data: Mapping[str, Any] | None = None, message: str = "",
             level: str = "info", step: int | None = None) -> None:
        if not self.enabled or self.fh is None:
            return
        self.n += 1
        event = Event(f"local-{self.n}", kind, time.time(), step, dict(data or {}), message,
                      level)
        self.fh.write(json.dumps(event.to_service(), default=_json_default) + "\n")
        self.fh.flush()

    def status(self, status: str, message: str = "", **data: Any) -> None:
        self.emit("status", {"status": status, **data}, message or f"status: {status}",
                  "error" if status == "failed" else "info")


def _json_default(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


# ---------------------------------------------------------------- data


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return "" if content is None else str(content)


def prompt_text(messages: Sequence[Mapping[str, Any]], tokenizer: Any = None) -> str:
    """The prompt a row's messages make: the tokenizer's chat template when it has one
    (``developer`` shown as ``system``), else ``role: content`` lines and ``assistant:``."""
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        chat = [{"role": "system" if m.get("role") == "developer" else m.get("role", "user"),
                 "content": _content_text(m.get("content"))} for m in messages]
        try:
            return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        except Exception:  # noqa: BLE001 - a template that rejects a role: plain text instead
            pass
    lines = [f"{m.get('role', 'user')}: {_content_text(m.get('content'))}" for m in messages]
    return "\n".join(lines) + "\nassistant:"


def _item_texts(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    for row in rows:
        for key, value in row.items():
            if key == "messages":
                out += [_content_text(m.get("content")) for m in value if isinstance(m, Mapping)]
            elif isinstance(value, (str, int, float)):
                out.append(str(value))
            elif isinstance(value, (dict, list)):
                out.append(json.dumps(value))
    return out


# ---------------------------------------------------------------- reward


class GraderReward:
    """TRL reward function: the grader through this engine; keeps per-step statistics."""

    def __init__(self, spec: Mapping[str, Any], rows: list[dict[str, Any]],
                 response_format: Any = None) -> None:
        from ..graders.runners import compile_runner
        from ..graders.sample import response_format as make_format

        self.spec = spec
        self.runner = compile_runner(spec)
        self.fmt = make_format(response_format)
        self.rows = rows
        self.__name__ = str(spec.get("name") or "grader")
        self.pending: list[Outcome] = []
        self.last_stats: dict[str, Any] = {}

    def grade(self, completions: list[str], items: list[dict[str, Any]]) -> list[Outcome]:
        from ..graders.batch import grade_rows

        return grade_rows(self.runner, completions, items, self.fmt)

    def __call__(self, prompts: list[Any], completions: list[Any], row_index: list[int],
                 **_: Any) -> list[float]:
        texts = [c if isinstance(c, str) else _content_text(c[-1].get("content") if c else "")
                 for c in completions]
        outcomes = self.grade(texts, [self.rows[int(i)] for i in row_index])
        self.pending.extend(outcomes)
        return [float(o.reward) for o in outcomes]

    def take_stats(self) -> dict[str, Any]:
        """Means over the completions graded since the last call (else the last ones)."""
        if self.pending:
            self.last_stats = outcome_stats(self.pending)
            self.pending = []
        return self.last_stats

    def close(self) -> None:
        self.runner.close()


def outcome_stats(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Reward mean, per-sub-grader reward means, error-flag rates."""
    n = max(1, len(outcomes))
    subs: dict[str, list[float]] = {}
    for o in outcomes:
        for key, value in o.sub_rewards.items():
            subs.setdefault(key, []).append(float(value))
    return {
        "reward_mean": sum(float(o.reward) for o in outcomes) / n,
        "subs": {k: sum(v) / len(v) for k, v in subs.items()},
        "errors": {flag: sum(1 for o in outcomes if o.errors.get(flag)) / n
                   for flag in ERROR_FLAGS},
        "n": len(outcomes),
    }


def _grader_blocks(spec: Mapping[str, Any], stats: Mapping[str, Any], split: str) -> dict:
    """``scores.graders[]`` and ``errors.graders[]`` in the service's shape."""
    graders = []
    subs = spec.get("graders") if spec.get("type") == "multi" else None
    for key, value in (stats.get("subs") or {}).items():
        sub = subs.get(key, {}) if isinstance(subs, Mapping) else {}
        graders.append({"name": key, "type": sub.get("type"), f"{split}_reward_mean": value})
    errors = {"name": spec.get("name"), "type": spec.get("type")}
    for flag, rate in (stats.get("errors") or {}).items():
        errors[f"{split}_{flag}_mean"] = rate
    return {"graders": graders, "errors": [errors]}


# ---------------------------------------------------------------- control


class Control:
    """Reads the control file; notices when the parent is gone."""

    def __init__(self, run_dir: Path, parent: int | None) -> None:
        self.path = run_dir / CONTROL_FILE
        self.parent = parent

    def read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip() or "run"
        except OSError:
            return "run"

    def orphaned(self) -> bool:
        return self.parent is not None and os.getppid() != self.parent


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------- the run


def run(config: Mapping[str, Any]) -> int:
    """Train as ``config`` says; returns the exit status (0 ok, 1 failed)."""
    run_dir = Path(config["run_dir"])
    rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0)
    main = rank == 0
    writer = EventWriter(run_dir / EVENTS_FILE, enabled=main)
    control = Control(run_dir, config.get("parent_pid") if not config.get("launcher") else None)
    try:
        return _train(config, run_dir, writer, control, main)
    except _Cancelled:
        writer.status("cancelled", "cancelled before training started")
        return 0
    except Exception as exc:  # noqa: BLE001 - reported as the job's failure
        traceback.print_exc()
        writer.status("failed", f"training failed: {type(exc).__name__}: {exc}",
                      error=f"{type(exc).__name__}: {exc}")
        return 1


class _Cancelled(Exception):
    pass


def _train(config: Mapping[str, Any], run_dir: Path, writer: EventWriter, control: Control,
           main: bool) -> int:
    hp = {**LOCAL_DEFAULTS, **dict(config.get("hyperparameters") or {})}
    writer.status("validating_files", "loading data and model")
    spec = config["grader"]
    train_rows = read_rows(config["train"])
    valid_rows = read_rows(config["valid"]) if config.get("valid") else []

    import torch

    threads = hp["threads"] or len(os.sched_getaffinity(0))
    torch.set_num_threads(max(1, int(threads)))
    from datasets import Dataset
    from transformers import TrainerCallback, set_seed
    from transformers.utils import logging as hf_logging
    from trl import GRPOConfig, GRPOTrainer

    hf_logging.disable_progress_bar()
    set_seed(int(hp["seed"]))
    tiny = config.get("model") is None
    if tiny:
        from .tiny_model import build_model, train_tokenizer

        tokenizer = train_tokenizer(_item_texts(train_rows + valid_rows), int(hp["vocab_size"]))
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(config["model"], local_files_only=True)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    train_prompts = [prompt_text(r.get("messages") or [], tokenizer) for r in train_rows]
    valid_prompts = [prompt_text(r.get("messages") or [], tokenizer) for r in valid_rows]
    max_completion = int(hp["max_completion_length"] or (32 if tiny else 256))
    if tiny:
        longest = max((len(tokenizer(p)["input_ids"]) for p in train_prompts + valid_prompts),
                      default=16)
        model = build_model(tokenizer, max_positions=longest + max_completion + 16,
                            seed=int(hp["seed"]))
    else:
        model = AutoModelForCausalLM.from_pretrained(config["model"], local_files_only=True)
    if control.read() == "cancel":
        raise _Cancelled

    reward = GraderReward(spec, train_rows, config.get("response_format"))
    dataset = Dataset.from_dict(
        {"prompt": train_prompts, "row_index": list(range(len(train_rows)))}
    )
    base_lr = 3e-3 if tiny else 1e-5
    lr = hp["learning_rate"] or base_lr * float(hp.get("learning_rate_multiplier") or 1.0)
    kwargs: dict[str, Any] = {
        "output_dir": str(run_dir / "trainer"),
        "learning_rate": lr,
        "per_device_train_batch_size": int(hp.get("batch_size") or 8),
        "num_generations": int(hp["num_generations"]),
        "max_completion_length": max_completion,
        "temperature": float(hp["temperature"]),
        "beta": float(hp["beta"]),
        "logging_steps": 1,
        "report_to": "none",
        "save_strategy": "no",
        "disable_tqdm": True,
        "seed": int(hp["seed"]),
        "use_cpu": not torch.cuda.is_available(),
    }
    if hp["max_steps"]:
        kwargs["max_steps"] = int(hp["max_steps"])
    elif hp.get("n_epochs"):
        kwargs["num_train_epochs"] = float(hp["n_epochs"])
    elif tiny:
        kwargs["max_steps"] = 100
    extra = {k: v for k, v in hp.items() if k not in LOCAL_DEFAULTS and k not in SERVICE_NAMES}
    unknown = sorted(set(extra) - set(GRPOConfig.__dataclass_fields__))
    if unknown:
        raise ValueError(f"unknown hyperparameter {unknown[0]!r}: not a service hyperparameter "
                         f"({', '.join(SERVICE_NAMES)}), a local one "
                         f"({', '.join(LOCAL_DEFAULTS)}) nor a trl.GRPOConfig field")
    kwargs.update(extra)
    args = GRPOConfig(**kwargs)

    evaluator = Evaluator(reward, valid_rows, valid_prompts, tokenizer, max_completion,
                          int(hp.get("eval_samples") or 1), float(hp["temperature"]), spec)
    callback = JobCallback(writer, reward, evaluator, control, run_dir,
                           int(hp.get("eval_interval") or 10), int(hp["keep_checkpoints"]),
                           bool(hp["eval_at_start"]) and bool(valid_rows), main)

    class _Callback(TrainerCallback):
        def on_train_begin(self, args, state, control_, **kw):  # noqa: ANN001
            callback.begin(state, kw.get("model"))

        def on_log(self, args, state, control_, logs=None, **kw):  # noqa: ANN001
            callback.log(state, control_, logs or {}, kw.get("model"))

        def on_step_end(self, args, state, control_, **kw):  # noqa: ANN001
            callback.step_end(state, control_)

    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=dataset,
                          processing_class=tokenizer, callbacks=[_Callback()])
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # the events carry the logs; keep the log for errors
    trainer.train()
    callback.finish(trainer.state, trainer.model)
    reward.close()
    return 0


class Evaluator:
    """Completions for the validation rows, graded: the job's eval runs."""

    def __init__(self, reward: GraderReward, rows: list[dict[str, Any]], prompts: list[str],
                 tokenizer: Any, max_new_tokens: int, samples: int, temperature: float,
                 spec: Mapping[str, Any], batch: int = 32) -> None:
        self.reward = reward
        self.rows = rows
        self.prompts = prompts
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.samples = max(1, samples)
        self.temperature = temperature
        self.threshold = spec.get("pass_threshold")
        self.batch = batch

    def completions(self, model: Any) -> tuple[list[str], list[int], list[int]]:
        import torch

        tok = self.tokenizer
        order = [i for i in range(len(self.prompts)) for _ in range(self.samples)]
        texts: list[str] = []
        lengths: list[int] = []
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        try:
            for lo in range(0, len(order), self.batch):
                chunk = [self.prompts[i] for i in order[lo:lo + self.batch]]
                ids = tok(text=chunk)["input_ids"]
                width = max(len(x) for x in ids)
                pad = tok.pad_token_id
                input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids], device=device)
                mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids],
                                    device=device)
                with torch.no_grad():
                    out = model.generate(input_ids=input_ids, attention_mask=mask,
                                         max_new_tokens=self.max_new_tokens, do_sample=True,
                                         temperature=self.temperature, top_p=1.0, top_k=0,
                                         pad_token_id=pad, eos_token_id=tok.eos_token_id)
                new = out[:, width:]
                for row in new.tolist():
                    cut = row.index(tok.eos_token_id) if tok.eos_token_id in row else len(row)
                    while cut and row[cut - 1] == pad:
                        cut -= 1
                    lengths.append(cut)
                texts += tok.batch_decode(new, skip_special_tokens=True)
        finally:
            if was_training:
                model.train()
        return texts, order, lengths

    def run(self, model: Any) -> tuple[list[dict[str, Any]], dict[str, Any], float]:
        texts, order, lengths = self.completions(model)
        outcomes = self.reward.grade(texts, [self.rows[i] for i in order])
        samples = []
        for i, (text, o) in enumerate(zip(texts, outcomes)):
            s: dict[str, Any] = {"index": order[i], "reward": float(o.reward), "output": text,
                                 "error": o.error, "completion_tokens": lengths[i]}
            if self.threshold is not None:
                s["passed"] = float(o.reward) >= float(self.threshold)
            if o.sub_rewards:
                s["sub_rewards"] = {k: float(v) for k, v in o.sub_rewards.items()}
            if o.details:
                s["error_details"] = o.details[:500]
            samples.append(s)
        mean_tokens = sum(lengths) / len(lengths) if lengths else 0.0
        return samples, outcome_stats(outcomes), mean_tokens


class JobCallback:
    """Turns trainer callbacks into job events; evals, checkpoints, pause/cancel."""

    def __init__(self, writer: EventWriter, reward: GraderReward, evaluator: Evaluator,
                 control: Control, run_dir: Path, eval_interval: int, keep: int,
                 eval_at_start: bool, main: bool) -> None:
        self.writer = writer
        self.reward = reward
        self.evaluator = evaluator
        self.control = control
        self.run_dir = run_dir
        self.eval_interval = max(1, eval_interval)
        self.keep = max(0, keep)
        self.eval_at_start = eval_at_start
        self.main = main
        self.kept: list[tuple[float, int, Path]] = []
        self.last_eval: int | None = None
        self.last_train: float | None = None
        self.checked: int | None = None
        self.cancelled = False
        self.step_started = time.monotonic()
        self.max_steps = 0

    def begin(self, state: Any, model: Any) -> None:
        self.max_steps = int(state.max_steps or 0)
        self.writer.status("running", f"training for {self.max_steps} steps",
                           total_steps=self.max_steps)
        if self.eval_at_start and self.main and model is not None:
            self.evaluate(0, model)
        self.step_started = time.monotonic()

    def log(self, state: Any, control: Any, logs: Mapping[str, Any], model: Any) -> None:
        if "reward" not in logs:
            return
        step = int(state.global_step)
        now = time.monotonic()
        stats = self.reward.take_stats()
        blocks = _grader_blocks(self.reward.spec, stats, "train")
        self.last_train = float(logs["reward"])
        data: dict[str, Any] = {
            "step": step,
            "total_steps": self.max_steps,
            "scores": {"train_reward_mean": self.last_train, "graders": blocks["graders"]},
            "train_reward_std": logs.get("reward_std"),
            "completion_tokens_mean": logs.get("completions/mean_length"),
            "errors": {"graders": blocks["errors"]},
            "loss": logs.get("loss"),
            "entropy": logs.get("entropy"),
            "learning_rate": logs.get("learning_rate"),
            "grad_norm": logs.get("grad_norm"),
            "timing": {"step": {"full_iteration": now - self.step_started}},
        }
        self.writer.emit("metrics", data, f"Step {step}/{self.max_steps}, train mean "
                         f"reward={self.last_train:.4f}", step=step)
        if self.main and model is not None and (
                step % self.eval_interval == 0 or step == self.max_steps):
            self.evaluate(step, model)
        self.check(step, control)
        self.step_started = time.monotonic()

    def step_end(self, state: Any, control: Any) -> None:
        self.check(int(state.global_step), control)

    def check(self, step: int, control: Any) -> None:
        """Pause (block until resumed) or cancel, as the control file says."""
        if self.checked == step:
            return
        self.checked = step
        if self.control.orphaned():
            self.cancelled = True
            control.should_training_stop = True
            return
        action = self.control.read()
        if action == "pause":
            self.writer.status("paused", f"paused after step {step}")
            while action == "pause" and not self.control.orphaned():
                time.sleep(0.1)
                action = self.control.read()
            if action != "cancel":
                self.writer.status("running", f"resumed after step {step}")
        if action == "cancel" or self.control.orphaned():
            self.cancelled = True
            control.should_training_stop = True

    def evaluate(self, step: int, model: Any) -> None:
        if not self.evaluator.rows:
            return
        self.last_eval = step
        samples, stats, tokens = self.evaluator.run(model)
        mean = stats["reward_mean"]
        self.writer.emit("eval_run", {"run_id": f"eval-step-{step}", "status": "completed",
                                      "reward_mean": mean, "samples": samples},
                         f"eval run at step {step}: valid mean reward={mean:.4f}", step=step)
        blocks = _grader_blocks(self.reward.spec, stats, "valid")
        self.writer.emit("metrics", {
            "step": step,
            "scores": {"valid_reward_mean": mean, "graders": blocks["graders"]},
            "valid_completion_tokens_mean": tokens,
            "full_valid_mean_parse_error": stats["errors"].get("sample_parse_error", 0.0),
            "errors": {"graders": blocks["errors"]},
        }, f"Step {step}, full validation mean reward={mean:.4f}", step=step)
        if step > 0:
            self.checkpoint(step, mean, model)

    def checkpoint(self, step: int, valid: float, model: Any) -> None:
        if not self.keep:
            return
        if len(self.kept) >= self.keep and valid <= min(v for v, _, _ in self.kept):
            return
        path = self.run_dir / "checkpoints" / f"step-{step}"
        model.save_pretrained(path)
        self.evaluator.tokenizer.save_pretrained(path)
        self.kept.append((valid, step, path))
        self.writer.emit("checkpoint", {
            "id": f"ckpt-step-{step}", "metrics": {"valid_reward_mean": valid,
                                                   "train_reward_mean": self.last_train},
            "path": str(path)}, f"checkpoint at step {step} (valid reward {valid:.4f})", step=step)
        if len(self.kept) > self.keep:
            worst = min(self.kept, key=lambda k: (k[0], k[1]))
            self.kept.remove(worst)
            shutil.rmtree(worst[2], ignore_errors=True)
            self.writer.emit("checkpoint", {"id": f"ckpt-step-{worst[1]}", "deleted": True},
                             f"checkpoint at step {worst[1]} removed (not among the best "
                             f"{self.keep})", step=worst[1])

    def finish(self, state: Any, model: Any) -> None:
        step = int(state.global_step)
        if self.cancelled:
            self.writer.status("cancelled", f"cancelled after step {step}")
            return
        if self.main and self.last_eval != step and model is not None:
            self.evaluate(step, model)
        best = max(self.kept, default=None)
        note = f"; best checkpoint: {best[2]}" if best else ""
        self.writer.status("succeeded", f"training finished at step {step}{note}",
                           fine_tuned_model=str(best[2]) if best else None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m rft_jupyter.jobs.local_trainer RUN_DIR/config.json",
              file=sys.stderr)
        return 2
    config = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    if config.get("parent_pid") and not config.get("launcher"):
        _die_with_parent()
        if os.getppid() != config["parent_pid"]:
            return 1
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
