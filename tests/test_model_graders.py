"""score_model / label_model against a real local HTTP server spoken to by the real openai SDK."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import warnings

import openai
import pytest
from servers.chat_server import ChatServer

import rft_jupyter as rft
from rft_jupyter.graders import model_client
from rft_jupyter.graders.errors import MetricUnavailableError
from rft_jupyter.graders.model_client import configure_client, usage
from rft_jupyter.graders.outcome import ERROR_KEYS
from rft_jupyter.graders.warnings import RftWarning

KEY = "sk-test-VERYSECRET-0123456789abcdef"
ENV_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "OPENAI_API_VERSION",
)


@pytest.fixture(scope="module")
def server():
    with ChatServer(api_key=KEY) as s:
        yield s


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, server):
    """No credentials from the environment, a private cache dir, a fresh tally."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model_client.reset_client()
    model_client.reset_usage()
    server.reset()
    yield
    model_client.reset_client()
    model_client.reset_usage()


def configure(server, tmp_path, **kw):
    kw.setdefault("max_retries", 2)
    return configure_client(base_url=server.base_url, api_key=KEY, cache_dir=tmp_path / "c", **kw)


def judge(prompt="Grade {{ sample.output_text }} against {{ item.reference }}. RESULT:{{ item.r }}",
          **extra):
    spec = {
        "type": "score_model",
        "name": "judge",
        "model": "gpt-4o",
        "input": [
            {"role": "developer", "content": "You grade answers."},
            {"role": "user", "content": prompt},
        ],
    }
    spec.update(extra)
    return spec


def flags(response):
    return {k for k, v in response["metadata"]["errors"].items() if v}


# ---------------------------------------------------------------- the request and the reward


def test_score_model_request_and_response(server, tmp_path):
    configure(server, tmp_path)
    spec = judge(
        range=[0, 5],
        sampling_params={
            "max_completions_tokens": 300,
            "seed": 7,
            "temperature": 0.2,
            "top_p": 0.9,
            "reasoning_effort": "low",
        },
    )
    r = rft.run_grader(spec, "Paris", {"reference": "Paris", "r": 4})
    assert r["reward"] == 4.0
    assert flags(r) == set()
    assert set(r["metadata"]["errors"]) == set(ERROR_KEYS)
    assert r["metadata"]["sampled_model_name"] == "gpt-4o-2024-08-06"
    usage_row = r["model_grader_token_usage_per_model"]["gpt-4o"]
    assert set(usage_row) == {"prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens"}
    assert r["metadata"]["token_usage"] == usage_row
    assert usage_row["cached_tokens"] == 3
    assert "Applied the rubric" in r["metadata"]["error_details"]

    (req,) = server.chat_requests
    body = req.body
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert KEY.encode() not in req.raw
    assert body["model"] == "gpt-4o"
    assert body["messages"] == [
        {"role": "developer", "content": "You grade answers."},
        {"role": "user", "content": "Grade Paris against Paris. RESULT:4"},
    ]
    assert body["max_completion_tokens"] == 300
    assert "max_completions_tokens" not in body
    assert (body["seed"], body["temperature"], body["top_p"]) == (7, 0.2, 0.9)
    assert body["reasoning_effort"] == "low"
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == ["steps", "result"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["result"]["type"] == "number"
    step = schema["properties"]["steps"]["items"]
    assert set(step["properties"]) == {"description", "conclusion"}
    assert step["additionalProperties"] is False


@pytest.mark.parametrize(
    "grader_range, result, reward",
    [
        (None, 0.25, 0.25),
        (None, 1.7, 1.0),
        (None, -0.5, 0.0),
        ([0, 5], 7, 5.0),
        ([0, 5], 3.5, 3.5),
        ([0, 5], -3, 0.0),
        ([-1, 1], -3, -1.0),
        ([-1, 1], -0.5, -0.5),
        ([-10, -2], 0, -2.0),
    ],
)
def test_reward_is_clamped_to_range(server, tmp_path, grader_range, result, reward):
    configure(server, tmp_path)
    spec = judge() if grader_range is None else judge(range=grader_range)
    r = rft.run_grader(spec, "x", {"reference": "y", "r": result})
    assert r["reward"] == reward
    assert r["metadata"]["scores"]["result"] == result
    assert flags(r) == set()


def test_rendered_messages_with_content_parts(server, tmp_path):
    configure(server, tmp_path)
    spec = judge()
    spec["input"] = [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Q: {{ item.q }} A: {{ sample.output_json.a[1] }}"},
                {"type": "input_image", "image_url": "{{ item.img }}", "detail": "low"},
            ],
        },
        {"role": "assistant", "content": {"type": "output_text", "text": "noted {{item.n}}"}},
    ]
    res = rft.grade(
        spec,
        [{"q": "2+2?", "img": "https://example.com/x.png", "n": [1, None],
          "output_text": '{"a": [3, 4]}'}],
    )
    outcome = res.outcomes[0]
    assert outcome.error is None
    assert outcome.rendered == {
        "input[0][0]": "Q: 2+2? A: 4",
        "input[0][1]": "https://example.com/x.png",
        "input[1][0]": "noted [1, null]",
    }
    (req,) = server.chat_requests
    assert req.body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Q: 2+2? A: 4"},
                {"type": "image_url", "image_url": {"url": "https://example.com/x.png",
                                                    "detail": "low"}},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "noted [1, null]"}]},
    ]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "scenario, flag, words",
    [
        ("refusal", "model_grader_refusal_error", "refused"),
        ("malformed", "model_grader_parse_error", "not JSON"),
        ("nonnumeric", "model_grader_parse_error", "not a number"),
        ("noresult", "model_grader_parse_error", "no `result`"),
        ("length", "model_grader_parse_error", "max_completions_tokens"),
        ("400", "model_grader_server_error", "HTTP 400"),
    ],
)
def test_model_errors(server, tmp_path, scenario, flag, words):
    configure(server, tmp_path)
    r = rft.run_grader(judge(), "x", {"reference": "y", "r": f"1 SCENARIO:{scenario}"})
    assert r["reward"] == 0.0
    assert flag in flags(r)
    assert words in r["metadata"]["error_details"]
    if flag == "model_grader_server_error":
        assert "HTTP 400" in r["metadata"]["errors"]["model_grader_server_error_details"]
        assert len(server.chat_requests) == 1  # a 400 is not retried
    else:  # the model answered: its tokens count
        assert r["model_grader_token_usage_per_model"]["gpt-4o"]["prompt_tokens"] > 0


