"""An exception the SDK should never raise (a bug, or a release of the SDK or its transport
that no longer accepts what we pass) is a 502 in the one error shape everywhere, never a 500:
every AI endpoint, the pages, the MCP tools and the CLI. Once, openai 3.x moving to httpx2
turned every model call into a TypeError and a 500; this is that failure, injected."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai.resources.chat.completions import AsyncCompletions
from sqlalchemy import Engine

from sippy.app import create_app
from sippy.ingest.load import load_sources
from sippy.samples.generator import SampleRun, generate_samples
from sippy.settings import Settings, build_settings
from tests.helpers import running_server
from tests.mcp.conftest import TAG, write_payload
from tests.mcp.test_mcp_http import call

KEY = "sk-unexpected-0123456789abcdef-secret"
# What openai 3.63 on httpx2 2.17 raised for an httpx.Timeout, with our key echoed in it.
BROKEN = (
    "Invalid timeout: expected a number, `None`, a tuple or `httpx2.Timeout`, "
    f"got <class 'httpx.Timeout'> (api_key={KEY})"
)
# No model listens here: the injected SDK fails before any request leaves the process.
ENDPOINT = "http://127.0.0.1:9/v1"

# Injected into a `sippy` process through PYTHONPATH: the SDK's create raises as above.
SITECUSTOMIZE = f"""
from openai.resources.chat.completions import AsyncCompletions

async def create(self, *args, **kwargs):
    raise TypeError({BROKEN!r})

AsyncCompletions.create = create
"""


@pytest.fixture
def loaded(tmp_path: Path, engine: Engine) -> tuple[Engine, dict[str, SampleRun], str]:
    root = tmp_path / "runs"
    runs = generate_samples(root, count=14)  # two of each scenario: themes to name
    release = tmp_path / "release.json"
    write_payload(runs, release)
    assert load_sources([str(root), str(release)], Settings(), engine).ok
    return engine, {r.scenario: r for r in runs}, str(root)


@pytest.fixture
def broken_sdk(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The SDK's chat call raises TypeError; returns the calls it was given."""
    calls: list[dict[str, Any]] = []

    async def create(self: AsyncCompletions, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        raise TypeError(BROKEN)

    monkeypatch.setattr(AsyncCompletions, "create", create)
    return calls


def assert_model_error(body: dict[str, Any]) -> None:
    assert set(body) == {"code", "message"}
    assert body["code"] == 502
    assert body["message"].startswith("the model client failed unexpectedly: TypeError: ")
    assert "Invalid timeout" in body["message"]
    assert KEY not in body["message"] and "<redacted>" in body["message"]


def test_every_ai_endpoint_page_and_tool_answers_502(loaded, broken_sdk, caplog):
    engine, runs, _ = loaded
    failed = runs["test-failure"]
    run_id, test = failed.build_id, failed.failed_tests[0]
    requests = [
        ("/api/ai/job_run", {"prow_job_run_id": run_id}),
        ("/api/ai/job_run", {"prow_job_run_id": run_id, "stream": "true"}),
        ("/api/ai/test_failure", {"prow_job_run_id": run_id, "test_name": test}),
        ("/api/ai/bug", {"prow_job_run_id": run_id, "test_name": test}),
        ("/api/ai/payload", {"release_tag": TAG}),
        ("/api/ai/themes", {}),
    ]
    tools = [
        ("job_run_ai_summary", {"prow_job_run_id": run_id}),
        ("debug_test_failure", {"prow_job_run_id": run_id, "test_name": test}),
        ("draft_bug", {"prow_job_run_id": run_id, "test_name": test}),
        ("payload_themes", {"release_tag": TAG}),
        ("failure_themes", {}),
    ]
    settings = build_settings(ai_endpoint=ENDPOINT, ai_api_key=KEY, ai_retries=3)
    caplog.set_level(logging.INFO)
    with running_server(create_app(settings, engine)) as base:
        answers = [
            httpx.get(f"{base}{path}", params=params, headers={"Accept": "application/json"})
            for path, params in requests
        ]
        asked = len(broken_sdk)
        results = call(base, tools)
        pages = [
            httpx.post(f"{base}/runs/{run_id}/summary"),
            httpx.get(f"{base}/runs/{run_id}/bug", params={"test": test}),
        ]
        healthy = httpx.get(f"{base}/healthz")
    for response in answers:
        assert response.status_code == 502, (response.request.url, response.text)
        assert_model_error(response.json())
    for result in results:
        assert result.is_error
        assert_model_error(json.loads(result.content[0].text))
    for page in pages:
        assert page.status_code == 502
        assert "the model client failed unexpectedly" in page.text and KEY not in page.text
    assert healthy.status_code == 200
    assert asked == len(requests)  # one try each: a client bug is not worth retrying
    logged = [r for r in caplog.records if "outcome=client_error" in r.getMessage()]
    assert len(logged) == len(broken_sdk)  # one line per call
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no stack traces
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    "args",
    [
        ("summarize", "{run}"),
        ("explain", "{run}", "{test}"),
        ("bug", "{run}", "{test}"),
        ("themes", TAG),
    ],
    ids=["summarize", "explain", "bug", "themes"],
)
def test_cli_prints_one_line_and_exits_1(loaded, db_dsn, tmp_path, args):
    _, runs, _ = loaded
    failed = runs["test-failure"]
    (tmp_path / "inject").mkdir()
    (tmp_path / "inject" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    argv = [a.format(run=failed.build_id, test=failed.failed_tests[0]) for a in args]
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path / "inject"),
        "OPENAI_API_KEY": KEY,
        "COLUMNS": "400",
    }
    done = subprocess.run(
        [sys.executable, "-m", "sippy", *argv, "--ai-endpoint", ENDPOINT, "--database-dsn", db_dsn],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        line for line in done.stderr.splitlines() if line.strip() and "model call" not in line
    ]
    (line,) = errors
    assert "(502)" in line and "the model client failed unexpectedly: TypeError:" in line
    assert "Traceback" not in done.stderr and KEY not in done.stderr + done.stdout
