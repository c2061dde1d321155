"""How a test fared in the earlier loaded runs of the same job.

"Failed 9 of the last 20 runs; flaked 3" lets a reader (or a model) tell a new regression
from a chronic flake. A job belongs to one release, so "same job" is "same job and
release".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sippy.db import models as m
from sippy.ingest.records import STATUS_FAILURE, STATUS_FLAKE

HISTORY_WINDOW = 20


@dataclass(frozen=True, slots=True)
class TestHistory:
    """A test's record over the `window` runs of its job before the run in question."""

    earlier_runs: int  # runs of the job in the window (at most `window`)
    appeared: int  # of those, runs that ran the test
    failures: int
    flakes: int
    window: int = HISTORY_WINDOW

    def as_dict(self) -> dict[str, int]:
        return {
            "earlierRuns": self.earlier_runs,
            "ran": self.appeared,
            "failed": self.failures,
            "flaked": self.flakes,
        }

    def describe(self) -> str:
        """One phrase for the prompt and the pages."""
        if self.earlier_runs == 0:
            return "no earlier runs of this job loaded"
        if self.appeared == 0:
            return f"not run in the last {self.earlier_runs} runs of this job"
        text = f"failed {self.failures} of the last {self.appeared} runs of this job"
        if self.flakes:
            text += f", flaked {self.flakes}"
        if self.failures == 0 and self.flakes == 0:
            text = f"passed all of the last {self.appeared} runs of this job (new failure)"
        return text


def earlier_test_history(
    session: Session,
    *,
    job_id: int,
    before: datetime | None,
    test_ids: Iterable[int],
    window: int = HISTORY_WINDOW,
) -> dict[int, TestHistory]:
    """test id -> its record in the last `window` runs of the job that started before `before`."""
    ids = sorted(set(test_ids))
    if not ids or before is None:
        return {i: TestHistory(0, 0, 0, 0, window) for i in ids}
    earlier = (
        select(m.ProwJobRun.id)
        .where(m.ProwJobRun.prow_job_id == job_id, m.ProwJobRun.timestamp < before)
        .order_by(m.ProwJobRun.timestamp.desc(), m.ProwJobRun.id.desc())
        .limit(window)
    )
    run_ids = list(session.scalars(earlier))
    # A test in two suites has two rows in one run: count runs, not rows.
    seen: dict[int, dict[int, set[int]]] = {i: {} for i in ids}
    if run_ids:
        rows = session.execute(
            select(
                m.ProwJobRunTest.test_id, m.ProwJobRunTest.status, m.ProwJobRunTest.prow_job_run_id
            )
            .where(
                m.ProwJobRunTest.prow_job_run_id.in_(run_ids),
                m.ProwJobRunTest.test_id.in_(ids),
            )
            .distinct()
        )
        for test_id, status, run_id in rows:
            seen[test_id].setdefault(status, set()).add(run_id)
    return {i: _history(seen[i], len(run_ids), window) for i in ids}


def _history(runs_by_status: dict[int, set[int]], earlier: int, window: int) -> TestHistory:
    appeared: set[int] = set().union(*runs_by_status.values()) if runs_by_status else set()
    return TestHistory(
        earlier_runs=earlier,
        appeared=len(appeared),
        failures=len(runs_by_status.get(STATUS_FAILURE, ())),
        flakes=len(runs_by_status.get(STATUS_FLAKE, ())),
        window=window,
    )
