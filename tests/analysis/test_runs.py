"""The recent-runs listing, its filter choices, finding a loaded run by id or URL, artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sippy.analysis.runs import find_run, recent_runs, run_artifacts, run_filter_choices
from sippy.analysis.summary import job_run_summary
from sippy.db.engine import session_factory
from sippy.ingest.load import load_sources
from sippy.samples.generator import SampleRun, generate_samples
from sippy.settings import Settings

PROW = "https://prow.ci.openshift.org/view/gs"
GCSWEB = "https://gcsweb-ci.apps.ci.l2s4.p1.openshiftapps.com/gcs"


@pytest.fixture
def runs(tmp_path: Path, engine) -> list[SampleRun]:
    samples = generate_samples(tmp_path, count=14, seed=5)
    assert load_sources([str(tmp_path)], Settings(), engine).ok
    return samples


def _newest_first(samples: list[SampleRun]) -> list[int]:
    return [r.build_id for r in sorted(samples, key=lambda r: (r.start_time, r.build_id))][::-1]


def test_lists_every_run_newest_first_with_its_counts(runs, engine):
    with session_factory(engine)() as session:
        listing = recent_runs(session)
        summaries = {r.build_id: job_run_summary(session, r.build_id) for r in runs}
    assert listing["total"] == 14 and listing["pages"] == 1 and listing["page"] == 1
    assert [r["id"] for r in listing["runs"]] == _newest_first(runs)
    by_id = {r.build_id: r for r in runs}
    for row in listing["runs"]:
        sample = by_id[row["id"]]
        assert row["job"] == sample.job_name
        assert row["overallResult"] == sample.expected_result
        summary = summaries[row["id"]]  # the counts agree with the run's own summary
        assert row["testFailureCount"] == summary["testFailureCount"]
        assert row["testFlakeCount"] == summary["testFlakeCount"]
        assert row["reason"] == summary["reason"] and row["release"] == summary["release"]
        assert {*sample.failed_tests} <= {*summary["testFailures"]} | {
            k.split(".", 1)[1] for k in summary["testFailures"] if "." in k
        }
        assert row["startTime"] == sample.start_time
        assert row["durationSeconds"] > 0
        assert row["url"].endswith(f"/{sample.build_id}")


def test_filters_and_pages(runs, engine):
    release = runs[0].job_name.split("-4.")[1][:2]
    release = f"4.{release}"
    letter = runs[0].expected_result
    fragment = runs[0].job_name[-12:]
    with session_factory(engine)() as session:
        by_release = recent_runs(session, release=release)
        by_result = recent_runs(session, result=letter)
        by_job = recent_runs(session, job=fragment)
        wildcard = recent_runs(session, job="%")
        page_two = recent_runs(session, per_page=5, page=2)
        past_end = recent_runs(session, per_page=5, page=9)
    assert by_release["total"] >= 1
    assert all(r["release"] == release for r in by_release["runs"])
    assert {r["id"] for r in by_result["runs"]} == {
        r.build_id for r in runs if r.expected_result == letter
    }
    assert {r["id"] for r in by_job["runs"]} == {r.build_id for r in runs if fragment in r.job_name}
    assert wildcard["total"] == 0  # "%" is a character here, not a wildcard
    assert (
        page_two["pages"] == 3 and [r["id"] for r in page_two["runs"]] == _newest_first(runs)[5:10]
    )
    assert past_end["runs"] == [] and past_end["total"] == 14


def test_filter_choices_are_what_is_loaded(runs, engine):
    with session_factory(engine)() as session:
        choices = run_filter_choices(session)
    assert set(choices["jobs"]) == {r.job_name for r in runs}
    assert {c["letter"] for c in choices["results"]} == {r.expected_result for r in runs}
    assert all(c["reason"] and c["reason"] != "Unknown" for c in choices["results"])
    assert choices["releases"] == sorted(set(choices["releases"]))


def test_finds_a_loaded_run_by_id_or_any_url_of_its_folder(runs, engine):
    run = runs[3]
    with session_factory(engine)() as session:
        found = {
            text: find_run(session, text)
            for text in (
                str(run.build_id),
                f"  {run.build_id}\n",
                f"{PROW}/{run.path}",  # a sample's path starts with its bucket
                f"gs://{run.path}/",
                f"{GCSWEB}/{run.path}/artifacts/e2e/build-log.txt",
            )
        }
        missing = {
            text: find_run(session, text)
            for text in (
                "1234567890123",  # not loaded
                str(2**64),  # out of range
                f"gs://{run.path.rsplit('/', 1)[0]}",  # the job folder
                f"gs://another-bucket/{run.path.split('/', 1)[1]}",
                f"{PROW}/{run.bucket}/logs/some-other-job/{run.build_id}",
                "javascript:alert(1)",
                "",
            )
        }
    assert set(found.values()) == {run.build_id}, found
    assert set(missing.values()) == {None}, missing


def test_artifacts_of_a_run(runs, engine):
    run = next(r for r in runs if r.scenario == "test-failure")
    with session_factory(engine)() as session:
        artifacts = run_artifacts(session, run.build_id)
    paths = [a["path"] for a in artifacts]
    assert paths == sorted(paths) and "prowjob.json" in paths
    assert any(p.endswith(".xml") and "junit" in p for p in paths)
    assert all(a["size"] > 0 and a["error"] is None for a in artifacts)


def test_a_huge_page_number_is_an_empty_page(runs, engine):
    with session_factory(engine)() as session:
        listing = recent_runs(session, page=10**30)
    assert listing["runs"] == [] and listing["total"] == 14
