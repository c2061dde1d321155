"""Following a CI: how soon a finished run is loaded and, if it failed, summarised; and what
a poll costs as history grows.

**Arrivals.** A pool of generated runs (bench/…, `sippy samples` layout) is published into a
watched folder over time, in build-id order per job as Prow creates them: a steady rate
(`--rate` runs an hour; OpenShift CI makes 10-12k a day, 5x that is 2,500 an hour) for
`--minutes`, and a burst of `--burst` runs within one minute in the middle (a payload's jobs
finishing together). Half the runs appear first without finished.json (in progress) and
finish a few seconds later; a run's `finished.json` mtime is when it finished. The model is
the project's fake OpenAI-compatible server taking `--model-delay` seconds a call.

Each configuration runs real processes: on PostgreSQL, `sippy follow --concurrency 0` and
1, 2 or 4 `sippy worker`s; on SQLite, one `sippy follow` running the tasks in-process.
Reported from the database once everything is done: lag from finished.json to the run loaded
(passed runs) or to its summary stored (failed runs), p50/p99/max; runs per minute; duplicate
model calls (calls beyond one per summarised run); the most model calls at once (the fake's
count; the limit is `SIPPY_AI_CONCURRENCY`, 4); storage requests per poll (from the
follower's log); CPU seconds per run of all sippy processes.

**History.** A follower polls job folders holding H old runs each, for H and 10 H: the
storage requests and time of an idle poll and of a poll that finds new runs, against the
reference of re-listing the whole tree (what a loader that keeps no cursor does each cycle).

    python bench/follow_bench.py [--minutes 5] [--rate 2500] [--burst 500] [--workers 1,2,4]
                                 [--model-delay 2] [--databases sqlite,postgresql]
                                 [--history 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fakes / bench

from bench.serve_bench import percentile, scratch_postgres, tree_cpu_seconds  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from tests.fakes.queue import RecordingQueue  # noqa: E402

from sippy.db.engine import make_engine  # noqa: E402
from sippy.db.migrate import upgrade  # noqa: E402
from sippy.samples.generator import SNOWFLAKE_EPOCH_MS, generate_samples  # noqa: E402

POLL_LINE = re.compile(r"storage: (\d+) listings, (\d+) stats")
ADMIN_DSN = os.environ.get("SIPPY_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Published:
    path: Path  # in the watched folder
    finished_at: float  # time.time() its finished.json was written


@dataclass
class Result:
    database: str
    workers: int  # 0: in-process (SQLite)
    runs: int
    failed: int
    seconds: float
    runs_per_minute: float
    lag_p50: float
    lag_p99: float
    lag_max: float
    burst_lag_p99: float
    model_calls: int
    duplicate_model_calls: int
    peak_model_calls: int
    listings_per_poll: float
    max_listings_per_poll: int
    stats_per_poll: float
    cpu_ms_per_run: float
    db_kb_per_run: float
    unfinished: int


def make_pool(root: Path, count: int, failed_share: float) -> list[Path]:
    """`count` periodic runs, `failed_share` of them failed, with fresh snowflake build ids
    in publishing order (Prow's ids grow with time): generated failed runs as they are, and
    copies of generated passed runs, each id rewritten in its files."""
    failed_wanted = round(count * failed_share)
    made = generate_samples(root / "generated", count=max(14, failed_wanted * 2), seed=7)
    periodic = [r for r in made if "/logs/" in r.path]
    failed = [r for r in periodic if r.expected_result != "S"]
    passed = [r for r in periodic if r.expected_result == "S"]
    if len(failed) < failed_wanted or not passed:
        raise SystemExit("the generator made too few runs of a kind; raise the count")
    rng = random.Random(3)
    chosen = failed[:failed_wanted] + [rng.choice(passed) for _ in range(count - failed_wanted)]
    rng.shuffle(chosen)
    first = (int(time.time() * 1000) - SNOWFLAKE_EPOCH_MS) << 22
    pool = []
    for index, run in enumerate(chosen):
        new_id = first + index * (50 << 22)  # 50 ms apart
        source = root / "generated" / run.path
        target = root / "pool" / run.path.replace(str(run.build_id), str(new_id))
        target.parent.mkdir(parents=True, exist_ok=True)
        for path in source.rglob("*"):
            if path.is_file():
                out = target / path.relative_to(source)
                out.parent.mkdir(parents=True, exist_ok=True)
                data = path.read_bytes().replace(str(run.build_id).encode(), str(new_id).encode())
                out.write_bytes(data)
        pool.append(target)
    return pool


def schedule(count: int, minutes: float, rate: float, burst: int) -> list[float]:
    """Seconds from the start at which each run finishes: a steady rate, a burst midway."""
    steady = count - burst
    gap = 3600.0 / rate
    times = [i * gap for i in range(steady)]
    middle = min(minutes * 60 / 2, times[-1] if times else 0)
    times += [middle + random.uniform(0, 60) for _ in range(burst)]
    return sorted(times)


LEAD = 5.0  # seconds a run is in progress (its folder there, no finished.json) before it ends


def publish(pool: list[Path], watch: Path, at: list[float], start: float) -> list[Published]:
    """Move each run into `watch` LEAD seconds before its time (in progress, as Prow makes
    it: in build-id order), then write its finished.json at its time."""
    events = sorted(
        [(max(0.0, when - LEAD), 0, index) for index, when in enumerate(at)]
        + [(when, 1, index) for index, when in enumerate(at)]
    )
    held: dict[int, bytes] = {}
    out: list[Published] = []
    for when, finish, index in events:
        delay = start + when - time.time()
        if delay > 0:
            time.sleep(delay)
        source = pool[index]
        target = watch / source.relative_to(source.parents[3])
        if not finish:
            target.parent.mkdir(parents=True, exist_ok=True)
            held[index] = (source / "finished.json").read_bytes()
            (source / "finished.json").unlink()
            source.rename(target)
            continue
        (target / "finished.json").write_bytes(held.pop(index))
        out.append(Published(target, time.time()))
    return out


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sippy", *args],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **env},
    )


def database_bytes(dsn: str) -> int:
    """The database's size on disk (PostgreSQL: pg_database_size; SQLite: its files)."""
    from sqlalchemy import text

    engine = make_engine(dsn)
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                return int(
                    conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
                )
        path = Path(engine.url.database or "")
        return sum(f.stat().st_size for f in path.parent.glob(path.name + "*") if f.is_file())
    finally:
        engine.dispose()


def progress(dsn: str) -> tuple[int, int, int]:
    """(runs loaded, failed runs, failed runs summarised) in follow_runs."""
    from sqlalchemy import text

    engine = make_engine(dsn)
    with engine.connect() as conn:
        loaded, failed, summarized = conn.execute(
            text(
                "SELECT count(loaded_at), count(*) FILTER (WHERE result NOT IN ('', 'S')), "
                "count(summarized_at) FROM follow_runs"
            )
            if engine.dialect.name == "postgresql"
            else text(
                "SELECT count(loaded_at), sum(result NOT IN ('', 'S')), count(summarized_at) "
                "FROM follow_runs"
            )
        ).one()
    engine.dispose()
    return int(loaded or 0), int(failed or 0), int(summarized or 0)


def lags(dsn: str, published: list[Published], burst_from: float, burst_to: float) -> dict:
    """Lag per run, in seconds, from finished.json to loaded (passed) or summarised (failed)."""
    from sqlalchemy import func, select

    from sippy.db import models as m
    from sippy.db.engine import session_factory

    finished = {str(p.path): p.finished_at for p in published}
    engine = make_engine(dsn)
    with session_factory(engine)() as session:
        rows = session.execute(
            select(
                m.FollowRun.location,
                m.FollowRun.result,
                m.FollowRun.loaded_at,
                m.FollowRun.summarized_at,
            )
        ).all()
        calls = session.execute(
            select(m.AiCallRow.subject, func.count())
            .where(m.AiCallRow.outcome == "ok")
            .group_by(m.AiCallRow.subject)
        ).all()
    engine.dispose()
    all_lags, burst_lags, unfinished = [], [], 0
    for location, result, loaded_at, summarized_at in rows:
        done = summarized_at if result not in ("", "S") else loaded_at
        if location not in finished:
            continue
        if done is None:
            unfinished += 1
            continue
        stamp = (done if done.tzinfo else done.replace(tzinfo=UTC)).timestamp()
        lag = stamp - finished[location]
        all_lags.append(lag)
        if burst_from <= finished[location] <= burst_to:
            burst_lags.append(lag)
    return {
        "lags": all_lags,
        "burst": burst_lags,
        "unfinished": unfinished,
        "calls": sum(n for _, n in calls),
        "duplicates": sum(n - 1 for _, n in calls if n > 1),
    }


def poll_costs(logs: list[Path]) -> tuple[float, int, float]:
    listings, stats = [], []
    for log in logs:
        for found in POLL_LINE.finditer(log.read_text()):
            listings.append(int(found[1]))
            stats.append(int(found[2]))
    if not listings:
        return 0.0, 0, 0.0
    steady = listings[2:] or listings  # the first polls walk the folders once
    return sum(steady) / len(steady), max(steady), sum(stats[2:] or stats) / len(stats[2:] or stats)


def run_config(database: str, workers: int, dsn: str, args: argparse.Namespace) -> Result:
    work = Path(tempfile.mkdtemp(prefix="follow-bench-"))
    pool = make_pool(work, args.runs, args.failed_share)
    watch = work / "watch"
    (watch / "test-platform-results" / "logs").mkdir(parents=True)
    times = schedule(len(pool), args.minutes, args.rate, min(args.burst, len(pool) // 2))
    with FakeOpenAI(delay=args.model_delay) as fake:
        env = {
            "SIPPY_DATABASE_DSN": dsn,
            "SIPPY_AI_ENDPOINT": fake.base_url,
            "SIPPY_AI_TIMEOUT": "60",
            "SIPPY_FOLLOW_INTERVAL": str(args.interval),
            "SIPPY_LOG_LEVEL": "info",
        }
        processes: list[subprocess.Popen[bytes]] = []
        follow_log = work / "follow.log"
        concurrency = "0" if workers else str(args.task_concurrency)
        processes.append(
            start(["follow", str(watch), "--concurrency", concurrency], env, follow_log)
        )
        for n in range(workers):
            processes.append(
                start(
                    ["worker", "--concurrency", str(args.task_concurrency)],
                    env,
                    work / f"worker-{n}.log",
                )
            )
        time.sleep(3)  # processes up
        empty = database_bytes(dsn)
        began = time.time()
        published = publish(pool, watch, times, began)
        burst_at = began + min(args.minutes * 60 / 2, times[-1])
        deadline = time.time() + args.drain_timeout
        while time.time() < deadline:
            loaded, failed, summarized = progress(dsn)
            if loaded >= len(published) and summarized >= failed:
                break
            time.sleep(1)
        finished = time.time()
        cpu = sum(tree_cpu_seconds(p.pid) for p in processes)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(60)
        peak = fake.max_concurrent
    grown = database_bytes(dsn) - empty
    found = lags(dsn, published, burst_at, burst_at + 60)
    listings, most, stats = poll_costs([follow_log])
    _, failed, _ = progress(dsn)
    shutil.rmtree(work, ignore_errors=True)
    all_lags = found["lags"] or [float("nan")]
    return Result(
        database=database,
        workers=workers,
        runs=len(published),
        failed=failed,
        seconds=round(finished - began, 1),
        runs_per_minute=round(len(published) / ((finished - began) / 60), 1),
        lag_p50=round(percentile(all_lags, 50), 1),
        lag_p99=round(percentile(all_lags, 99), 1),
        lag_max=round(max(all_lags), 1),
        burst_lag_p99=round(percentile(found["burst"] or [float("nan")], 99), 1),
        model_calls=found["calls"],
        duplicate_model_calls=found["duplicates"],
        peak_model_calls=peak,
        listings_per_poll=round(listings, 2),
        max_listings_per_poll=most,
        stats_per_poll=round(stats, 1),
        cpu_ms_per_run=round(cpu * 1000 / max(1, len(published)), 1),
        db_kb_per_run=round(grown / 1024 / max(1, len(published)), 1),
        unfinished=found["unfinished"],
    )


# --- discovery cost against history ---------------------------------------------------------


HOUR_IDS = (3600 * 1000) << 22  # an hour of snowflake build ids


def history_tree(root: Path, jobs: int, per_job: int) -> Path:
    """Job folders holding `per_job` finished runs each, one an hour (folders empty but for
    finished.json), the newest an hour old."""
    logs = root / "test-platform-results" / "logs"
    newest = (int(time.time() * 1000) - SNOWFLAKE_EPOCH_MS - 3600 * 1000) << 22
    for j in range(jobs):
        job = logs / f"periodic-ci-bench-job-{j:03d}"
        for n in range(per_job):
            run = job / str(newest - n * HOUR_IDS)
            run.mkdir(parents=True)
            (run / "finished.json").write_text("{}")
    return logs


def history_costs(per_job: int, jobs: int = 20) -> dict:
    from sippy.follow.follower import Follower
    from sippy.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="follow-history-"))
    logs = history_tree(work, jobs, per_job)
    engine = make_engine(f"sqlite:///{work / 'h.db'}")
    upgrade(engine)
    follower = Follower([str(logs)], Settings(), engine, RecordingQueue())  # type: ignore[arg-type]
    asyncio.run(follower.poll())  # the backlog, once
    asyncio.run(follower.poll())
    idle = asyncio.run(follower.poll())
    now = (int(time.time() * 1000) - SNOWFLAKE_EPOCH_MS) << 22
    for j in range(0, jobs, 2):  # new runs in half the jobs
        run = logs / f"periodic-ci-bench-job-{j:03d}" / str(now)
        run.mkdir()
        (run / "finished.json").write_text("{}")
    new = asyncio.run(follower.poll())
    started = time.perf_counter()
    entries = sum(1 for _ in logs.rglob("*"))  # the reference: re-list everything
    relist = time.perf_counter() - started
    engine.dispose()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "history_runs": per_job * jobs,
        "idle_listings": idle.ops["list"],
        "idle_stats": idle.ops["stat"],
        "idle_ms": round(idle.seconds * 1000, 1),
        "new_runs": new.discovered,
        "new_listings": new.ops["list"],
        "new_stats": new.ops["stat"],
        "new_ms": round(new.seconds * 1000, 1),
        "relist_entries": entries,
        "relist_ms": round(relist * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=2500.0, help="runs an hour, steady")
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--failed-share", type=float, default=0.3)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--model-delay", type=float, default=2.0)
    parser.add_argument("--interval", type=float, default=5.0, help="follow poll interval")
    parser.add_argument("--task-concurrency", type=int, default=4)
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--history", type=int, default=2000, help="old runs (then 10x)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.runs = int(args.rate * args.minutes / 60) + args.burst

    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; model {args.model_delay} s/call")
    history = [history_costs(n // 20) for n in (args.history, args.history * 10)]
    print(
        "\n| old runs | idle poll: listings / stats / ms | poll finding "
        "new runs: runs / listings / stats / ms | re-list everything: entries / ms |"
    )
    print("|---|---|---|---|")
    for h in history:
        print(
            f"| {h['history_runs']:,} | {h['idle_listings']} / {h['idle_stats']} / "
            f"{h['idle_ms']} | {h['new_runs']} / {h['new_listings']} / {h['new_stats']} / "
            f"{h['new_ms']} | {h['relist_entries']:,} / {h['relist_ms']} |"
        )

    results: list[Result] = []
    databases = args.databases.split(",")
    if "sqlite" in databases:
        work = Path(tempfile.mkdtemp(prefix="follow-sqlite-"))
        dsn = f"sqlite:///{work / 'sippy.db'}"
        upgrade(make_engine(dsn))
        results.append(run_config("SQLite", 0, dsn, args))
        shutil.rmtree(work, ignore_errors=True)
    if "postgresql" in databases:
        for workers in (int(w) for w in args.workers.split(",")):
            with scratch_postgres(ADMIN_DSN) as dsn:
                if dsn is None:
                    break
                upgrade(make_engine(dsn))
                results.append(run_config("PostgreSQL", workers, dsn, args))
    print(
        f"\n{args.runs} runs: {args.rate:g}/h for {args.minutes:g} min, a burst of "
        f"{args.burst} within a minute midway"
    )
    print(
        "| database | workers | lag p50 / p99 / max s | burst p99 s | runs/min | model calls "
        "(dup.) | peak at once | listings/poll (max) | stats/poll | CPU ms/run | DB kB/run "
        "| left |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.database} | {r.workers or 'in-process'} | {r.lag_p50} / {r.lag_p99} / "
            f"{r.lag_max} | {r.burst_lag_p99} | {r.runs_per_minute} | {r.model_calls} "
            f"({r.duplicate_model_calls}) | {r.peak_model_calls} | {r.listings_per_poll} "
            f"({r.max_listings_per_poll}) | {r.stats_per_poll} | {r.cpu_ms_per_run} | "
            f"{r.db_kb_per_run} | {r.unfinished} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"history": history, "runs": [asdict(r) for r in results]}, indent=2)
        )


if __name__ == "__main__":
    main()
