"""The job-run summary: Sippy's `/api/job/run/summary` object, with its flaws fixed.

Same keys as Sippy (`id` ... `clusterOperators`), plus `testFlakes`, `nodes`, `machines`,
`failedSteps`, `otherJUnitFailures` (failures of suites Sippy does not import: evidence, not
tests), `logSnippets` and provenance. Fixes: no constant fields; counts agree with the lists;
synthetic tests never appear in `testFailures`; a test failing in two suites keeps both
entries; operator entries say which condition is wrong; snippets keep the decisive line.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from sippy.analysis.baseline import mark_findings_seen_in_passing_runs
from sippy.analysis.history import earlier_test_history
from sippy.db import models as m
from sippy.evidence.snippets import failure_snippet
from sippy.ingest.classify import RESULT_REASONS
from sippy.ingest.records import STATUS_FAILURE, STATUS_FLAKE

GCSWEB = "https://gcsweb-ci.apps.ci.l2s4.p1.openshiftapps.com/gcs"
SNIPPET_BYTES = 1024


class RunNotFound(LookupError):
    """No run with this id has been loaded."""


def job_run_summary(session: Session, run_id: int) -> dict[str, Any]:
    """The summary of one loaded run; raises RunNotFound."""
    row = session.execute(
        select(m.ProwJobRun, m.ProwJob)
        .join(m.ProwJob, m.ProwJob.id == m.ProwJobRun.prow_job_id)
        .where(m.ProwJobRun.id == run_id)
    ).first()
    if row is None:
        raise RunNotFound(f"job run {run_id} not found")
    run, job = row
    tests = _tests(session, run_id)
    real = [t for t in tests if t["suite"] != "sippy"]
    failures = [t for t in real if t["status"] == STATUS_FAILURE]
    flakes = [t for t in real if t["status"] == STATUS_FLAKE]
    duration = run.duration
    steps, log_snippets, other_failures = _log_snippets(session, run_id)
    passing_compared = mark_findings_seen_in_passing_runs(session, run, log_snippets)
    return {
        "id": run.id,
        "name": job.name,
        "release": job.release,
        "cluster": run.cluster,
        "url": run.url,
        "gcsBucket": run.gcs_bucket,
        "startTime": _rfc3339(run.timestamp),
        "duration": duration,
        "durationSeconds": duration / 1e9 if duration is not None else None,
        "overallResult": run.overall_result,
        "reason": RESULT_REASONS.get(run.overall_result, "Unknown"),
        "succeeded": run.succeeded,
        "failed": run.failed,
        "infrastructureFailure": run.infrastructure_failure,
        "knownFailure": _known_failure(session, run, failures),
        "testCount": len(real),
        "testFailureCount": len(failures),
        "testFailures": _by_name(failures),
        "variants": job.variants,
        "clusterOperators": _operators(session, run_id),
        "testFlakeCount": len(flakes),
        "testFlakes": _by_name(flakes),
        "syntheticTestFailures": sorted(
            t["name"] for t in tests if t["suite"] == "sippy" and t["status"] == STATUS_FAILURE
        ),
        "nodes": _nodes(session, run_id),
        "machines": _machines(session, run_id),
        "failedSteps": steps,
        "otherJUnitFailures": other_failures,
        "logSnippets": log_snippets,
        "passingRunsCompared": passing_compared,
        "testHistory": _history(session, run, failures + flakes),
        "prowState": run.prow_state,
        "gcsPath": run.gcs_path,
        "artifactsUrl": _artifacts_url(run),
        "buildLog": _build_log(run),
        "pullRequests": _pull_requests(session, run_id),
        "loadProblems": _load_problems(session, run_id),
    }


def _tests(session: Session, run_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            m.Test.name,
            m.Suite.name,
            m.ProwJobRunTest.status,
            m.ProwJobRunTest.test_id,
            m.ProwJobRunTestOutput.output,
            m.ProwJobRunArtifact.path,
        )
        .select_from(m.ProwJobRunTest)
        .join(m.Test, m.Test.id == m.ProwJobRunTest.test_id)
        .outerjoin(m.Suite, m.Suite.id == m.ProwJobRunTest.suite_id)
        .outerjoin(
            m.ProwJobRunTestOutput,
            m.ProwJobRunTestOutput.prow_job_run_test_id == m.ProwJobRunTest.id,
        )
        .outerjoin(m.ProwJobRunArtifact, m.ProwJobRunArtifact.id == m.ProwJobRunTest.artifact_id)
        .where(m.ProwJobRunTest.prow_job_run_id == run_id)
        .order_by(m.ProwJobRunTest.id)
    )
    return [
        {
            "name": name,
            "suite": suite or "",
            "status": status,
            "test_id": test_id,
            "output": output,
            "source": source,
        }
        for name, suite, status, test_id, output, source in rows
    ]


def _by_name(tests: list[dict[str, Any]]) -> dict[str, str]:
    """name -> snippet; a name present in several suites is keyed `<suite>.<name>` instead."""
    return {
        key: failure_snippet(t["output"] or "", SNIPPET_BYTES)
        for key, t in zip(_keys(tests), tests, strict=True)
    }


def _keys(tests: list[dict[str, Any]]) -> list[str]:
    counts = Counter(t["name"] for t in tests)
    return [f"{t['suite']}.{t['name']}" if counts[t["name"]] > 1 else t["name"] for t in tests]


def _history(
    session: Session, run: m.ProwJobRun, tests: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Failed and flaked tests (keyed as in testFailures/testFlakes) -> their recent record."""
    records = earlier_test_history(
        session,
        job_id=run.prow_job_id,
        before=run.timestamp,
        test_ids=[t["test_id"] for t in tests],
    )
    failures = [t for t in tests if t["status"] == STATUS_FAILURE]
    flakes = [t for t in tests if t["status"] == STATUS_FLAKE]
    out: dict[str, dict[str, Any]] = {}
    for group in (failures, flakes):
        for key, test in zip(_keys(group), group, strict=True):
            record = records[test["test_id"]]
            out.setdefault(key, {**record.as_dict(), "summary": record.describe()})
    return out


