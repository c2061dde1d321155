"""`sippy load` killed with SIGKILL mid-load, and two loads of the same runs at once.

Real `sippy load` processes on generated runs, on SQLite and on PostgreSQL. What is stored
is compared, run by run and table by table, with a clean load of the same runs into a
database of its own: a run is there completely or not at all, nothing is there twice, and
no row is left without its run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from sippy.db.engine import make_engine
from sippy.db.migrate import upgrade
from sippy.ingest.load import load_sources
from sippy.ingest.reader import ReadLimits, read_run
from sippy.ingest.sources import group_runs, list_files, open_source
from sippy.samples.generator import SampleRun, generate_samples
from sippy.settings import Settings

RUNS = 24  # a load takes a second or so: time enough to kill it part-way
RUN_TABLES = (  # every table holding rows of one run, keyed by prow_job_run_id
    "prow_job_run_tests",
    "prow_job_run_artifacts",
    "prow_job_run_operator_conditions",
    "prow_job_run_node_problems",
    "prow_job_run_machine_problems",
    "prow_job_run_log_snippets",
    "prow_job_run_prow_pull_requests",
)
SHARED_TABLES = ("prow_jobs", "tests", "suites", "prow_pull_requests")  # rows runs share


@dataclass(frozen=True)
class Stored:
    """What a database holds, in the terms the tests compare."""

    per_run: dict[int, dict[str, int]]  # run id -> table -> rows of that run
    shared: dict[str, int]  # shared table -> rows
    orphans: dict[str, int]  # table -> rows whose run (or test row) is gone

    def runs(self) -> set[int]:
        return set(self.per_run)


def stored(engine: Engine) -> Stored:
    with engine.connect() as conn:
        runs = {row[0] for row in conn.execute(text("SELECT id FROM prow_job_runs"))}
        per_run: dict[int, dict[str, int]] = {run: {} for run in runs}
        orphans: dict[str, int] = {}
        for table in RUN_TABLES:
            counts = conn.execute(
                text(f"SELECT prow_job_run_id, count(*) FROM {table} GROUP BY prow_job_run_id")
            )
            for run, count in counts:
                if run in per_run:
                    per_run[run][table] = count
                else:
                    orphans[table] = orphans.get(table, 0) + count
        outputs = conn.execute(
            text(
                "SELECT t.prow_job_run_id, count(*) FROM prow_job_run_test_outputs o "
                "LEFT JOIN prow_job_run_tests t ON t.id = o.prow_job_run_test_id "
                "GROUP BY t.prow_job_run_id"
            )
        )
        for run, count in outputs:
            if run in per_run:
                per_run[run]["prow_job_run_test_outputs"] = count
            else:
                orphans["prow_job_run_test_outputs"] = count
        shared = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in SHARED_TABLES
        }
        names = conn.execute(text("SELECT count(DISTINCT name) FROM tests")).scalar_one()
        assert names == shared["tests"]  # never the same test name twice
    return Stored(per_run, shared, orphans)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, list[SampleRun]]:
    root = tmp_path_factory.mktemp("runs")
    return root, generate_samples(root, count=RUNS, seed=7)


@pytest.fixture(scope="module")
def reference(source, tmp_path_factory) -> Stored:
    """The runs loaded once, cleanly, in this process: what every database must end up as."""
    dsn = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'clean.db'}"
    engine = make_engine(dsn)
    upgrade(engine)
    assert load_sources([str(source[0])], Settings(), engine).ok
    clean = stored(engine)
    engine.dispose()
    assert len(clean.runs()) == RUNS and not clean.orphans
    return clean


def start_load(
    root: Path, dsn: str, log: Path, *sources: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sippy", "load", *(sources or [str(root)]), "--database-dsn", dsn],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def finish(proc: subprocess.Popen, log: Path, timeout: float = 120) -> tuple[int, str]:
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(
            f"sippy load did not finish within {timeout}s (deadlocked?):\n{log.read_text()}"
        )
    return code, log.read_text()


def outcomes(output: str) -> dict[str, int]:
    """The closing table's counts: {"loaded": n, "unchanged": n, "failed": n}."""
    found = dict(re.findall(r"(loaded|unchanged|failed)\s*│\s*(\d+)", output))
    return {k: int(v) for k, v in found.items()}


def assert_complete_runs(now: Stored, reference: Stored) -> None:
    """Each stored run holds exactly the rows a clean load gives it; no row is orphaned."""
    assert not now.orphans, f"rows without their run: {now.orphans}"
    for run in now.runs():
        assert now.per_run[run] == reference.per_run[run], f"run {run} is stored partially"


