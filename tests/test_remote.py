"""The service's grader endpoints (run / validate) and calibration, against a real local server
whose endpoints are served by rft's own local engine."""

from __future__ import annotations

import openai
import pytest
from servers.chat_server import ChatServer

import rft_jupyter as rft
from rft_jupyter.graders.calibration import (
    TEXT_METRICS,
    CalibrationReport,
    ProbeCase,
    calibrate,
    probe_cases,
)
from rft_jupyter.graders.remote import RemoteGraderError, run_remote, validate_remote

KEY = "sk-remote-SECRET-abcdef0123456789"

EXACT = {"type": "string_check", "name": "exact", "input": "{{ sample.output_text }}",
         "reference": "{{ item.answer }}", "operation": "eq"}
MULTI = {
    "type": "multi",
    "name": "combined",
    "graders": {
        "exact": EXACT,
        "sim": {"type": "text_similarity", "name": "sim", "input": "{{ sample.output_text }}",
                "reference": "{{ item.answer }}", "evaluation_metric": "fuzzy_match"},
    },
    "calculate_output": "0.5 * exact + 0.5 * sim",
}


@pytest.fixture(scope="module")
def server():
    with ChatServer(api_key=KEY) as s:
        yield s


@pytest.fixture(scope="module")
def deviant():
    with ChatServer(api_key=KEY, deviate={"rouge_l": 0.1}) as s:
        yield s


@pytest.fixture
def client(server):
    server.reset()
    return openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)


def test_run_remote_matches_local(server, client):
    remote = run_remote(client, EXACT, "Paris", {"answer": "Paris"})
    local = rft.run_grader(EXACT, "Paris", {"answer": "Paris"})
    assert remote["reward"] == local["reward"] == 1.0
    assert remote["metadata"]["errors"] == local["metadata"]["errors"]
    (req,) = server.received("/graders/run")
    assert req.path == "/v1/fine_tuning/alpha/graders/run"
    assert req.body == {"grader": EXACT, "model_sample": "Paris", "item": {"answer": "Paris"}}


def test_multigrader_goes_out_as_a_dict_of_named_graders(server, client):
    remote = run_remote(client, MULTI, "Paris", {"answer": "Paris"})
    assert remote["reward"] == 1.0
    assert remote["sub_rewards"] == {"exact": 1.0, "sim": 1.0}
    (req,) = server.received("/graders/run")
    assert req.body["grader"]["graders"] == MULTI["graders"]


def test_sample_dict_sends_its_output_text(server, client):
    run_remote(client, EXACT, {"output_text": "Lyon", "output_tools": []}, {"answer": "Paris"})
    (req,) = server.received("/graders/run")
    assert req.body["model_sample"] == "Lyon" and "item" in req.body


def test_validate_remote(server, client):
    assert validate_remote(client, MULTI) == {"grader": MULTI}
    bad = dict(EXACT, operation="neq")
    with pytest.raises(RemoteGraderError) as info:
        validate_remote(client, bad)
    message = str(info.value)
    assert info.value.status == 400
    assert "\n" not in message
    assert message.startswith("/fine_tuning/alpha/graders/validate: HTTP 400: ")
    assert "did you mean 'ne'" in message


def test_errors_are_one_line_and_keyless(server):
    wrong = openai.OpenAI(base_url=server.base_url, api_key="sk-wrong-key-000000", max_retries=0)
    with pytest.raises(RemoteGraderError) as info:
        run_remote(wrong, EXACT, "x")
    assert info.value.status == 401
    assert "Incorrect API key" in str(info.value) and "sk-wrong" not in str(info.value)
    down = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key=KEY, max_retries=0)
    with pytest.raises(RemoteGraderError) as info:
        run_remote(down, EXACT, "x")
    assert info.value.status is None and "connection failed" in str(info.value)
    assert "\n" not in str(info.value) and KEY not in str(info.value)


def test_async_client(server):
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
    assert run_remote(client, EXACT, "a", {"answer": "a"})["reward"] == 1.0


def test_probe_cases_cover_the_brief():
    names = [c.name for c in probe_cases()]
    assert len(names) == len(set(names))
    for metric in TEXT_METRICS:
        for label in ("empty_input", "empty_reference", "unicode", "punctuation", "case"):
            assert f"text_similarity/{metric}/{label}" in names
    for op in ("eq", "ne", "like", "ilike"):
        assert any(n.startswith(f"string_check/{op}_") for n in names)
    for label in ("bool", "null", "object", "nested_path", "sample_json_index",
                  "missing_variable"):
        assert f"templates/{label}" in names
    for label in ("precedence", "power_right_associative", "unary_minus_power",
                  "min_one_argument", "max_three_arguments", "division_by_zero"):
        assert f"multi/{label}" in names


def test_calibrate_agrees_with_a_faithful_service(client):
    report = calibrate(client)
    assert isinstance(report, CalibrationReport)
    assert report.ok, str(report)
    assert report.disagreements == []
    assert len(report) == len(probe_cases())
    frame = report.to_pandas()
    assert frame["agree"].all()
    assert {"local_reward", "remote_reward", "diff", "local_errors", "remote_errors"} <= set(
        frame.columns
    )
    assert frame.loc["multi/power_right_associative", "remote_reward"] == 512.0
    assert frame.loc["multi/unary_minus_power", "local_reward"] == -4.0
    assert frame.loc["multi/division_by_zero", "local_errors"] == "other_error"
    assert frame.loc["templates/missing_variable", "remote_errors"] == "invalid_variable_error"
    assert str(report).startswith(f"calibration: {len(report)} cases, {len(report)} agree")


def test_calibrate_reports_a_deviating_metric(deviant):
    client = openai.OpenAI(base_url=deviant.base_url, api_key=KEY, max_retries=0)
    report = calibrate(client)
    assert not report.ok
    bad = {r.case for r in report.disagreements}
    assert bad == {f"text_similarity/rouge_l/{label}" for label in (
        "plain", "identical", "empty_input", "empty_reference", "unicode", "punctuation",
        "case", "whitespace")}
    one = next(r for r in report.disagreements if r.case.endswith("/identical"))
    assert one.local_reward == 1.0 and one.diff == pytest.approx(0.1)
    assert "rouge_l/identical: local 1.0 vs remote 1.1" in str(report)
    frame = report.to_pandas()
    assert (~frame["agree"]).sum() == 8


def test_calibrate_custom_cases_and_refusals(client):
    cases = [
        ProbeCase("ok", EXACT, "a", {"answer": "a"}),
        ProbeCase("both_refuse", dict(EXACT, operation="nope"), "a", {"answer": "a"}),
    ]
    report = calibrate(client, cases)
    assert report.ok
    refused = report.results[1]
    assert refused.local_exception.startswith("GraderValidationError")
    assert "HTTP 400" in refused.remote_exception
