"""`sippy follow`'s poll on real folders and a real database (both kinds): new finished runs
are loaded once, runs in progress wait, a poll costs what is new, a restart re-lists nothing."""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from sippy.db import models as m
from sippy.db.engine import session_factory, session_scope
from sippy.follow import state
from sippy.tasks import work
from tests.fakes.queue import RecordingQueue
from tests.follow.conftest import FIRST_BUILD, JOB, following


def test_finished_runs_are_loaded_and_runs_in_progress_wait(ci, follow_ci):
    done = ci.run(FIRST_BUILD + 1)
    running = ci.start(FIRST_BUILD + 2)
    first = follow_ci.poll()
    assert (first.discovered, first.queued, first.pending) == (2, 1, 1)
    assert follow_ci.states() == {done.name: "loaded", running.name: "pending"}
    assert follow_ci.stored_runs() == 1
    again = follow_ci.poll()  # nothing new, the run still going
    assert (again.discovered, again.queued, again.pending) == (0, 0, 1)
    ci.finish(running)
    last = follow_ci.poll()
    assert (last.discovered, last.queued, last.pending) == (0, 1, 0)
    assert follow_ci.states() == {done.name: "loaded", running.name: "loaded"}
    assert follow_ci.stored_runs() == 2


def test_each_run_is_loaded_once_however_often_it_is_seen(ci, engine):
    ci.logs.mkdir(parents=True)
    for n in range(3):
        ci.run(FIRST_BUILD + n)
    one, two = following([str(ci.logs)], engine), following([str(ci.logs)], engine)
    assert one.poll().queued == 3
    seen_again = two.poll()  # a second follower of the same folders, sharing the database
    assert (seen_again.discovered, seen_again.queued) == (0, 0)
    with session_factory(engine)() as session:
        loaded = session.scalars(select(m.ProwJobRun.id)).all()
    assert sorted(loaded) == [FIRST_BUILD, FIRST_BUILD + 1, FIRST_BUILD + 2]


def test_a_poll_costs_what_is_new_not_the_history(ci, engine, tmp_path):
    """The same new run costs the same storage requests beside 10 or 100 old runs."""
    costs = []
    for history in (10, 100):
        with session_scope(session_factory(engine)) as session:  # a CI of its own
            session.execute(delete(m.FollowRun))
            session.execute(delete(m.FollowFolder))
        root = tmp_path / f"ci-{history}"
        ci.root = root
        ci.logs.mkdir(parents=True)
        for n in range(history):
            ci.run(FIRST_BUILD + n)
        follower = following([str(ci.logs)], engine)
        assert follower.poll().discovered == history  # the backlog, once
        idle = follower.poll()
        ci.run(FIRST_BUILD + history)
        new = follower.poll()
        assert (idle.discovered, new.discovered, new.queued) == (0, 1, 1)
        costs.append((dict(idle.ops), dict(new.ops)))
    assert costs[0] == costs[1]
    idle_ops, new_ops = costs[0]
    assert idle_ops.get("list", 0) == 0  # nothing changed: nothing listed
    assert new_ops["list"] == 1  # the one job folder that changed


def test_a_run_whose_folder_appears_after_a_newer_one_is_found(ci, follow_ci):
    """Prow makes build ids when it creates a job, but a run's folder appears when its pod
    starts: an older id can show up after a newer one."""
    ci.run(FIRST_BUILD + 5)
    assert follow_ci.poll().discovered == 1
    late = ci.run(FIRST_BUILD + 3)  # its pod waited longer to start
    report = follow_ci.poll()
    assert (report.discovered, report.queued) == (1, 1)
    assert follow_ci.states()[late.name] == "loaded"
    assert follow_ci.poll().discovered == 0  # found once


def test_a_restart_remembers_where_it_stopped(ci, engine):
    ci.logs.mkdir(parents=True)
    for n in range(5):
        ci.run(FIRST_BUILD + n)
    assert following([str(ci.logs)], engine).poll().discovered == 5
    ci.run(FIRST_BUILD + 5)
    restarted = following([str(ci.logs)], engine)  # a new process: nothing in memory
    report = restarted.poll()
    assert (report.discovered, report.queued, report.folders_listed) == (1, 1, 1)


def test_job_filter_and_latest_limit_what_is_followed(ci, engine):
    ci.logs.mkdir(parents=True)
    for n in range(4):
        ci.run(FIRST_BUILD + n)
        ci.run(FIRST_BUILD + n, job="periodic-ci-other-job")
    chosen = following([str(ci.logs)], engine, jobs=re.compile("nightly"), latest=2)
    report = chosen.poll()
    assert report.discovered == 2
    assert sorted(chosen.states()) == [str(FIRST_BUILD + 2), str(FIRST_BUILD + 3)]
    with session_factory(engine)() as session:
        jobs = set(session.scalars(select(m.ProwJob.name)))
    assert jobs == {JOB}


def test_a_failed_load_is_tried_again_later_then_given_up(ci, engine):
    ci.logs.mkdir(parents=True)
    run = ci.run(FIRST_BUILD)
    follow = following([str(ci.logs)], engine)
    follow.follower.queue = RecordingQueue()  # find it, but do not load it yet
    asyncio.run(follow.follower.poll())
    shutil.rmtree(run)  # gone before its load ran (deleted from the bucket)
    location = str(run)
    context = follow.queue.ctx
    assert asyncio.run(work.load_run(context, location)) == "failed"
    with session_scope(session_factory(engine)) as session:
        row = session.scalar(select(m.FollowRun))
        assert (row.state, row.attempts) == ("failed", 1)
        assert "no such file or folder" in row.why
        assert state.due_again(session) == []  # not before its pause is over
        later = datetime.now(UTC) + timedelta(hours=1)
        assert [d.location for d in state.due_again(session, later)] == [location]
    for _ in range(state.MAX_ATTEMPTS - 1):
        asyncio.run(work.load_run(context, location))
    with session_factory(engine)() as session:
        row = session.scalar(select(m.FollowRun))
        assert (row.state, row.attempts) == ("gave_up", state.MAX_ATTEMPTS)
        assert state.due_again(session, datetime.now(UTC) + timedelta(days=30)) == []


def test_loads_a_restart_lost_are_queued_again(ci, engine):
    ci.logs.mkdir(parents=True)
    run = ci.run(FIRST_BUILD)
    lost = following([str(ci.logs)], engine)
    lost.follower.queue = RecordingQueue()  # queued, then the process ended before loading it
    asyncio.run(lost.follower.poll())
    assert lost.states() == {run.name: "queued"}
    restarted = following([str(ci.logs)], engine)
    assert restarted.poll().queued == 0  # queued a moment ago: the queue may still run it
    with session_scope(session_factory(engine)) as session:
        session.execute(
            update(m.FollowRun).values(queued_at=datetime.now(UTC) - timedelta(hours=1))
        )
    again = following([str(ci.logs)], engine)
    assert again.poll().queued == 1
    assert again.states() == {run.name: "loaded"}


def test_a_source_that_is_away_is_reported_and_the_rest_goes_on(ci, engine, tmp_path):
    ci.logs.mkdir(parents=True)
    ci.run(FIRST_BUILD)
    missing = tmp_path / "not-there"
    follow = following([str(missing), str(ci.logs)], engine)
    report = follow.poll()
    assert report.queued == 1 and follow.stored_runs() == 1
    assert any("not-there" in error for error in report.errors)
    missing.mkdir()  # back: the next poll takes it up
    assert not follow.poll().errors
