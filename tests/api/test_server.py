"""The HTTP API on a real uvicorn server, over SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from sippy.app import create_app
from sippy.ingest.load import load_sources
from sippy.samples.generator import generate_samples
from sippy.settings import Settings
from tests.helpers import running_server

SIPPY_KEYS = [
    "id",
    "name",
    "release",
    "cluster",
    "url",
    "gcsBucket",
    "startTime",
    "duration",
    "durationSeconds",
    "overallResult",
    "reason",
    "succeeded",
    "failed",
    "infrastructureFailure",
    "knownFailure",
    "testCount",
    "testFailureCount",
    "testFailures",
    "variants",
    "clusterOperators",
]


@pytest.fixture
def server(tmp_path, engine):
    runs = generate_samples(tmp_path)
    assert load_sources([str(tmp_path)], Settings(), engine).ok
    with running_server(create_app(Settings(), engine)) as base:
        yield base, {r.scenario: r for r in runs}


def _summary(base: str, run_id: int) -> dict:
    response = httpx.get(f"{base}/api/job/run/summary", params={"prow_job_run_id": run_id})
    assert response.status_code == 200, response.text
    return response.json()


def test_summary_has_sippy_keys_and_agreeing_counts(server):
    base, runs = server
    for sample in runs.values():
        summary = _summary(base, sample.build_id)
        assert list(summary)[: len(SIPPY_KEYS)] == SIPPY_KEYS
        assert summary["id"] == sample.build_id
        assert summary["overallResult"] == sample.expected_result
        assert summary["testFailureCount"] == len(summary["testFailures"])
        assert summary["testFlakeCount"] == len(summary["testFlakes"])
        assert not any("[sig-sippy]" in name for name in summary["testFailures"])
        assert summary["succeeded"] == (sample.prow_state == "success")
        assert summary["failed"] == (sample.prow_state != "success")
        assert summary["infrastructureFailure"] == (sample.expected_result in "Nn")
        assert summary["duration"] == int(summary["durationSeconds"] * 1e9)


def test_install_failure_shows_operators_nodes_and_machines(server):
    base, runs = server
    sample = runs["install-failure"]
    summary = _summary(base, sample.build_id)
    degraded = {(o["name"], o["condition"]) for o in summary["clusterOperators"]}
    assert {name for name, _ in degraded} >= set(sample.degraded_operators)
    assert all(o["condition"] in ("Degraded", "Available") for o in summary["clusterOperators"])
    assert all(o["source"].endswith("clusteroperators.json") for o in summary["clusterOperators"])
    assert {n["name"] for n in summary["nodes"]} >= set(sample.bad_nodes)
    assert {x["name"] for x in summary["machines"]} >= set(sample.failed_machines)


def test_failure_snippet_keeps_the_decisive_line(server):
    base, runs = server
    sample = next(r for r in runs.values() if r.expected_result == "F" and r.flaked_tests)
    summary = _summary(base, sample.build_id)
    snippets = "\n".join(summary["testFailures"].values())
    assert "fail [" in snippets
    assert set(summary["testFlakes"]) >= set(sample.flaked_tests)
    for snippet in summary["testFailures"].values():
        assert len(snippet.encode("utf-8")) <= 1024


@pytest.mark.parametrize(
    ("query", "code", "text"),
    [
        ("", 400, "required"),
        ("?prow_job_run_id=", 400, "required"),
        ("?prow_job_run_id=abc", 400, "must be a number"),
        ("?prow_job_run_id=-5", 400, "must be a number"),
        ("?prow_job_run_id=99999999999999999999999", 400, "out of range"),
        ("?prow_job_run_id=12345", 404, "not found"),
    ],
)
def test_errors_are_one_json_shape(server, query, code, text):
    base, _ = server
    response = httpx.get(f"{base}/api/job/run/summary{query}")
    assert response.status_code == code
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == code
    assert text in body["message"]
    assert "Traceback" not in response.text


def test_unknown_path_and_method_use_the_error_shape(server):
    base, _ = server
    missing = httpx.get(f"{base}/api/nope")
    assert missing.status_code == 404 and set(missing.json()) == {"code", "message"}
    wrong = httpx.post(f"{base}/api/job/run/summary")
    assert wrong.status_code == 405 and wrong.json()["code"] == 405


def test_endpoint_list_capabilities_and_health(server):
    base, _ = server
    paths = {e["path"] for e in httpx.get(f"{base}/api").json()}
    assert "/api/job/run/summary" in paths
    assert httpx.get(f"{base}/api/capabilities").json() == ["openshift_releases", "local_db"]
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok", "database": "ok"}
    cors = httpx.get(f"{base}/api/capabilities").headers["access-control-allow-origin"]
    assert cors == "*"


def test_mode_none_drops_the_openshift_capability(tmp_path, engine):
    with running_server(create_app(Settings(mode="none"), engine)) as base:
        assert httpx.get(f"{base}/api/capabilities").json() == ["local_db"]


def test_presubmit_carries_its_pull_request(server):
    base, runs = server
    sample = runs["presubmit-failure"]
    summary = _summary(base, sample.build_id)
    (pr,) = summary["pullRequests"]
    assert (pr["org"], pr["repo"]) == ("openshift", "origin")
    assert pr["number"] > 0 and pr["sha"] and pr["link"].startswith("https://github.com/")
    assert summary["release"] == "Presubmits"


def test_unreachable_database_gives_503_json_not_a_crash():
    from sippy.db.engine import make_engine
    from tests.helpers import free_port

    engine = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    with running_server(create_app(Settings(), engine)) as base:
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 503 and health.json()["code"] == 503
        summary = httpx.get(f"{base}/api/job/run/summary", params={"prow_job_run_id": 1})
        assert summary.status_code == 503
        assert summary.json() == {"code": 503, "message": "database unavailable; try again shortly"}
        assert httpx.get(f"{base}/api/capabilities").status_code == 200