def _log_snippets(
    session: Session, run_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(failed ci-operator steps, build-log findings, failures of JUnit suites Sippy does
    not import), each in its ranked order."""
    rows = session.execute(
        select(m.LogSnippetRow, m.ProwJobRunArtifact.path)
        .outerjoin(m.ProwJobRunArtifact, m.ProwJobRunArtifact.id == m.LogSnippetRow.artifact_id)
        .where(m.LogSnippetRow.prow_job_run_id == run_id)
        .order_by(m.LogSnippetRow.position)
    )
    steps: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for row, path in rows:
        if row.origin == "step":
            steps.append({"name": row.title, "text": row.text, "source": path})
        elif row.origin == "junit":
            other.append({"name": row.title, "text": row.text, "source": path})
        else:
            findings.append(
                {
                    "source": path,
                    "line": row.line,
                    "text": row.text,
                    "kind": row.kind,
                    "score": row.score,
                    "count": row.count,
                }
            )
    return steps, findings, other


def _known_failure(session: Session, run: m.ProwJobRun, failures: list[dict[str, Any]]) -> bool:
    """True when every failed test of this run also failed in an earlier run of the same job.

    Sippy always answered false (a TestGrid-era column). Here "known" means: nothing in
    this run is new; each of its failures has been seen before on this job.
    """
    if not failures or run.timestamp is None:
        return False
    test_ids = {t["test_id"] for t in failures}
    seen = session.scalars(
        select(m.ProwJobRunTest.test_id)
        .join(m.ProwJobRun, m.ProwJobRun.id == m.ProwJobRunTest.prow_job_run_id)
        .where(
            and_(
                m.ProwJobRunTest.prow_job_id == run.prow_job_id,
                m.ProwJobRunTest.test_id.in_(test_ids),
                m.ProwJobRunTest.status == STATUS_FAILURE,
                m.ProwJobRun.timestamp < run.timestamp,
            )
        )
        .group_by(m.ProwJobRunTest.test_id)
    ).all()
    return set(seen) == test_ids


def _operators(session: Session, run_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(m.OperatorConditionRow, m.ProwJobRunArtifact.path)
        .outerjoin(
            m.ProwJobRunArtifact, m.ProwJobRunArtifact.id == m.OperatorConditionRow.artifact_id
        )
        .where(m.OperatorConditionRow.prow_job_run_id == run_id)
        .order_by(m.OperatorConditionRow.position)
    )
    return [
        {
            "name": o.name,
            "condition": o.condition,
            "status": o.status,
            "reason": o.reason,
            "message": o.message,
            "lastTransitionTime": o.last_transition_time,
            "source": path,
        }
        for o, path in rows
    ]


def _nodes(session: Session, run_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(m.NodeProblemRow, m.ProwJobRunArtifact.path)
        .outerjoin(m.ProwJobRunArtifact, m.ProwJobRunArtifact.id == m.NodeProblemRow.artifact_id)
        .where(m.NodeProblemRow.prow_job_run_id == run_id)
        .order_by(m.NodeProblemRow.id)
    )
    return [
        {
            "name": n.name,
            "roles": n.roles,
            "condition": n.condition,
            "status": n.status,
            "reason": n.reason,
            "message": n.message,
            "source": path,
        }
        for n, path in rows
    ]


def _machines(session: Session, run_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(m.MachineProblemRow, m.ProwJobRunArtifact.path)
        .outerjoin(m.ProwJobRunArtifact, m.ProwJobRunArtifact.id == m.MachineProblemRow.artifact_id)
        .where(m.MachineProblemRow.prow_job_run_id == run_id)
        .order_by(m.MachineProblemRow.id)
    )
    return [
        {
            "name": x.name,
            "phase": x.phase,
            "errorReason": x.error_reason,
            "errorMessage": x.error_message,
            "node": x.node,
            "source": path,
        }
        for x, path in rows
    ]


def _pull_requests(session: Session, run_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(m.ProwPullRequest)
        .join(
            m.ProwJobRunPullRequest,
            m.ProwJobRunPullRequest.prow_pull_request_id == m.ProwPullRequest.id,
        )
        .where(m.ProwJobRunPullRequest.prow_job_run_id == run_id)
        .order_by(m.ProwPullRequest.number)
    )
    return [
        {
            "org": pr.org,
            "repo": pr.repo,
            "number": pr.number,
            "author": pr.author,
            "sha": pr.sha,
            "title": pr.title,
            "link": pr.link,
        }
        for pr in rows
    ]


def _load_problems(session: Session, run_id: int) -> list[dict[str, str]]:
    rows = session.execute(
        select(m.ProwJobRunArtifact.path, m.ProwJobRunArtifact.error)
        .where(
            m.ProwJobRunArtifact.prow_job_run_id == run_id, m.ProwJobRunArtifact.error.is_not(None)
        )
        .order_by(m.ProwJobRunArtifact.path)
    )
    return [{"path": path, "error": error} for path, error in rows]


def _artifacts_url(run: m.ProwJobRun) -> str | None:
    if not run.gcs_bucket or not run.gcs_path:
        return None
    return f"{GCSWEB}/{run.gcs_bucket}/{run.gcs_path}/"


def _build_log(run: m.ProwJobRun) -> dict[str, Any] | None:
    if run.build_log_path is None:
        return None
    return {"path": run.build_log_path, "size": run.build_log_size}


def _rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; we store UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def count_runs(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(m.ProwJobRun)) or 0


def recent_run_ids(session: Session, limit: int = 5) -> list[tuple[int, str, str]]:
    """(id, job name, result letter) of recently started runs, for hints and examples."""
    rows = session.execute(
        select(m.ProwJobRun.id, m.ProwJob.name, m.ProwJobRun.overall_result)
        .join(m.ProwJob, m.ProwJob.id == m.ProwJobRun.prow_job_id)
        .order_by(m.ProwJobRun.timestamp.desc(), m.ProwJobRun.id)
        .limit(limit)
    )
    return [(i, n, r) for i, n, r in rows]
