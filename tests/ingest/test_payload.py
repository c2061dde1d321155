"""Release payloads: real release-controller JSON parsed, stored, reloaded and linked to runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy import func, select

from sippy.analysis.payload import failed_payload_runs, payload_summary
from sippy.db import models as m
from sippy.db.engine import make_engine, session_factory, session_scope
from sippy.ingest.load import load_sources
from sippy.ingest.payload import (
    api_urls,
    is_payload_source,
    parse_payload,
    prow_run_of,
    read_release_json,
)
from sippy.ingest.payload_store import write_payload
from sippy.ingest.records import ArtifactError
from sippy.samples.generator import SampleRun, generate_samples
from sippy.settings import Settings
from tests.helpers import running_server
from tests.ingest import test_gcs

MAX = 64 * 1024 * 1024
gcs_server = test_gcs.gcs_server  # the fake GCS server fixture, shared
NIGHTLY_0530 = (
    "historical-payload-data/5.0.0-0.nightly-2026-05-30-072431/"
    "5.0.0-0.nightly-2026-05-30-072431/payload.json"
)
STABLE_4121 = "sippy/pkg/dataloader/releaseloader/OCPCRT-74-pr-test.json"

# (file, tag, phase, forced, blocking, failed blocking, informing, failed informing) as read
# in the files themselves; asyncJobs (claude-payload-agent) are left out, as Sippy does.
REAL = [
    (NIGHTLY_0530, "5.0.0-0.nightly-2026-05-30-072431", "Rejected", False, 16, 12, 72, 66),
    (
        "historical-payload-data/5.0.0-0.nightly-2026-05-30-072431/"
        "5.0.0-0.nightly-2026-05-30-072431/changelog.json",
        "5.0.0-0.nightly-2026-05-30-072431",
        "Rejected",
        False,
        16,
        12,
        72,
        66,
    ),
    (
        "historical-payload-data/5.0.0-0.nightly-2026-05-30-072431/"
        "5.0.0-0.nightly-2026-05-29-194233/payload.json",
        "5.0.0-0.nightly-2026-05-29-194233",
        "Accepted",
        False,
        16,
        0,
        72,
        34,
    ),
    (  # accepted with two failed blocking jobs: forced
        "historical-payload-data/5.0.0-0.nightly-2026-06-17-095118/5.0/nightly/"
        "5.0.0-0.nightly-2026-06-17-022519/changelog.json",
        "5.0.0-0.nightly-2026-06-17-022519",
        "Accepted",
        True,
        14,
        2,
        75,
        39,
    ),
    (
        "historical-payload-data/5.0.0-0.nightly-2026-06-17-095118/5.0/nightly/"
        "5.0.0-0.nightly-2026-06-17-095118/changelog.json",
        "5.0.0-0.nightly-2026-06-17-095118",
        "Rejected",
        False,
        14,
        4,
        75,
        42,
    ),
    (
        "sippy/pkg/releasesync/4.13.0-0.nightly-2023-01-18-004822_test.json",
        "4.13.0-0.nightly-2023-01-18-004822",
        "Rejected",
        False,
        7,
        2,
        56,
        28,
    ),
    (STABLE_4121, "4.12.1", "Accepted", False, 2, 0, 4, 0),
]


def _real(realdata: Path, rel: str):  # type: ignore[no-untyped-def]
    source = str(realdata / rel)
    return parse_payload(read_release_json(source, max_bytes=MAX), source=source)


# --- parsing real release JSON -----------------------------------------------------------------


def test_every_real_release_json_parses(realdata):
    found = [
        p
        for p in sorted(realdata.rglob("*.json"))
        if p.stat().st_size < 4_000_000 and b'"blockingJobs"' in p.read_bytes()
    ]
    assert len(found) >= len(REAL)
    assert {str(realdata / r[0]) for r in REAL} <= {str(p) for p in found}
    for path in found:
        doc = read_release_json(str(path), max_bytes=MAX)
        payload = parse_payload(doc, source=str(path))
        listed = sum(len(doc["results"].get(k) or {}) for k in ("blockingJobs", "informingJobs"))
        assert len(payload.jobs) == listed, path  # every job has a run URL with a build id
        assert payload.warnings == [], path
        assert all(
            j.prow_job_name and j.gcs_path.endswith(str(j.prow_job_run_id)) for j in payload.jobs
        )


@pytest.mark.parametrize(
    ("rel", "tag", "phase", "forced", "blocking", "failed_b", "informing", "failed_i"),
    REAL,
    ids=[r[1] + ("-changelog" if "changelog" in r[0] else "") for r in REAL],
)
def test_real_release_facts(
    realdata, rel, tag, phase, forced, blocking, failed_b, informing, failed_i
):  # noqa: E501
    payload = _real(realdata, rel)
    kinds = Counter(j.kind for j in payload.jobs)
    failed = Counter(j.kind for j in payload.jobs if j.state == "Failed")
    assert payload.release_tag == tag
    assert (payload.phase, payload.forced) == (phase, forced)
    assert (kinds["Blocking"], failed["Blocking"]) == (blocking, failed_b)
    assert (kinds["Informing"], failed["Informing"]) == (informing, failed_i)
    assert payload.jobs[0].kind == "Blocking" and payload.jobs[-1].kind == "Informing"
    assert payload.architecture == "amd64"
    assert "claude-payload-agent" not in {j.name for j in payload.jobs}


def test_real_nightly_derivations(realdata):
    payload = _real(realdata, NIGHTLY_0530)
    assert (payload.release, payload.stream) == ("5.0", "nightly")
    assert payload.release_time == datetime(2026, 5, 30, 7, 24, 31, tzinfo=UTC)
    assert payload.previous_release_tag == "5.0.0-0.nightly-2026-05-29-194233"
    job = next(j for j in payload.jobs if j.name == "aggregated-aws-ovn-upgrade-5.0-micro-fips")
    assert (job.kind, job.state, job.retries) == ("Blocking", "Failed", 2)
    assert job.prow_job_run_id == 2060648794210439168  # the last attempt, not the previous ones
    assert job.prow_job_name == (
        "aggregated-aws-ovn-upgrade-5.0-micro-fips-release-openshift-release-analysis-aggregator"
    )
    assert job.gcs_bucket == "test-platform-results"
    assert job.gcs_path == f"logs/{job.prow_job_name}/2060648794210439168"
    # in the upgradesTo History from the previous nightly
    assert job.upgrade and job.upgrades_from == "5.0.0-0.nightly-2026-05-29-194233"
    assert job.upgrades_to == "5.0.0-0.nightly-2026-05-30-072431"
    pending = next(j for j in payload.jobs if j.name == "overall-analysis-all")
    assert (pending.state, pending.prow_job_run_id) == ("Pending", 2060687649630326784)
    console = next(j for j in payload.jobs if j.name == "aws-console")
    assert (console.kind, console.state, console.upgrade) == ("Informing", "Failed", False)


def test_real_stable_and_2023_payloads(realdata):
    stable = _real(realdata, STABLE_4121)
    assert (stable.release, stable.stream, stable.release_time) == ("4.12", "stable", None)
    serial = next(j for j in stable.jobs if j.name == "aws-sdn-serial")
    assert serial.transition_time == datetime(2023, 1, 25, 19, 11, 56, tzinfo=UTC)
    assert (serial.retries, serial.gcs_bucket) == (2, "origin-ci-test")
    assert serial.prow_job_run_id == 1618289423353384960
    upgrade = next(j for j in stable.jobs if j.name == "upgrade")
    assert upgrade.upgrade and (upgrade.upgrades_from, upgrade.upgrades_to) == ("4.12.0", "4.12.1")
    old = _real(realdata, "sippy/pkg/releasesync/4.13.0-0.nightly-2023-01-18-004822_test.json")
    console = next(j for j in old.jobs if j.name == "aws-console")
    assert console.prow_job_run_id == 1615512366286376960
    assert console.prow_job_name == "periodic-ci-openshift-release-master-nightly-4.13-console-aws"


# --- derivations and bad input ----------------------------------------------------------------


def _doc(name: str, **extra: Any) -> dict[str, Any]:
    url = "https://prow.ci.openshift.org/view/gs/test-platform-results/logs/some-job/1234567890"
    return {
        "name": name,
        "results": {"blockingJobs": {"a": {"state": "Failed", "url": url}}},
        **extra,
    }


@pytest.mark.parametrize(
    ("tag", "release", "stream", "arch", "time"),
    [
        ("4.20.0-0.nightly-2025-06-17-061341", "4.20", "nightly", "amd64", "2025-06-17 06:13:41"),
        ("4.22.0-0.ci-2026-03-31-050515", "4.22", "ci", "amd64", "2026-03-31 05:05:15"),
        (
            "5.0.0-0.nightly-arm64-2026-05-31-124903",
            "5.0",
            "nightly",
            "arm64",
            "2026-05-31 12:49:03",
        ),
        (
            "4.20.0-0.nightly-multi-2025-06-17-061341",
            "4.20",
            "nightly",
            "multi",
            "2025-06-17 06:13:41",
        ),
        ("4.16.0-0.okd-scos-2024-05-13-121521", "4.16", "okd-scos", "amd64", "2024-05-13 12:15:21"),
        ("4.12.0-rc.3", "4.12", "stable", "amd64", None),
    ],
)
def test_tag_derivations(tag, release, stream, arch, time):
    payload = parse_payload(_doc(tag, phase="Accepted"), source="x.json")
    assert (payload.release, payload.stream, payload.architecture) == (release, stream, arch)
    expected = datetime.fromisoformat(time).replace(tzinfo=UTC) if time else None
    assert payload.release_time == expected
    assert payload.forced  # accepted with a failed blocking job


def test_architecture_from_the_release_controller_host():
    doc = _doc("4.12.1", _release_url="https://arm64.ocp.releases.ci.openshift.org/releasestream/x")
    assert parse_payload(doc, source="x.json").architecture == "arm64"


def test_missing_phase_comes_from_the_tags_list_or_is_unknown():
    doc = _doc("4.20.0-0.nightly-2025-06-17-061341")
    assert parse_payload(doc, source="x.json").phase == "Unknown"
    phases = {"4.20.0-0.nightly-2025-06-17-061341": "Rejected"}
    payload = parse_payload(doc, source="x.json", phases=phases)
    assert (payload.phase, payload.forced) == ("Rejected", False)


def test_prow_urls_and_sources(tmp_path):
    pr = (
        "https://prow.ci.openshift.org/view/gs/test-platform-results/pr-logs/pull/"
        "openshift_origin/31306/pull-ci-openshift-origin-main-e2e-aws-csi/2054755031552453911"
    )
    assert prow_run_of(pr) == (
        2054755031552453911,
        "pull-ci-openshift-origin-main-e2e-aws-csi",
        "test-platform-results",
        "pr-logs/pull/openshift_origin/31306/pull-ci-openshift-origin-main-e2e-aws-csi/"
        "2054755031552453911",
    )
    assert prow_run_of("https://prow.ci.openshift.org/view/gs/test-platform-results/logs/j") is None
    assert prow_run_of("https://example.com/x/99999999999999999999") is None  # over BigInteger
    web = "https://amd64.ocp.releases.ci.openshift.org/releasestream/4.20.0-0.nightly/release/T"
    api = "https://amd64.ocp.releases.ci.openshift.org/api/v1/releasestream/4.20.0-0.nightly"
    assert api_urls(web) == (f"{api}/release/T", f"{api}/tags")
    assert is_payload_source(web) and is_payload_source(f"{api}/release/T")
    assert not is_payload_source(pr)
    (tmp_path / "p.json").write_text("{}")
    (tmp_path / "prowjob.json").write_text("{}")
    assert is_payload_source(str(tmp_path / "p.json"))
    assert not is_payload_source(str(tmp_path / "prowjob.json"))  # a run's own metadata
    assert not is_payload_source(str(tmp_path))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"name": "4.20.0-0.nightly-2025-06-17-061341", "results": ', "invalid JSON at line 1"),
        (b"{\x80}", "not UTF-8"),
        (b"[1, 2]", "not a release JSON object"),
        (b'{"results": {}}', 'without a "name"'),
        (b'{"name": "banana", "results": {}}', "not a release tag"),
        (b'{"name": "4.20.1", "results": []}', '"results" is list'),
        (b'{"name": "4.20.1", "results": {"blockingJobs": [1]}}', "results.blockingJobs is list"),
        (b'{"name": "4.20.1", "results": {"blockingJobs": {"a": 1}}}', "results.blockingJobs.a"),
        (b'{"name": "4.20.1", "results": {}, "upgradesTo": {"a": 1}}', "upgradesTo is dict"),
    ],
)
def test_bad_release_json_names_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ArtifactError) as caught:
        parse_payload(read_release_json(str(path), max_bytes=MAX), source=str(path))
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_jobs_without_a_run_url_are_skipped_with_a_note():
    doc = _doc("4.20.1", phase="Accepted")
    doc["results"]["informingJobs"] = {"b": {"state": "Pending"}, "c": {"url": "https://x/y"}}
    payload = parse_payload(doc, source="x.json")
    assert [j.name for j in payload.jobs] == ["a"]
    assert len(payload.warnings) == 2 and "informingJobs.b" in payload.warnings[0]


# --- storing ----------------------------------------------------------------------------------


def _row_counts(engine) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with session_factory(engine)() as session:
        tags = session.scalar(select(func.count()).select_from(m.ReleaseTag))
        runs = session.scalar(select(func.count()).select_from(m.ReleaseJobRun))
    return tags, runs


def _write(engine, payload) -> str:  # type: ignore[no-untyped-def]
    with session_scope(session_factory(engine)) as session:
        return write_payload(session, payload)


def test_reloading_a_real_payload_is_idempotent(realdata, engine):
    payload = _real(realdata, NIGHTLY_0530)
    assert _write(engine, payload) == "loaded"
    assert _row_counts(engine) == (1, 88)
    assert _write(engine, _real(realdata, NIGHTLY_0530)) == "unchanged"
    assert _row_counts(engine) == (1, 88)
    changed = _real(realdata, NIGHTLY_0530)
    pending = next(j for j in changed.jobs if j.state == "Pending")
    pending.state = "Succeeded"
    del changed.jobs[-1]
    assert _write(engine, changed) == "loaded"  # rows replaced, not added
    assert _row_counts(engine) == (1, 87)
    with session_factory(engine)() as session:
        summary = payload_summary(session, changed.release_tag)
    assert {j["name"]: j["state"] for j in summary["jobs"]}["overall-analysis-all"] == "Succeeded"
    assert summary["releaseTime"] == "2026-05-30T07:24:31Z"
    assert not summary["forced"]


def test_a_phase_flip_of_a_stored_tag_marks_it_forced(realdata, engine):
    payload = _real(realdata, NIGHTLY_0530)
    _write(engine, payload)
    flipped = _real(realdata, NIGHTLY_0530)  # accepted by hand later, no job failed:
    flipped.jobs = [j for j in flipped.jobs if j.state != "Failed"]
    flipped.phase, flipped.forced = "Accepted", False  # ... so the rule alone says not forced
    assert _write(engine, flipped) == "loaded"
    with session_factory(engine)() as session:
        tag = session.scalar(select(m.ReleaseTag))
        assert (tag.phase, tag.forced) == ("Accepted", True)
    # a later JSON without a phase keeps the stored one
    again = _real(realdata, NIGHTLY_0530)
    again.phase = "Unknown"
    _write(engine, again)
    with session_factory(engine)() as session:
        assert session.scalar(select(m.ReleaseTag.phase)) == "Accepted"


def test_a_tags_list_supplies_and_updates_phases(realdata, tmp_path, engine):
    doc = json.loads((realdata / NIGHTLY_0530).read_text())
    del doc["phase"]
    (tmp_path / "release.json").write_text(json.dumps(doc))
    tags = {"name": "5.0.0-0.nightly", "tags": [{"name": doc["name"], "phase": "Rejected"}]}
    (tmp_path / "tags.json").write_text(json.dumps(tags))
    report = load_sources(
        [str(tmp_path / "release.json"), str(tmp_path / "tags.json")], Settings(), engine
    )
    assert report.ok, report
    assert [(p.release_tag, p.phase, p.status) for p in report.payloads] == [
        (doc["name"], "Rejected", "loaded")
    ]
    tags["tags"][0]["phase"] = "Accepted"  # overridden later by hand
    (tmp_path / "tags.json").write_text(json.dumps(tags))
    report = load_sources([str(tmp_path / "tags.json")], Settings(), engine)
    assert report.phases_updated == [doc["name"]]
    with session_factory(engine)() as session:
        summary = payload_summary(session, doc["name"])
    assert (summary["phase"], summary["forced"]) == ("Accepted", True)


# --- payloads linked to generated runs --------------------------------------------------------

TAG = "4.20.0-0.nightly-2026-05-14-120000"


def sample_payload(
    runs: list[SampleRun], *, tag: str = TAG, extra_failed: int | None = None
) -> dict[str, Any]:
    """A release JSON whose jobs are the generated runs (failed ones as Failed jobs)."""
    by = {r.scenario: r for r in runs}

    def job(run: SampleRun, **more: Any) -> dict[str, Any]:
        state = "Succeeded" if run.prow_state == "success" else "Failed"
        return {"state": state, "url": f"https://prow.ci.openshift.org/view/gs/{run.path}", **more}

    informing = {
        "aws-ovn-shared-vpc-phz": job(by["infra-failure"]),
        "gcp-ovn-upgrade": job(by["upgrade-failure"]),
    }
    if extra_failed is not None:
        informing["never-uploaded"] = {
            "state": "Failed",
            "url": "https://prow.ci.openshift.org/view/gs/test-platform-results/logs/"
            f"periodic-ci-openshift-release-main-nightly-4.20-e2e-gone/{extra_failed}",
        }
    upgrade_url = f"https://prow.ci.openshift.org/view/gs/{by['upgrade-failure'].path}"
    return {
        "name": tag,
        "phase": "Rejected",
        "results": {
            "blockingJobs": {
                "aws-ovn": job(by["success"]),
                "azure-ovn": job(by["test-failure"], retries=1),
                "aws-ovn-techpreview": job(by["install-failure"]),
            },
            "informingJobs": informing,
        },
        "upgradesTo": [
            {
                "From": "4.19.0",
                "To": tag,
                "Success": 0,
                "Failure": 1,
                "Total": 1,
                "History": {upgrade_url: {"state": "Failed", "url": upgrade_url}},
            }
        ],
    }


def sippy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sippy", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )


def test_cli_loads_a_payload_and_its_failed_runs(tmp_path, db_dsn):
    runs = generate_samples(tmp_path / "samples")
    (tmp_path / "payload.json").write_text(json.dumps(sample_payload(runs)))
    args = ("load", str(tmp_path / "payload.json"), "--database-dsn", db_dsn)
    first = sippy(*args, "--artifacts", str(tmp_path / "samples"))
    assert first.returncode == 0, first.stderr
    assert "payloads" in first.stdout
    assert f"payload {TAG}: Rejected, 5 jobs, 4 failed (loaded)" in first.stdout
    engine = make_engine(db_dsn)
    try:
        with session_factory(engine)() as session:
            summary = payload_summary(session, TAG)
            failed = failed_payload_runs(session, TAG)
            loaded_runs = session.scalar(select(func.count()).select_from(m.ProwJobRun))
    finally:
        engine.dispose()
    expected = {r.build_id: r.expected_result for r in runs}
    jobs = {j["name"]: j for j in summary["jobs"]}
    assert loaded_runs == 4  # the failed ones only
    assert not jobs["aws-ovn"]["loaded"] and jobs["aws-ovn"]["overallResult"] is None
    for name in ("azure-ovn", "aws-ovn-techpreview", "aws-ovn-shared-vpc-phz", "gcp-ovn-upgrade"):
        assert jobs[name]["loaded"], name
        assert jobs[name]["overallResult"] == expected[jobs[name]["prowJobRunId"]]
    assert jobs["gcp-ovn-upgrade"]["upgrade"] == {"from": "4.19.0", "to": TAG}
    assert len(failed) == 4 and failed[:2] == [
        jobs["aws-ovn-techpreview"]["prowJobRunId"],
        jobs["azure-ovn"]["prowJobRunId"],
    ]
    again = sippy(*args, "--artifacts", str(tmp_path / "samples" / "test-platform-results"))
    assert again.returncode == 0, again.stderr
    assert f"payload {TAG}: Rejected, 5 jobs, 4 failed (unchanged)" in again.stdout


def test_cli_reports_bad_json_and_still_loads_the_rest(realdata, tmp_path, db_dsn):
    bad = tmp_path / "broken.json"
    bad.write_text('{"name": "4.20.1", "results": {')
    result = sippy("load", str(bad), str(realdata / STABLE_4121), "--database-dsn", db_dsn)
    assert result.returncode == 1
    assert f"{bad}: invalid JSON at line 1" in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr
    assert "payload 4.12.1: Accepted, 6 jobs, 0 failed (loaded)" in result.stdout


def test_missing_run_artifacts_are_reported_and_fail_the_load(tmp_path, engine):
    runs = generate_samples(tmp_path / "samples")
    doc = sample_payload(runs, extra_failed=2054999999999999999)
    (tmp_path / "payload.json").write_text(json.dumps(doc))
    report = load_sources(
        [str(tmp_path / "payload.json")], Settings(), engine, artifacts=str(tmp_path / "samples")
    )
    assert not report.ok
    assert report.count("loaded") == 4
    [payload] = report.payloads
    [missing] = payload.missing
    assert "informing job never-uploaded (run 2054999999999999999)" in missing
    assert "e2e-gone/2054999999999999999" in missing
    # runs already loaded are never missing, wherever the artifacts root points
    (tmp_path / "empty").mkdir()
    again = load_sources(
        [str(tmp_path / "payload.json")], Settings(), engine, artifacts=str(tmp_path / "empty")
    )
    assert [len(p.missing) for p in again.payloads] == [1]
    assert again.payloads[0].status == "unchanged"
    nowhere = load_sources(
        [str(tmp_path / "payload.json")], Settings(), engine, artifacts=str(tmp_path / "nope")
    )
    assert nowhere.source_errors == [f"--artifacts {tmp_path / 'nope'}: no such folder"]


def test_a_payload_from_a_release_controller_url(realdata, engine):
    doc = json.loads((realdata / NIGHTLY_0530).read_text())
    del doc["phase"]  # taken from the tags list beside it
    app = FastAPI()
    stream = "5.0.0-0.nightly"

    @app.get("/api/v1/releasestream/{name}/release/{tag}")
    def release(name: str, tag: str) -> dict[str, Any]:
        if (name, tag) != (stream, doc["name"]):
            raise HTTPException(404)
        return doc

    @app.get("/api/v1/releasestream/{name}/tags")
    def tags(name: str) -> dict[str, Any]:
        return {"name": name, "tags": [{"name": doc["name"], "phase": "Rejected"}]}

    with running_server(app) as base:
        page = f"{base}/releasestream/{stream}/release/{doc['name']}"  # the web page form
        gone = f"{base}/api/v1/releasestream/{stream}/release/5.0.0-0.nightly-2026-01-01-000000"
        report = load_sources([page, gone], Settings(), engine)
    assert [(p.status, p.phase, p.jobs) for p in report.payloads] == [
        ("loaded", "Rejected", 88),
        ("failed", "", 0),
    ]
    assert report.payloads[1].why == f"{gone}: HTTP 404 from {gone}"
    with session_factory(engine)() as session:
        summary = payload_summary(session, doc["name"])
    assert summary["phase"] == "Rejected"
    assert summary["jobs"][0]["kind"] == "Blocking" and len(summary["jobs"]) == 88


def test_failed_runs_load_from_a_gs_bucket(gcs_server, tmp_path, engine):
    url, runs, _ = gcs_server
    (tmp_path / "payload.json").write_text(json.dumps(sample_payload(runs, extra_failed=7)))
    report = load_sources(
        [str(tmp_path / "payload.json")],
        Settings(gcs_endpoint=url),
        engine,
        artifacts="gs://test-platform-results/",
    )
    assert report.count("loaded") == 4 and not report.source_errors
    [missing] = report.payloads[0].missing
    assert "gs://test-platform-results/logs/" in missing and "e2e-gone/7" in missing
    assert report.outcomes[0].location.startswith("gs://test-platform-results/logs/")
    with session_factory(engine)() as session:
        assert len(failed_payload_runs(session, TAG)) == 4
