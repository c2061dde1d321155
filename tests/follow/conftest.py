"""A followed CI in a temporary folder: job folders whose runs start and finish on demand."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from sippy.ai.service import SummaryService
from sippy.db import models as m
from sippy.db.engine import session_factory
from sippy.follow.follower import Follower, PollReport
from sippy.settings import Settings
from sippy.tasks.queue import InProcessQueue
from sippy.tasks.work import TaskContext
from tests.helpers import JUNIT_ONE_FAILURE, make_run

JOB = "periodic-ci-openshift-release-main-nightly-4.21-e2e-aws-ovn"
FIRST_BUILD = 2060000000000000000


@dataclass
class Ci:
    """Runs in GCS layout under `root`; `start` makes a run folder, `finish` ends it."""

    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "test-platform-results" / "logs"

    def start(self, build_id: int, job: str = JOB, *, failed: bool = True) -> Path:
        run = make_run(
            self.root,
            job,
            build_id,
            state="failure" if failed else "success",
            files={"artifacts/junit/junit_e2e.xml": JUNIT_ONE_FAILURE} if failed else {},
        )
        (run / "started.json").write_text(json.dumps({"timestamp": 1778752800}))
        return run

    def finish(self, run: Path, *, passed: bool = False) -> None:
        (run / "finished.json").write_text(
            json.dumps({"timestamp": 1778761800, "passed": passed, "result": "FAILURE"})
        )

    def run(self, build_id: int, job: str = JOB, *, failed: bool = True) -> Path:
        folder = self.start(build_id, job, failed=failed)
        self.finish(folder, passed=not failed)
        return folder


@pytest.fixture
def ci(tmp_path: Path) -> Ci:
    return Ci(tmp_path / "ci")


@dataclass
class Following:
    follower: Follower
    queue: InProcessQueue
    engine: Engine

    def poll(self) -> PollReport:
        """One poll, then the work it queued, done."""

        async def run() -> PollReport:
            report = await self.follower.poll()
            await self.queue.drain()
            return report

        return asyncio.run(run())

    def stored_runs(self) -> int:
        with session_factory(self.engine)() as session:
            return session.scalar(select(func.count()).select_from(m.ProwJobRun)) or 0

    def states(self) -> dict[str, str]:
        with session_factory(self.engine)() as session:
            rows = session.execute(select(m.FollowRun.location, m.FollowRun.state))
            return {Path(location).name: state for location, state in rows}


def following(
    sources: list[str], engine: Engine, settings: Settings | None = None, **options
) -> Following:  # type: ignore[no-untyped-def]
    settings = settings or Settings()
    queue = InProcessQueue(2)
    ai = SummaryService(settings, session_factory(engine))
    queue.ctx = TaskContext(settings, engine, ai, queue)
    return Following(Follower(sources, settings, engine, queue, **options), queue, engine)


@pytest.fixture
def follow_ci(ci: Ci, engine: Engine) -> Iterator[Following]:
    ci.logs.mkdir(parents=True)
    yield following([str(ci.logs)], engine)
