"""python graders through the engine: rewards, every kind of failure, warnings, multi graders.

These hold in every isolation mode; ``test_sandbox.py`` checks what each mode isolates.
"""

from __future__ import annotations

import math
import warnings

import pytest

import rft_jupyter as rft
from rft_jupyter.graders import sandbox
from rft_jupyter.graders.python_grader import PythonGrader, RftWarning
from rft_jupyter.graders.runners import compile_runner, runner_class
from rft_jupyter.graders.settings import using

SOURCE = r'''
import json, math, os, sys, time

def grade(sample, item):
    case = item.get("case", "match")
    if case == "match":
        return 1.0 if sample["output_text"] == item["answer"] else 0.0
    if case == "value":
        return item["value"]
    if case == "int":
        return int(item["n"]) * 2
    if case == "raise":
        print("about to fail")
        print("some error text", file=sys.stderr)
        return {}["missing"]
    if case == "nan":
        return float("nan")
    if case == "inf":
        return -math.inf
    if case == "bool":
        return True
    if case == "none":
        return None
    if case == "str":
        return "0.5"
    if case == "big_int":
        return 10 ** 400
    if case == "spin":
        while True:
            pass
    if case == "sleep":
        time.sleep(10 ** 6)
    if case == "exit":
        os._exit(3)
    if case == "sys_exit":
        sys.exit(2)
    if case == "segfault":
        import ctypes
        ctypes.string_at(0)
    if case == "kill_self":
        os.kill(os.getpid(), 9)
    if case == "kill_parent":
        os.kill(os.getppid(), 9)
        return 4.0
    if case == "huge_print":
        print("x" * (100 * 2 ** 20))
        return 1.5
    if case == "huge_print_fail":
        for _ in range(1000):
            print("line " * 2000)
        raise RuntimeError("after printing")
    if case == "numpy":
        import numpy as np
        return float(np.mean(item["values"]))
    if case == "numpy_int":
        import numpy as np
        return np.int64(3)
    if case == "sample_keys":
        return float(len(sample["choices"]) + (sample["output_json"] or {}).get("k", 0))
    raise ValueError(f"unknown case {case}")
'''
SPEC = {"type": "python", "name": "py", "source": SOURCE}


def ctx(case: str, output: str = "", **item) -> dict:
    sample = {"output_text": output, "output_json": None, "output_tools": [], "choices": []}
    return {"sample": sample, "item": {"case": case, **item}}


OK = ctx("value", value=2.5)


@pytest.fixture(scope="module")
def runner():
    """One worker (so a crash and the next sample meet in the same process), 10 s a sample."""
    with using(python_timeout=10):
        r = compile_runner(SPEC, options={"workers": 1})
    yield r
    r.close()


@pytest.fixture(scope="module")
def quick():
    """python_timeout=1.5 s, for the timeout tests."""
    with using(python_timeout=1.5):
        r = compile_runner(SPEC, options={"workers": 1})
    yield r
    r.close()


def runtime_error(outcome) -> str:
    assert outcome.reward == 0.0
    assert outcome.errors.get("python_grader_runtime_error") is True
    assert not outcome.errors.get("python_grader_server_error")
    return outcome.errors["python_grader_runtime_error_details"]


def test_registered_for_python():
    assert runner_class("python") is PythonGrader
    assert PythonGrader.process_pool_ok is False
    assert sandbox.isolation_mode() in sandbox.MODES


# ------------------------------------------------------------------------ rewards


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (ctx("match", "a", answer="a"), 1.0),
        (ctx("match", "a", answer="b"), 0.0),
        (ctx("int", n=3), 6.0),
        (ctx("value", value=7.25), 7.25),
        (ctx("value", value=-3), -3.0),
        (ctx("value", value=0), 0.0),
        (ctx("numpy", values=[1, 2, 3, 4]), 2.5),
    ],
)
def test_rewards(runner, case, expected):
    (outcome,) = runner.run_many([case])
    assert outcome.reward == expected and isinstance(outcome.reward, float)
    assert outcome.errors == {} and outcome.rendered == {}


def test_many_samples_in_order_over_several_workers():
    contexts = [ctx("value", value=i * 0.5) for i in range(3000)]
    contexts[1234] = ctx("exit")
    r = compile_runner(SPEC, options={"workers": 2})
    try:
        outcomes = r.run_many(contexts)
        again = r.run_many(contexts[:10])  # the workers are kept between calls
    finally:
        r.close()
    for i, outcome in enumerate(outcomes):
        if i == 1234:
            assert "status 3" in runtime_error(outcome)
        else:
            assert outcome.reward == i * 0.5 and not outcome.errors
    assert [o.reward for o in again] == [i * 0.5 for i in range(10)]


def test_sample_dict_reaches_grade_intact(runner):
    context = ctx("sample_keys")
    context["sample"]["choices"] = [{"index": 0}, {"index": 1}]
    context["sample"]["output_json"] = {"k": 40}
    assert runner.run_many([context])[0].reward == 42.0


