"""Every model fault, met by 20 concurrent `/api/ai/job_run` requests on a real server.

The single-request cases live in tests/ai/test_client.py and tests/api/test_ai_api.py;
here many requests for a mix of runs, plain and streamed, arrive together while the
model (a real OpenAI-compatible fake over HTTP) misbehaves. Each must end with 200 or
the fault's mapped error (502/503/504) in the one JSON error shape, within the AI
deadline, never 500; the call log (`ai_calls`) must account for every request the model
received; and the same server must answer normally once the model behaves again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, delete, func, select

from sippy.app import create_app
from sippy.db import models as m
from sippy.db.engine import make_engine, session_factory
from sippy.db.generation import bump_generation
from sippy.db.migrate import upgrade
from sippy.ingest.load import load_sources
from sippy.settings import Settings, build_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import free_port, running_server

REPLY = "The run failed because the ingress operator never became available."
AI_TIMEOUT = 3.0
REQUESTS = 20
SLACK = 3.0  # seconds beyond the deadline for a loaded 2-core machine to answer
# Whatever the fault, a call still waiting for one of the 4 model slots when its deadline
# passes is turned away (503, "overloaded"), and one whose retries run past it ends with
# 504: on a busy machine either may come first. Both are mapped errors, never a hang.
DEADLINE = ({503, 504}, {"overloaded", "timeout"})


@dataclass(frozen=True)
class Fault:
    name: str
    setup: Callable[[FakeOpenAI], None]
    statuses: set[int]  # the fault's own mapped error: it must show
    outcomes: set[str]  # what the call log says for it
    succeeds: bool = False  # requests get a 200 despite the fault


FAULTS = [
    Fault("500", lambda f: f.fail_with(500, times=1000), {502}, {"http_error"}),
    Fault("502", lambda f: f.fail_with(502, times=1000), {502}, {"http_error"}),
    Fault("503", lambda f: f.fail_with(503, times=1000), {502}, {"http_error"}),
    Fault(
        "429 then fine",  # one 429 per model slot: each call is retried once, then answered
        lambda f: f.fail_with(429, times=4, retry_after=0.2),
        set(),
        set(),
        succeeds=True,
    ),
    Fault(
        "429 past the deadline",
        lambda f: f.fail_with(429, times=1000, retry_after=30),
        {502},
        {"http_error"},
    ),
    Fault("slow", lambda f: setattr(f, "delay", AI_TIMEOUT + 2), {504}, {"timeout"}),
    Fault("garbage", lambda f: setattr(f, "mode", "garbage"), {502}, {"bad_reply"}),
    Fault("no choices", lambda f: setattr(f, "mode", "no_choices"), {502}, {"bad_reply"}),
    Fault("empty", lambda f: setattr(f, "mode", "empty"), {502}, {"bad_reply"}),
    Fault("dropped connection", lambda f: setattr(f, "mode", "drop"), {503}, {"unreachable"}),
]


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, sample_root) -> Iterator[tuple[Engine, list[int]]]:
    """The canonical sample runs in an SQLite database (the default deployment)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('ai') / 'sippy.db'}")
    upgrade(engine)
    assert load_sources([str(sample_root)], Settings(), engine).ok
    with session_factory(engine)() as session:
        run_ids = list(session.scalars(select(m.ProwJobRun.id).order_by(m.ProwJobRun.id)))
    yield engine, run_ids
    engine.dispose()


@pytest.fixture(scope="module")
def server(loaded, model) -> Iterator[str]:
    engine, _ = loaded
    # derived_fresh_for=0: every request looks the answer up in the database, so that each
    # fault case starts from the cleared cache (the memory layer is tested in tests/db).
    settings = build_settings(
        ai_endpoint=model.base_url, ai_timeout=AI_TIMEOUT, ai_retries=1, derived_fresh_for=0
    )
    with running_server(create_app(settings, engine)) as base:
        yield base


@pytest.fixture
def fresh(loaded, model) -> tuple[Engine, list[int], FakeOpenAI]:
    """No cached answers, no call log, a well-behaved model: each fault starts clean."""
    engine, run_ids = loaded
    with session_factory(engine)() as session, session.begin():
        session.execute(delete(m.AiResultRow))
        session.execute(delete(m.AiCallRow))
        bump_generation(session)  # servers drop the answers they keep, as after a refresh
    model.reset()
    model.reply = REPLY
    return engine, run_ids, model


def burst(
    base: str, run_ids: list[int], requests: int = REQUESTS
) -> list[tuple[httpx.Response, float, bool]]:
    """Requests at once over the runs, every third one streamed: (response, seconds,
    streamed) each."""

    def one(n: int) -> tuple[httpx.Response, float, bool]:
        streamed = n % 3 == 2
        params: dict[str, Any] = {"prow_job_run_id": run_ids[n % len(run_ids)]}
        if streamed:
            params["stream"] = "true"
        began = time.monotonic()
        response = httpx.get(
            f"{base}/api/ai/job_run",
            params=params,
            headers={"Accept": "application/json"},
            timeout=AI_TIMEOUT + 30,
        )
        return response, time.monotonic() - began, streamed

    with ThreadPoolExecutor(requests) as pool:
        return list(pool.map(one, range(requests)))


