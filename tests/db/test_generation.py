"""The data generation: bumped by every stored run, and what servers keep is dropped then."""

from __future__ import annotations

import httpx
from sqlalchemy import delete

from sippy.app import create_app
from sippy.db import models as m
from sippy.db.engine import session_factory, session_scope
from sippy.db.generation import DerivedCache, current_generation
from sippy.ingest.load import load_sources
from sippy.ingest.store import delete_run
from sippy.settings import Settings
from tests.helpers import JUNIT_ONE_FAILURE, make_run, running_server

JOB = "periodic-ci-openshift-release-main-nightly-4.20-e2e-aws-ovn"
RUN = 2054903419998572544
TEST = "[sig-network] pods should talk [Suite:openshift/conformance/parallel]"
SECOND_FAILURE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="openshift-tests" tests="1" failures="1">
  <testcase name="[sig-storage] volumes mount [Suite:openshift/conformance/parallel]" time="2">
    <failure message="">fail [origin/test/extended/vol.go:7]: no mount</failure>
  </testcase>
</testsuite>
"""


def generation(engine) -> int | None:
    with session_factory(engine)() as session:
        return current_generation(session)


def load(root, engine) -> None:
    assert load_sources([str(root)], Settings(), engine).ok


def test_storing_or_removing_a_run_bumps_the_generation(tmp_path, engine):
    make_run(tmp_path, JOB, RUN, files={"artifacts/junit/junit_e2e.xml": JUNIT_ONE_FAILURE})
    before = generation(engine)  # 0 after migrating; None once tests truncated the tables
    load(tmp_path, engine)
    first = generation(engine)
    assert first is not None and (before is None or first > before)
    load(tmp_path, engine)  # unchanged: nothing written
    assert generation(engine) == first
    make_run(tmp_path, JOB, RUN, files={"artifacts/junit/junit_more.xml": SECOND_FAILURE})
    load(tmp_path, engine)  # changed: replaced
    second = generation(engine)
    assert second is not None and second > first
    with session_scope(session_factory(engine)) as session:
        delete_run(session, RUN)
    assert generation(engine) > second


def test_kept_values_are_dropped_when_runs_change(tmp_path, engine):
    cache, computed = DerivedCache(), []

    def get(key: str) -> str:
        with session_factory(engine)() as session:
            return cache.get(session, key, lambda: computed.append(key) or f"value of {key}")

    make_run(tmp_path, JOB, RUN, files={"artifacts/junit/junit_e2e.xml": JUNIT_ONE_FAILURE})
    load(tmp_path, engine)
    assert [get("a"), get("a"), get("b"), get("a")] == ["value of a"] * 2 + ["value of b"] + [
        "value of a"
    ]
    assert computed == ["a", "b"]
    make_run(tmp_path, JOB, RUN + 1, files={"artifacts/junit/junit_e2e.xml": JUNIT_ONE_FAILURE})
    load(tmp_path, engine)
    get("a")
    get("a")
    assert computed == ["a", "b", "a"]


def test_without_the_generation_row_nothing_is_kept(tmp_path, engine):
    cache, computed = DerivedCache(), []
    with session_scope(session_factory(engine)) as session:
        session.execute(delete(m.DataGeneration))
    with session_factory(engine)() as session:
        for _ in range(2):
            cache.get(session, "a", lambda: computed.append(1))
    assert computed == [1, 1]
    make_run(tmp_path, JOB, RUN, files={"artifacts/junit/junit_e2e.xml": JUNIT_ONE_FAILURE})
    load(tmp_path, engine)  # the row comes back with the next stored run
    assert generation(engine) == 1


def test_a_running_server_answers_from_what_is_stored_now(tmp_path, engine):
    """Summaries, test histories and the AI evidence follow a reload at once (with
    `derived_fresh_for=0`), though the server keeps them between requests."""
    make_run(tmp_path, JOB, RUN, files={"artifacts/junit/junit_e2e.xml": JUNIT_ONE_FAILURE})
    load(tmp_path, engine)
    storage = "[sig-storage] volumes mount [Suite:openshift/conformance/parallel]"

    def observe(base: str) -> tuple[int, int, bool]:
        summary = httpx.get(f"{base}/api/job/run/summary", params={"prow_job_run_id": RUN})
        history = httpx.get(f"{base}/api/tests/history", params={"test_name": TEST})
        answer = httpx.get(
            f"{base}/api/ai/job_run",
            params={"prow_job_run_id": RUN},
            headers={"Accept": "application/json"},
        )
        assert summary.status_code == history.status_code == answer.status_code == 200
        evidence = " ".join(i["title"] + " " + i["text"] for i in answer.json()["evidence"])
        return summary.json()["testFailureCount"], history.json()["runs"], storage in evidence

    with running_server(create_app(Settings(derived_fresh_for=0), engine)) as base:
        assert observe(base) == observe(base) == (1, 1, False)
        make_run(tmp_path, JOB, RUN, files={"artifacts/junit/junit_more.xml": SECOND_FAILURE})
        make_run(tmp_path, JOB, RUN + 1, files={"artifacts/junit/junit_e2e.xml": JUNIT_ONE_FAILURE})
        load(tmp_path, engine)
        assert observe(base) == (2, 2, True)


def test_kept_values_are_read_from_memory_only_while_fresh(tmp_path, engine, monkeypatch):
    """`peek` answers without the database for `fresh_for` seconds after the generation
    was last confirmed, and never for a key that was not kept."""
    from sippy.db import generation as gen

    make_run(tmp_path, JOB, RUN, files={"artifacts/junit/junit_e2e.xml": JUNIT_ONE_FAILURE})
    load(tmp_path, engine)  # the generation row exists from the first stored run on
    now = [1000.0]
    monkeypatch.setattr(gen.time, "monotonic", lambda: now[0])
    cache = DerivedCache(fresh_for=1.0)
    assert cache.peek("a") is gen.MISSING  # nothing confirmed yet
    with session_factory(engine)() as session:
        cache.get(session, "a", lambda: "value of a")
    assert cache.peek("a") == "value of a"
    assert cache.peek("b") is gen.MISSING
    now[0] += 0.9
    assert cache.peek("a") == "value of a"
    now[0] += 0.2  # 1.1 s after the last confirmation
    assert cache.peek("a") is gen.MISSING
    with session_factory(engine)() as session:
        cache.get(session, "a", lambda: "recomputed")  # confirms again; still kept
    assert cache.peek("a") == "value of a"
    cache.forget("a")
    assert cache.peek("a") is gen.MISSING


def test_a_server_sees_a_reload_within_its_freshness_window(tmp_path, engine):
    """With the default window a summary served from memory follows a reload within about
    a second, without a restart."""
    import time

    make_run(tmp_path, JOB, RUN, files={"artifacts/junit/junit_e2e.xml": JUNIT_ONE_FAILURE})
    load(tmp_path, engine)

    def failures(base: str) -> int:
        reply = httpx.get(f"{base}/api/job/run/summary", params={"prow_job_run_id": RUN})
        return reply.json()["testFailureCount"]

    with running_server(create_app(Settings(), engine)) as base:
        assert failures(base) == failures(base) == 1
        make_run(tmp_path, JOB, RUN, files={"artifacts/junit/junit_more.xml": SECOND_FAILURE})
        load(tmp_path, engine)
        deadline = time.monotonic() + 1.0 + 2.0  # the window, plus slack for a busy machine
        while failures(base) != 2:
            assert time.monotonic() < deadline, "the reload was not seen"
            time.sleep(0.05)