def test_fenced_json_is_accepted(server, tmp_path):
    configure(server, tmp_path)
    r = rft.run_grader(judge(), "x", {"reference": "y", "r": "0.75 SCENARIO:fenced"})
    assert r["reward"] == 0.75 and flags(r) == set()


def test_missing_variable_sends_no_request(server, tmp_path):
    configure(server, tmp_path)
    res = rft.grade(judge(), [{"reference": "a", "r": 1, "output_text": "x"},
                              {"r": 1, "output_text": "y"}])
    assert [o.error for o in res.outcomes] == [None, "invalid_variable_error"]
    assert "item.reference" in res.outcomes[1].details
    assert len(server.chat_requests) == 1


def test_server_error_after_retries(server, tmp_path):
    configure(server, tmp_path, max_retries=1)
    r = rft.run_grader(judge(), "x", {"reference": "y", "r": "1 SCENARIO:500-always"})
    assert r["reward"] == 0.0
    assert flags(r) == {"model_grader_server_error", "model_grader_server_error_details"}
    details = r["metadata"]["errors"]["model_grader_server_error_details"]
    assert details.startswith("HTTP 500") and "on fire" in details
    assert len(server.chat_requests) == 2  # the first try and one retry
    assert usage().to_dict()["gpt-4o"]["errors"] == 1


def test_timeout_is_a_server_error(server, tmp_path):
    configure(server, tmp_path, max_retries=0, timeout=0.3)
    start = time.monotonic()
    r = rft.run_grader(judge(), "x", {"reference": "y", "r": "1 SCENARIO:slow:2"})
    assert time.monotonic() - start < 1.5
    assert "model_grader_server_error" in flags(r)
    assert "timed out" in r["metadata"]["errors"]["model_grader_server_error_details"]


def test_dropped_connection_forever(server, tmp_path):
    configure(server, tmp_path, max_retries=1)
    r = rft.run_grader(judge(), "x", {"reference": "y", "r": "1 SCENARIO:drop-always"})
    assert "connection failed" in r["metadata"]["errors"]["model_grader_server_error_details"]
    assert len(server.chat_requests) == 2


# ---------------------------------------------------------------- retries


def _two_tries(server):
    first, second = server.chat_requests
    return first, second, second.start - first.end


def test_429_retry_after_is_honoured(server, tmp_path):
    configure(server, tmp_path)
    start = time.monotonic()
    r = rft.run_grader(judge(), "x", {"reference": "y", "r": "0.9 SCENARIO:429-once"})
    elapsed = time.monotonic() - start
    assert r["reward"] == 0.9 and flags(r) == set()
    first, second, gap = _two_tries(server)
    assert (first.status, second.status) == (429, 200)
    assert gap >= 0.95 and elapsed >= 1.0  # Retry-After: 1


