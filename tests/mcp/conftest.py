"""Loaded runs and a release payload for the MCP tests, and the fake model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp.types import CallToolResult
from sqlalchemy import Engine

from sippy.ingest.load import load_sources
from sippy.samples.generator import SampleRun, generate_samples
from sippy.settings import Settings
from tests.fakes.openai_server import FakeOpenAI

TAG = "4.20.0-0.nightly-2026-05-14-120000"
TOOLS = {
    "job_run_summary",
    "job_run_ai_summary",
    "debug_test_failure",
    "draft_bug",
    "test_history",
    "payload_themes",
    "failure_themes",
}


@dataclass
class Loaded:
    engine: Engine
    runs: dict[str, SampleRun]  # by scenario
    tag: str


def write_payload(runs: list[SampleRun], path: Path) -> None:
    """Release-controller JSON naming every run as a blocking job of payload TAG."""
    jobs = {
        f"job-{index}": {
            "state": "Succeeded" if run.prow_state == "success" else "Failed",
            "url": f"https://prow.ci.openshift.org/view/gs/{run.path}",
        }
        for index, run in enumerate(runs)
    }
    doc = {"name": TAG, "phase": "Rejected", "results": {"blockingJobs": jobs}}
    path.write_text(json.dumps(doc))


@pytest.fixture
def loaded(tmp_path: Path, engine: Engine) -> Loaded:
    """Generated runs and a payload holding them, loaded into `engine`."""
    root = tmp_path / "runs"
    runs = generate_samples(root, count=14)  # two runs of each scenario: shared causes
    release = tmp_path / "release.json"
    write_payload(runs, release)
    report = load_sources([str(root), str(release)], Settings(), engine)
    assert report.ok, report
    return Loaded(engine, {r.scenario: r for r in runs}, TAG)


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(model: FakeOpenAI) -> FakeOpenAI:
    model.reset()
    return model


def answer(result: CallToolResult) -> dict[str, Any]:
    """A successful tool result's JSON; its text and structured content agree."""
    assert not result.is_error, result.content
    body = json.loads(result.content[0].text)
    assert result.structured_content == body
    return body


def error(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error
    body = json.loads(result.content[0].text)
    assert set(body) == {"code", "message"} and result.structured_content == body
    return body
