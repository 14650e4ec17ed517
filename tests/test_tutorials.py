"""The tutorial notebooks in notebooks/, executed top to bottom with nbclient, outputs checked.

Each notebook runs in a fresh python3 kernel (cwd notebooks/) with no credentials in its
environment and a private cache folder, so nothing reaches the network. 02 runs a second time
with ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` pointing at the local chat server (tests/servers),
so its score_model cells are exercised for real through the openai SDK; 03 runs a second time
with ``AZURE_OPENAI_*`` pointing at the local fine-tuning server, so its job-creation cells are.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest
from servers.chat_server import ChatServer
from servers.ft_server import FtServer
from sevens import GRADER as SEVENS_GRADER

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SCORES = "application/vnd.rft-jupyter.scores+json"
JOB = "application/vnd.rft-jupyter.job+json"
WIDGET = "application/vnd.jupyter.widget-view+json"
CREDENTIALS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_VERSION", "OPENAI_ORG_ID",
               "OPENAI_PROJECT_ID", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY",
               "AZURE_OPENAI_AD_TOKEN", "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_API_VERSION")
TUTORIALS = ("01_quickstart", "02_countdown", "03_data_and_jobs", "04_local_grpo")


class Run:
    """An executed notebook: its cells by id, and how long it took."""

    def __init__(self, nb: Any, seconds: float) -> None:
        self.nb = nb
        self.seconds = seconds
        self.cells = {cell.get("id"): cell for cell in nb.cells}

    def outputs(self, cell_id: str) -> list[dict]:
        assert cell_id in self.cells, f"no cell {cell_id!r}"
        return list(self.cells[cell_id].get("outputs", []))

    def text(self, cell_id: str) -> str:
        parts = []
        for out in self.outputs(cell_id):
            if out["output_type"] == "stream":
                parts.append(out["text"])
            elif out["output_type"] == "error":
                parts.append(f"{out['ename']}: {out['evalue']}")
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
        return "".join(parts)

    def data(self, cell_id: str, mime: str) -> list[Any]:
        """Every payload of ``mime`` in the cell's outputs (JSON mimes arrive parsed)."""
        found = []
        for out in self.outputs(cell_id):
            payload = out.get("data", {}).get(mime)
            if payload is not None:
                found.append(json.loads(payload) if isinstance(payload, str) and
                             mime.endswith("json") else payload)
        return found

    def one(self, cell_id: str, mime: str) -> Any:
        found = self.data(cell_id, mime)
        assert len(found) == 1, f"{cell_id}: {len(found)} outputs carry {mime}"
        return found[0]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This environment without credentials, with a private cache, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIALS}
    env.update({"XDG_CACHE_HOME": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1",
                "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    env.update(extra)
    return env


def tree() -> dict[str, float]:
    """Every file under notebooks/ (caches aside) and its modification time."""
    return {str(p.relative_to(NOTEBOOKS)): p.stat().st_mtime for p in NOTEBOOKS.rglob("*")
            if p.is_file() and not {"__pycache__", ".ipynb_checkpoints"} & set(p.parts)}


def execute(name: str, tmp_path: Path, cell_timeout: int, **env: str) -> Run:
    """Run the notebook top to bottom (any cell error fails the test); it must write nothing
    under notebooks/ (only temporary folders)."""
    before = tree()
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=cell_timeout, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.monotonic()
    client.execute(env=clean_env(tmp_path, **env))
    run = Run(nb, time.monotonic() - start)
    print(f"{name}: {run.seconds:.1f} s")
    assert tree() == before, "the notebook left files under notebooks/"
    return run


def card(summary: dict, label: str) -> str:
    return next(c["value"] for c in summary["cards"] if c["label"] == label)


# ---------------------------------------------------------------- the files themselves


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorials_are_committed_clean(name):
    """nbformat 4, the python3 kernel, no outputs or execution counts, every cell with an id."""
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        assert cell.get("id")
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id
    assert path.stat().st_size < 60_000
    assert f"({name}.ipynb)" in (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    assert f"(notebooks/{name}.ipynb)" in (ROOT / "README.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- 01 quickstart


QUALITY = {
    "type": "multi",
    "name": "quality",
    "graders": {
        "exact": {"type": "string_check", "name": "exact", "operation": "eq",
                  "input": "{{ sample.output_text }}", "reference": "{{ item.answer }}"},
        "close": {"type": "text_similarity", "name": "close", "evaluation_metric": "fuzzy_match",
                  "input": "{{ sample.output_text }}", "reference": "{{ item.answer }}"},
    },
    "calculate_output": "0.5 * exact + 0.5 * close",
    "pass_threshold": 0.8,
}


@pytest.mark.timeout(120)
def test_01_quickstart(tmp_path):
    run = execute("01_quickstart", tmp_path, cell_timeout=60)

    assert "grader 'exact' registered: string_check (eq)" in run.text("define-exact")
    assert "grader 'close' registered: text_similarity (fuzzy_match)" in run.text("define-close")
    assert "grader 'quality' registered: multi = 0.5 * exact + 0.5 * close" in \
        run.text("define-multi")

    # the ScoreTable: a live widget, with the static fallbacks beside it
    table = run.one("grade", SCORES)
    assert run.data("grade", WIDGET)
    assert table["total"] == 8 and table["kind"] == "grade"
    assert card(table["summary"], "mean reward") == "0.5161"
    assert card(table["summary"], "pass rate") == "37.5%"
    assert card(table["summary"], "unscored") == "1"
    cells = [r["cells"] for r in table["rows"]]
    assert [c["reward"] for c in cells][:4] == [1.0, 0.0, 1.0, pytest.approx(0.1538, abs=1e-4)]
    assert cells[4]["output"] == "Jane Austen." and cells[4]["reward"] == 0.5
    assert cells[7]["status"] == "invalid_variable_error"
    assert "unscored 1 (invalid_variable_error 1)" in run.text("grade")

    assert "mean reward 0.516 · passed 3/8 · unscored 1" in run.text("to-pandas")

    exported = run.text("export")
    assert json.loads(exported) == QUALITY

    assert "reward: 0.5" in run.text("run-one")
    assert "sub_rewards: {'exact': 0.0, 'close': 1.0}" in run.text("run-one")
    assert "errors raised: none" in run.text("run-one")

    assert "bad field: operation" in run.text("validation-error")
    assert "did you mean 'ne'?" in run.text("validation-error")


# ---------------------------------------------------------------- 02 countdown


def check_countdown_offline_cells(run: Run) -> None:
    naive = run.one("grade-naive", SCORES)
    checked = run.one("grade-python", SCORES)
    trained = run.one("grade-reward", SCORES)
    assert naive["total"] == checked["total"] == trained["total"] == 50
    assert card(naive["summary"], "mean reward") == "1.0000"  # everything passes: the trap
    assert card(checked["summary"], "mean reward") == "0.2000"  # only the correct answers
    assert card(trained["summary"], "mean reward") == "0.2600"  # + 0.1 for the tags
    assert card(checked["summary"], "unscored") == "0"
    assert "grader 'countdown' registered: python" in run.text("define-python")

    by_kind = run.text("by-kind").split("\n")
    rows = {line.split()[0]: line.split()[1:] for line in by_kind[2:] if line.strip()}
    assert rows == {"correct": ["1.0", "1.0"], "slip": ["1.0", "0.0"],
                    "made_up": ["1.0", "0.0"], "no_tags": ["1.0", "0.0"],
                    "bluff": ["1.0", "0.0"]}

    assert "agreement 20% on 50 rows" in run.text("compare")
    comparison = run.one("compare", SCORES)
    assert comparison["kind"] == "compare" and comparison["total"] == 50

    naive_probe = run.text("probe-naive")
    assert "<ProbeReport probe of mentions_target: 10 rows" in naive_probe
    for kind in ("padded_reference", "answer_spam", "prompt_echo"):
        assert f"{kind:<17} RISKY" in naive_probe
    assert run.data("probe-naive", SCORES)
    reward_probe = run.text("probe-reward")
    assert "<ProbeReport probe of reward: 10 rows × 6 kinds · no risky degenerate output>" in \
        reward_probe
    assert "RISKY" not in reward_probe

    assert "grader 'judge' registered: score_model (gpt-4o-mini)" in run.text("define-judge")
    assert "judge: score_model" in run.text("define-judged")


@pytest.mark.timeout(120)
def test_02_countdown_without_an_endpoint_skips_the_judge(tmp_path):
    run = execute("02_countdown", tmp_path, cell_timeout=60)
    check_countdown_offline_cells(run)
    assert "score_model skipped: no OpenAI-compatible endpoint is configured" in \
        run.text("client")
    assert run.text("grade-judged").startswith("score_model skipped")
    assert run.data("grade-judged", SCORES) == []


@pytest.mark.timeout(120)
def test_02_countdown_with_an_endpoint_runs_the_judge(tmp_path):
    key = "sk-tutorial-0123456789abcdef"
    with ChatServer(api_key=key) as server:
        base_url = server.base_url
        run = execute("02_countdown", tmp_path, cell_timeout=60,
                      OPENAI_BASE_URL=base_url, OPENAI_API_KEY=key)
        chats = server.chat_requests
    check_countdown_offline_cells(run)
    assert f"judge endpoint: {base_url}" in run.text("client")
    assert key not in json.dumps(run.nb)  # never printed, never in an output

    # ten rows judged through the openai SDK: the judge said 0.5 (the server's default)
    assert len(chats) == 10 and {c.body["model"] for c in chats} == {"gpt-4o-mini"}
    prompts = sorted(c.body["messages"][-1]["content"] for c in chats)  # sent concurrently
    assert sum("Numbers: [18, 7, 14, 2]. Target: 162." in p for p in prompts) == 5
    assert sum("Numbers: [11, 23, 23, 15]. Target: 26." in p for p in prompts) == 5
    table = run.one("grade-judged", SCORES)
    assert table["total"] == 10
    rewards = [r["cells"]["reward"] for r in table["rows"]]
    # correct: 0.8 + 0.1 + 0.1 * 0.5; tagged but wrong: 0.1 + 0.05; no tags: 0.05
    assert rewards == pytest.approx([0.95, 0.15, 0.15, 0.05, 0.15] * 2)
    assert [r["cells"]["sub.judge"] for r in table["rows"]] == [0.5] * 10, table["rows"][0]
    usage = run.text("grade-judged")
    assert "gpt-4o-mini" in usage and "10" in usage


# ---------------------------------------------------------------- 03 data and jobs


def check_validation_and_replay(run: Run) -> None:
    assert "multi grader: 0.9 * correct + 0.1 * format" in run.text("grader")
    assert "train.jsonl 40 rows; valid.jsonl 10 rows" in run.text("write-files")
    assert run.text("validate-good") == "training file ok: True\nvalidation file ok: True\n"

    broken = run.text("validate-broken").splitlines()
    assert broken[0] == "ok: False, 5 errors, 3 warnings"
    expected = [
        ("line 1: warning: rows disagree on item key `traget`: 5 of 6 rows lack it"),
        ("line 2: warning: rows disagree on item key `target`: 1 of 6 rows lack it"),
        ("line 2: warning: python grader 'countdown' reads item['target'] (its line 17), which 1 "
         "of 6 rows lack (line 2)"),
        ("line 3: error: invalid JSON at column 270: Extra data (a trailing comma: JSONL rows "
         "are not separated by commas)"),
        "line 4: error: empty line between rows",
        "line 5: error: messages[1].role: the last message must have role 'user', not "
        "'assistant'",
        "line 6: error: messages[0].role: 'system' is not accepted in RFT data; use 'developer'",
        "line 7: error: messages: must be a list of messages, got a string",
    ]
    assert len(broken) == 1 + len(expected)
    for line, start in zip(broken[1:], expected):
        assert line.startswith(start), line

    # the replayed job: the monitor froze into its snapshot, in the cell that showed it
    assert run.data("replay", WIDGET) == []
    snap = run.one("replay", JOB)
    assert run.data("replay", "image/png")
    assert snap["source"] == "replay" and snap["status"] == "succeeded"
    assert snap["step"] == snap["total_steps"] == 60
    series = snap["series"]
    train = [v for _, v in series["train_reward_mean"]["points"]]
    assert len(train) == 60 and sum(train[-10:]) / 10 > sum(train[:10]) / 10 + 0.2
    assert [s for s, _ in series["valid_reward_mean"]["points"]] == [0, 10, 20, 30, 40, 50, 60]
    assert {"scores/graders/has7/train_reward_mean",
            "scores/graders/close/train_reward_mean"} <= set(series)
    assert [r["step"] for r in snap["eval_runs"]] == [0, 10, 20, 30, 40, 50, 60]
    assert sorted(c["step"] for c in snap["checkpoints"]) == [40, 50, 60]
    assert run.text("wait").startswith("status: succeeded\nJob(")
    assert "best checkpoint: ckpt-step-40 (valid reward 0.866)" in run.text("checkpoints")
    assert run.text("eval-runs").splitlines()[-1] == "step 60: valid reward 0.772 on 8 samples"
    assert run.outputs("clean-up") == []


@pytest.mark.timeout(120)
def test_03_data_and_jobs_without_an_account(tmp_path):
    run = execute("03_data_and_jobs", tmp_path, cell_timeout=60)
    check_validation_and_replay(run)
    assert run.text("create-job").startswith("No job created: this cell needs an Azure OpenAI")
    assert run.text("watch-created").startswith("No job to watch")


@pytest.mark.timeout(120)
def test_03_data_and_jobs_creates_a_job_with_an_account(tmp_path):
    """With Azure settings (here: the local fine-tuning server) and the switch on, the
    notebook's own cell validates, uploads both files and starts the RFT job."""
    key = "tutorial-azure-key-0123456789"
    with FtServer(api_key=key) as server:
        run = execute("03_data_and_jobs", tmp_path, cell_timeout=60,
                      AZURE_OPENAI_ENDPOINT=server.url, AZURE_OPENAI_API_KEY=key,
                      RFT_TUTORIAL_CREATE_JOB="1")
        uploads = server.received("/files", method="POST")
        created = server.received("/fine_tuning/jobs", method="POST")
        jobs = dict(server.jobs)
    check_validation_and_replay(run)
    assert [u.body["purpose"] for u in uploads] == ["fine-tune", "fine-tune"]
    assert len(created) == 1
    body = created[0].body
    grader = json.loads((NOTEBOOKS / "data" / "countdown_reward.json").read_text())
    assert body["model"] == "o4-mini-2025-04-16" and body["suffix"] == "countdown"
    assert body["method"] == {"type": "reinforcement", "reinforcement": {
        "grader": grader, "hyperparameters": {"n_epochs": 1, "eval_interval": 5}}}
    assert created[0].query["api-version"] == ["2025-04-01-preview"]
    job_id = next(iter(jobs))
    assert run.text("create-job") == f"created {job_id}: validating_files\n"
    assert run.data("watch-created", WIDGET) and run.data("watch-created", "text/html")
    assert key not in json.dumps(run.nb)


# ---------------------------------------------------------------- 04 local GRPO


@pytest.mark.slow
@pytest.mark.usefixtures("one_grpo_at_a_time")
@pytest.mark.timeout(300)
def test_04_local_grpo(tmp_path):
    run = execute("04_local_grpo", tmp_path, cell_timeout=240)

    tried = run.one("try-reward", SCORES)
    assert [r["cells"]["reward"] for r in tried["rows"]] == pytest.approx(
        [1.0, 0.8, 0.5818, 0.0], abs=1e-4)
    assert json.loads(run.text("export")) == SEVENS_GRADER

    # the monitor watched the run live, then froze into the snapshot of the finished job
    assert run.data("train", WIDGET) == []
    snap = run.one("train", JOB)
    assert run.data("train", "image/png")
    assert snap["source"] == "local" and snap["status"] == "succeeded"
    assert snap["step"] == snap["total_steps"] == 60
    series = snap["series"]
    train = [v for _, v in series["train_reward_mean"]["points"]]
    assert len(train) == 60
    first, last = sum(train[:10]) / 10, sum(train[-10:]) / 10
    print(f"04: train reward {first:.3f} -> {last:.3f}")
    assert last > first + 0.2
    valid = dict(map(tuple, series["valid_reward_mean"]["points"]))
    assert sorted(valid) == [0, 10, 20, 30, 40, 50, 60] and valid[60] > valid[0] + 0.2
    assert {"scores/graders/has7/train_reward_mean", "scores/graders/close/train_reward_mean",
            "completion_tokens_mean"} <= set(series)
    assert [r["step"] for r in snap["eval_runs"]] == [0, 10, 20, 30, 40, 50, 60]
    assert 1 <= len(snap["checkpoints"]) <= 3

    assert "the reward rises" in run.text("rises")
    assert run.text("finish").startswith("status: succeeded\nJob(local-")
    head, tail = run.text("metrics").split("\n")[0].split(": first 10 steps ")[1].split(" -> ")
    assert float(tail.split()[-1]) > float(head) + 0.2

    assert run.text("eval-run").startswith("step 0: ")
    best = run.text("best").splitlines()[0]
    assert best.startswith(f"{len(snap['checkpoints'])} checkpoints kept; best: step ")
    best_step = int(best.split("best: step ")[1].split(",")[0])
    assert best_step == max(snap["checkpoints"], key=lambda c: c["valid_reward_mean"])["step"]

    asked = run.one("inspect", SCORES)
    assert asked["total"] == 4
    assert "parameters" in run.text("inspect")
    assert float(card(asked["summary"], "mean reward")) > 0.4  # the checkpoint learned sevens
    assert run.outputs("clean-up") == []