def test_429_retry_after_ms_is_honoured(server, tmp_path):
    configure(server, tmp_path)
    r = rft.run_grader(judge(), "x", {"reference": "y", "r": "0.9 SCENARIO:429ms-once"})
    assert r["reward"] == 0.9
    first, second, gap = _two_tries(server)
    assert first.status == 429 and gap >= 0.28  # retry-after-ms: 300


@pytest.mark.parametrize("scenario, status", [("500-once", 500), ("drop-once", -1)])
def test_transient_failures_are_retried(server, tmp_path, scenario, status):
    configure(server, tmp_path)
    r = rft.run_grader(judge(), "x", {"reference": "y", "r": f"0.6 SCENARIO:{scenario}"})
    assert r["reward"] == 0.6 and flags(r) == set()
    first, second, gap = _two_tries(server)
    assert (first.status, second.status) == (status, 200)
    assert gap >= 0.3  # exponential backoff: 0.5 s minus up to 25% jitter


# ---------------------------------------------------------------- concurrency


def test_requests_run_concurrently(server, tmp_path):
    configure(server, tmp_path, max_in_flight=16)
    rows = [{"reference": "y", "r": f"0.{i % 10} SCENARIO:slow:0.3 #{i}", "output_text": "x"}
            for i in range(40)]
    start = time.monotonic()
    res = rft.grade(judge(), rows)
    elapsed = time.monotonic() - start
    assert [o.reward for o in res.outcomes] == [(i % 10) / 10 for i in range(40)]
    assert server.max_in_flight == 16
    assert elapsed < 40 * 0.3 / 4  # far from sequential (12 s)


def run_in_fresh_loop(coro):
    """``asyncio.run`` in a thread of its own, as a kernel's loop would be: immune to a loop that
    another test (Playwright's sync API) left running in the main thread."""
    out: dict = {}

    def target():
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(120)
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_works_inside_a_running_event_loop(server, tmp_path):
    configure(server, tmp_path)

    async def notebook_cell():
        await asyncio.sleep(0)
        return rft.run_grader(judge(), "x", {"reference": "y", "r": 0.3})

    assert run_in_fresh_loop(notebook_cell())["reward"] == 0.3


def test_per_call_async_client(server, tmp_path):
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key=KEY, max_retries=1)

    async def notebook_cell():
        rows = [{"reference": "y", "r": i / 10, "output_text": "x"} for i in range(5)]
        return rft.grade(judge(), rows, client=client)

    res = run_in_fresh_loop(notebook_cell())
    assert [o.reward for o in res.outcomes] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert len(server.chat_requests) == 5


# ---------------------------------------------------------------- clients


def test_per_call_sync_client_without_session_config(server):
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY)
    r = rft.run_grader(judge(), "x", {"reference": "y", "r": 0.4}, client=client)
    assert r["reward"] == 0.4


def test_azure_client(server, tmp_path):
    configure_client(
        azure_endpoint=server.url,
        azure_deployment="judge-deployment",
        api_version="2025-04-01-preview",
        api_key=KEY,
        cache_dir=tmp_path / "c",
    )
    r = rft.run_grader(judge(), "x", {"reference": "y", "r": 0.7})
    assert r["reward"] == 0.7
    (req,) = server.chat_requests
    assert req.path == "/openai/deployments/judge-deployment/chat/completions"
    assert req.query["api-version"] == ["2025-04-01-preview"]
    assert req.headers["api-key"] == KEY


