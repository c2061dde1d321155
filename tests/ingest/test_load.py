"""`load_sources` end to end on real files and real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select

from sippy.analysis.summary import job_run_summary
from sippy.db import models as m
from sippy.db.engine import session_factory
from sippy.ingest import store
from sippy.ingest.load import load_sources
from sippy.samples.generator import generate_samples
from sippy.settings import Settings
from tests.helpers import JUNIT_ONE_FAILURE, make_run

JOB = "periodic-ci-openshift-release-main-nightly-4.20-e2e-aws-ovn"


def _counts(engine) -> dict[str, int]:
    with session_factory(engine)() as session:
        return {
            table.__tablename__: session.scalar(select(func.count()).select_from(table))
            for table in (
                m.ProwJob,
                m.ProwJobRun,
                m.ProwJobRunTest,
                m.ProwJobRunTestOutput,
                m.Test,
                m.OperatorConditionRow,
                m.NodeProblemRow,
                m.ProwJobRunArtifact,
            )
        }


def test_loads_every_sample_run_with_its_expected_result(tmp_path, engine):
    runs = generate_samples(tmp_path)
    report = load_sources([str(tmp_path)], Settings(), engine)
    assert report.ok, report
    assert report.count("loaded") == len(runs)
    with session_factory(engine)() as session:
        for sample in runs:
            summary = job_run_summary(session, sample.build_id)
            assert summary["overallResult"] == sample.expected_result, sample.scenario
            assert summary["name"] == sample.job_name
            keys = summary["testFailures"]
            for name in sample.failed_tests:  # a name failing in two suites is keyed suite.name
                assert any(k == name or k.endswith(f".{name}") for k in keys), (name, keys)
            assert summary["testFailureCount"] == len(summary["testFailures"])


def test_loading_the_same_source_again_changes_nothing(tmp_path, engine):
    generate_samples(tmp_path)
    first = load_sources([str(tmp_path)], Settings(), engine)
    before = _counts(engine)
    second = load_sources([str(tmp_path)], Settings(), engine)
    assert second.count("unchanged") == first.count("loaded") > 0
    assert second.count("loaded") == 0
    assert _counts(engine) == before


def test_a_changed_run_is_replaced_whole(tmp_path, engine):
    run = make_run(
        tmp_path,
        JOB,
        2054903419998572544,
        files={"artifacts/junit/junit_e2e__1.xml": JUNIT_ONE_FAILURE},
    )
    load_sources([str(tmp_path)], Settings(), engine)
    (run / "artifacts/junit/junit_e2e__1.xml").write_text(
        JUNIT_ONE_FAILURE.replace("<failure", "<skipped/><!--").replace("</failure>", "-->")
    )
    report = load_sources([str(tmp_path)], Settings(), engine)
    assert report.count("loaded") == 1
    with session_factory(engine)() as session:
        summary = job_run_summary(session, 2054903419998572544)
    assert summary["testFailures"] == {}
    assert _counts(engine)["prow_job_runs"] == 1


def test_a_run_that_fails_to_write_is_not_stored_at_all(tmp_path, engine, monkeypatch):
    make_run(
        tmp_path,
        JOB,
        2054903419998572544,
        files={"artifacts/junit/junit_e2e__1.xml": JUNIT_ONE_FAILURE},
    )
    make_run(
        tmp_path,
        JOB,
        2054903419998572545,
        files={"artifacts/junit/junit_e2e__1.xml": JUNIT_ONE_FAILURE},
    )
    real = store._insert_problems

    def explode(session, run, artifact_ids):
        if run.meta.build_id == 2054903419998572544:
            raise RuntimeError("disk full")
        return real(session, run, artifact_ids)

    monkeypatch.setattr(store, "_insert_problems", explode)
    report = load_sources([str(tmp_path)], Settings(), engine)
    assert report.count("failed") == 1 and report.count("loaded") == 1
    assert not report.ok
    failed = next(o for o in report.outcomes if o.status == "failed")
    assert "disk full" in failed.why
    with session_factory(engine)() as session:
        ids = set(session.scalars(select(m.ProwJobRun.id)))
        orphan_tests = session.scalar(
            select(func.count())
            .select_from(m.ProwJobRunTest)
            .where(m.ProwJobRunTest.prow_job_run_id == 2054903419998572544)
        )
    assert ids == {2054903419998572545}
    assert orphan_tests == 0


BAD_JUNITS = {
    "malformed": (b"<testsuite name='openshift-tests'><testcase name='a'>", "malformed"),
    "xxe": (
        b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<testsuite name="openshift-tests"><testcase name="&x;"/></testsuite>',
        "entit",
    ),
    "bomb": (
        b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<testsuite name="openshift-tests"><testcase name="&b;"/></testsuite>',
        "entit",
    ),
    "empty": (b"", "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_JUNITS))
def test_a_bad_junit_is_reported_and_the_rest_loads(tmp_path, engine, case):
    data, expect = BAD_JUNITS[case]
    make_run(
        tmp_path,
        JOB,
        2054903419998572544,
        files={
            "artifacts/junit/junit_bad.xml": data,
            "artifacts/junit/junit_e2e__1.xml": JUNIT_ONE_FAILURE,
        },
    )
    make_run(tmp_path, JOB, 2054903419998572545)
    report = load_sources([str(tmp_path)], Settings(), engine)
    assert report.count("loaded") == 2
    assert not report.ok
    problems = [p for o in report.outcomes for p in o.problems]
    assert [p[0] for p in problems] == ["artifacts/junit/junit_bad.xml"]
    assert expect in problems[0][1].lower()
    with session_factory(engine)() as session:
        summary = job_run_summary(session, 2054903419998572544)
        names = set(session.scalars(select(m.Test.name)))
    assert len(summary["testFailures"]) == 1  # the good file of the same run loaded
    assert summary["loadProblems"][0]["path"] == "artifacts/junit/junit_bad.xml"
    assert not any("root:" in n for n in names)  # /etc/passwd never read


def test_invalid_utf8_is_repaired_and_reported(tmp_path, engine):
    bad = JUNIT_ONE_FAILURE.encode().replace(b"pods cannot talk", b"pods \xff\xfe cannot talk")
    make_run(tmp_path, JOB, 2054903419998572544, files={"artifacts/junit/junit_e2e__1.xml": bad})
    report = load_sources([str(tmp_path)], Settings(), engine)
    assert report.count("loaded") == 1 and not report.ok
    with session_factory(engine)() as session:
        summary = job_run_summary(session, 2054903419998572544)
    snippet = next(iter(summary["testFailures"].values()))
    assert "\ufffd" in snippet and "cannot talk" in snippet
    assert "utf-8" in summary["loadProblems"][0]["error"].lower()


def test_oversized_artifacts_are_refused_unread(tmp_path, engine):
    make_run(
        tmp_path,
        JOB,
        2054903419998572544,
        files={"artifacts/junit/junit_e2e__1.xml": JUNIT_ONE_FAILURE + " " * 5000},
    )
    report = load_sources([str(tmp_path)], Settings(max_artifact_bytes=4000), engine)
    assert report.count("loaded") == 1
    ((path, error),) = report.outcomes[0].problems
    assert path == "artifacts/junit/junit_e2e__1.xml" and "cap" in error


def test_missing_prowjob_falls_back_to_started_and_finished(tmp_path, engine):
    make_run(
        tmp_path,
        JOB,
        2054903419998572544,
        prowjob=False,
        files={
            "started.json": '{"timestamp": 1778752800}',
            "finished.json": '{"timestamp": 1778761800, "passed": false, "result": "FAILURE"}',
            "artifacts/junit/junit_e2e__1.xml": JUNIT_ONE_FAILURE,
        },
    )
    report = load_sources([str(tmp_path)], Settings(), engine)
    assert report.count("loaded") == 1
    with session_factory(engine)() as session:
        summary = job_run_summary(session, 2054903419998572544)
    assert summary["name"] == JOB
    assert summary["overallResult"] == "F"
    assert summary["durationSeconds"] == 9000


def test_broken_prowjob_is_reported_and_the_run_still_loads(tmp_path, engine):
    make_run(
        tmp_path,
        JOB,
        2054903419998572544,
        prowjob=False,
        files={
            "prowjob.json": "{not json",
            "finished.json": '{"timestamp": 1778761800, "passed": false, "result": "FAILURE"}',
            "artifacts/junit/junit_e2e__1.xml": JUNIT_ONE_FAILURE,
        },
    )
    report = load_sources([str(tmp_path)], Settings(), engine)
    assert report.count("loaded") == 1 and not report.ok
    assert any(p[0] == "prowjob.json" for p in report.outcomes[0].problems)


def test_a_run_without_identity_fails_with_why_and_others_load(tmp_path, engine):
    odd = tmp_path / "some-folder" / "not-a-build"
    odd.mkdir(parents=True)
    (odd / "prowjob.json").write_text("[]")
    make_run(tmp_path, JOB, 2054903419998572545)
    report = load_sources([str(tmp_path)], Settings(), engine)
    assert report.count("loaded") == 1 and report.count("failed") == 1
    failed = next(o for o in report.outcomes if o.status == "failed")
    assert "not-a-build" in failed.location and failed.why


def test_a_missing_source_is_reported_and_other_sources_load(tmp_path, engine):
    make_run(tmp_path, JOB, 2054903419998572545)
    report = load_sources([str(tmp_path / "nope"), str(tmp_path)], Settings(), engine)
    assert report.count("loaded") == 1
    assert report.source_errors and "nope" in report.source_errors[0]
    assert not report.ok


def test_symlinks_leaving_the_source_are_not_read(tmp_path, engine):
    secret = tmp_path / "outside" / "junit_secret.xml"
    secret.parent.mkdir()
    secret.write_text(JUNIT_ONE_FAILURE.replace("pods cannot talk", "TOP SECRET"))
    source = tmp_path / "src"
    run = make_run(source, JOB, 2054903419998572544)
    (run / "artifacts").mkdir()
    (run / "artifacts" / "junit_link.xml").symlink_to(secret)
    report = load_sources([str(source)], Settings(), engine)
    assert report.count("loaded") == 1
    with session_factory(engine)() as session:
        summary = job_run_summary(session, 2054903419998572544)
    assert summary["testFailures"] == {}
    assert any("leaves the source" in p["error"] for p in summary["loadProblems"])


def test_one_run_folder_can_be_loaded_directly(tmp_path, engine):
    run = make_run(
        tmp_path,
        JOB,
        2054903419998572544,
        files={"artifacts/junit/junit_e2e__1.xml": JUNIT_ONE_FAILURE},
    )
    copy = tmp_path / "elsewhere" / "myrun"
    shutil.copytree(run, copy)
    report = load_sources([str(copy)], Settings(), engine)
    assert report.count("loaded") == 1
    assert report.outcomes[0].run_id == 2054903419998572544
