"""A test's outcome run by run (strips, timeline), its latest failure texts, name lookups."""

from __future__ import annotations

from pathlib import Path

import pytest

from sippy.analysis.summary import job_run_summary
from sippy.analysis.test_history import UnknownTest
from sippy.analysis.test_timeline import (
    failure_excerpts,
    find_tests,
    names_of_keys,
    outcome_strips,
    timeline_of_test,
)
from sippy.db.engine import session_factory
from sippy.ingest.load import load_sources
from sippy.settings import Settings
from tests.analysis.builder import junit, run_with_tests

JOB_A = "periodic-ci-openshift-release-main-nightly-4.20-e2e-aws-ovn"
JOB_B = "periodic-ci-openshift-release-main-nightly-4.21-e2e-gcp-ovn"
X = "[sig-network] X should work [Suite:openshift/conformance/parallel]"
Y = "[sig-apps] Y 100% works [Suite:openshift/conformance/parallel]"
# (job, build id, start, outcomes), in start order
RUNS = [
    (JOB_A, 101, "2026-05-01T10:00:00Z", {X: "pass", Y: "pass"}),
    (JOB_A, 102, "2026-05-02T10:00:00Z", {X: "fail"}),
    (JOB_B, 201, "2026-05-02T12:00:00Z", {X: "fail", Y: "fail"}),
    (JOB_A, 103, "2026-05-03T10:00:00Z", {X: "flake", Y: "pass"}),
    (JOB_A, 104, "2026-05-04T10:00:00Z", {X: "fail", Y: "fail"}),
]


@pytest.fixture
def loaded(tmp_path: Path, engine):
    for job, build_id, start, cases in RUNS:
        run_with_tests(tmp_path, job, build_id, start, cases)
    assert load_sources([str(tmp_path)], Settings(), engine).ok
    return session_factory(engine)


def _statuses(cells):
    return [(c["id"], c["status"]) for c in cells]


def test_strips_show_the_job_up_to_the_run_oldest_first(loaded):
    with loaded() as session:
        latest = outcome_strips(session, 104, [X, Y, "never loaded"])
        earlier = outcome_strips(session, 102, [X])
        window = outcome_strips(session, 104, [X], window=2)
    assert set(latest) == {X, Y}  # an unknown name has no strip
    assert _statuses(latest[X]) == [
        (101, "pass"),
        (102, "failure"),
        (103, "flake"),
        (104, "failure"),
    ]
    assert _statuses(latest[Y]) == [(101, "pass"), (102, "absent"), (103, "pass"), (104, "failure")]
    assert latest[X][0]["startTime"] == "2026-05-01T10:00:00Z"
    assert _statuses(earlier[X]) == [(101, "pass"), (102, "failure")]  # JOB_B is another job
    assert _statuses(window[X]) == [(103, "flake"), (104, "failure")]


def test_timeline_covers_every_job_in_start_order(loaded):
    with loaded() as session:
        everything = timeline_of_test(session, X)
        one_job = timeline_of_test(session, X, job=JOB_B)
        newest_two = timeline_of_test(session, X, limit=2)
        other_release = timeline_of_test(session, X, release="4.21")
        with pytest.raises(UnknownTest):
            timeline_of_test(session, "no such test")
    assert _statuses(everything) == [
        (101, "pass"),
        (102, "failure"),
        (201, "failure"),
        (103, "flake"),
        (104, "failure"),
    ]
    assert everything[2]["job"] == JOB_B and everything[2]["release"] == "4.21"
    assert _statuses(one_job) == [(201, "failure")] == _statuses(other_release)
    assert _statuses(newest_two) == [(103, "flake"), (104, "failure")]


def test_excerpts_are_the_latest_failures_with_their_decisive_line(loaded):
    with loaded() as session:
        excerpts = failure_excerpts(session, X)
        first_two = failure_excerpts(session, X, limit=2)
        in_job_a = failure_excerpts(session, X, job=JOB_A)
    assert _statuses(excerpts) == [
        (104, "failure"),
        (103, "flake"),
        (201, "failure"),
        (102, "failure"),
    ]
    assert all(e["excerpt"].startswith(f"fail [example.go:1]: {X} broke") for e in excerpts)
    assert excerpts[0]["source"] == "artifacts/e2e/junit/junit_e2e.xml"
    assert excerpts[0]["startTime"] == "2026-05-04T10:00:00Z" and excerpts[0]["job"] == JOB_A
    assert _statuses(first_two) == [(104, "failure"), (103, "flake")]
    assert [e["id"] for e in in_job_a] == [104, 103, 102]


def test_summary_keys_of_a_test_in_two_suites_map_to_its_name(tmp_path, engine):
    twice = junit({X: "fail"}, suite="openshift-tests-upgrade")
    run_with_tests(
        tmp_path,
        JOB_A,
        301,
        "2026-05-05T10:00:00Z",
        {X: "fail", Y: "flake"},
        extra={"artifacts/e2e/junit/junit_upgrade.xml": twice},
    )
    assert load_sources([str(tmp_path)], Settings(), engine).ok
    with session_factory(engine)() as session:
        summary = job_run_summary(session, 301)
        keys = [*summary["testFailures"], *summary["testFlakes"]]
        names = names_of_keys(session, 301, [*keys, "unknown key"])
    assert f"openshift-tests.{X}" in keys and f"openshift-tests-upgrade.{X}" in keys
    assert names == {
        f"openshift-tests.{X}": X,
        f"openshift-tests-upgrade.{X}": X,
        Y: Y,
    }


def test_find_tests_matches_any_case_and_literal_percent(loaded):
    with loaded() as session:
        assert find_tests(session, "SIG-NETWORK") == [X]
        assert find_tests(session, "100%") == [Y]
        assert find_tests(session, "%") == [Y]  # a literal percent sign, not "anything"
        assert find_tests(session, "x SHOULD") == [X]
        assert find_tests(session, "  ") == []
