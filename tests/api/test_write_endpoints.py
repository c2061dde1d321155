"""Writes over HTTP: off by default, then only with the bearer token, never outside the roots."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sippy.app import create_app
from sippy.ingest.load import load_sources
from sippy.settings import build_settings
from tests.helpers import JUNIT_ONE_FAILURE, make_run, running_server
from tests.ingest.test_gcs import (  # noqa: F401  (fixtures: fake-gcs-server, a silent endpoint)
    gcs_server,
    silent_gcs,
)

TOKEN = "write-token-3b9d2f61c0"
JOB = "periodic-ci-openshift-release-main-nightly-4.20-e2e-aws-ovn"
RUN_ID = 2054903419998572544
AI_ROUTES = [
    ("/api/ai/job_run", {"prow_job_run_id": RUN_ID}),
    ("/api/ai/test_failure", {"prow_job_run_id": RUN_ID, "test_name": "t"}),
    ("/api/ai/bug", {"prow_job_run_id": RUN_ID, "test_name": "t"}),
    ("/api/ai/payload", {"release_tag": "4.20.0-0.nightly-2026-05-14-000000"}),
    ("/api/ai/themes", {}),
]


def serve(engine, **settings: Any):  # type: ignore[no-untyped-def]
    return running_server(create_app(build_settings(**settings), engine))


def writer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_source(base: str, source: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{base}/api/runs", json={"source": source}, headers=headers or writer(), timeout=60
    )


def assert_error(response: httpx.Response, code: int, *words: str) -> str:
    assert response.status_code == code, response.text
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == code
    for word in words:
        assert word in body["message"]
    return body["message"]


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    """A load root holding one run, and a folder beside it holding a secret run."""
    root = tmp_path / "root"
    make_run(root, JOB, RUN_ID, files={"artifacts/junit/junit_e2e.xml": JUNIT_ONE_FAILURE})
    outside = tmp_path / "outside"
    make_run(outside, JOB, RUN_ID + 1, files={"artifacts/junit/junit_e2e.xml": JUNIT_ONE_FAILURE})
    return root, outside


def test_writes_are_off_by_default(engine, roots):
    root, _ = roots
    with serve(engine, load_roots=[str(root)]) as base:
        load = post_source(base, str(root))
        refreshes = [
            httpx.get(f"{base}{path}", params={**params, "refresh": "true"}, headers=writer())
            for path, params in AI_ROUTES
        ]
        capabilities = httpx.get(f"{base}/api/capabilities").json()
        listed = {(e["path"], tuple(e["methods"])) for e in httpx.get(f"{base}/api").json()}
        read = httpx.get(f"{base}/api/ai/themes")
    assert_error(load, 403, "disabled", "--enable-write-endpoints")
    for response in refreshes:  # the token does not matter: writes are off
        assert_error(response, 403, "disabled")
    assert "write" not in capabilities
    assert ("/api/runs", ("POST",)) not in listed
    assert read.status_code == 200  # reads stay open
    with serve(engine, load_roots=[str(root)], enable_write_endpoints=True) as base:
        assert_error(post_source(base, str(root)), 403, "disabled")  # enabled without a token


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, None),
        ("Bearer", None),
        (f"Basic {TOKEN}", None),
        ("Bearer not-the-token", "invalid_token"),
        (f"Bearer {TOKEN}x", "invalid_token"),
        (f"Bearer {TOKEN[:-1]}", "invalid_token"),
    ],
)
def test_a_missing_or_wrong_token_is_401_with_a_bearer_challenge(engine, roots, header, error):
    root, _ = roots
    headers = {"Authorization": header} if header is not None else {"X-Nothing": "1"}
    with serve(engine, load_roots=[str(root)], enable_write_endpoints=True, write_token=TOKEN) as b:
        load = httpx.post(f"{b}/api/runs", json={"source": str(root)}, headers=headers)
        refresh = httpx.get(
            f"{b}/api/ai/job_run",
            params={"prow_job_run_id": RUN_ID, "refresh": "true"},
            headers=headers,
        )
        garbage = httpx.post(f"{b}/api/runs", content=b"{not json", headers=headers)
    for response in (load, refresh, garbage):  # auth is checked before the body is read
        message = assert_error(response, 401)
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer")
        assert (error or "") in challenge
        assert TOKEN not in message and TOKEN not in challenge


def test_the_right_token_loads_a_folder_under_a_root(engine, roots):
    root, _ = roots
    with serve(engine, load_roots=[str(root)], enable_write_endpoints=True, write_token=TOKEN) as b:
        first = post_source(b, str(root))
        again = post_source(b, str(root) + "/")
        summary = httpx.get(f"{b}/api/job/run/summary", params={"prow_job_run_id": RUN_ID})
        capabilities = httpx.get(f"{b}/api/capabilities").json()
        listed = {(e["path"], tuple(e["methods"])) for e in httpx.get(f"{b}/api").json()}
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["loaded"], report["unchanged"], report["failed"]) == (1, 0, 0)
    assert report["ok"] is True and report["runIds"] == [RUN_ID]
    assert report["runs"][0]["job"] == JOB and report["runs"][0]["result"] == "F"
    assert again.json()["unchanged"] == 1 and again.json()["runIds"] == [RUN_ID]
    assert summary.status_code == 200 and summary.json()["name"] == JOB
    assert "write" in capabilities
    assert ("/api/runs", ("POST",)) in listed


def test_latest_loads_only_the_newest_runs_and_is_validated(engine, roots):
    root, _ = roots
    make_run(root, JOB, RUN_ID - 1)  # an older run of the same job
    with serve(engine, load_roots=[str(root)], enable_write_endpoints=True, write_token=TOKEN) as b:
        newest = httpx.post(
            f"{b}/api/runs", json={"source": str(root), "latest": 1}, headers=writer()
        )
        bad = httpx.post(f"{b}/api/runs", json={"source": str(root), "latest": 0}, headers=writer())
    assert newest.status_code == 200, newest.text
    assert newest.json()["runIds"] == [RUN_ID]
    assert_error(bad, 400, "latest")


def test_load_problems_are_reported_per_file(engine, roots):
    root, _ = roots
    run = root / "test-platform-results" / "logs" / JOB / str(RUN_ID)
    (run / "artifacts" / "junit" / "junit_bad.xml").write_bytes(b"<testsuite><testcase")
    with serve(engine, load_roots=[str(root)], enable_write_endpoints=True, write_token=TOKEN) as b:
        report = post_source(b, str(root)).json()
    assert report["loaded"] == 1 and report["ok"] is False
    (problem,) = report["problems"]
    assert problem["path"] == "artifacts/junit/junit_bad.xml" and "malformed" in problem["error"]


def test_local_paths_outside_the_roots_are_refused(engine, roots, tmp_path):
    root, outside = roots
    (root / "escape").symlink_to(outside, target_is_directory=True)
    cases = {
        str(outside): (403, "outside"),
        f"{root}/../outside": (403, "outside"),
        str(root / "escape"): (403, "outside"),  # a link inside the root that leaves it
        "/etc": (403, "outside"),
        "/": (403, "outside"),
        f"{root}-sibling": (403, "outside"),  # a shared prefix is not a parent
        "relative/path": (400, "absolute"),
        "~/runs": (400, "absolute"),
        "": (400, ""),
        "   ": (400, "source"),
        "a\x00b": (400, "source"),
        "x" * 5000: (400, "source"),
    }
    with serve(engine, load_roots=[str(root)], enable_write_endpoints=True, write_token=TOKEN) as b:
        for source, (code, word) in cases.items():
            assert_error(post_source(b, source), code, word)
        missing = post_source(b, str(root / "nope"))
        for body in ({}, {"source": 5}, {"source": str(root), "extra": 1}, ["x"]):
            assert_error(httpx.post(f"{b}/api/runs", json=body, headers=writer()), 400)
        big = httpx.post(f"{b}/api/runs", content=b" " * 70_000, headers=writer())
        summary = httpx.get(f"{b}/api/job/run/summary", params={"prow_job_run_id": RUN_ID + 1})
    assert_error(missing, 404, "no such file")
    assert_error(big, 413)
    assert summary.status_code == 404  # nothing outside the root was loaded
    assert not os.environ.get("SIPPY_LOAD_ROOTS")


def test_without_roots_no_local_path_is_loaded(engine, roots):
    root, _ = roots
    with serve(engine, enable_write_endpoints=True, write_token=TOKEN) as b:
        assert_error(post_source(b, str(root)), 403, "SIPPY_LOAD_ROOTS")


@pytest.mark.parametrize(
    "source",
    [
        "https://amd64.ocp.releases.ci.openshift.org/api/v1/releasestream/4.20.0-0.nightly/release/x",
        "http://127.0.0.1:9/anything",
        "https://prow.ci.openshift.org/view/gs/test-platform-results",  # a whole bucket
        "gs://test-platform-results",
        "gs://test-platform-results/logs/../../other-bucket/x",
        "file:///etc/passwd",
    ],
)
def test_urls_the_server_would_have_to_fetch_or_whole_buckets_are_refused(engine, source):
    with serve(engine, enable_write_endpoints=True, write_token=TOKEN) as b:
        response = post_source(b, source)
    code = 403 if source.startswith("file:") else 400  # file: is a (relative) local path
    assert_error(response, code)


def test_a_prow_url_loads_from_gcs(engine, gcs_server):  # noqa: F811
    url, runs, _ = gcs_server
    sample = runs[0]
    prow = f"https://prow.ci.openshift.org/view/gs/{sample.path}"
    with serve(engine, enable_write_endpoints=True, write_token=TOKEN, gcs_endpoint=url) as b:
        loaded = post_source(b, prow)
        missing = post_source(b, "gs://test-platform-results/logs/no-such-job/1")
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["runIds"] == [sample.build_id]
    assert loaded.json()["runs"][0]["location"] == f"gs://{sample.path}"
    assert_error(missing, 404, "no-such-job")


def test_a_silent_gcs_gives_504_within_the_timeout_and_the_server_stays_up(engine, silent_gcs):  # noqa: F811
    source = "https://prow.ci.openshift.org/view/gs/test-platform-results/logs/job/1"
    with serve(
        engine,
        enable_write_endpoints=True,
        write_token=TOKEN,
        gcs_endpoint=silent_gcs,
        gcs_timeout=1,
    ) as b:
        started = time.monotonic()
        response = post_source(b, source)
        elapsed = time.monotonic() - started
        assert httpx.get(f"{b}/healthz").status_code == 200
    assert_error(response, 504, "no answer from GCS within 1 s")
    assert elapsed < 5, f"took {elapsed:.1f} s with a 1 s timeout"


def test_refresh_with_the_token_recomputes(engine, roots):
    root, _ = roots
    assert load_sources([str(root)], build_settings(), engine).ok
    params = {"prow_job_run_id": RUN_ID, "refresh": "true"}
    with serve(engine, enable_write_endpoints=True, write_token=TOKEN) as b:
        answer = httpx.get(f"{b}/api/ai/job_run", params=params, headers=writer())
    assert answer.status_code == 200 and JOB in answer.text


def test_serve_refuses_to_enable_writes_without_a_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SIPPY_WRITE_TOKEN"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sippy",
            "serve",
            "--enable-write-endpoints",
            "--listen-metrics",
            "",
        ],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200", "SIPPY_DATABASE_DSN": f"sqlite:///{tmp_path / 'x.db'}"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()  # one clear line, before anything starts
    assert "--enable-write-endpoints needs SIPPY_WRITE_TOKEN" in line
    assert not (tmp_path / "x.db").exists()
