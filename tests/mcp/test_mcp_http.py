"""The MCP endpoint at /mcp/v1/ of a real server, driven by the official MCP client."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult
from sqlalchemy import Engine

from sippy.ai.bug import FORMATS
from sippy.api.params import SINCE_PATTERN
from sippy.app import create_app
from sippy.db.engine import make_engine
from sippy.settings import build_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import free_port, running_server
from tests.mcp.conftest import TOOLS, Loaded, answer, error

REPLY = "The router test could not admit its route.\n\n1. Open the router logs.\n2. Rerun it."


def serve(db: Loaded | Engine, **settings: Any):  # type: ignore[no-untyped-def]
    engine = db.engine if isinstance(db, Loaded) else db
    return running_server(create_app(build_settings(**settings), engine))


def in_session(base: str, work: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    """Connect the official client to the server's MCP endpoint and run `work`."""

    async def run() -> Any:
        async with (
            streamable_http_client(f"{base}/mcp/v1/") as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)

    return asyncio.run(run())


def call(base: str, calls: list[tuple[str, dict[str, Any]]]) -> list[CallToolResult]:
    async def work(session: ClientSession) -> list[CallToolResult]:
        return [await session.call_tool(name, args) for name, args in calls]

    return in_session(base, work)


def api(base: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{base}{path}", params=params, headers={"Accept": "application/json"}, timeout=30
    )


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def test_lists_the_tools_with_typed_schemas(engine):
    with serve(engine) as base:
        tools = in_session(base, lambda s: s.list_tools()).tools
    by_name = {t.name: t for t in tools}
    assert set(by_name) == TOOLS
    for tool in tools:
        assert tool.description and "\n" not in tool.description
        assert tool.annotations.read_only_hint is True
        assert "refresh" not in tool.input_schema["properties"]  # no writes over MCP
    run_id = by_name["job_run_summary"].input_schema
    assert run_id["required"] == ["prow_job_run_id"]
    assert run_id["properties"]["prow_job_run_id"]["type"] == "integer"
    assert run_id["properties"]["prow_job_run_id"]["minimum"] == 0
    bug = by_name["draft_bug"].input_schema
    assert bug["required"] == ["prow_job_run_id", "test_name"]
    assert bug["properties"]["format"]["enum"] == list(FORMATS)
    assert bug["properties"]["test_name"]["minLength"] == 1
    history = by_name["test_history"].input_schema["properties"]
    assert set(history) == {"test_name", "job", "release", "since"}
    assert history["since"]["pattern"] == SINCE_PATTERN  # a date, or a date-time
    assert {"type": "string"} in history["since"]["anyOf"]
    assert by_name["payload_themes"].input_schema["required"] == ["release_tag"]


def test_each_tool_answers_what_the_api_answers(loaded):
    failed = loaded.runs["test-failure"]
    run_id, test = failed.build_id, failed.failed_tests[0]
    one_test = {"prow_job_run_id": run_id, "test_name": test}
    with serve(loaded) as base:
        release = api(base, "/api/job/run/summary", prow_job_run_id=run_id).json()["release"]
        pairs = [
            (
                ("job_run_summary", {"prow_job_run_id": run_id}),
                ("/api/job/run/summary", {"prow_job_run_id": run_id}),
            ),
            (
                ("job_run_ai_summary", {"prow_job_run_id": run_id}),
                ("/api/ai/job_run", {"prow_job_run_id": run_id}),
            ),
            (
                ("debug_test_failure", one_test),
                ("/api/ai/test_failure", one_test),
            ),
            (
                ("draft_bug", {**one_test, "format": "markdown"}),
                ("/api/ai/bug", {**one_test, "format": "markdown"}),
            ),
            (("test_history", {"test_name": test}), ("/api/tests/history", {"test_name": test})),
            (
                ("payload_themes", {"release_tag": loaded.tag}),
                ("/api/ai/payload", {"release_tag": loaded.tag}),
            ),
            (("failure_themes", {"release": release}), ("/api/ai/themes", {"release": release})),
        ]
        results = call(base, [tool for tool, _ in pairs])
        expected = [api(base, path, **params) for _, (path, params) in pairs]
    assert {name for (name, _), _ in pairs} == TOOLS
    for ((name, _), _), result, response in zip(pairs, results, expected, strict=True):
        assert response.status_code == 200, (name, response.text)
        got, want = answer(result), response.json()
        assert without(got, "durationSeconds") == without(want, "durationSeconds"), name
    summary, ai, bug, payload = (answer(results[i]) for i in (0, 1, 3, 5))
    assert summary["id"] == run_id and summary["overallResult"] == "F"
    assert ai["model"] == "builtin" and ai["summary"].startswith(f'The CI job "{failed.job_name}"')
    assert bug["format"] == "markdown" and bug["title"]
    assert payload["releaseTag"] == loaded.tag and payload["runs"] >= 2 and payload["themes"]