def count_runs(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM prow_job_runs")).scalar_one()


def test_killed_load_leaves_whole_runs_and_a_rerun_completes(db_dsn, source, reference, tmp_path):
    root, _ = source
    engine = make_engine(db_dsn)
    log = tmp_path / "killed.log"
    proc = start_load(root, db_dsn, log)
    deadline = time.monotonic() + 60
    while (stored_runs := count_runs(engine)) < RUNS // 4:  # wait until it is well under way
        assert proc.poll() is None, f"the load ended before it could be killed:\n{log.read_text()}"
        assert time.monotonic() < deadline, "the load stored nothing within 60 s"
        time.sleep(0.005)  # polling interval of the observation, not a synchronisation
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL

    after_kill = stored(engine)
    assert RUNS // 4 <= len(after_kill.runs()) < RUNS, "the kill was not mid-load"
    assert len(after_kill.runs()) >= stored_runs
    assert_complete_runs(after_kill, reference)

    code, output = finish(start_load(root, db_dsn, tmp_path / "again.log"), tmp_path / "again.log")
    assert code == 0, output
    assert outcomes(output) == {
        "loaded": RUNS - len(after_kill.runs()),
        "unchanged": len(after_kill.runs()),
        "failed": 0,
    }
    final = stored(engine)
    engine.dispose()
    assert final.runs() == reference.runs()
    assert_complete_runs(final, reference)
    assert final.shared == reference.shared  # nothing shared was stored twice


@pytest.fixture(params=["sqlite", "postgresql"])
def target_dsn(request, tmp_path) -> str:
    """A database without any schema (SQLite: no file yet), so that the two loads also race
    to create the schema."""
    if request.param == "postgresql":
        return request.getfixturevalue("empty_pg_dsn")
    return f"sqlite:///{tmp_path / 'sippy.db'}"


def test_two_loads_of_the_same_runs_at_once(target_dsn, source, reference, tmp_path):
    root, _ = source
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    procs = [start_load(root, target_dsn, log) for log in logs]
    results = [finish(proc, log) for proc, log in zip(procs, logs, strict=True)]
    for code, output in results:
        assert code == 0, output
        assert "deadlock" not in output.lower() and "Traceback" not in output, output
        counts = outcomes(output)
        assert counts["failed"] == 0 and counts["loaded"] + counts["unchanged"] == RUNS
    # every run was written once, by one of them: the other found it stored
    assert sum(outcomes(output)["loaded"] for _, output in results) == RUNS
    engine = make_engine(target_dsn)
    final = stored(engine)
    engine.dispose()
    assert final.runs() == reference.runs()
    assert_complete_runs(final, reference)
    assert final.shared == reference.shared


def test_two_loads_creating_the_same_names_at_the_same_moment(pg_dsn, source, tmp_path):
    """Two runs of different jobs sharing hundreds of new test names, written at once.

    A third connection holds up both loads just before they create the names (it locks
    the artifacts table, which each writes first), then lets them go together. The two
    processes hash strings differently (PYTHONHASHSEED), as any two processes do, so
    unsorted names would reach PostgreSQL in different orders: each load would wait for a
    name the other inserted, a deadlock PostgreSQL breaks by failing one of them.
    """
    root, runs = source
    first, second = _two_runs_of_different_jobs(root, runs)
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    with psycopg.connect(pg_dsn) as hold, psycopg.connect(pg_dsn, autocommit=True) as watch:
        hold.execute("LOCK TABLE prow_job_run_artifacts IN EXCLUSIVE MODE")
        procs = [
            start_load(root, pg_dsn, log, str(root / run.path), env={"PYTHONHASHSEED": seed})
            for log, run, seed in zip(logs, (first, second), ("1", "2"), strict=True)
        ]
        deadline = time.monotonic() + 60
        while _waiting_for_artifacts(watch) < 2:  # both are held at the same point
            assert all(p.poll() is None for p in procs), [log.read_text() for log in logs]
            assert time.monotonic() < deadline, "the loads never reached their writes"
            time.sleep(0.01)  # polling interval of the observation
        hold.commit()  # let both go at once
    for proc, log in zip(procs, logs, strict=True):
        code, output = finish(proc, log)
        assert code == 0, output
        assert "deadlock" not in output.lower() and "Traceback" not in output, output
    engine = make_engine(pg_dsn)
    final = stored(engine)  # (it also checks that no test name is stored twice)
    engine.dispose()
    assert final.runs() == {first.build_id, second.build_id}
    assert not final.orphans


def _two_runs_of_different_jobs(root: Path, runs: list[SampleRun]) -> tuple[SampleRun, SampleRun]:
    """Two runs of different jobs with hundreds of test names in common."""
    names: dict[str, tuple[SampleRun, set[str]]] = {}  # job -> its first big run, test names
    for run in runs:
        if run.job_name in names:
            continue
        src = open_source(str(root / run.path))
        parsed = read_run(src, group_runs(src, list_files(src))[0], ReadLimits(64 << 20))
        mine = {t.name for t in parsed.tests}
        for other, theirs in names.values():
            if len(mine & theirs) >= 300:
                return other, run
        names[run.job_name] = (run, mine)
    raise AssertionError("no two runs of different jobs share 300 test names")


def _waiting_for_artifacts(conn: psycopg.Connection) -> int:
    return conn.execute(
        "SELECT count(*) FROM pg_locks "
        "WHERE relation = 'prow_job_run_artifacts'::regclass AND NOT granted"
    ).fetchone()[0]
