"""Write a parsed run to the database: one run, one transaction, replaced as a whole.

Rows go in with bulk Core inserts (executemany), since a run holds thousands of tests;
test and suite names are resolved to ids through a cache shared by the whole load.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from sippy.db import models as m
from sippy.db.generation import bump_generation
from sippy.db.writes import insert_ignore
from sippy.ingest.records import STATUS_FAILURE, STATUS_FLAKE, ParsedRun, TestResult
from sippy.ingest.release import release_from_job, variants_from_job_name

MAX_NAME_CHARS = 2000  # keeps btree index entries well under PostgreSQL's limit
CHUNK = 500


class NameCache:
    """name -> id for tests and suites; rows are never deleted, so ids stay valid."""

    def __init__(self) -> None:
        self.tests: dict[str, int] = {}
        self.suites: dict[str, int] = {}


def stored_fingerprint(session: Session, run_id: int) -> str | None:
    return session.scalar(select(m.ProwJobRun.fingerprint).where(m.ProwJobRun.id == run_id))


def lock_run(session: Session, run_id: int) -> None:
    """Hold the right to write run `run_id` until the caller's transaction ends.

    Call it first in the transaction, before looking at what is stored. Two loads of the
    same run at once would otherwise both find it missing and both write it (on PostgreSQL
    the second fails on the run's key). With the lock the second waits for the first to
    commit, then finds the run stored and unchanged. PostgreSQL: a transaction-scoped
    advisory lock on the run id. SQLite: its database-wide write lock, taken at once
    (BEGIN IMMEDIATE) rather than at the first write; waits are bounded by the busy timeout.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": run_id})
        return
    driver = connection.connection.driver_connection
    if driver is not None and not driver.in_transaction:  # type: ignore[attr-defined]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def write_run(session: Session, run: ParsedRun, *, source: str, cache: NameCache) -> None:
    """Replace run `run.meta.build_id` with `run`, inside the caller's transaction."""
    meta = run.meta
    _delete_rows(session, meta.build_id)
    job_id = _upsert_job(session, run)
    session.execute(insert(m.ProwJobRun), [_run_row(run, job_id, source)])
    _link_pull_requests(session, run)
    artifact_ids = _insert_artifacts(session, run)
    _insert_tests(session, run, job_id, artifact_ids, cache)
    _insert_problems(session, run, artifact_ids)
    bump_generation(session)  # last: its row lock is held only until the commit


def delete_run(session: Session, run_id: int) -> None:
    """Remove a run and everything stored for it, inside the caller's transaction."""
    _delete_rows(session, run_id)
    bump_generation(session)


def _delete_rows(session: Session, run_id: int) -> None:
    # the run's tests have no cascading key; everything else goes with the run row
    session.execute(delete(m.ProwJobRunTest).where(m.ProwJobRunTest.prow_job_run_id == run_id))
    session.execute(delete(m.ProwJobRun).where(m.ProwJobRun.id == run_id))


def _upsert_job(session: Session, run: ParsedRun) -> int:
    meta = run.meta
    values = {
        "name": meta.job_name,
        "kind": meta.job_type or "periodic",
        "release": release_from_job(meta),
        "variants": variants_from_job_name(meta.job_name),
    }
    job_id = session.scalar(select(m.ProwJob.id).where(m.ProwJob.name == meta.job_name))
    if job_id is None:
        insert_ignore(session, m.ProwJob, [values], ["name"])
        job_id = session.scalar(select(m.ProwJob.id).where(m.ProwJob.name == meta.job_name))
    else:
        session.execute(update(m.ProwJob).where(m.ProwJob.id == job_id).values(**values))
    assert job_id is not None
    return job_id


def _run_row(run: ParsedRun, job_id: int, source: str) -> dict[str, Any]:
    meta = run.meta
    real = [t for t in run.tests if t.suite != "sippy"]
    build_log = next((a for a in run.artifacts if a.kind == "build-log"), None)
    duration = None
    if meta.start and meta.completion:
        duration = int((meta.completion - meta.start).total_seconds() * 1e9)
    return {
        "id": meta.build_id,
        "prow_job_id": job_id,
        "cluster": meta.cluster,
        "gcs_bucket": meta.bucket,
        "gcs_path": meta.gcs_path,
        "url": meta.url,
        "timestamp": meta.start,
        "duration": duration,
        "prow_state": meta.state,
        "overall_result": run.overall_result,
        "test_failures": sum(t.status == STATUS_FAILURE for t in real),
        "test_flakes": sum(t.status == STATUS_FLAKE for t in real),
        "succeeded": run.overall_result == "S",
        "failed": meta.state in ("failure", "error", "aborted") and run.overall_result != "S",
        "infrastructure_failure": run.overall_result in ("N", "n"),
        "known_failure": False,  # derived at query time from history; see analysis.summary
        "labels": meta.labels,
        "annotations": meta.annotations,
        "org": meta.org,
        "repo": meta.repo,
        "base_ref": meta.base_ref,
        "metadata_source": meta.metadata_source,
        "source": source,
        "fingerprint": run.fingerprint,
        "build_log_path": build_log.path if build_log else None,
        "build_log_size": build_log.size if build_log else None,
        "loaded_at": datetime.now(UTC),
    }


def _link_pull_requests(session: Session, run: ParsedRun) -> None:
    for pr in sorted(run.meta.pulls, key=lambda pr: (pr.link, pr.sha)):  # lock order, as names
        values = {
            "org": pr.org,
            "repo": pr.repo,
            "number": pr.number,
            "author": pr.author,
            "sha": pr.sha,
            "title": pr.title,
            "link": pr.link,
        }
        insert_ignore(session, m.ProwPullRequest, [values], ["link", "sha"])
        pr_id = session.scalar(
            select(m.ProwPullRequest.id).where(
                m.ProwPullRequest.link == pr.link, m.ProwPullRequest.sha == pr.sha
            )
        )
        session.execute(
            insert(m.ProwJobRunPullRequest),
            [{"prow_job_run_id": run.meta.build_id, "prow_pull_request_id": pr_id}],
        )


def _insert_artifacts(session: Session, run: ParsedRun) -> dict[str, int]:
    rows = [
        {
            "prow_job_run_id": run.meta.build_id,
            "path": a.path,
            "kind": a.kind,
            "size": a.size,
            "error": a.error,
        }
        for a in _unique_by_path(run)
    ]
    if not rows:
        return {}
    result = session.execute(
        insert(m.ProwJobRunArtifact).returning(
            m.ProwJobRunArtifact.id, m.ProwJobRunArtifact.path, sort_by_parameter_order=True
        ),
        rows,
    )
    return {path: artifact_id for artifact_id, path in result}


def _unique_by_path(run: ParsedRun) -> list[Any]:
    seen: dict[str, Any] = {}
    for artifact in run.artifacts:
        seen.setdefault(artifact.path, artifact)
    return list(seen.values())


TEST_COLUMNS = (
    "prow_job_run_id",
    "prow_job_id",
    "test_id",
    "suite_id",
    "status",
    "duration",
    "lifecycle",
    "artifact_id",
)


def _insert_tests(
    session: Session, run: ParsedRun, job_id: int, artifact_ids: dict[str, int], cache: NameCache
) -> None:
    """All test rows in bulk; then the ids of failures and flakes, to attach their output."""
    tests = run.tests
    if not tests:
        return
    _resolve_names(session, cache.tests, m.Test, {_name(t.name) for t in tests})
    _resolve_names(session, cache.suites, m.Suite, {t.suite for t in tests if t.suite})
    rows = [_test_row(t, run.meta.build_id, job_id, artifact_ids, cache) for t in tests]
    _bulk_insert(session, "prow_job_run_tests", TEST_COLUMNS, rows)
    wanted = {
        (row[2], row[3]): t.output for row, t in zip(rows, tests, strict=True) if _keeps_output(t)
    }
    if not wanted:
        return
    stored = session.execute(
        select(m.ProwJobRunTest.id, m.ProwJobRunTest.test_id, m.ProwJobRunTest.suite_id).where(
            m.ProwJobRunTest.prow_job_run_id == run.meta.build_id,
            m.ProwJobRunTest.status.in_((STATUS_FAILURE, STATUS_FLAKE)),
        )
    )
    outputs = [
        (row_id, wanted[(test_id, suite_id)])
        for row_id, test_id, suite_id in stored
        if (test_id, suite_id) in wanted
    ]
    _bulk_insert(session, "prow_job_run_test_outputs", ("prow_job_run_test_id", "output"), outputs)


def _keeps_output(test: TestResult) -> bool:
    return test.output is not None and test.status in (STATUS_FAILURE, STATUS_FLAKE)


def _bulk_insert(
    session: Session, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Plain rows straight to the driver: COPY on PostgreSQL, executemany on SQLite.

    This is the hot path of a load (thousands of rows per run); going through the ORM's
    bulk machinery costs several times the insert itself.
    """
    if not rows:
        return
    connection = session.connection()
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def _test_row(
    t: TestResult, run_id: int, job_id: int, artifact_ids: dict[str, int], cache: NameCache
) -> tuple[Any, ...]:
    return (
        run_id,
        job_id,
        cache.tests[_name(t.name)],
        cache.suites.get(t.suite) if t.suite else None,
        t.status,
        t.duration,
        t.lifecycle,
        artifact_ids.get(t.source),
    )


def _insert_problems(session: Session, run: ParsedRun, artifact_ids: dict[str, int]) -> None:
    run_id = run.meta.build_id
    operators = [
        {
            "prow_job_run_id": run_id,
            "artifact_id": artifact_ids.get(o.source),
            "name": o.name,
            "condition": o.condition,
            "status": o.status,
            "reason": o.reason,
            "message": o.message,
            "last_transition_time": o.last_transition_time,
            "position": i,
        }
        for i, o in enumerate(run.operators)
    ]
    nodes = [
        {
            "prow_job_run_id": run_id,
            "artifact_id": artifact_ids.get(n.source),
            "name": n.name,
            "condition": n.condition,
            "status": n.status,
            "reason": n.reason,
            "message": n.message,
            "roles": n.roles,
        }
        for n in run.nodes
    ]
    machines = [
        {
            "prow_job_run_id": run_id,
            "artifact_id": artifact_ids.get(x.source),
            "name": x.name,
            "phase": x.phase,
            "error_reason": x.error_reason,
            "error_message": x.error_message,
            "node": x.node,
        }
        for x in run.machines
    ]
    snippets = [
        {
            "prow_job_run_id": run_id,
            "artifact_id": artifact_ids.get(s.source),
            "origin": s.origin,
            "title": s.title,
            "line": s.line,
            "kind": s.kind,
            "score": s.score,
            "count": s.count,
            "text": s.text,
            "position": i,
        }
        for i, s in enumerate(run.log_snippets)
    ]
    for model, rows in (
        (m.OperatorConditionRow, operators),
        (m.NodeProblemRow, nodes),
        (m.MachineProblemRow, machines),
        (m.LogSnippetRow, snippets),
    ):
        if rows:
            session.execute(insert(model), rows)


def _resolve_names(
    session: Session, cache: dict[str, int], model: type[m.Test] | type[m.Suite], names: set[str]
) -> None:
    """Fill `cache` with ids for `names`, creating missing rows (race-safe on PostgreSQL).

    Names are created in sorted order: a load that inserts a name another transaction has
    just inserted waits for that transaction, and two loads creating shared names in
    different orders could each wait for the other (a deadlock). In one order they cannot.
    """
    missing = sorted(n for n in names if n not in cache)
    for chunk in _chunks(missing, CHUNK):
        found = _ids_by_name(session, model, chunk)
        absent = [{"name": n} for n in chunk if n not in found]
        if absent:
            insert_ignore(session, model, absent, ["name"])
            found = _ids_by_name(session, model, chunk)
        cache.update(found)


def _ids_by_name(session: Session, model: Any, names: Sequence[str]) -> dict[str, int]:
    query = select(model.name, model.id).where(model.name.in_(names))
    return {row[0]: row[1] for row in session.execute(query)}


def _name(name: str) -> str:
    return name if len(name) <= MAX_NAME_CHARS else name[: MAX_NAME_CHARS - 1] + "…"


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
