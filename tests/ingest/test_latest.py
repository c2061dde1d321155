"""`--latest N`: only the newest runs of each job folder, found without listing the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sippy.ingest.load import load_sources
from sippy.ingest.sources import group_runs, list_files, open_source
from sippy.settings import Settings
from tests.helpers import make_run

PERIODIC = "periodic-ci-openshift-release-main-nightly-4.20-e2e-aws-ovn"
OTHER = "periodic-ci-openshift-release-main-nightly-4.20-e2e-gcp-ovn"
PRESUBMIT = "pull-ci-openshift-origin-main-e2e-aws"


def _presubmit_run(root: Path, pr: int, build_id: int) -> Path:
    run = root / "test-platform-results/pr-logs/pull/openshift_origin" / str(pr) / PRESUBMIT
    run = run / str(build_id)
    run.mkdir(parents=True)
    (run / "started.json").write_text(json.dumps({"timestamp": 1747200000}))
    (run / "finished.json").write_text(json.dumps({"timestamp": 1747203600, "result": "FAILURE"}))
    return run


@pytest.fixture
def bucket(tmp_path) -> Path:
    """Two periodic jobs (5 and 2 runs; build ids not in name order) and a presubmit in a PR."""
    for build_id in (1900000000000000009, 1900000000000000100, 1900000000000000011, 5, 77):
        make_run(tmp_path, PERIODIC, build_id)
    for build_id in (1900000000000000001, 1900000000000000002):
        make_run(tmp_path, OTHER, build_id)
    (tmp_path / "test-platform-results/logs" / OTHER / "latest-build.txt").write_text("2")
    for build_id in (300, 301, 302):
        _presubmit_run(tmp_path, 4242, build_id)
    return tmp_path


def _run_ids(source: str, latest: int | None) -> list[int]:
    src = open_source(source)
    return sorted(
        int(run.path.rsplit("/", 1)[1]) for run in group_runs(src, list_files(src, latest))
    )


def test_latest_keeps_the_newest_runs_of_each_job_by_build_id(bucket):
    assert _run_ids(str(bucket), latest=2) == [
        301,
        302,
        1900000000000000001,
        1900000000000000002,
        1900000000000000011,
        1900000000000000100,
    ]


def test_latest_on_one_job_folder_and_on_one_run(bucket):
    job = bucket / "test-platform-results/logs" / PERIODIC
    assert _run_ids(str(job), latest=1) == [1900000000000000100]
    assert _run_ids(str(job), latest=10) == _run_ids(str(job), latest=None)  # all five
    assert len(_run_ids(str(job), latest=None)) == 5
    assert _run_ids(str(job / "77"), latest=1) == [77]  # a run folder is loaded whole


def test_latest_lists_every_file_of_the_chosen_runs(bucket):
    job = bucket / "test-platform-results/logs" / PERIODIC
    src = open_source(str(job))
    everything = list_files(src)
    newest = list_files(src, latest=1)
    assert newest == {p: size for p, size in everything.items() if "/1900000000000000100/" in p}
    assert newest


def test_load_with_latest_loads_only_those_runs(bucket, engine):
    report = load_sources([str(bucket)], Settings(), engine, latest=1)
    assert {o.status for o in report.outcomes} == {"loaded"}, report
    assert sorted(o.run_id for o in report.outcomes) == [
        302,
        1900000000000000002,
        1900000000000000100,
    ]
    again = load_sources([str(bucket)], Settings(), engine, latest=2)
    assert again.count("unchanged") == 3 and again.count("loaded") == 3