# ------------------------------------------------------------------------ failures


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("nan", "grade returned nan, not a finite number"),
        ("inf", "grade returned -inf, not a finite number"),
        ("bool", "grade returned a bool (True)"),
        ("none", "grade returned None"),
        ("str", "grade returned str '0.5'"),
        ("big_int", "not a float"),
        ("numpy_int", "(numpy.int64); return float(...) instead"),
    ],
)
def test_invalid_returns(runner, case, reason):
    bad, good = runner.run_many([ctx(case), OK])
    assert reason in runtime_error(bad)
    assert reason in bad.details
    assert good.reward == 2.5 and not good.errors


def test_exception_has_traceback_and_output(runner):
    bad, good = runner.run_many([ctx("raise"), OK])
    details = runtime_error(bad)
    assert bad.details == "grade raised KeyError: 'missing'"
    assert details.startswith("Traceback (most recent call last):")
    assert 'File "grader.py", line 15, in grade' in details
    assert "KeyError: 'missing'" in details
    assert "about to fail" in details and "some error text" in details
    assert '"<string>"' not in details  # the sandbox's own frames are hidden
    assert good.reward == 2.5


def test_sys_exit_is_a_runtime_error(runner):
    bad, good = runner.run_many([ctx("sys_exit"), OK])
    assert bad.details == "grade called sys.exit(2)"
    runtime_error(bad)
    assert good.reward == 2.5


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("exit", "the grader process exited with status 3 (os._exit?)"),
        ("segfault", "killed by signal 11 (SIGSEGV: segmentation fault)"),
        ("kill_self", "killed by signal 9 (SIGKILL: out of memory, or killed?)"),
    ],
)
def test_crashes_replace_the_worker(runner, case, reason):
    started = runner._pool.started if runner._pool else 0
    outcomes = runner.run_many([OK, ctx(case), OK, ctx("value", value=1)])
    assert reason in runtime_error(outcomes[1])
    assert [outcomes[0].reward, outcomes[2].reward, outcomes[3].reward] == [2.5, 2.5, 1.0]
    assert runner._pool.started > started


def test_killing_the_parent_harms_nothing(runner):
    outcomes = runner.run_many([ctx("kill_parent"), OK])
    assert outcomes[1].reward == 2.5  # this process is alive, and so is the batch
    first = outcomes[0]
    assert first.reward == 4.0 or first.errors.get("python_grader_runtime_error")


@pytest.mark.parametrize("case", ["spin", "sleep"])
def test_timeouts(quick, case):
    bad, good = quick.run_many([ctx(case), OK])
    reason = runtime_error(bad)
    assert "timed out after 1.5 s" in reason or "CPU time" in reason
    assert good.reward == 2.5


def test_huge_print_neither_breaks_the_protocol_nor_memory(runner):
    printed, good = runner.run_many([ctx("huge_print"), OK])
    assert printed.reward == 1.5 and not printed.errors
    assert good.reward == 2.5
    bad, good = runner.run_many([ctx("huge_print_fail"), OK])
    details = runtime_error(bad)
    assert "characters cut" in details and len(details) < 20_000
    assert good.reward == 2.5


def test_unencodable_item_fails_alone(runner):
    bad = ctx("value", value=1.0)
    bad["item"]["blob"] = object()
    outcomes = runner.run_many([OK, bad, OK])
    assert "cannot be sent to the grader as JSON" in runtime_error(outcomes[1])
    assert outcomes[0].reward == outcomes[2].reward == 2.5


def test_numpy_values_in_items_are_sent():
    np = pytest.importorskip("numpy")
    r = compile_runner(SPEC, options={"workers": 1})
    try:
        context = ctx("numpy", values=np.array([1.0, 2.0]))
        assert r.run_one(context).reward == 1.5
    finally:
        r.close()


def test_module_level_error_fails_every_sample():
    spec = {"type": "python", "name": "m", "source": "x = 1 / 0\ndef grade(s, i):\n    return 1"}
    r = compile_runner(spec)
    try:
        outcomes = r.run_many([OK, OK, OK])
    finally:
        r.close()
    for outcome in outcomes:
        details = runtime_error(outcome)
        assert "ZeroDivisionError" in details and 'File "grader.py", line 1' in details


def test_missing_module_fails_with_its_name():
    spec = {"type": "python", "name": "m",
            "source": "import no_such_module_xyz\ndef grade(s, i):\n    return 1"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RftWarning)
        r = compile_runner(spec)
    try:
        (outcome,) = r.run_many([OK])
    finally:
        r.close()
    assert "No module named 'no_such_module_xyz'" in runtime_error(outcome)


# ------------------------------------------------------------------------ warnings


