"""`/api/ai/job_run` on a real server, against a real fake OpenAI-compatible server."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sippy.app import create_app
from sippy.db import models as m
from sippy.db.engine import session_factory
from sippy.evidence.tokens import estimate_messages
from sippy.ingest.load import load_sources
from sippy.samples.generator import generate_samples
from sippy.settings import Settings, build_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import free_port, running_server

REPLY = "The job failed because the router test could not admit its route."
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(model: FakeOpenAI) -> FakeOpenAI:
    model.reset()
    model.reply = REPLY
    return model


@pytest.fixture
def loaded(tmp_path, engine):
    runs = generate_samples(tmp_path)
    assert load_sources([str(tmp_path)], Settings(), engine).ok
    return engine, {r.scenario: r for r in runs}


def serve(engine, **settings: Any):
    return running_server(create_app(build_settings(**settings), engine))


def ask(base: str, run_id: int, headers: dict[str, str] | None = None, **params: Any):
    return httpx.get(
        f"{base}/api/ai/job_run",
        params={"prow_job_run_id": run_id, **params},
        headers=headers,
        timeout=30,
    )


def rows(engine, model: type) -> list[Any]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def test_builtin_answers_without_a_model(loaded):
    engine, runs = loaded
    sample = runs["test-failure"]
    with serve(engine) as base:
        text = ask(base, sample.build_id)
        answer = ask(base, sample.build_id, JSON).json()
        capabilities = httpx.get(f"{base}/api/capabilities").json()
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text.startswith(f'The CI job "{sample.job_name}" failed')
    assert answer["summary"] == text.text.strip()
    assert answer["model"] == "builtin" and answer["cached"] is False
    assert answer["category"] == "test failure"
    assert answer["promptVersion"].startswith("job_run_summary.v1-")
    assert answer["evidence"][0]["section"] == "run"
    assert "ai" not in capabilities


def test_model_gets_the_evidence_within_budget(loaded, fake):
    engine, runs = loaded
    sample = runs["test-failure"]
    with serve(engine, ai_endpoint=fake.base_url) as base:
        text = ask(base, sample.build_id)
        capabilities = httpx.get(f"{base}/api/capabilities").json()
        summary = httpx.get(
            f"{base}/api/job/run/summary", params={"prow_job_run_id": sample.build_id}
        ).json()
    assert text.status_code == 200 and text.text == REPLY + "\n"
    assert "ai" in capabilities
    body = fake.chat_requests[-1].body
    assert body["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert body["max_tokens"] == 300 and body["temperature"] == 0.1
    assert estimate_messages(body["messages"]) <= 3000  # the default budget
    system, user = (msg["content"] for msg in body["messages"])
    assert "expert in analyzing OpenShift CI" in system
    assert sample.job_name in user and "<evidence>" in user
    for name in sample.failed_tests:
        assert name[:60] in user
    decisive = [
        line
        for snippet in summary["testFailures"].values()  # the summary shows what it saw
        for line in snippet.splitlines()
        if line.startswith("fail [")
    ]
    assert decisive
    for line in decisive:
        assert line[:100] in user
    assert "authorization" not in fake.chat_requests[-1].headers


def test_answers_are_cached_and_refresh_recomputes(loaded, fake):
    engine, runs = loaded
    run_id = runs["install-failure"].build_id
    token = "refresh-token-0123456789"
    writer = {**JSON, "Authorization": f"Bearer {token}"}
    with serve(
        engine, ai_endpoint=fake.base_url, enable_write_endpoints=True, write_token=token
    ) as base:
        first = ask(base, run_id, JSON).json()
        second = ask(base, run_id, JSON).json()
        assert len(fake.chat_requests) == 1
        fake.reply = "A different answer."
        assert (
            ask(base, run_id, JSON, refresh="true").status_code == 401
        )  # a write: needs the token
        refreshed = ask(base, run_id, writer, refresh="true").json()
        again = ask(base, run_id, JSON).json()
    assert first["cached"] is False and second["cached"] is True
    assert second["summary"] == first["summary"] == REPLY
    assert second["evidence"] == first["evidence"]
    assert refreshed["cached"] is False and refreshed["summary"] == "A different answer."
    assert again["cached"] is True and again["summary"] == "A different answer."
    assert len(fake.chat_requests) == 2
    assert len(rows(engine, m.AiResultRow)) == 1


def test_concurrent_requests_share_one_model_call(loaded, fake):
    engine, runs = loaded
    run_id = runs["upgrade-failure"].build_id
    fake.delay = 0.6
    results: list[httpx.Response] = []
    with serve(engine, ai_endpoint=fake.base_url) as base:
        threads = [
            threading.Thread(target=lambda: results.append(ask(base, run_id))) for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [r.status_code for r in results] == [200] * 6
    assert {r.text for r in results} == {REPLY + "\n"}
    assert len(fake.chat_requests) == 1


@pytest.mark.parametrize(
    ("setup", "status", "words"),
    [
        (lambda f: f.fail_with(500, times=10), 502, "500"),
        (lambda f: f.fail_with(400, times=1), 502, "400"),
        (lambda f: setattr(f, "mode", "garbage"), 502, "JSON"),
        (lambda f: setattr(f, "mode", "no_choices"), 502, "choices"),
        (lambda f: setattr(f, "delay", 3.0), 504, "within 1s"),
    ],
)
def test_model_faults_give_one_json_error_fast(loaded, fake, setup, status, words):
    engine, runs = loaded
    setup(fake)
    with serve(engine, ai_endpoint=fake.base_url, ai_timeout=1.0, ai_retries=1) as base:
        response = ask(base, runs["test-failure"].build_id)
        healthy = httpx.get(f"{base}/healthz")
    assert response.status_code == status
    error = response.json()
    assert set(error) == {"code", "message"} and error["code"] == status
    assert words.lower() in error["message"].lower()
    assert "Traceback" not in response.text
    assert healthy.status_code == 200
    calls = rows(engine, m.AiCallRow)
    assert calls and calls[-1].outcome != "ok"
    assert calls[-1].subject == str(runs["test-failure"].build_id)


def test_unreachable_model_is_503(loaded):
    engine, runs = loaded
    endpoint = f"http://127.0.0.1:{free_port()}/v1"
    with serve(engine, ai_endpoint=endpoint, ai_retries=0) as base:
        response = ask(base, runs["test-failure"].build_id)
    assert response.status_code == 503
    assert response.json()["code"] == 503


def test_excess_ai_work_is_shed_with_retry_after(loaded, fake):
    engine, runs = loaded
    fake.delay = 1.0
    ids = [runs["test-failure"].build_id, runs["install-failure"].build_id]
    results: dict[int, httpx.Response] = {}
    with serve(engine, ai_endpoint=fake.base_url, ai_concurrency=1, ai_queue_limit=0) as base:
        threads = [
            threading.Thread(target=lambda i=i: results.__setitem__(i, ask(base, i))) for i in ids
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [200, 503]
    shed = next(r for r in results.values() if r.status_code == 503)
    assert int(shed.headers["retry-after"]) >= 1


def test_stream_sends_meta_deltas_and_done(loaded, fake):
    engine, runs = loaded
    run_id = runs["test-failure"].build_id
    with serve(engine, ai_endpoint=fake.base_url) as base:
        response = ask(base, run_id, stream="true")
        cached = ask(base, run_id, stream="true")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    assert events[0][0] == "meta" and events[0][1]["cached"] is False
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert len(deltas) > 3 and "".join(deltas) == REPLY
    assert events[-1][0] == "done" and events[-1][1]["summary"] == REPLY
    cached_events = _events(cached.text)
    assert cached_events[0][1]["cached"] is True
    assert [d["text"] for n, d in cached_events if n == "delta"] == [REPLY]
    assert len(fake.chat_requests) == 1


def test_stream_fault_before_the_first_word_is_a_status(loaded, fake):
    engine, runs = loaded
    fake.fail_with(503, times=10)
    with serve(engine, ai_endpoint=fake.base_url, ai_retries=0) as base:
        response = ask(base, runs["test-failure"].build_id, stream="true")
    assert response.status_code == 502
    assert response.json()["code"] == 502


def test_bad_requests(loaded):
    engine, _ = loaded
    with serve(engine) as base:
        missing = httpx.get(f"{base}/api/ai/job_run")
        bad = httpx.get(f"{base}/api/ai/job_run", params={"prow_job_run_id": "12x"})
        unknown = ask(base, 12345)
    assert (missing.status_code, bad.status_code, unknown.status_code) == (400, 400, 404)
    assert unknown.json() == {"code": 404, "message": "job run 12345 not found"}


def test_every_model_call_is_logged_and_the_key_never_leaks(loaded, fake, caplog, monkeypatch):
    engine, runs = loaded
    key = "sk-test-SECRET-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    caplog.set_level(logging.DEBUG)
    with serve(engine, ai_endpoint=fake.base_url, log_level="debug") as base:
        response = ask(base, runs["test-failure"].build_id, JSON)
        metrics = httpx.get(f"{base}/api").text
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {key}"
    calls = rows(engine, m.AiCallRow)
    assert len(calls) == 1
    call = calls[0]
    assert (call.outcome, call.purpose, call.subject) == (
        "ok",
        "job_run",
        str(runs["test-failure"].build_id),
    )
    assert call.prompt_tokens and call.completion_tokens and call.duration > 0
    assert call.prompt_version.startswith("job_run_summary.v1-")
    stored = json.dumps([r.result for r in rows(engine, m.AiResultRow)])
    for text in (response.text, metrics, caplog.text, stored, repr(call.__dict__)):
        assert key not in text


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_every_planted_root_cause_reaches_the_prompt(loaded, fake):
    """Including the infrastructure failure whose cause is only mid build log (no JUnit)."""
    engine, runs = loaded
    with serve(engine, ai_endpoint=fake.base_url) as base:
        for sample in runs.values():
            assert ask(base, sample.build_id).status_code == 200
    prompts = ["\n".join(m["content"] for m in r.body["messages"]) for r in fake.chat_requests]
    for sample in runs.values():
        prompt = next(p for p in prompts if f"Run: {sample.build_id} " in p)
        for line in sample.root_cause_lines:
            assert line.strip()[:100] in prompt, (sample.scenario, line)


def test_builtin_names_the_build_log_cause_of_an_infrastructure_failure(loaded):
    engine, runs = loaded
    sample = runs["infra-failure"]
    with serve(engine) as base:
        answer = ask(base, sample.build_id, JSON).json()
    assert answer["category"] == "infrastructure"
    assert "VpcLimitExceeded" in answer["summary"]
