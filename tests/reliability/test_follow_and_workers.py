"""A deployment of real processes on PostgreSQL: followers queue, workers run, the model is
a real HTTP server. Each run is loaded once and summarised once however many processes see
it; the model never runs more calls at once than the one limit; a worker killed mid-task has
its task finished by another, with nothing lost or stored twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from sippy.db import models as m
from sippy.db.engine import make_engine, session_factory
from tests.fakes.openai_server import FakeOpenAI
from tests.follow.conftest import FIRST_BUILD, Ci
from tests.helpers import free_port

pytestmark = pytest.mark.postgres
STARTED = re.compile(r"Starting job sippy:(\w+)\[(\d+)\]\((\w+)=([^)]*)\)")
ENDED = re.compile(r"Job sippy:(\w+)\[(\d+)\]")


class Process:
    """A `sippy` command in the background, its log in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.handle = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sippy", *args],
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )

    def text(self) -> str:
        return self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.handle.close()
        return code


@contextmanager
def deployment(
    tmp_path: Path, pg_dsn: str, fake: FakeOpenAI, **env: str
) -> Iterator[Callable[..., Process]]:
    base_env = {
        "SIPPY_DATABASE_DSN": pg_dsn,
        "SIPPY_AI_ENDPOINT": fake.base_url,
        "SIPPY_AI_CONCURRENCY": "2",
        "SIPPY_AI_RETRIES": "0",
        "SIPPY_TASK_HEARTBEAT": "0.5",
        "SIPPY_LOG_LEVEL": "info",
        **env,
    }
    started: list[Process] = []

    def start(name: str, *args: str) -> Process:
        process = Process(list(args), base_env, tmp_path / f"{name}.log")
        started.append(process)
        return process

    with ExitStack() as stack:
        stack.callback(lambda: [p.stop(signal.SIGKILL) for p in started if p.proc.poll() is None])
        yield start


