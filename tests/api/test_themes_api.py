"""Payload themes and cross-run themes on a real server, over generated runs with planted causes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sippy.app import create_app
from sippy.ingest.load import load_sources
from sippy.samples.generator import SampleRun, generate_samples
from sippy.settings import Settings, build_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import running_server

TAG = "4.20.0-0.nightly-2026-05-14-120000"


def payload_doc(runs: list[SampleRun]) -> dict[str, Any]:
    jobs = {
        f"job-{index}": {
            "state": "Succeeded" if run.prow_state == "success" else "Failed",
            "url": f"https://prow.ci.openshift.org/view/gs/{run.path}",
        }
        for index, run in enumerate(runs)
    }
    return {"name": TAG, "phase": "Rejected", "results": {"blockingJobs": jobs}}


def _family(run: SampleRun) -> str:
    return "e2e tests" if run.scenario in ("test-failure", "presubmit-failure") else run.scenario


@pytest.fixture
def payload(tmp_path: Path, engine):
    root = tmp_path / "runs"
    runs = generate_samples(root, count=30, seed=11)
    release = tmp_path / "release.json"
    release.write_text(json.dumps(payload_doc(runs)))
    report = load_sources([str(release)], Settings(), engine, artifacts=str(root))
    assert report.ok, report
    return engine, {r.build_id: r for r in runs}


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def get(base: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{base}{path}", params=params, timeout=30)


def test_payload_themes_group_the_planted_causes(payload):
    engine, runs = payload
    with running_server(create_app(Settings(), engine)) as base:
        first = get(base, "/api/ai/payload", release_tag=TAG).json()
        again = get(base, "/api/ai/payload", release_tag=TAG).json()
    assert first["releaseTag"] == TAG and first["phase"] == "Rejected"
    assert first["model"] == "builtin"
    themes = first["themes"]
    failed = {i for i, r in runs.items() if r.prow_state != "success"}
    assert first["runs"] == len(failed)
    for theme in themes:  # each theme is one planted cause (e2e test failures may be shared
        # by periodic and presubmit runs: same test, same failure)
        assert len({_family(runs[r]) for r in theme["runs"]}) == 1, theme["title"]
    sizes = [len(t["runs"]) for t in themes]
    assert sizes == sorted(sizes, reverse=True)
    by_scenario: dict[str, int] = {}
    for run_id in failed:
        by_scenario[runs[run_id].scenario] = by_scenario.get(runs[run_id].scenario, 0) + 1
    covered = {runs[t["runs"][0]].scenario for t in themes}
    assert covered >= {s for s, n in by_scenario.items() if n >= 2 and s != "test-failure"}
    upgrade = [t for t in themes if runs[t["runs"][0]].scenario == "upgrade-failure"]
    assert len(upgrade) == 1 and len(upgrade[0]["tests"]) >= 2  # one cause, several tests
    assert [t["id"] for t in again["themes"]] == [t["id"] for t in themes]
    explained = {r for t in themes for r in t["runs"]}
    assert set(first["unexplained"]) == failed - explained
    assert len(first["jobs"]) == len(runs)


def test_the_model_names_the_themes_in_one_cached_call(payload, model):
    engine, _ = payload
    model.reset()

    def name_them(body: dict[str, Any]) -> str:
        ids = re.findall(r"^id: (\w+)$", body["messages"][1]["content"], re.MULTILINE)
        return json.dumps([{"id": i, "title": f"Theme {i}", "summary": "Shared."} for i in ids])

    model.reply = name_them
    with running_server(create_app(build_settings(ai_endpoint=model.base_url), engine)) as base:
        first = get(base, "/api/ai/payload", release_tag=TAG).json()
        second = get(base, "/api/ai/payload", release_tag=TAG).json()
    user = model.chat_requests[0].body["messages"][1]["content"]
    asked = set(re.findall(r"^id: (\w+)$", user, re.MULTILINE))
    assert asked and asked == {t["id"] for t in first["themes"] if "namedBy" in t}
    assert first["themes"][0]["id"] in asked  # the largest come first
    assert all(t["title"] == f"Theme {t['id']}" for t in first["themes"] if t["id"] in asked)
    assert first["cached"] is False and second["cached"] is True
    assert len(model.chat_requests) == 1
    assert f"payload {TAG}" in user and "<evidence>" in user


def test_unusable_model_names_keep_the_builtin_ones(payload, model):
    engine, _ = payload
    model.reset()
    model.reply = "I think these are all network problems."
    with running_server(create_app(build_settings(ai_endpoint=model.base_url), engine)) as base:
        answer = get(base, "/api/ai/payload", release_tag=TAG).json()
    assert answer["themes"] and all(t["title"] for t in answer["themes"])
    assert all("namedBy" not in t for t in answer["themes"])


def test_errors_and_cross_run_themes(payload):
    engine, runs = payload
    with running_server(create_app(Settings(), engine)) as base:
        missing = get(base, "/api/ai/payload")
        unknown = get(base, "/api/ai/payload", release_tag="4.99.0-0.nightly-2099-01-01-000000")
        all_runs = get(base, "/api/ai/themes").json()
        none = get(base, "/api/ai/themes", release="3.11").json()
    assert missing.status_code == 400
    assert unknown.status_code == 404 and set(unknown.json()) == {"code", "message"}
    assert all_runs["themes"] and all_runs["runs"] >= len(all_runs["unexplained"])
    assert none == {**none, "themes": [], "unexplained": [], "runs": 0}
