"""Common themes across failed runs: the failures grouped by shared cause, largest first.

Each failed run contributes its failed tests (the decisive part of each failure text) and,
when it has none, its most telling build-log line or failed step, so install and
infrastructure failures group too. The texts are clustered (`analysis.clustering`: noise
normalised, identical texts grouped, similar ones joined after a cheap lower bound); a theme
is a cluster that spans two or more runs. Runs in no theme are "unexplained". Theme ids
come from the cluster content, so the same input gives the same ids.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sippy.analysis.baseline import finding_key, passing_finding_keys
from sippy.analysis.clustering import ClusterItem, cluster_failures
from sippy.db import models as m
from sippy.evidence.buildlog import finding_line, most_telling_line
from sippy.ingest.records import STATUS_FAILURE

GENERIC_TESTS = ("install should succeed", "upgrade should succeed", "[sig-sippy]")
MAX_TESTS_PER_RUN = 50  # a run with hundreds of failures is one broken cluster, not hundreds
MAX_NAMES = 10
MIN_CAUSE_SCORE = 60
TITLE_CHARS = 140


def failed_runs(
    session: Session,
    *,
    release: str | None = None,
    since: datetime | None = None,
    job: str | None = None,
    limit: int = 500,
) -> list[int]:
    """Ids of loaded runs that did not succeed, newest first, filtered."""
    query = (
        select(m.ProwJobRun.id)
        .join(m.ProwJob, m.ProwJob.id == m.ProwJobRun.prow_job_id)
        .where(m.ProwJobRun.overall_result.not_in(("S", "R")))
        .order_by(m.ProwJobRun.timestamp.desc(), m.ProwJobRun.id.desc())
        .limit(limit)
    )
    if release:
        query = query.where(m.ProwJob.release == release)
    if since:
        query = query.where(m.ProwJobRun.timestamp >= since)
    if job:
        query = query.where(m.ProwJob.name.contains(job))
    return list(session.scalars(query))


def find_themes(session: Session, run_ids: Iterable[int]) -> dict[str, Any]:
    """`{themes: [{id, title, summary, runs, jobs, tests, size}], unexplained: [run ids]}`."""
    runs = _runs(session, sorted(set(run_ids)))
    items = list(_items(session, runs))
    clusters = cluster_failures(items)
    # Clusters spanning exactly the same runs are one cause seen through several tests
    # (an upgrade that never finished fails three upgrade tests in every run): merge them.
    by_runs: dict[tuple[int, ...], list[Any]] = {}
    for cluster in clusters:
        run_set = tuple(sorted({int(key.split("|", 1)[0]) for key in cluster.keys}))
        if len(run_set) >= 2:
            by_runs.setdefault(run_set, []).append(cluster)
    themes, explained = [], set()
    for run_ids_in, group in by_runs.items():
        tests = Counter(
            key.split("|", 1)[1]
            for cluster in group
            for key in cluster.keys
            if not key.split("|", 1)[1].startswith("(")
        )
        jobs = sorted({runs[r]["job"] for r in run_ids_in})
        lead = group[0]  # clusters come largest first
        explained.update(run_ids_in)
        themes.append(
            {
                "id": hashlib.sha256("\n".join(sorted(c.id for c in group)).encode()).hexdigest()[
                    :12
                ],
                "title": builtin_title(lead.representative, tests),
                "summary": builtin_theme_summary(
                    lead.representative, list(run_ids_in), jobs, tests
                ),
                "representative": lead.representative,
                "runs": list(run_ids_in),
                "jobs": jobs,
                "tests": [name for name, _ in tests.most_common(MAX_NAMES)],
                "size": sum(c.size for c in group),
            }
        )
    themes.sort(key=lambda t: (-len(t["runs"]), -t["size"], t["id"]))
    return {
        "themes": themes,
        "unexplained": sorted(r for r in runs if r not in explained),
        "runs": len(runs),
    }


def _runs(session: Session, run_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not run_ids:
        return {}
    rows = session.execute(
        select(m.ProwJobRun.id, m.ProwJob.name, m.ProwJobRun.overall_result)
        .join(m.ProwJob, m.ProwJob.id == m.ProwJobRun.prow_job_id)
        .where(m.ProwJobRun.id.in_(run_ids))
    )
    return {run_id: {"job": job, "result": result} for run_id, job, result in rows}


def _items(session: Session, runs: dict[int, dict[str, Any]]) -> Iterable[ClusterItem]:
    with_tests: set[int] = set()
    if runs:
        rows = session.execute(
            select(m.ProwJobRunTest.prow_job_run_id, m.Test.name, m.ProwJobRunTestOutput.output)
            .join(m.Test, m.Test.id == m.ProwJobRunTest.test_id)
            .outerjoin(m.Suite, m.Suite.id == m.ProwJobRunTest.suite_id)
            .outerjoin(
                m.ProwJobRunTestOutput,
                m.ProwJobRunTestOutput.prow_job_run_test_id == m.ProwJobRunTest.id,
            )
            .where(
                m.ProwJobRunTest.prow_job_run_id.in_(list(runs)),
                m.ProwJobRunTest.status == STATUS_FAILURE,
                (m.Suite.name.is_(None)) | (m.Suite.name != "sippy"),
            )
            .order_by(m.ProwJobRunTest.prow_job_run_id, m.ProwJobRunTest.id)
        )
        per_run: Counter[int] = Counter()
        for run_id, name, output in rows:
            if per_run[run_id] >= MAX_TESTS_PER_RUN or name.startswith(GENERIC_TESTS):
                continue  # "install should succeed" says where, not why: use the log
            per_run[run_id] += 1
            with_tests.add(run_id)
            yield ClusterItem(f"{run_id}|{name}", output or name)
    noise = NoiseByJob()
    for run_id in runs:
        if run_id not in with_tests:
            text = _log_cause(session, run_id, noise)
            if text:
                yield ClusterItem(f"{run_id}|(build log)", text)


def _log_cause(session: Session, run_id: int, noise: NoiseByJob) -> str:
    """The most telling line of the run's failed steps, other JUnit failures and build-log
    findings; a build-log line the job's passing runs log too is no cause (it would group
    unrelated runs), and of a finding only its own line counts, not its context."""
    texts = []
    rows = session.execute(
        select(
            m.LogSnippetRow.text,
            m.LogSnippetRow.origin,
            m.LogSnippetRow.score,
            m.LogSnippetRow.kind,
            m.ProwJobRun.prow_job_id,
        )
        .join(m.ProwJobRun, m.ProwJobRun.id == m.LogSnippetRow.prow_job_run_id)
        .where(m.LogSnippetRow.prow_job_run_id == run_id)
        .order_by(m.LogSnippetRow.position)
    )
    for text, origin, score, kind, job_id in rows:
        if origin != "build-log":
            texts.append(text)
        elif finding_key(text, score, kind) not in noise.keys(session, job_id):
            texts.append(finding_line(text, score, kind))
    # wrappers ("exit status 1") score low and would group unrelated runs
    best = most_telling_line(texts, min_score=MIN_CAUSE_SCORE)
    return best[1] if best else ""


class NoiseByJob:
    """Build-log lines each job's last passing runs log, looked up once per job."""

    def __init__(self) -> None:
        self._keys: dict[int, Counter[str]] = {}

    def keys(self, session: Session, job_id: int) -> Counter[str]:
        if job_id not in self._keys:
            self._keys[job_id] = passing_finding_keys(session, job_id)[1]
        return self._keys[job_id]


def builtin_title(representative: str, tests: Counter[str]) -> str:
    """The theme's name without a model: the shared test when there is one, else the text."""
    if len(tests) == 1:
        name = next(iter(tests))
        return name if len(name) <= TITLE_CHARS else name[: TITLE_CHARS - 1] + "…"
    text = " ".join(representative.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


def builtin_theme_summary(
    representative: str, runs: list[int], jobs: list[str], tests: Counter[str]
) -> str:
    text = " ".join(representative.split())[:200]
    where = f"{len(runs)} failed runs in {len(jobs)} job{'s' if len(jobs) > 1 else ''}"
    if not tests:
        return f"{where} stopped with the same error in their build log: {text}."
    top = tests.most_common(1)[0][0]
    others = len(tests) - 1
    more = f" (and {others} other test{'s' if others > 1 else ''})" if others else ""
    return f'{where} share this failure: "{top}"{more} failing with: {text}.'
