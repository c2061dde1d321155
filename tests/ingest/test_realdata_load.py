"""Real CI artifacts through the whole loader: the payload snapshots' JUnit files are put
back into their GCS layout (the snapshot flattened them) and loaded like any bucket."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sippy.analysis.summary import job_run_summary
from sippy.db.engine import session_factory
from sippy.ingest.load import load_sources
from sippy.settings import Settings

SERIAL_ID = 2054903419998572544
INSIGHTS = "[bz-Insights Operator] clusteroperator/insights should not change condition/Available"


def _rebuild_bucket(realdata: Path, dest: Path) -> dict[int, str]:
    """Lay each snapshot job with JUnit out as gs://test-platform-results/logs/<job>/<id>/.

    Returns build id -> the release controller's job state (Succeeded/Failed)."""
    ids = {}
    for job_json in sorted(realdata.glob("historical-payload-data/**/jobs/*/*/job.json")):
        job = json.loads(job_json.read_text())
        bucket_path = job["gcs_bucket_path"]
        has_junit = any((job_json.parent / "junit").glob("*.xml"))
        if not bucket_path.startswith("test-platform-results/logs/") or not has_junit:
            continue
        run = dest / bucket_path
        if run.exists():
            continue
        run.mkdir(parents=True)
        build_id = int(bucket_path.rsplit("/", 1)[1])
        ids[build_id] = job["state"]
        start = ((build_id >> 22) + 1288834974657) // 1000 + 5
        (run / "started.json").write_text(json.dumps({"timestamp": start}))
        result = "SUCCESS" if job["state"] == "Succeeded" else "FAILURE"
        (run / "finished.json").write_text(
            json.dumps({"timestamp": start + 7200, "passed": result == "SUCCESS", "result": result})
        )
        tail = job_json.parent / "build-log.tail-excerpt.txt"
        if tail.exists():
            shutil.copy(tail, run / "build-log.txt")
        for junit in sorted((job_json.parent / "junit").glob("*.xml")):
            if junit.name == "junit_operator.xml":
                target = run / "artifacts" / "junit_operator.xml"
            else:
                target = run / "artifacts" / "e2e" / "openshift-e2e-test" / "artifacts" / "junit"
                target = target / junit.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(junit, target)
    return ids


def test_real_payload_runs_load_with_what_they_really_contain(realdata, tmp_path, engine):
    ids = _rebuild_bucket(realdata, tmp_path)
    assert len(ids) >= 10
    report = load_sources([str(tmp_path)], Settings(), engine)
    assert report.count("loaded") == len(ids), [o.why for o in report.outcomes]
    assert report.count("failed") == 0
    # The snapshots carry no prowjob.json: that, and only that, is reported for each run.
    problems = {error for o in report.outcomes for _, error in o.problems}
    assert len(problems) == 1 and "prowjob.json missing" in problems.pop()
    with session_factory(engine)() as session:
        serial = job_run_summary(session, SERIAL_ID)
        summaries = {i: job_run_summary(session, i) for i in ids}
    # monitor tests: 1 hard failure and 101 flakes; conformance junit: 2 more flakes.
    assert serial["name"] == "periodic-ci-openshift-release-main-nightly-4.18-e2e-aws-ovn-serial"
    assert serial["release"] == "4.18"
    assert list(serial["testFailures"]) == [INSIGHTS]
    assert serial["testFlakeCount"] == 103
    assert serial["overallResult"] == "F"
    assert serial["failed"] is True and serial["succeeded"] is False
    assert serial["buildLog"]["size"] > 300_000
    # A failed real run is classified as a failure of some kind, never as a success.
    for build_id, state in ids.items():
        expected = "S" if state == "Succeeded" else "FIUNn"
        assert summaries[build_id]["overallResult"] in expected, (build_id, state)
    assert all(s["testFailureCount"] == len(s["testFailures"]) for s in summaries.values())


HYPERSHIFT_ID = 2054344430164381696  # hypershift-ovn-conformance-4.20: create-hostedcluster failed


def test_a_real_hypershift_failure_outside_sippys_suites_reaches_the_evidence(
    realdata, tmp_path, engine
):
    """Its `hypershift install` JUnit is not a Sippy suite, so it adds no test failure; but
    it is the one artifact that says why the run failed, and the evidence carries it."""
    from sippy.ai.builtin import builtin_summary
    from sippy.evidence.bundle import build_evidence

    ids = _rebuild_bucket(realdata, tmp_path)
    assert HYPERSHIFT_ID in ids
    assert load_sources([str(tmp_path)], Settings(), engine).count("failed") == 0
    with session_factory(engine)() as session:
        summary = job_run_summary(session, HYPERSHIFT_ID)
    assert summary["testFailureCount"] == 0 and summary["testFailures"] == {}  # as Sippy
    (other,) = summary["otherJUnitFailures"]
    assert other["name"] == "hypershift install: hosted cluster version rollout succeeds"
    assert "hosted cluster version rollout never completed" in other["text"]
    assert "Cluster operators console, dns, image-registry" in other["text"]
    assert other["source"].endswith("junit_hosted_cluster.xml")
    prompt = build_evidence(summary, 3000).text
    assert "## Other JUnit failures" in prompt and "Cluster operators console, dns" in prompt
    answer = builtin_summary(summary)
    assert "hosted cluster version rollout never completed" in answer
    assert "wrapped process failed" not in answer  # before: the entrypoint wrapper line


def test_built_in_answers_on_real_runs_quote_causes_not_wrappers(realdata, tmp_path, engine):
    """Every real failed run's built-in answer: no entrypoint wrapper JSON, no colour codes
    whose ESC became U+FFFD; a pytest failure is quoted rather than the make line after it."""
    from sippy.ai.builtin import builtin_summary

    ids = _rebuild_bucket(realdata, tmp_path)
    load_sources([str(tmp_path)], Settings(), engine)
    with session_factory(engine)() as session:
        answers = {i: builtin_summary(job_run_summary(session, i)) for i in ids}
    for build_id, answer in answers.items():
        assert "wrapped process failed" not in answer and '"component"' not in answer, answer
        assert "\ufffd[" not in answer, (build_id, answer)
    sno = answers[2037307773397504000]  # metal single-node: a pytest timeout, then make errors
    assert "FAILED src/tests/test_bootstrap_in_place.py::TestBootstrapInPlace" in sno
    assert "TimeoutExpired: Timeout of 4200 seconds expired" in sno