def test_environment_credentials(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    assert rft.run_grader(judge(), "x", {"reference": "y", "r": 0.2})["reward"] == 0.2


def test_no_configuration_is_a_clear_error_at_compile_time():
    with pytest.raises(MetricUnavailableError) as info:
        rft.grade(judge(), [{"reference": "y", "r": 1, "output_text": "x"}])
    message = str(info.value)
    assert "\n" not in message
    assert "configure_client" in message and "OPENAI_API_KEY" in message
    with pytest.raises(MetricUnavailableError):
        rft.run_grader(judge(), "x", {"reference": "y", "r": 1})


def test_model_name_is_not_checked(server, tmp_path, recwarn):
    configure(server, tmp_path)
    spec = judge(model="my-local-llama")
    assert rft.run_grader(spec, "x", {"reference": "y", "r": 1})["reward"] == 1.0
    assert not [w for w in recwarn if issubclass(w.category, RftWarning)]


# ---------------------------------------------------------------- label_model


def labeler():
    return {
        "type": "label_model",
        "name": "sentiment",
        "model": "gpt-4o-mini",
        "input": [{"role": "user", "content": "Classify: {{ sample.output_text }}"}],
        "labels": ["positive", "neutral", "negative"],
        "passing_labels": ["positive", "neutral"],
    }


def test_label_model(server, tmp_path):
    configure(server, tmp_path)
    with pytest.warns(RftWarning, match="evals only"):
        res = rft.grade(
            labeler(),
            [{"output_text": t} for t in ("great LABEL:positive", "meh LABEL:neutral",
                                           "awful LABEL:negative", "odd LABEL:unknown")],
        )
    assert [o.reward for o in res.outcomes] == [1.0, 1.0, 0.0, 0.0]
    assert [o.error for o in res.outcomes] == [None, None, None, "model_grader_parse_error"]
    assert res.outcomes[2].scores["result"] == "negative"
    result_schema = server.chat_requests[0].body["response_format"]["json_schema"]["schema"]
    assert result_schema["properties"]["result"] == {
        "type": "string", "enum": ["positive", "neutral", "negative"]
    }


# ---------------------------------------------------------------- cache


def test_cache_makes_reruns_free(server, tmp_path):
    config = configure(server, tmp_path)
    assert config.cache.path.parent == tmp_path / "c"
    rows = [{"reference": "y", "r": i / 10, "output_text": f"answer {i}"} for i in range(6)]
    first = rft.grade(judge(), rows)
    assert len(server.chat_requests) == 6
    assert not any(o.scores.get("cached") for o in first.outcomes)

    again = rft.grade(judge(), rows)
    assert len(server.chat_requests) == 6  # nothing sent
    assert [o.reward for o in again.outcomes] == [o.reward for o in first.outcomes]
    assert all(o.scores["cached"] for o in again.outcomes)
    assert again.outcomes[0].token_usage == first.outcomes[0].token_usage

    rows[2]["output_text"] = "a changed answer"
    rft.grade(judge(), rows)
    assert len(server.chat_requests) == 7  # only the changed prompt

    rft.grade(judge(sampling_params={"temperature": 0.5}), rows[:2])
    assert len(server.chat_requests) == 9  # other sampling parameters, other requests

    u = usage().to_dict()["gpt-4o"]
    assert (u["requests"], u["cached"]) == (9, 11)


def test_cache_off_and_relocated(server, tmp_path):
    rows = [{"reference": "y", "r": 0.5, "output_text": "same"}]
    configure(server, tmp_path, cache=False)
    rft.grade(judge(), rows)
    rft.grade(judge(), rows)
    assert len(server.chat_requests) == 2
    configure_client(base_url=server.base_url, api_key=KEY, cache_dir=tmp_path / "elsewhere")
    rft.grade(judge(), rows)
    rft.grade(judge(), rows)
    assert len(server.chat_requests) == 3
    assert (tmp_path / "elsewhere" / "calls.sqlite3").exists()


def test_identical_requests_in_one_batch_are_sent_once(server, tmp_path):
    configure(server, tmp_path)
    res = rft.grade(judge(), [{"reference": "y", "r": 0.8, "output_text": "dup"}] * 5)
    assert [o.reward for o in res.outcomes] == [0.8] * 5
    assert len(server.chat_requests) == 1
    u = usage().to_dict()["gpt-4o"]
    assert (u["requests"], u["cached"]) == (1, 4)


def test_default_cache_location(server, tmp_path):
    configure_client(base_url=server.base_url, api_key=KEY)
    rft.run_grader(judge(), "x", {"reference": "y", "r": 0.1})
    assert model_client.cache_path() == (
        tmp_path / "xdg" / "rft-jupyter" / "model-calls" / "calls.sqlite3"
    )
    assert model_client.cache_path().exists()


# ---------------------------------------------------------------- usage and cost


def test_usage_and_cost_tally(server, tmp_path):
    configure(server, tmp_path, prices={"gpt-4o": {"input": 2.5, "output": 10.0,
                                                    "cached_input": 1.25}})
    rows = [{"reference": "y", "r": i / 10, "output_text": f"a{i}"} for i in range(3)]
    res = rft.grade(judge(), rows)
    rft.grade(judge(), rows)  # cached: no cost
    totals = {k: sum(o.token_usage["gpt-4o"][k] for o in res.outcomes)
              for k in ("prompt_tokens", "completion_tokens", "cached_tokens")}
    u = usage().to_dict()["gpt-4o"]
    assert u["requests"] == 3 and u["cached"] == 3 and u["errors"] == 0
    for k, v in totals.items():
        assert u[k] == v
    expected = ((totals["prompt_tokens"] - totals["cached_tokens"]) * 2.5
                + totals["cached_tokens"] * 1.25 + totals["completion_tokens"] * 10.0) / 1e6
    assert math.isclose(u["cost_usd"], expected)
    assert math.isclose(usage().total_cost, expected)
    frame = usage().to_pandas()
    assert list(frame.index) == ["gpt-4o"] and frame.loc["gpt-4o", "requests"] == 3
    assert "gpt-4o: 3 requests, 3 from the cache, 0 errors" in str(usage())


def test_cost_unknown_without_prices(server, tmp_path):
    configure(server, tmp_path)
    rft.run_grader(judge(), "x", {"reference": "y", "r": 0.1})
    assert usage().to_dict()["gpt-4o"]["cost_usd"] is None
    assert usage().total_cost is None
    assert "cost unknown" in str(usage())


# ---------------------------------------------------------------- the key stays secret


def test_key_never_leaks(server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    config = configure(server, tmp_path, max_retries=0)
    texts = [repr(config), str(config)]
    rows = [{"reference": "y", "r": f"1 SCENARIO:{s}", "output_text": "x"}
            for s in ("leak", "500-always", "refusal", "none")]
    res = rft.grade(judge(), rows)
    assert res.outcomes[0].error == "model_grader_server_error"
    assert "***" in res.outcomes[0].details  # the server echoed the key; we masked it
    for outcome in res.outcomes:
        texts.append(json.dumps(rft.graders.outcome.run_response(outcome, "j", "score_model", 0)))
    texts.append(str(usage()))
    assert "Sending HTTP Request" in caplog.text  # the SDK's debug log was captured
    texts.append(caplog.text)
    try:
        configure_client(azure_deployment="x", api_key=KEY)
    except MetricUnavailableError as exc:
        texts.append(str(exc))
    joined = "\n".join(texts)
    assert KEY not in joined
    assert KEY[8:20] not in joined
    assert KEY.encode() not in (tmp_path / "c" / "calls.sqlite3").read_bytes()
    assert "max_in_flight=16" in repr(config) and server.base_url in repr(config)


# ---------------------------------------------------------------- inside a multigrader


def test_multigrader_with_score_model(server, tmp_path):
    configure(server, tmp_path)
    multi = {
        "type": "multi",
        "name": "combined",
        "graders": {
            "exact": {"type": "string_check", "name": "exact", "input": "{{ sample.output_text }}",
                      "reference": "{{ item.reference }}", "operation": "eq"},
            "judge": judge(range=[0, 10]),
        },
        "calculate_output": "0.5 * exact + 0.05 * judge",
    }
    rows = [
        {"reference": "Paris", "r": 8, "output_text": "Paris"},
        {"reference": "Paris", "r": 4, "output_text": "Lyon"},
        {"reference": "Paris", "r": "2 SCENARIO:refusal", "output_text": "Paris"},
    ]
    res = rft.grade(multi, rows)
    assert [o.reward for o in res.outcomes] == pytest.approx([0.9, 0.2, 0.5])
    assert res.outcomes[0].sub_rewards == {"exact": 1.0, "judge": 8.0}
    assert res.outcomes[2].errors.get("model_grader_refusal_error") is True
    assert "gpt-4o" in res.outcomes[0].token_usage
    frame = res.to_pandas()
    assert list(frame["sub.judge"]) == [8.0, 4.0, 0.0]


def test_unlisted_model_warns_only_for_the_openai_service(tmp_path):
    from rft_jupyter.graders.runners import compile_runner
    from rft_jupyter.graders.spec import load_grader

    configure_client(api_key=KEY, cache_dir=tmp_path / "c")  # api.openai.com: nothing is sent
    with pytest.warns(RftWarning, match="not in the service's list"):
        compile_runner(load_grader(judge(model="my-finetune")))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RftWarning)
        compile_runner(load_grader(judge(model="o4-mini-2025-04-16")))


def test_own_client_with_session_settings(server, tmp_path):
    mine = openai.OpenAI(base_url=server.base_url, api_key=KEY)
    config = configure_client(mine, max_retries=1, timeout=5, max_in_flight=20,
                              cache_dir=tmp_path / "c")
    assert (config.client.max_retries, config.max_in_flight) == (1, 20)
    assert rft.run_grader(judge(), "x", {"reference": "y", "r": 0.9})["reward"] == 0.9
    with pytest.raises(ValueError, match="max_in_flight"):
        configure_client(mine, max_in_flight=0)