def following(ci: Ci, *extra: str) -> list[str]:
    """`sippy follow` of the CI's logs, polling fast, queuing only (workers run the tasks)."""
    return ["follow", str(ci.logs), "--interval", "0.3", "--concurrency", "0", *extra]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def follow_counts(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with session_factory(engine)() as session:
        rows = session.execute(
            select(m.FollowRun.state, func.count(m.FollowRun.summarized_at), func.count()).group_by(
                m.FollowRun.state
            )
        )
        counts: dict[str, int] = {}
        for state, summarized, total in rows:
            counts[state] = total
            counts["summarized"] = counts.get("summarized", 0) + summarized
        return counts


def started_jobs(*processes: Process) -> Counter[tuple[str, str]]:
    """(task, argument) of every job the workers started, from their logs."""
    jobs: Counter[tuple[str, str]] = Counter()
    for process in processes:
        for task, _, _, value in STARTED.findall(process.text()):
            jobs[(task, value.strip("'"))] += 1
    return jobs


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def test_followers_and_workers_share_the_work_once(tmp_path, pg_dsn, fake):
    ci = Ci(tmp_path / "ci")
    ci.logs.mkdir(parents=True)
    fake.delay = 0.3
    engine = make_engine(pg_dsn)
    status_port = free_port()
    with deployment(tmp_path, pg_dsn, fake) as start:
        follow = [start("follow-a", *following(ci, "--listen-status", f"127.0.0.1:{status_port}"))]
        follow.append(start("follow-b", *following(ci)))
        workers = [start(f"worker-{n}", "worker", "--concurrency", "4") for n in range(2)]
        failed = [ci.run(FIRST_BUILD + n) for n in range(8)]
        passed = [ci.run(FIRST_BUILD + 100 + n, failed=False) for n in range(4)]
        running = ci.start(FIRST_BUILD + 200)
        wait_until(lambda: follow_counts(engine).get("summarized", 0) == 8, 90, "8 summaries")
        wait_until(lambda: follow_counts(engine).get("loaded", 0) == 12, 30, "12 loads")
        health = httpx.get(f"http://127.0.0.1:{status_port}/healthz", timeout=5)
        ready = httpx.get(f"http://127.0.0.1:{status_port}/readyz", timeout=5)
        metrics = httpx.get(f"http://127.0.0.1:{status_port}/metrics", timeout=5).text
        codes = [p.stop() for p in follow + workers]  # SIGTERM: a clean stop
    assert codes == [0, 0, 0, 0]
    assert follow_counts(engine) == {"loaded": 12, "pending": 1, "summarized": 8}
    jobs = started_jobs(*workers)
    loads = {value for (task, value), n in jobs.items() if task == "load_run"}
    assert loads == {str(p) for p in failed + passed}
    assert all(n == 1 for (task, _), n in jobs.items() if task == "load_run"), jobs
    assert str(running) not in loads  # not finished: never loaded
    # one model call per failed run, never more than the deployment's limit at once
    assert len(fake.chat_requests) == 8
    assert fake.max_concurrent <= 2
    with session_factory(engine)() as session:
        subjects = session.scalars(select(m.AiResultRow.subject)).all()
        calls = session.scalars(select(m.AiCallRow.outcome)).all()
    assert sorted(subjects) == sorted(str(FIRST_BUILD + n) for n in range(8))
    assert calls == ["ok"] * 8
    assert health.status_code == ready.status_code == 200
    body = health.json()
    assert body["database"] == "ok" and body["follow"]["loaded"] == 12
    assert body["lastPoll"]["jobFolders"] == 1 and body["outage"] is False
    assert re.search(r'sippy_follow_runs_total\{event="discovered"\} \d+', metrics)
    engine.dispose()


def test_a_worker_killed_mid_summary_has_it_finished_by_another(tmp_path, pg_dsn, fake):
    ci = Ci(tmp_path / "ci")
    ci.logs.mkdir(parents=True)
    fake.delay = 3.0
    engine = make_engine(pg_dsn)
    with deployment(tmp_path, pg_dsn, fake, SIPPY_AI_TIMEOUT="6") as start:
        follower = start("follow", *following(ci))
        workers = [start(f"worker-{n}", "worker", "--concurrency", "2") for n in range(2)]
        for n in range(3):
            ci.run(FIRST_BUILD + n)
        wait_until(lambda: fake.max_concurrent >= 1, 30, "a summary under way")
        busy = next((w for w in workers if "Starting job sippy:summarize_run" in w.text()), None)
        assert busy is not None
        assert busy.stop(signal.SIGKILL) == -signal.SIGKILL
        survivor = next(w for w in workers if w is not busy)
        wait_until(lambda: follow_counts(engine).get("summarized", 0) == 3, 90, "3 summaries")
        assert follower.stop() == 0 and survivor.stop() == 0
    assert follow_counts(engine) == {"loaded": 3, "summarized": 3}
    with session_factory(engine)() as session:
        subjects = session.scalars(select(m.AiResultRow.subject)).all()
        leases = session.scalar(select(func.count()).select_from(m.AiInflight))
        stuck = session.execute(
            select(func.count()).select_from(m.FollowRun).where(m.FollowRun.state != "loaded")
        ).scalar()
    assert sorted(subjects) == [str(FIRST_BUILD + n) for n in range(3)]  # once each
    assert leases == 0 and stuck == 0
    with engine.connect() as conn:
        left = conn.exec_driver_sql(
            "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        ).scalar()
    assert left == 0
    assert "of a stopped worker is queued again" in survivor.text()
    engine.dispose()


def test_follower_and_worker_ride_out_a_database_outage(tmp_path, proxied_pg, fake):
    """The database goes away under a follower and a worker, runs keep finishing, the
    database comes back: both processes are still up, report the outage while it lasts,
    and catch up with nothing lost."""
    ci = Ci(tmp_path / "ci")
    ci.logs.mkdir(parents=True)
    engine = make_engine(proxied_pg.dsn)  # the test's own view, around the proxy
    status_port = free_port()
    env = {"SIPPY_DATABASE_DSN": proxied_pg.proxied_dsn, "SIPPY_FOLLOW_REQUEUE_AFTER": "2"}
    with deployment(tmp_path, proxied_pg.proxied_dsn, fake, **env) as start:
        follower = start("follow", *following(ci, "--listen-status", f"127.0.0.1:{status_port}"))
        worker = start("worker", "worker", "--concurrency", "2")
        for n in range(3):
            ci.run(FIRST_BUILD + n)
        wait_until(lambda: follow_counts(engine).get("summarized", 0) == 3, 60, "3 summaries")

        proxied_pg.proxy.cut()  # every connection reset, new ones refused
        for n in range(3, 6):
            ci.run(FIRST_BUILD + n)
        status = f"http://127.0.0.1:{status_port}"
        wait_until(
            lambda: httpx.get(f"{status}/healthz", timeout=10).json().get("outage") is True,
            30,
            "the outage reported",
        )
        assert httpx.get(f"{status}/readyz", timeout=10).status_code == 503
        assert httpx.get(f"{status}/livez", timeout=10).status_code == 200
        assert follower.proc.poll() is None and worker.proc.poll() is None

        proxied_pg.proxy.restore()
        wait_until(lambda: follow_counts(engine).get("summarized", 0) == 6, 120, "catching up")
        assert httpx.get(f"{status}/readyz", timeout=10).status_code == 200
        assert follower.stop() == 0 and worker.stop() == 0
    assert follow_counts(engine) == {"loaded": 6, "summarized": 6}
    with session_factory(engine)() as session:
        subjects = session.scalars(select(m.AiResultRow.subject)).all()
    assert sorted(subjects) == [str(FIRST_BUILD + n) for n in range(6)]
    assert "Traceback" not in follower.text()
    engine.dispose()
