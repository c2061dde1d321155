"""The `sippy` command as a user runs it: real processes, real files, real ports."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.helpers import JUNIT_ONE_FAILURE, free_port, make_run, wait_for_http

JOB = "periodic-ci-openshift-release-main-nightly-4.20-e2e-aws-ovn"


def sippy(*args: str, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sippy", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=check,
        timeout=120,
    )


def test_samples_load_show_and_reload(tmp_path, db_dsn):
    samples = tmp_path / "samples"
    assert sippy("samples", str(samples)).returncode == 0
    first = sippy("load", str(samples), "--database-dsn", db_dsn)
    assert first.returncode == 0, first.stderr
    assert "loaded" in first.stdout
    second = sippy("load", str(samples), "--database-dsn", db_dsn)
    assert second.returncode == 0
    assert "unchanged" in second.stdout
    run_dir = next(samples.glob("test-platform-results/logs/*/*"))
    shown = sippy("show", run_dir.name, "--json", "--database-dsn", db_dsn)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == int(run_dir.name)


def test_show_loads_a_path_first(tmp_path, db_dsn):
    make_run(
        tmp_path,
        JOB,
        2054903419998572544,
        files={"artifacts/junit/junit_e2e__1.xml": JUNIT_ONE_FAILURE},
    )
    shown = sippy("show", str(tmp_path), "--database-dsn", db_dsn)
    assert shown.returncode == 0, shown.stderr
    assert JOB in shown.stdout and "pods should talk" in shown.stdout
    assert "fail [github.com/openshift/origin/test/extended/net.go:42]" in shown.stdout


def test_load_latest_takes_the_newest_runs_of_a_job(tmp_path, db_dsn):
    for build_id in (2054903419998572544, 2054903419998572599, 2054903419998572501):
        make_run(tmp_path, JOB, build_id)
    job_folder = tmp_path / "test-platform-results" / "logs" / JOB
    done = sippy("load", str(job_folder), "--latest", "2", "--database-dsn", db_dsn)
    assert done.returncode == 0, done.stderr
    assert re.search(r"loaded\s*│\s*2\b", done.stdout), done.stdout
    newest = sippy("show", "2054903419998572599", "--json", "--database-dsn", db_dsn)
    oldest = sippy("show", "2054903419998572501", "--json", "--database-dsn", db_dsn)
    assert newest.returncode == 0 and oldest.returncode != 0
    refused = sippy("load", str(job_folder), "--latest", "0", "--database-dsn", db_dsn)
    assert refused.returncode == 2 and "--latest" in refused.stderr


def test_summarize_a_job_folder_answers_for_its_newest_run(tmp_path, db_dsn):
    for build_id in (2054903419998572544, 2054903419998572599, 2054903419998572501):
        make_run(tmp_path, JOB, build_id)
    job_folder = tmp_path / "test-platform-results" / "logs" / JOB
    done = sippy("summarize", str(job_folder), "--json", "--database-dsn", db_dsn)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == 2054903419998572599
    older = sippy("show", "2054903419998572544", "--database-dsn", db_dsn)
    assert older.returncode != 0  # only the newest was loaded


def test_load_exits_nonzero_and_names_the_bad_file(tmp_path, db_dsn):
    make_run(
        tmp_path, JOB, 2054903419998572544, files={"artifacts/junit/junit_bad.xml": "<testsuite"}
    )
    result = sippy("load", str(tmp_path), "--database-dsn", db_dsn)
    assert result.returncode == 1
    assert "artifacts/junit/junit_bad.xml" in result.stderr


def test_show_unknown_run_is_a_clear_error(tmp_path):
    result = sippy("show", "42", "--database-dsn", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 1
    assert "job run 42 not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_clear_line(tmp_path):
    port = free_port()
    result = sippy(
        "load", str(tmp_path), "--database-dsn", f"postgresql://postgres@127.0.0.1:{port}/nope"
    )
    assert result.returncode == 1
    assert "cannot use database" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_db_upgrade(tmp_path):
    dsn = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = sippy("db", "upgrade", "--database-dsn", dsn)
    assert result.returncode == 0 and "up to date" in result.stdout


@pytest.mark.parametrize("env_dsn", [True, False])
def test_serve_answers_and_exposes_metrics(tmp_path, db_dsn, env_dsn):
    samples = tmp_path / "samples"
    sippy("samples", str(samples), check=True)
    sippy("load", str(samples), "--database-dsn", db_dsn)
    port, metrics_port = free_port(), free_port()
    args = [
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        "--listen-metrics",
        f"127.0.0.1:{metrics_port}",
        "--log-level",
        "warning",
    ]
    env = {"SIPPY_DATABASE_DSN": db_dsn} if env_dsn else {}
    if not env_dsn:
        args += ["--database-dsn", db_dsn]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sippy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        run_id = next(samples.glob("test-platform-results/logs/*/*")).name
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/job/run/summary", params={"prow_job_run_id": run_id}
        )
        assert response.status_code == 200
        time.sleep(0.1)
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert 'handler="/api/job/run/summary"' in metrics and 'code="200"' in metrics
        assert 'sippy_prow_job_runs{overall_result="S"} 1.0' in metrics
        assert "sippy_last_load_timestamp_seconds" in metrics
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    assert f"curl 'localhost:{port}/api/job/run/summary?prow_job_run_id=" in stderr


def test_summarize_loads_a_path_and_answers_without_a_model(tmp_path, db_dsn):
    samples = tmp_path / "samples"
    sippy("samples", str(samples), check=True)
    run_dir = next(d for d in samples.glob("test-platform-results/logs/*/*") if "upgrade" in str(d))
    result = sippy("summarize", str(run_dir), "--database-dsn", db_dsn)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('The CI job "') and "failed during the upgrade" in result.stdout
    assert "fail [github.com/openshift/origin/" in result.stdout  # brackets are text, not markup


def test_summarize_asks_the_model_then_answers_from_the_cache(tmp_path, db_dsn):
    from tests.fakes.openai_server import FakeOpenAI

    samples = tmp_path / "samples"
    sippy("samples", str(samples), check=True)
    sippy("load", str(samples), "--database-dsn", db_dsn, check=True)
    run_id = next(samples.glob("test-platform-results/logs/*/*")).name
    with FakeOpenAI() as fake:
        fake.reply = "It failed because of a planted cause."
        args = ["summarize", run_id, "--json", "--database-dsn", db_dsn]
        first = sippy(*args, "--ai-endpoint", fake.base_url)
        second = sippy(*args, "--ai-endpoint", fake.base_url, "--ai-model", "mistral")
        third = sippy(*args, "--ai-endpoint", fake.base_url)
    answers = [json.loads(r.stdout) for r in (first, second, third)]
    assert [a["summary"] for a in answers] == ["It failed because of a planted cause."] * 3
    assert [a["model"] for a in answers] == [
        "meta-llama/Llama-3.1-8B-Instruct",
        "mistral",
        "meta-llama/Llama-3.1-8B-Instruct",
    ]
    assert [a["cached"] for a in answers] == [False, False, True]
    assert len(fake.chat_requests) == 2


def test_summarize_with_the_model_down_is_one_clear_line(tmp_path, db_dsn):
    samples = tmp_path / "samples"
    sippy("samples", str(samples), check=True)
    sippy("load", str(samples), "--database-dsn", db_dsn, check=True)
    run_id = next(samples.glob("test-platform-results/logs/*/*")).name
    endpoint = f"http://127.0.0.1:{free_port()}/v1"
    result = sippy(
        "summarize",
        run_id,
        "--database-dsn",
        db_dsn,
        "--ai-endpoint",
        endpoint,
        env={"SIPPY_AI_RETRIES": "0"},
    )
    assert result.returncode == 1
    assert "error: the model failed (503)" in result.stderr
    assert "Traceback" not in result.stderr


def test_explain_bug_and_history_commands(tmp_path, db_dsn):
    make_run(
        tmp_path,
        JOB,
        2054903419998572544,
        files={"artifacts/e2e/openshift-e2e-test/artifacts/junit/junit_e2e.xml": JUNIT_ONE_FAILURE},
    )
    test = "[sig-network] pods should talk [Suite:openshift/conformance/parallel]"
    explained = sippy("explain", str(tmp_path), test, "--database-dsn", db_dsn)
    assert explained.returncode == 0, explained.stderr
    assert "fail [github.com/openshift/origin/test/extended/net.go:42]" in explained.stdout
    assert "\n1. Read the full failure output" in explained.stdout
    bug = sippy(
        "bug",
        "2054903419998572544",
        test,
        "--format",
        "markdown",
        "--json",
        "--database-dsn",
        db_dsn,
    )
    assert bug.returncode == 0, bug.stderr
    draft = json.loads(bug.stdout)
    assert draft["title"] == "[sig-network] pods should talk: pods cannot talk"
    assert draft["format"] == "markdown" and "### How often" in draft["description"]
    record = json.loads(sippy("history", test, "--database-dsn", db_dsn).stdout)
    assert (record["runs"], record["failures"]) == (1, 1)
    missing = sippy("explain", "2054903419998572544", "no such test", "--database-dsn", db_dsn)
    assert missing.returncode == 1
    assert "has no failed or flaked test named 'no such test'" in missing.stderr


def test_follow_once_loads_finished_runs_and_leaves_running_ones(tmp_path, db_dsn):
    done = make_run(tmp_path, JOB, 2054903419998572544, files={"finished.json": "{}"})
    make_run(tmp_path, JOB, 2054903419998572599)  # no finished.json: still running
    logs = tmp_path / "test-platform-results" / "logs"
    first = sippy("follow", str(logs), "--once", "--database-dsn", db_dsn)
    assert first.returncode == 0, first.stderr
    assert "2 new runs, 1 queued, 1 in progress" in first.stderr
    shown = sippy("show", done.name, "--json", "--database-dsn", db_dsn)
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == int(done.name)
    again = sippy("follow", str(logs), "--once", "--database-dsn", db_dsn)
    assert "0 new runs, 0 queued, 1 in progress" in again.stderr  # where it stopped


def test_follow_and_worker_refuse_what_cannot_work(tmp_path):
    dsn = f"sqlite:///{tmp_path / 'x.db'}"
    worker = sippy("worker", "--database-dsn", dsn)
    assert worker.returncode == 1
    assert "sippy worker needs PostgreSQL" in worker.stderr
    inline = sippy("follow", str(tmp_path), "--once", "--concurrency", "0", "--database-dsn", dsn)
    assert inline.returncode == 2 and "--concurrency >= 1" in inline.stderr
    regex = sippy("follow", str(tmp_path), "--jobs", "(", "--database-dsn", dsn)
    assert regex.returncode == 2 and "--jobs is not a valid regex" in regex.stderr
    mode = sippy("follow", str(tmp_path), "--precompute", "some", "--database-dsn", dsn)
    assert mode.returncode == 2 and "--precompute must be one of" in mode.stderr
    for result in (worker, inline, regex, mode):
        assert "Traceback" not in result.stderr


def test_serve_follow_shows_a_run_that_appears_while_it_serves(tmp_path, db_dsn):
    logs = tmp_path / "test-platform-results" / "logs"
    logs.mkdir(parents=True)
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "sippy", "serve", "--follow", str(logs)),
            *("--listen", f"127.0.0.1:{port}", "--listen-metrics", ""),
            *("--database-dsn", db_dsn),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SIPPY_FOLLOW_INTERVAL": "0.2"},
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        run = make_run(tmp_path, JOB, 2054903419998572544, files={"finished.json": "{}"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = httpx.get(f"http://127.0.0.1:{port}/api/runs").json()["runs"]
            if listed:
                break
            time.sleep(0.2)
        assert [r["id"] for r in listed] == [int(run.name)]
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode in (0, -signal.SIGTERM), stderr  # uvicorn re-raises the signal
    assert "Application shutdown complete" in stderr and "Traceback" not in stderr