def test_warns_about_modules_missing_from_the_service_image():
    source = (
        "import os, json, numpy\nimport torch.nn as nn\nfrom transformers import pipeline\n"
        "def grade(sample, item):\n    return 1.0\n"
    )
    with pytest.warns(RftWarning) as caught:
        PythonGrader({"type": "python", "name": "x", "source": source}).close()
    messages = [str(w.message) for w in caught if "image" in str(w.message)]
    assert messages == [
        "python grader 'x' imports 'torch' and 'transformers', which the service's image "
        "(2025-05-08) does not have: it will fail there"
    ]
    assert caught[0].filename == __file__  # points at the caller, not at rft_jupyter


def test_no_warning_for_stdlib_and_image_packages():
    source = (
        "import os, re, json, math, numpy, scipy, sympy, pandas, rapidfuzz, sklearn, yaml\n"
        "from rouge_score import rouge_scorer\nimport nltk, jsonschema, pydantic, deepdiff\n"
        "def grade(sample, item):\n    return 1.0\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RftWarning)
        if sandbox.isolation_mode() == "python-only":
            warnings.filterwarnings("ignore", "python graders run WITHOUT", RftWarning)
        PythonGrader({"type": "python", "name": "x", "source": source}).close()


# ------------------------------------------------------------------------ through the engine


def test_run_grader_response():
    spec = {"type": "python", "name": "exact", "source": SOURCE}
    response = rft.run_grader(spec, "yes", {"case": "match", "answer": "yes"})
    assert response["reward"] == 1.0
    assert response["metadata"]["type"] == "python"
    assert response["metadata"]["errors"]["python_grader_runtime_error"] is False
    bad = rft.run_grader(spec, "yes", {"case": "raise"})
    errors = bad["metadata"]["errors"]
    assert bad["reward"] == 0.0 and errors["python_grader_runtime_error"] is True
    assert errors["python_grader_runtime_error_details"].startswith("Traceback")
    assert bad["metadata"]["error_details"] == "grade raised KeyError: 'missing'"


def test_grade_over_rows():
    rows = [{"output_text": str(i % 3), "answer": "1", "case": "match"} for i in range(600)]
    rows[5]["case"] = "none"
    result = rft.grade(SPEC, rows, progress=False)
    rewards = [o.reward for o in result.outcomes]
    assert rewards[:6] == [0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    assert sum(rewards) == 200.0  # row 5 ("2") would have scored 0 anyway
    assert result.outcomes[5].errors["python_grader_runtime_error"] is True


def test_inside_a_multi_grader():
    spec = {
        "type": "multi",
        "name": "mix",
        "graders": {
            "py": {"type": "python", "name": "py", "source": SOURCE},
            "exact": {
                "type": "string_check",
                "name": "exact",
                "input": "{{ sample.output_text }}",
                "reference": "{{ item.answer }}",
                "operation": "eq",
            },
        },
        "calculate_output": "0.5 * py + 0.5 * exact",
    }
    response = rft.run_grader(spec, "a", {"case": "value", "value": 3, "answer": "a"})
    assert response["reward"] == 2.0
    assert response["sub_rewards"] == {"py": 3.0, "exact": 1.0}
    rows = [
        {"output_text": "a", "answer": "a", "case": "value", "value": 1},
        {"output_text": "a", "answer": "b", "case": "raise"},
    ]
    result = rft.grade(spec, rows, progress=False)
    first, second = result.outcomes
    assert first.reward == 1.0
    assert second.reward == 0.0
    assert second.errors["python_grader_runtime_error"] is True
    assert "KeyError" in second.errors["python_grader_runtime_error_details"]


def test_server_error_when_no_sandbox_can_start(monkeypatch):
    from rft_jupyter.graders.sandbox import modes

    monkeypatch.setattr(modes, "bwrap_path", lambda: None)
    modes.reset()
    try:
        r = compile_runner(SPEC, options={"sandbox": "bubblewrap"})
        (outcome,) = r.run_many([OK])
        r.close()
    finally:
        modes.reset()
    assert outcome.reward == 0.0
    assert outcome.errors["python_grader_server_error"] is True
    assert outcome.errors["python_grader_server_error_type"] == "sandbox_unavailable"
    assert "bubblewrap is not installed" in outcome.details


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="is not one of bubblewrap, namespaces, python-only"):
        compile_runner(SPEC, options={"sandbox": "docker"})


def test_reward_is_finite_float(runner):
    (outcome,) = runner.run_many([ctx("value", value=1e308)])
    assert outcome.reward == 1e308 and math.isfinite(outcome.reward)


def test_a_forked_copy_leaves_the_parents_workers_alone(runner):
    import os

    assert runner.run_one(OK).reward == 2.5
    started = runner._pool.started
    pid = os.fork()
    if pid == 0:  # the child grades with workers of its own, then closes them
        code = 0 if runner.run_one(OK).reward == 2.5 else 1
        runner.close()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert runner.run_one(OK).reward == 2.5 and runner._pool.started == started