def assert_answers(answers: list[tuple[httpx.Response, float, bool]], statuses: set[int]) -> None:
    for response, seconds, streamed in answers:
        what = f"{response.request.url} ({seconds:.1f}s)"
        assert response.status_code in {200} | statuses, (what, response.text)
        assert seconds < AI_TIMEOUT + SLACK, f"{what} outlived the AI deadline"
        if response.status_code == 200:
            if streamed:
                last_event, last_data = response.text.rstrip().split("\n")[-2:]
                assert last_event == "event: done", response.text
                assert json.loads(last_data.removeprefix("data: "))["summary"] == REPLY
            else:
                assert response.json()["summary"] == REPLY
        else:
            error = response.json()
            assert set(error) == {"code", "message"} and error["code"] == response.status_code
            assert error["message"] and "Traceback" not in response.text
            if response.status_code == 503 and "busy" in error["message"]:
                assert int(response.headers["retry-after"]) >= 1


def call_log(engine: Engine) -> list[m.AiCallRow]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(m.AiCallRow)))


def wait_for_call_log(engine: Engine, model_requests: int) -> list[m.AiCallRow]:
    """The call log once every attempt the model received is in it (it is written off
    the request path); fails if it never gets there."""
    deadline = time.monotonic() + 10
    while True:
        with session_factory(engine)() as session:
            attempts = session.scalar(select(func.coalesce(func.sum(m.AiCallRow.attempts), 0)))
        if attempts >= model_requests or time.monotonic() > deadline:
            break
        time.sleep(0.02)  # polling the database for the log writes
    rows = call_log(engine)
    # An attempt begun just before the deadline may time out before the model sees it.
    unseen = sum(r.attempts for r in rows) - model_requests
    assert 0 <= unseen <= sum(r.outcome == "timeout" for r in rows), "the call log is wrong"
    return rows


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_under_concurrent_requests(server, fresh, fault: Fault):
    engine, run_ids, model = fresh
    fault.setup(model)
    answers = burst(server, run_ids)
    statuses = [r.status_code for r, _, _ in answers]
    if fault.succeeds:  # (a call still queued for a slot at the deadline may be turned away)
        assert statuses.count(200) >= REQUESTS // 2, [r.text for r, _, _ in answers]
    else:
        assert set(statuses) & fault.statuses, f"the fault never showed: {statuses}"
    assert_answers(answers, fault.statuses | DEADLINE[0])

    rows = wait_for_call_log(engine, len(model.chat_requests))
    outcomes = {r.outcome for r in rows}
    assert outcomes <= {"ok"} | fault.outcomes | DEADLINE[1], outcomes
    assert {str(r.subject) for r in rows} <= {str(i) for i in run_ids}
    if not fault.succeeds:  # nothing was cached: each run asked was asked of the model,
        # by one request at a time (the others shared its call or waited for its lease)
        asked = {r.request.url.params["prow_job_run_id"] for r, _, _ in answers}
        assert len(asked) <= len(rows) <= REQUESTS
        assert "ok" not in outcomes
    if fault.name == "429 then fine":
        assert sum(r.attempts for r in rows) > len(rows)  # some calls were retried

    model.reset()  # the model recovers; the same server answers normally
    model.reply = REPLY
    recovered = burst(server, run_ids, requests=len(run_ids))  # one per run, one streamed
    assert_answers(recovered, set())
    assert httpx.get(f"{server}/healthz", timeout=5).status_code == 200


def test_unreachable_model_under_concurrent_requests(loaded):
    engine, run_ids = loaded
    with session_factory(engine)() as session, session.begin():
        session.execute(delete(m.AiResultRow))
        session.execute(delete(m.AiCallRow))
    endpoint = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens
    settings = build_settings(ai_endpoint=endpoint, ai_timeout=AI_TIMEOUT, ai_retries=1)
    with running_server(create_app(settings, engine)) as base:
        answers = burst(base, run_ids)
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    assert_answers(answers, {503} | DEADLINE[0])
    assert 503 in {r.status_code for r, _, _ in answers}
    rows = call_log(engine)  # the server has stopped: its call log is complete
    outcomes = {r.outcome for r in rows}
    assert "unreachable" in outcomes and outcomes <= {"unreachable"} | DEADLINE[1]


def test_more_requests_than_the_queue_holds(loaded, model):
    """One model slot, two waiting places: the rest are turned away at once with 503 and
    Retry-After; the admitted ones are answered."""
    engine, run_ids = loaded
    with session_factory(engine)() as session, session.begin():
        session.execute(delete(m.AiResultRow))
        session.execute(delete(m.AiCallRow))
    model.reset()
    model.reply = REPLY
    model.delay = 0.3
    settings = build_settings(
        ai_endpoint=model.base_url,
        ai_timeout=AI_TIMEOUT,
        ai_concurrency=1,
        ai_queue_limit=2,
    )
    with running_server(create_app(settings, engine)) as base:
        answers = burst(base, run_ids)
    statuses = [r.status_code for r, _, _ in answers]
    assert set(statuses) == {200, 503}
    assert_answers(answers, {503})
    for response, seconds, _ in answers:
        if response.status_code == 503:
            assert "busy" in response.json()["message"] and "retry-after" in response.headers
            assert seconds < settings.ai_timeout  # turned away at once, not at the deadline
    assert model.max_concurrent == 1
    rows = call_log(engine)
    assert {r.outcome for r in rows} == {"ok", "overloaded"}
    assert sum(r.attempts for r in rows) == len(model.chat_requests)
