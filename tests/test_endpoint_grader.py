"""endpoint graders against a real local HTTP server."""

from __future__ import annotations

import time

import pytest
from servers.chat_server import ChatServer

import rft_jupyter as rft
from rft_jupyter.graders.endpoint import configure_endpoints, endpoint_settings

TOKEN = "endpoint-token-SECRET-42"


@pytest.fixture(scope="module")
def server():
    with ChatServer() as s:
        yield s


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()
    before = endpoint_settings()
    yield
    configure_endpoints(**before.__dict__)


def grader(server, **extra):
    spec = {
        "type": "endpoint",
        "name": "remote_check",
        "url": server.url + "/endpoint/score?code=QUERYSECRET",
        "headers": {"Authorization": f"Bearer {TOKEN}", "x-team": "graders"},
    }
    spec.update(extra)
    return spec


def test_score_and_request_shape(server):
    r = rft.run_grader(grader(server), '{"answer": 4}', {"score": 0.75, "question": "2+2"})
    assert r["reward"] == 0.75
    assert not any(r["metadata"]["errors"].values())
    (req,) = server.received("/endpoint/")
    assert req.query == {"code": ["QUERYSECRET"]}
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert req.headers["x-team"] == "graders"
    assert req.headers["content-type"] == "application/json"
    assert req.body["item"] == {"score": 0.75, "question": "2+2"}
    sample = req.body["sample"]
    assert sample["output_text"] == '{"answer": 4}'
    assert sample["output_json"] == {"answer": 4}
    assert sample["choices"][0]["message"]["content"] == '{"answer": 4}'


def test_scores_above_one_and_negative_are_kept(server):
    res = rft.grade(grader(server), [{"score": 5}, {"score": -1.5}], sample=lambda row: "x")
    assert [o.reward for o in res.outcomes] == [5.0, -1.5]


@pytest.mark.parametrize(
    "mode, words",
    [
        ("500", "HTTP 500: {\"error\": {\"message\": \"grader crashed"),
        ("404", "HTTP 404"),
        ("bad-json", "not JSON: <html>not json</html>"),
        ("no-score", 'expected {"score": <number>}, got {"value": 1}'),
        ("text-score", '{"score": "high"}'),
    ],
)
def test_failures_are_other_errors(server, mode, words):
    configure_endpoints(max_retries=1, backoff=0.05)
    r = rft.run_grader(grader(server), "x", {"mode": mode})
    assert r["reward"] == 0.0
    assert [k for k, v in r["metadata"]["errors"].items() if v] == ["other_error"]
    details = r["metadata"]["error_details"]
    assert words in details
    assert "QUERYSECRET" not in details and TOKEN not in details
    assert details.startswith(f"endpoint {server.url}/endpoint/score:")
    expected = 2 if mode == "500" else 1  # 5xx is retried, the rest is final
    assert len(server.received("/endpoint/")) == expected


@pytest.mark.parametrize("mode", ["500-once", "429-once"])
def test_transient_failures_are_retried(server, mode):
    configure_endpoints(max_retries=2, backoff=0.05)
    start = time.monotonic()
    r = rft.run_grader(grader(server), "x", {"mode": mode, "score": 0.4})
    assert r["reward"] == 0.4
    first, second = server.received("/endpoint/")
    assert second.status == 200
    if mode == "429-once":  # Retry-After: 1
        assert second.start - first.end >= 0.95 and time.monotonic() - start >= 1.0


def test_timeout_after_retries(server):
    configure_endpoints(timeout=0.2, max_retries=1, backoff=0.05)
    r = rft.run_grader(grader(server), "x", {"mode": "slow", "seconds": 1})
    assert r["metadata"]["errors"]["other_error"] is True
    assert "timed out after 0.2 s (after 1 retries)" in r["metadata"]["error_details"]
    assert len(server.received("/endpoint/")) == 2


def test_unreachable_endpoint():
    configure_endpoints(max_retries=0)
    spec = {"type": "endpoint", "name": "down", "url": "http://127.0.0.1:9/score"}
    r = rft.run_grader(spec, "x", {})
    assert r["reward"] == 0.0 and "connection failed" in r["metadata"]["error_details"]


def test_rate_limit_spaces_requests(server):
    res = rft.grade(
        grader(server, rate_limit=120), [{"score": i / 10} for i in range(4)], sample=lambda r: "x"
    )
    assert [o.reward for o in res.outcomes] == [0.0, 0.1, 0.2, 0.3]
    starts = sorted(r.start for r in server.received("/endpoint/"))
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    # 120 per minute: one every 0.5 s (seen from the server, give or take network jitter)
    assert len(gaps) == 3 and min(gaps) >= 0.45 and starts[-1] - starts[0] >= 1.45


def test_requests_run_concurrently_without_rate_limit(server):
    configure_endpoints(max_in_flight=16)
    rows = [{"mode": "slow", "seconds": 0.3, "score": 1, "i": i} for i in range(32)]
    start = time.monotonic()
    res = rft.grade(grader(server), rows, sample=lambda r: "x")
    assert all(o.reward == 1.0 for o in res.outcomes)
    assert time.monotonic() - start < 32 * 0.3 / 4
    spans = [(r.start, r.end) for r in server.received("/endpoint/")]
    peak = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    assert peak >= 12


def test_settings_are_checked():
    with pytest.raises(ValueError, match="unknown endpoint setting"):
        configure_endpoints(timeot=3)
    with pytest.raises(ValueError, match="max_in_flight"):
        configure_endpoints(max_in_flight=0)


def test_in_a_multigrader(server):
    multi = {
        "type": "multi",
        "name": "m",
        "graders": {
            "ep": grader(server),
            "exact": {"type": "string_check", "name": "exact", "input": "{{ sample.output_text }}",
                      "reference": "yes", "operation": "eq"},
        },
        "calculate_output": "ep + exact",
    }
    r = rft.run_grader(multi, "yes", {"score": 0.25})
    assert r["reward"] == 1.25 and r["sub_rewards"] == {"ep": 0.25, "exact": 1.0}
