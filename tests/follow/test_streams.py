"""Following a release stream from a real HTTP server in the release controller's shape:
new tags are loaded, a tag is loaded again when its phase changes, a rejected payload's
themes are named ahead of anyone asking (with a model), and an unreadable list is reported."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from sqlalchemy import select

from sippy.db import models as m
from sippy.db.engine import session_factory
from sippy.follow.streams import stream_of
from sippy.samples.generator import generate_samples
from sippy.settings import build_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.follow.conftest import following
from tests.helpers import running_server

STREAM = "4.20.0-0.nightly"
FIRST = "4.20.0-0.nightly-2026-05-14-120000"
SECOND = "4.20.0-0.nightly-2026-05-14-180000"


class ReleaseController:
    def __init__(self, runs) -> None:  # type: ignore[no-untyped-def]
        self.docs: dict[str, dict[str, Any]] = {}
        self.runs = runs
        self.requests = 0
        self.down = False

    def add(self, tag: str, phase: str) -> None:
        """A payload whose blocking jobs are all the runs (failed ones as Failed jobs)."""
        jobs = {
            f"job-{index}": {
                "state": "Succeeded" if run.prow_state == "success" else "Failed",
                "url": f"https://prow.ci.openshift.org/view/gs/{run.path}",
            }
            for index, run in enumerate(self.runs)
        }
        self.docs[tag] = {"name": tag, "phase": phase, "results": {"blockingJobs": jobs}}

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/v1/releasestream/{name}/tags")
        def tags(name: str) -> dict[str, Any]:
            self.requests += 1
            if self.down or name != STREAM:
                raise HTTPException(503 if self.down else 404)
            listed = [{"name": t, "phase": d["phase"]} for t, d in self.docs.items()]
            return {"name": name, "tags": listed}

        @app.get("/api/v1/releasestream/{name}/release/{tag}")
        def release(name: str, tag: str) -> dict[str, Any]:
            if tag not in self.docs:
                raise HTTPException(404)
            return self.docs[tag]

        return app


def phases(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with session_factory(engine)() as session:
        return dict(session.execute(select(m.ReleaseTag.release_tag, m.ReleaseTag.phase)).all())


def test_stream_urls():
    tags = "https://amd64.ocp.releases.ci.openshift.org/api/v1/releasestream/4.22.0-0.nightly/tags"
    stream = stream_of(tags)
    assert stream is not None and stream.tags_url == tags
    assert stream.release_url("T") == tags.removesuffix("/tags") + "/release/T"
    page = stream_of("https://amd64.ocp.releases.ci.openshift.org/releasestream/4.22.0-0.nightly")
    assert page == stream
    assert stream_of("https://prow.ci.openshift.org/view/gs/b/logs/job/1") is None
    assert stream_of("/some/folder") is None


def test_new_tags_and_phase_changes_are_loaded(tmp_path, engine):
    controller = ReleaseController(generate_samples(tmp_path / "runs"))
    controller.add(FIRST, "Ready")
    with running_server(controller.app()) as base:
        follow = following([f"{base}/api/v1/releasestream/{STREAM}/tags"], engine)
        first = follow.poll()
        assert (first.payloads, phases(engine)) == (1, {FIRST: "Ready"})
        assert follow.poll().payloads == 0  # nothing changed: nothing queued
        controller.docs[FIRST]["phase"] = "Rejected"
        controller.add(SECOND, "Accepted")
        later = follow.poll()
        assert later.payloads == 2
        assert phases(engine) == {FIRST: "Rejected", SECOND: "Accepted"}
        assert later.ops["read"] == 1  # the tags list, once a poll
        controller.down = True
        outage = follow.poll()
        assert outage.payloads == 0 and "HTTP 503" in outage.errors[0]


def test_a_rejected_payload_gets_its_themes_named_ahead(tmp_path, engine):
    """Its jobs' runs finish first (and are followed), then the payload is rejected."""
    runs = generate_samples(tmp_path / "runs", count=14)  # two of each scenario: themes
    controller = ReleaseController(runs)
    with FakeOpenAI() as fake, running_server(controller.app()) as base:
        settings = build_settings(ai_endpoint=fake.base_url)
        stream = f"{base}/api/v1/releasestream/{STREAM}/tags"
        follow = following([str(tmp_path / "runs"), stream], engine, settings)
        follow.poll()  # the runs, and their summaries
        controller.add(FIRST, "Rejected")
        assert follow.poll().payloads == 1
        calls = len(fake.chat_requests)
    with session_factory(engine)() as session:
        stored = session.scalars(select(m.AiResultRow.purpose)).all()
    assert "themes" in stored  # named before anyone asked for the payload's themes
    assert stored.count("job_run") == sum(r.expected_result != "S" for r in runs)
    assert calls == len(stored)  # one model call per stored answer
