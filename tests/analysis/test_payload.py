"""Payload reads: the summary of one payload, its failed loaded runs, the newest payloads."""

from __future__ import annotations

import json

import pytest

from sippy.analysis.payload import (
    PayloadNotFound,
    failed_payload_runs,
    payload_summary,
    payloads_of_run,
    recent_payloads,
)
from sippy.db.engine import session_factory
from sippy.ingest.load import load_sources
from sippy.samples.generator import generate_samples
from sippy.settings import Settings
from tests.ingest.test_payload import TAG, sample_payload

OLDER = "4.20.0-0.nightly-2026-05-13-080000"


@pytest.fixture
def loaded(tmp_path, engine):
    """Two payloads over the generated runs; the failed runs of the newer one are loaded."""
    runs = generate_samples(tmp_path / "samples")
    (tmp_path / "new.json").write_text(json.dumps(sample_payload(runs)))
    older = sample_payload(runs, tag=OLDER)
    older["phase"] = "Accepted"
    older["results"]["informingJobs"] = {}
    (tmp_path / "old.json").write_text(json.dumps(older))
    report = load_sources(
        [str(tmp_path / "new.json")], Settings(), engine, artifacts=str(tmp_path / "samples")
    )
    assert report.ok, report
    assert load_sources([str(tmp_path / "old.json")], Settings(), engine).ok
    return {r.scenario: r for r in runs}


def test_payload_summary_shape(loaded, engine):
    with session_factory(engine)() as session:
        summary = payload_summary(session, TAG)
    assert {k: summary[k] for k in summary if k != "jobs"} == {
        "releaseTag": TAG,
        "release": "4.20",
        "stream": "nightly",
        "architecture": "amd64",
        "phase": "Rejected",
        "forced": False,
        "releaseTime": "2026-05-14T12:00:00Z",
        "previousReleaseTag": None,
    }
    jobs = summary["jobs"]
    assert [(j["kind"], j["name"]) for j in jobs] == [
        ("Blocking", "aws-ovn"),
        ("Blocking", "aws-ovn-techpreview"),
        ("Blocking", "azure-ovn"),
        ("Informing", "aws-ovn-shared-vpc-phz"),
        ("Informing", "gcp-ovn-upgrade"),
    ]
    azure = jobs[2]
    sample = loaded["test-failure"]
    assert azure == {
        "name": "azure-ovn",
        "prowJobName": sample.job_name,
        "kind": "Blocking",
        "state": "Failed",
        "retries": 1,
        "url": f"https://prow.ci.openshift.org/view/gs/{sample.path}",
        "prowJobRunId": sample.build_id,
        "transitionTime": None,
        "loaded": True,
        "overallResult": sample.expected_result,
        "upgrade": None,
    }
    success = jobs[0]
    assert (success["state"], success["loaded"], success["overallResult"]) == (
        "Succeeded",
        False,
        None,
    )
    assert jobs[4]["upgrade"] == {"from": "4.19.0", "to": TAG}
    json.dumps(summary)  # plain JSON, as the HTTP API returns it


def test_failed_payload_runs_are_the_loaded_failed_ones(loaded, engine):
    with session_factory(engine)() as session:
        assert failed_payload_runs(session, TAG) == [
            loaded["install-failure"].build_id,  # blocking first, by job name
            loaded["test-failure"].build_id,
            loaded["infra-failure"].build_id,
            loaded["upgrade-failure"].build_id,
        ]
        # the older payload names the same runs, all loaded by now
        assert failed_payload_runs(session, OLDER) == [
            loaded["install-failure"].build_id,
            loaded["test-failure"].build_id,
        ]


def test_recent_payloads_newest_first(loaded, engine):
    with session_factory(engine)() as session:
        recent = recent_payloads(session, limit=10)
        assert recent_payloads(session, limit=1)[0]["releaseTag"] == TAG
    assert [(p["releaseTag"], p["phase"], p["forced"]) for p in recent] == [
        (TAG, "Rejected", False),
        (OLDER, "Accepted", True),  # accepted with failed blocking jobs
    ]
    assert {
        k: recent[0][k] for k in ("jobCount", "failedBlockingCount", "failedInformingCount")
    } == {
        "jobCount": 5,
        "failedBlockingCount": 2,
        "failedInformingCount": 2,
    }
    assert recent[0]["loadedRunCount"] == 4 and recent[1]["loadedRunCount"] == 2


def test_payloads_of_a_run(loaded, engine):
    run = loaded["test-failure"]
    with session_factory(engine)() as session:
        rows = payloads_of_run(session, run.build_id)
        assert payloads_of_run(session, 42) == []
    assert [r["payload"] for r in rows] == [OLDER, TAG]
    assert rows[0] == {
        "prowjob_job_name": run.job_name,
        "payload": OLDER,
        "prowjob_build_id": str(run.build_id),
        "kind": "Blocking",
        "state": "Failed",
    }


def test_unknown_payload_is_payload_not_found(engine):
    with session_factory(engine)() as session:
        with pytest.raises(PayloadNotFound, match="release payload 4.99.0-nope not found"):
            payload_summary(session, "4.99.0-nope")
        with pytest.raises(PayloadNotFound):
            failed_payload_runs(session, "4.99.0-nope")
        assert recent_payloads(session, limit=5) == []
    assert issubclass(PayloadNotFound, LookupError)
