"""The model client against a real OpenAI-compatible HTTP server, with the real SDK."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from prometheus_client import REGISTRY

from sippy.ai.client import CallRecord, Completion, ModelClient, ModelError
from sippy.settings import Settings, build_settings
from tests.fakes.openai_server import (
    DEFAULT_REPLY,
    FakeOpenAI,
    count_tokens,
    pieces,
    prompt_tokens,
)
from tests.helpers import free_port

T = TypeVar("T")
KEY = "sk-test-0123456789abcdef-very-secret"
MESSAGES = [
    {"role": "system", "content": "You explain why an OpenShift CI job run failed."},
    {"role": "user", "content": "Job run 1234: install failed; bootstrap timed out."},
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeOpenAI) -> FakeOpenAI:
    server.reset()
    return server


def settings_for(endpoint: str, **overrides: Any) -> Settings:
    """Small limits so failures are quick; the key only when a test asks for it."""
    values: dict[str, Any] = {
        "ai_endpoint": endpoint,
        "ai_timeout": 3.0,
        "ai_connect_timeout": 1.0,
        "ai_api_key": None,
    } | overrides
    settings = build_settings(**values)
    if overrides.get("ai_api_key") is None:
        settings.ai_api_key = None  # ignore an OPENAI_API_KEY in the environment
    return settings


def run_with(
    settings: Settings,
    body: Callable[[ModelClient], Awaitable[T]],
    *,
    on_call: Callable[[CallRecord], None] | None = None,
) -> T:
    """Run `body(client)` in a fresh loop with a fresh client, closed afterwards."""

    async def main() -> T:
        client = ModelClient(settings, on_call=on_call, backoff_base=0.01)
        try:
            return await body(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def complete(settings: Settings, **kw: Any) -> Completion:
    return run_with(settings, lambda client: client.complete(MESSAGES), **kw)


def fails(settings: Settings, **kw: Any) -> ModelError:
    with pytest.raises(ModelError) as info:
        complete(settings, **kw)
    return info.value


def stream(settings: Settings, got: list[str] | None = None, **kw: Any) -> list[str]:
    got = [] if got is None else got

    async def body(client: ModelClient) -> list[str]:
        async for delta in client.stream(MESSAGES):
            got.append(delta)
        return got

    return run_with(settings, body, **kw)


# --- requests ------------------------------------------------------------------------------


def test_request_carries_model_messages_and_limits_and_no_auth(fake: FakeOpenAI) -> None:
    complete(settings_for(fake.base_url, ai_model="granite-3", ai_max_tokens=123))
    (request,) = fake.chat_requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "granite-3"
    assert request.body["messages"] == MESSAGES
    assert request.body["max_tokens"] == 123
    assert "max_completion_tokens" not in request.body
    assert request.body["temperature"] == pytest.approx(0.1)
    assert not request.body.get("stream")
    assert "authorization" not in request.headers


def test_bearer_header_only_with_a_key(fake: FakeOpenAI) -> None:
    complete(settings_for(fake.base_url, ai_api_key=KEY))
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("slash", ["", "/"])
def test_endpoint_with_or_without_trailing_slash(fake: FakeOpenAI, slash: str) -> None:
    complete(settings_for(fake.base_url + slash))
    assert fake.chat_requests[-1].path == "/v1/chat/completions"


def test_success_returns_stripped_text_usage_and_attempts(fake: FakeOpenAI) -> None:
    fake.reply = "  The etcd operator degraded.\n\n"
    result = complete(settings_for(fake.base_url))
    assert result.text == "The etcd operator degraded."
    assert result.model == "fake-model"
    assert result.usage.prompt_tokens == prompt_tokens(MESSAGES)
    assert result.usage.completion_tokens == count_tokens(fake.reply)
    assert result.attempts == 1
    assert 0 < result.duration < 3


def test_construction_needs_an_endpoint_and_does_not_connect() -> None:
    with pytest.raises(ValueError):
        ModelClient(build_settings(ai_endpoint=None))
    client = ModelClient(settings_for(f"http://127.0.0.1:{free_port()}/v1"))  # no loop, no I/O
    assert client.in_flight == 0 and client.waiting == 0


# --- retries and failures ------------------------------------------------------------------


def test_server_errors_are_retried(fake: FakeOpenAI) -> None:
    fake.fail_with(500, times=2)
    result = complete(settings_for(fake.base_url))
    assert result.attempts == 3
    assert len(fake.chat_requests) == 3
    assert result.text == DEFAULT_REPLY


def test_429_retry_after_is_honoured(fake: FakeOpenAI) -> None:
    fake.fail_with(429, retry_after=0.4)
    started = time.monotonic()
    result = complete(settings_for(fake.base_url))
    assert time.monotonic() - started >= 0.4
    assert result.attempts == 2


def test_429_retry_after_beyond_the_deadline_fails_at_once(fake: FakeOpenAI) -> None:
    fake.fail_with(429, retry_after=30)
    started = time.monotonic()
    err = fails(settings_for(fake.base_url))
    assert time.monotonic() - started < 1
    assert (err.status, err.upstream_status, err.retry_after) == (502, 429, 30)


def test_client_errors_are_not_retried(fake: FakeOpenAI) -> None:
    fake.fail_with(400, times=5)
    err = fails(settings_for(fake.base_url))
    assert (err.status, err.outcome, err.upstream_status) == (502, "http_error", 400)
    assert "400" in err.message and "fake failure 400" in err.message
    assert len(fake.chat_requests) == 1


def test_persistent_server_error_gives_up_after_the_retries(fake: FakeOpenAI) -> None:
    fake.fail_with(503, times=10)
    err = fails(settings_for(fake.base_url, ai_retries=2))
    assert (err.status, err.upstream_status) == (502, 503)
    assert "503" in err.message
    assert len(fake.chat_requests) == 3


def test_slow_server_times_out_within_the_deadline(fake: FakeOpenAI) -> None:
    fake.delay = 5
    started = time.monotonic()
    err = fails(settings_for(fake.base_url, ai_timeout=0.5))
    elapsed = time.monotonic() - started
    assert (err.status, err.outcome) == (504, "timeout")
    assert 0.45 <= elapsed < 1.5


def test_unreachable_endpoint_is_503_quickly() -> None:
    records: list[CallRecord] = []
    started = time.monotonic()
    err = fails(settings_for(f"http://127.0.0.1:{free_port()}/v1"), on_call=records.append)
    assert time.monotonic() - started < 1.5
    assert (err.status, err.outcome) == (503, "unreachable")
    assert "could not connect" in err.message
    assert records[0].attempts == 3  # connection failures are retried


def test_dropped_connection_is_retried_then_503(fake: FakeOpenAI) -> None:
    fake.mode = "drop"
    err = fails(settings_for(fake.base_url, ai_retries=1))
    assert (err.status, err.outcome) == (503, "unreachable")
    assert "lost the connection" in err.message
    assert len(fake.chat_requests) == 2


@pytest.mark.parametrize(
    ("mode", "words"),
    [("garbage", "not valid JSON"), ("no_choices", "no choices"), ("empty", "empty")],
)
def test_bad_replies_are_502_and_not_retried(fake: FakeOpenAI, mode: str, words: str) -> None:
    fake.mode = mode  # type: ignore[assignment]
    err = fails(settings_for(fake.base_url))
    assert (err.status, err.outcome, err.upstream_status) == (502, "bad_reply", None)
    assert words in err.message
    assert len(fake.chat_requests) == 1


# --- concurrency ---------------------------------------------------------------------------


def test_concurrency_is_limited(fake: FakeOpenAI) -> None:
    fake.delay = 0.15

    async def body(client: ModelClient) -> list[Completion]:
        return await asyncio.gather(*(client.complete(MESSAGES) for _ in range(10)))

    results = run_with(settings_for(fake.base_url, ai_concurrency=2), body)
    assert len(results) == 10
    assert fake.max_concurrent == 2


def test_queue_limit_turns_callers_away_at_once(fake: FakeOpenAI) -> None:
    fake.delay = 0.4

    async def body(client: ModelClient) -> tuple[ModelError, float, int, int]:
        running = [asyncio.create_task(client.complete(MESSAGES)) for _ in range(2)]
        await asyncio.sleep(0.1)
        in_flight, waiting = client.in_flight, client.waiting
        started = time.monotonic()
        with pytest.raises(ModelError) as info:
            await client.complete(MESSAGES)
        elapsed = time.monotonic() - started
        await asyncio.gather(*running)  # the admitted ones still finish
        return info.value, elapsed, in_flight, waiting

    settings = settings_for(fake.base_url, ai_concurrency=1, ai_queue_limit=1)
    err, elapsed, in_flight, waiting = run_with(settings, body)
    assert (in_flight, waiting) == (1, 1)
    assert (err.status, err.outcome) == (503, "overloaded")
    assert err.retry_after and err.retry_after > 0
    assert elapsed < 0.05
    assert len(fake.chat_requests) == 2


# --- streaming -----------------------------------------------------------------------------


def test_stream_yields_deltas_in_order(fake: FakeOpenAI) -> None:
    records: list[CallRecord] = []
    deltas = stream(settings_for(fake.base_url), on_call=records.append)
    assert deltas == pieces(DEFAULT_REPLY)
    assert "".join(deltas) == DEFAULT_REPLY
    request = fake.chat_requests[-1]
    assert request.body["stream"] is True
    assert request.body["max_tokens"] == 300
    (record,) = records
    assert record.outcome == "ok"
    assert record.completion_tokens == count_tokens(DEFAULT_REPLY)


def test_stream_retries_before_the_first_delta(fake: FakeOpenAI) -> None:
    fake.fail_with(502)
    assert "".join(stream(settings_for(fake.base_url))) == DEFAULT_REPLY
    assert len(fake.chat_requests) == 2


@pytest.mark.parametrize(
    ("setup", "status", "outcome"),
    [
        (lambda f: f.fail_with(400), 502, "http_error"),
        (lambda f: f.fail_with(500, times=9), 502, "http_error"),
        (lambda f: setattr(f, "mode", "garbage"), 502, "bad_reply"),
        (lambda f: setattr(f, "mode", "empty"), 502, "bad_reply"),
        (lambda f: setattr(f, "delay", 5), 504, "timeout"),
    ],
)
def test_stream_errors_map_like_complete(
    fake: FakeOpenAI, setup: Callable[[FakeOpenAI], None], status: int, outcome: str
) -> None:
    setup(fake)
    got: list[str] = []
    with pytest.raises(ModelError) as info:
        stream(settings_for(fake.base_url, ai_timeout=0.5), got)
    assert (info.value.status, info.value.outcome) == (status, outcome)
    assert got == []


def test_stream_unreachable_is_503() -> None:
    with pytest.raises(ModelError) as info:
        stream(settings_for(f"http://127.0.0.1:{free_port()}/v1"))
    assert (info.value.status, info.value.outcome) == (503, "unreachable")


def test_stream_broken_after_the_first_delta_ends_with_an_error(fake: FakeOpenAI) -> None:
    fake.drop_stream_after = 3
    got: list[str] = []
    records: list[CallRecord] = []
    with pytest.raises(ModelError) as info:
        stream(settings_for(fake.base_url), got, on_call=records.append)
    assert got == pieces(DEFAULT_REPLY)[:3]
    assert info.value.outcome == "unreachable"
    assert len(fake.chat_requests) == 1  # nothing is retried once text has gone out
    assert [r.outcome for r in records] == ["unreachable"]


# --- accounting ----------------------------------------------------------------------------


def test_on_call_gets_one_record_per_call(fake: FakeOpenAI) -> None:
    records: list[CallRecord] = []

    async def body(client: ModelClient) -> None:
        await client.complete(MESSAGES, purpose="job_run")
        fake.fail_with(404)
        with pytest.raises(ModelError):
            await client.complete(MESSAGES, purpose="chat")

    run_with(settings_for(fake.base_url), body, on_call=records.append)
    ok, failed = records
    assert (ok.outcome, ok.purpose, ok.attempts, ok.error) == ("ok", "job_run", 1, None)
    assert ok.prompt_tokens == prompt_tokens(MESSAGES)
    assert ok.completion_tokens == count_tokens(DEFAULT_REPLY)
    assert ok.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert (failed.outcome, failed.purpose, failed.upstream_status) == ("http_error", "chat", 404)
    assert failed.error and "404" in failed.error
    assert failed.prompt_tokens is None


def test_a_failing_hook_does_not_break_the_call(
    fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    def hook(record: CallRecord) -> None:
        raise RuntimeError("hook broke")

    assert complete(settings_for(fake.base_url), on_call=hook).text == DEFAULT_REPLY
    assert "on_call hook failed" in caplog.text


def test_metrics_count_calls_tokens_and_slots(fake: FakeOpenAI) -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before_ok = sample("sippy_ai_requests_total", outcome="ok")
    before_err = sample("sippy_ai_requests_total", outcome="http_error")
    before_prompt = sample("sippy_ai_tokens_total", kind="prompt")
    before_count = sample("sippy_ai_request_duration_seconds_count")
    complete(settings_for(fake.base_url))
    fake.fail_with(400)
    fails(settings_for(fake.base_url))
    assert sample("sippy_ai_requests_total", outcome="ok") == before_ok + 1
    assert sample("sippy_ai_requests_total", outcome="http_error") == before_err + 1
    assert sample("sippy_ai_tokens_total", kind="prompt") == before_prompt + prompt_tokens(MESSAGES)
    assert sample("sippy_ai_request_duration_seconds_count") == before_count + 2
    assert sample("sippy_ai_in_flight") == 0


def test_key_never_logged_or_in_errors(fake: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings_for(fake.base_url, ai_api_key=KEY)
    complete(settings)
    stream(settings)
    fake.fail_with(401, message=f"Incorrect API key provided: {KEY}")
    err = fails(settings)
    assert err.upstream_status == 401
    assert KEY not in err.message and KEY not in str(err) and KEY not in repr(err)
    assert "<redacted>" in err.message
    client = ModelClient(settings)
    assert KEY not in repr(client)
    assert "model prompt" in caplog.text  # the prompt is logged at DEBUG...
    assert "model call" in caplog.text
    assert KEY not in caplog.text  # ...and the key nowhere
    for record in caplog.records:
        assert KEY not in repr(record.args)


def test_unauthenticated_access_is_logged_once_per_client(
    fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sippy.ai")

    async def body(client: ModelClient) -> None:
        await client.complete(MESSAGES)
        await client.complete(MESSAGES)

    run_with(settings_for(fake.base_url), body)
    assert caplog.text.count("unauthenticated") == 1
    caplog.clear()
    run_with(settings_for(fake.base_url, ai_api_key=KEY), body)
    assert "unauthenticated" not in caplog.text


def test_fake_server_lists_models(fake: FakeOpenAI) -> None:
    import httpx

    listing = httpx.get(f"{fake.base_url}/models", timeout=5).json()
    assert listing["data"][0]["id"] == "fake-model"
