"""The labextension from the Python side: its grader templates are valid %%grader cells, its
unit-test payloads come from the real code, and the wheel carries a prebuilt extension that a
fresh venv (no Node on PATH) lists as enabled and OK."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from IPython.testing.globalipapp import start_ipython

ROOT = Path(__file__).resolve().parents[1]
LABEXT = ROOT / "labextension"
TEMPLATES = json.loads((LABEXT / "src" / "grader_templates.json").read_text())
GRADER_TYPES = ("string_check", "text_similarity", "score_model", "label_model", "python",
                "endpoint", "multi")


@pytest.fixture(scope="module")
def shell():
    ip = start_ipython()
    ip.run_line_magic("load_ext", "rft_jupyter")
    return ip


def test_there_is_a_template_for_every_grader_type():
    assert tuple(TEMPLATES) == GRADER_TYPES
    for kind, template in TEMPLATES.items():
        assert template["label"].startswith(f"{kind}: ")
        assert template["source"].startswith("%%grader ")


@pytest.mark.parametrize("kind", GRADER_TYPES)
def test_each_template_is_a_valid_grader_cell(shell, kind):
    header, _, body = TEMPLATES[kind]["source"].partition("\n")
    name = header.split()[1]
    result = shell.run_cell(TEMPLATES[kind]["source"])
    assert result.error_in_exec is None and result.error_before_exec is None, result
    shell.run_line_magic("rft", f"export {name} --copy exported")
    spec = shell.user_ns["exported"]
    assert spec["type"] == kind and spec["name"] == name
    assert "{{ sample.output_text }}" in body or kind in ("python", "endpoint")


def test_payloads_for_the_typescript_tests_come_from_the_real_code(tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import labext_payloads
    finally:
        sys.path.pop(0)
    written = labext_payloads.write_all(tmp_path)
    scores = json.loads(written[0].read_text())["application/vnd.rft-jupyter.scores+json"]
    assert scores["total"] == len(scores["rows"]) == 12
    assert any(r["cells"]["status"] == "invalid_variable_error" for r in scores["rows"])
    job = json.loads(written[2].read_text())["application/vnd.rft-jupyter.job+json"]
    groups = {s["group"] for s in job["series"].values()}
    assert {"reward", "graders", "tokens"} <= groups
    assert job["eval_runs"][0]["samples"] and job["checkpoints"][0]["step"] == 5


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.mark.slow
def test_the_wheel_carries_a_prebuilt_extension_that_works_without_node(tmp_path):
    built = ROOT / "rft_jupyter" / "labextension" / "static" / "style.js"
    assert built.exists(), "the labextension is not built: run make install"
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    (wheel,) = dist.glob("rft_jupyter-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    share = "rft_jupyter-0.1.0.data/data/share/jupyter/labextensions/rft-jupyter/"
    for rel in ("package.json", "install.json", "static/style.js",
                "schemas/rft-jupyter/plugin.json"):
        assert share + rel in names, f"{rel} missing from {wheel.name}"
    assert any(n.startswith(share + "static/remoteEntry.") for n in names)
    assert not any("node_modules" in n or n.endswith(".ts") for n in names)

    venv = tmp_path / "fresh"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel), "jupyterlab"],
        capture_output=True, text=True, timeout=900,
    )
    assert pip.returncode == 0, pip.stderr[-2000:]
    # No Node on PATH: only the fresh venv's own scripts.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "VIRTUAL_ENV"))}
    env["PATH"] = str(venv / "bin")
    listed = subprocess.run([str(venv / "bin" / "jupyter"), "labextension", "list"],
                            capture_output=True, text=True, env=env, timeout=120)
    out = _strip_ansi(listed.stdout + listed.stderr)
    assert re.search(r"rft-jupyter v0\.1\.0 enabled\s+OK \(python, rft-jupyter\)", out), out
    assert str(venv) in out
