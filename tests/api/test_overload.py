"""Overload on a real server: a stalled model slows nothing else down, excess AI work is
shed with 503 and Retry-After, and `sippy serve --workers N` runs several processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from sippy.app import create_app
from sippy.db.engine import make_engine
from sippy.ingest.load import load_sources
from sippy.samples.generator import generate_samples
from sippy.serving import settings_from_json, settings_to_json
from sippy.settings import Settings, build_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import free_port, running_server, wait_for_http

MODEL_DELAY = 2.0  # seconds per model call while stalled
# "At once" next to a stalled model: well under one model call, with room for a busy machine
FAST = MODEL_DELAY / 2
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(model: FakeOpenAI) -> FakeOpenAI:
    model.reset()
    return model


@pytest.fixture
def loaded(tmp_path, engine):
    runs = generate_samples(tmp_path)
    assert load_sources([str(tmp_path)], Settings(), engine).ok
    return engine, [r.build_id for r in runs]


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def timed_get(base: str, path: str, **params: Any) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = httpx.get(f"{base}{path}", params=params, headers=JSON, timeout=30)
    return response, time.perf_counter() - started


def test_stalled_model_slows_nothing_else_and_excess_is_shed(loaded, fake):
    engine, ids = loaded
    cached_id, uncached = ids[0], ids[1:]  # 1 answer cached, 5 runs to ask the model about
    concurrency, queue = 2, 1
    settings = {"ai_endpoint": fake.base_url, "ai_concurrency": concurrency}
    with running_server(
        create_app(build_settings(**settings, ai_queue_limit=queue), engine)
    ) as base:
        assert timed_get(base, "/api/ai/job_run", prow_job_run_id=cached_id)[0].status_code == 200
        fake.reset()
        fake.delay = MODEL_DELAY
        with ThreadPoolExecutor(len(uncached)) as pool:
            burst = [
                pool.submit(timed_get, base, "/api/ai/job_run", prow_job_run_id=i) for i in uncached
            ]
            wait_until(lambda: len(fake.chat_requests) == concurrency)  # the model is stalled
            during = {
                "summary": timed_get(base, "/api/job/run/summary", prow_job_run_id=uncached[0]),
                "cached": timed_get(base, "/api/ai/job_run", prow_job_run_id=cached_id),
                "health": timed_get(base, "/healthz"),
            }
            still_stalled = all(not f.done() or f.result()[0].status_code == 503 for f in burst)
            replies = [f.result() for f in burst]
        fake.delay = 0
        shed_run = next(
            i for i, (r, _) in zip(uncached, replies, strict=True) if r.status_code == 503
        )
        after = timed_get(base, "/api/ai/job_run", prow_job_run_id=shed_run)[0]

    assert still_stalled  # what was measured `during` really ran while the model was busy
    for name, (response, seconds) in during.items():
        assert response.status_code == 200, (name, response.text)
        assert seconds < FAST, f"{name} took {seconds:.2f}s while the model was stalled"
    assert during["cached"][0].json()["cached"] is True

    assert fake.max_concurrent == concurrency  # reached, never exceeded
    statuses = sorted(r.status_code for r, _ in replies)
    assert statuses == [200] * (concurrency + queue) + [503] * (len(uncached) - concurrency - queue)
    for response, seconds in replies:
        if response.status_code == 503:
            assert response.json() == {"code": 503, "message": response.json()["message"]}
            assert "busy" in response.json()["message"]
            assert int(response.headers["retry-after"]) >= 1
            assert seconds < MODEL_DELAY  # turned away without waiting for a model slot
        else:
            assert response.json()["cached"] is False
            assert seconds >= MODEL_DELAY

    assert after.status_code == 200 and after.json()["cached"] is False  # recovered


def test_more_requests_than_threads_and_pooled_connections_all_answer(loaded):
    """Sync endpoints hold a worker thread while they wait for a pooled connection; the
    sessions that would free one must still be closed, whatever the crowd."""
    engine, ids = loaded
    crowd = 150  # > Starlette's 40 threads + SQLAlchemy's 15 pooled connections

    async def ask_all(base: str) -> list[int]:
        limits = httpx.Limits(max_connections=crowd)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            replies = await asyncio.gather(
                *(
                    client.get("/api/job/run/summary", params={"prow_job_run_id": ids[n % 6]})
                    for n in range(crowd)
                )
            )
        return [r.status_code for r in replies]

    with running_server(create_app(Settings(), engine)) as base:
        started = time.perf_counter()
        statuses = asyncio.run(ask_all(base))
        seconds = time.perf_counter() - started
    assert statuses == [200] * crowd
    assert seconds < 20  # a starved pool would stall for its 30 s checkout timeout


def _worker_pids(parent: int) -> list[int]:
    """The multiprocessing children of `parent` that run uvicorn workers."""
    pids = []
    for task in Path(f"/proc/{parent}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                pids.append(int(child))
    return pids


def serve_workers(
    workers: int, port: int, env: dict[str, str], *args: str
) -> subprocess.Popen[str]:
    """`sippy serve --workers N` on 127.0.0.1:port, started and ready with all its workers;
    its stderr kept for the caller (stop it with SIGTERM and read it)."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "sippy", "serve", "--workers", str(workers)),
            *("--listen", f"127.0.0.1:{port}", *args),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
        wait_until(lambda: len(_worker_pids(proc.pid)) == workers, timeout=30)
    except BaseException:
        proc.kill()
        proc.communicate(timeout=30)
        raise
    return proc


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_serve_with_workers_answers_and_stops_on_sigterm(tmp_path, db_dsn):
    runs = generate_samples(tmp_path)
    engine = make_engine(db_dsn)
    assert load_sources([str(tmp_path)], Settings(), engine).ok
    engine.dispose()
    port, metrics_port = free_port(), free_port()
    env = {"COLUMNS": "200", "SIPPY_DATABASE_DSN": db_dsn}
    metrics = ("--listen-metrics", f"127.0.0.1:{metrics_port}")
    proc = serve_workers(2, port, env, "--mode", "none", *metrics)
    try:
        base = f"http://127.0.0.1:{port}"
        for sample in runs:
            summary = httpx.get(
                f"{base}/api/job/run/summary", params={"prow_job_run_id": sample.build_id}
            )
            assert summary.status_code == 200, summary.text
            assert summary.json()["overallResult"] == sample.expected_result
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok", "database": "ok"}
        # the parent's flags reach the workers: --mode none drops openshift_releases
        assert httpx.get(f"{base}/api/capabilities").json()[0] == "local_db"
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        line = next(
            x
            for x in metrics.splitlines()
            if x.startswith("http_requests_total{")
            and 'handler="/api/job/run/summary"' in x
            and 'code="200"' in x
        )
        assert float(line.rsplit(" ", 1)[1]) == len(runs)  # summed over both workers
        assert "sippy_prow_job_runs" in metrics
        workers = _worker_pids(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_workers_get_the_parents_settings_secrets_included(monkeypatch):
    parent = build_settings(
        ai_endpoint="http://127.0.0.1:1/v1",
        ai_api_key="sk-parent",
        ai_concurrency=3,
        serve_workers=4,
        mode="none",
    )
    monkeypatch.setenv("SIPPY_AI_CONCURRENCY", "9")  # a worker's own environment is ignored
    worker = settings_from_json(settings_to_json(parent))
    assert worker == parent
    assert worker.ai_api_key is not None and worker.ai_api_key.get_secret_value() == "sk-parent"
    assert worker.ai_concurrency == 3


def test_workers_share_one_model_limit_and_ask_each_question_once(tmp_path, db_dsn):
    """`serve --workers 4` with ai_concurrency 2: many requests for one run make one model
    call, and the model never has more than 2 calls at once from all four processes."""
    runs = generate_samples(tmp_path, count=14)
    failed = [r for r in runs if r.expected_result != "S"][:6]
    engine = make_engine(db_dsn)
    assert load_sources([str(tmp_path)], Settings(), engine).ok
    engine.dispose()
    port = free_port()
    with FakeOpenAI() as fake:
        fake.delay = 0.5
        env = {
            "SIPPY_DATABASE_DSN": db_dsn,
            "SIPPY_AI_ENDPOINT": fake.base_url,
            "SIPPY_AI_CONCURRENCY": "2",
            "SIPPY_AI_QUEUE_LIMIT": "64",
        }
        proc = serve_workers(4, port, env, "--listen-metrics", "")
        try:
            base = f"http://127.0.0.1:{port}"
            asked = [failed[0].build_id] * 16 + [r.build_id for r in failed[1:]] * 2
            with ThreadPoolExecutor(len(asked)) as pool:
                answers = list(
                    pool.map(
                        lambda run_id: httpx.get(
                            f"{base}/api/ai/job_run",
                            params={"prow_job_run_id": run_id},
                            headers={"Accept": "application/json"},
                            timeout=60,
                        ),
                        asked,
                    )
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=30)
        calls = len(fake.chat_requests)
        peak = fake.max_concurrent
    assert [a.status_code for a in answers] == [200] * len(asked), stderr
    assert calls == len(failed)  # one per run, whichever process each request reached
    assert peak <= 2
    assert {a.json()["summary"] for a in answers} == {fake.reply}
    assert proc.returncode == 0, stderr