def test_ai_tools_ask_the_model_and_share_the_api_cache(loaded, fake: FakeOpenAI):
    fake.reply = REPLY
    failed = loaded.runs["test-failure"]
    run_id, test = failed.build_id, failed.failed_tests[0]
    with serve(loaded, ai_endpoint=fake.base_url) as base:
        ai, debug, themes = call(
            base,
            [
                ("job_run_ai_summary", {"prow_job_run_id": run_id}),
                ("debug_test_failure", {"prow_job_run_id": run_id, "test_name": test}),
                ("payload_themes", {"release_tag": loaded.tag}),
            ],
        )
        asked = len(fake.chat_requests)
        from_api = api(base, "/api/ai/job_run", prow_job_run_id=run_id).json()
        debug_api = api(base, "/api/ai/test_failure", prow_job_run_id=run_id, test_name=test)
        themes_api = api(base, "/api/ai/payload", release_tag=loaded.tag).json()
        (bug,) = call(base, [("draft_bug", {"prow_job_run_id": run_id, "test_name": test})])
    ai, debug, themes, bug = answer(ai), answer(debug), answer(themes), answer(bug)
    assert asked == 3  # one model call per question
    assert ai["summary"] == REPLY and ai["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert ai["cached"] is False
    assert debug["summary"] == "The router test could not admit its route."
    assert debug["steps"][:2] == ["Open the router logs.", "Rerun it."]
    assert themes["model"] == ai["model"] and themes["cached"] is False and themes["themes"]
    # the HTTP API and the bug draft are served from the answers the MCP calls cached
    assert len(fake.chat_requests) == 3
    assert themes_api["cached"] is True
    assert without(themes_api, "cached") == without(themes, "cached")
    assert from_api["cached"] is True and from_api["summary"] == ai["summary"]
    assert from_api["evidence"] == ai["evidence"]
    assert without(debug_api.json(), "cached", "usage") == without(debug, "cached", "usage")
    assert bug["cached"] is True and "could not admit its route" in bug["description"]
    assert bug["format"] == "jira"


def test_errors_carry_the_api_code_and_message(loaded, fake: FakeOpenAI):
    failed = loaded.runs["test-failure"]
    run_id, test = failed.build_id, failed.failed_tests[0]
    missing_run = 12345
    with serve(loaded, ai_endpoint=fake.base_url, ai_retries=0) as base:
        not_found = call(
            base,
            [
                ("job_run_summary", {"prow_job_run_id": missing_run}),
                ("job_run_ai_summary", {"prow_job_run_id": missing_run}),
                ("debug_test_failure", {"prow_job_run_id": run_id, "test_name": "no such test"}),
                ("test_history", {"test_name": "no such test"}),
                ("payload_themes", {"release_tag": "4.1.0-0.nightly-none"}),
            ],
        )
        api_not_found = [
            api(base, "/api/job/run/summary", prow_job_run_id=missing_run),
            api(base, "/api/ai/job_run", prow_job_run_id=missing_run),
            api(base, "/api/ai/test_failure", prow_job_run_id=run_id, test_name="no such test"),
            api(base, "/api/tests/history", test_name="no such test"),
            api(base, "/api/ai/payload", release_tag="4.1.0-0.nightly-none"),
        ]
        bad = call(
            base,
            [
                ("job_run_summary", {"prow_job_run_id": -1}),
                ("job_run_summary", {"prow_job_run_id": "abc"}),
                ("job_run_summary", {}),
                ("debug_test_failure", {"prow_job_run_id": run_id, "test_name": ""}),
                ("draft_bug", {"prow_job_run_id": run_id, "test_name": test, "format": "html"}),
            ],
        )
        bad_like_api = call(
            base,
            [("failure_themes", {"since": "yesterday"}), ("test_history", {"test_name": "a\x00b"})],
        )
        api_bad = [
            api(base, "/api/ai/themes", since="yesterday"),
            api(base, "/api/tests/history", test_name="a\x00b"),
        ]
        fake.fail_with(500, message="model exploded")
        (fault,) = call(base, [("job_run_ai_summary", {"prow_job_run_id": run_id})])
        fake.fail_with(500, message="model exploded")
        api_fault = api(base, "/api/ai/job_run", prow_job_run_id=run_id)
        healthy = api(base, "/healthz")
    for result, response in zip(not_found, api_not_found, strict=True):
        assert response.status_code == 404
        assert error(result) == response.json()
    messages = [error(r)["message"] for r in bad]
    assert [error(r)["code"] for r in bad] == [400] * len(bad)
    assert messages[0].startswith("prow_job_run_id: ")
    assert "integer" in messages[1]
    assert messages[2] == "param 'prow_job_run_id' is required"  # the API's wording
    assert messages[3].startswith("test_name: ")
    assert messages[4].startswith("format: ") and "jira" in messages[4]
    for result, response in zip(bad_like_api, api_bad, strict=True):
        assert response.status_code == 400
        assert error(result) == response.json()
    assert api_fault.status_code == 502
    assert error(fault) == api_fault.json()
    assert "500" in error(fault)["message"]
    assert healthy.status_code == 200


def test_ai_limits_are_shared_with_the_api(loaded, fake: FakeOpenAI):
    """One model slot, no queue: while an API request holds the slot, an MCP call is shed."""
    fake.delay = 30.0  # holds the slot until reset() below
    busy, other = loaded.runs["test-failure"].build_id, loaded.runs["install-failure"].build_id
    holder: list[httpx.Response] = []
    with serve(loaded, ai_endpoint=fake.base_url, ai_concurrency=1, ai_queue_limit=0) as base:
        thread = threading.Thread(
            target=lambda: holder.append(api(base, "/api/ai/job_run", prow_job_run_id=busy))
        )
        thread.start()
        wait_until(lambda: len(fake.chat_requests) == 1)
        (shed,) = call(base, [("job_run_ai_summary", {"prow_job_run_id": other})])
        asked = len(fake.chat_requests)
        fake.reset()  # the held request gives up now
        thread.join(10)
    assert not thread.is_alive()
    body = error(shed)
    assert body["code"] == 503 and body["message"].startswith("the model is busy")
    assert asked == 1  # shed before reaching the model


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Block until `condition()` holds: the fake model offers no event to wait on."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_endpoint_serves_again_after_a_restart(engine):
    app = create_app(build_settings(), engine)
    names = []
    for _ in range(2):
        with running_server(app) as base:
            names.append({t.name for t in in_session(base, lambda s: s.list_tools()).tools})
    assert names == [TOOLS, TOOLS]


def test_a_loopback_listener_refuses_foreign_hosts(engine):
    """DNS-rebinding guard: bound to loopback, only local Host headers reach the tools."""
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Accept": "application/json, text/event-stream", "Host": "evil.example"}
    with serve(engine, listen="127.0.0.1:8080") as base:
        refused = httpx.post(f"{base}/mcp/v1/", json=ping, headers=headers)
        tools = in_session(base, lambda s: s.list_tools()).tools
    with serve(engine) as base:  # listening on every interface: any host name may be used
        accepted = httpx.post(f"{base}/mcp/v1/", json=ping, headers=headers)
    assert refused.status_code == 421
    assert {t.name for t in tools} == TOOLS
    assert accepted.status_code == 200, accepted.text


def test_an_unreachable_database_is_503_like_the_api():
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/sippy")
    try:
        with running_server(create_app(build_settings(), engine)) as base:
            (result,) = call(base, [("job_run_summary", {"prow_job_run_id": 1})])
            response = api(base, "/api/job/run/summary", prow_job_run_id=1)
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert error(result) == response.json()


def test_kept_answers_follow_a_reload(loaded, tmp_path):
    """The summary and history tools keep what they computed, like the API, until the stored
    runs change: a run loaded between two calls shows in the second."""
    from sippy.ingest.load import load_sources
    from sippy.settings import Settings
    from tests.helpers import make_run

    failed = loaded.runs["test-failure"]
    test = failed.failed_tests[0]
    new_id = 7300000000000000001
    junit = (
        '<testsuite name="openshift-tests"><testcase name="'
        + test.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
        + '"><failure>fail [x.go:1]: again</failure></testcase></testsuite>'
    )
    with serve(loaded, derived_fresh_for=0) as base:
        before = call(
            base,
            [
                ("test_history", {"test_name": test}),
                ("job_run_summary", {"prow_job_run_id": new_id}),
            ],
        )
        make_run(
            tmp_path / "more", failed.job_name, new_id, files={"artifacts/junit_e2e.xml": junit}
        )
        assert (
            load_sources([str(tmp_path / "more")], Settings(), loaded.engine).count("loaded") == 1
        )
        after = call(
            base,
            [
                ("test_history", {"test_name": test}),
                ("job_run_summary", {"prow_job_run_id": new_id}),
            ],
        )
    assert answer(after[0])["runs"] == answer(before[0])["runs"] + 1
    assert answer(after[0])["failures"] == answer(before[0])["failures"] + 1
    assert error(before[1])["code"] == 404 and answer(after[1])["id"] == new_id
