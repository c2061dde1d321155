"""Serving under load: the real `sippy serve` on loopback, SQLite and PostgreSQL, 1 and N workers.

Generated runs are loaded into a SQLite file and into a scratch PostgreSQL database; for
each database and worker count `sippy serve` runs as a subprocess, pointed at a fake
OpenAI-compatible model (tests/fakes/openai_server.py), and the AI answers of all runs are
cached first. Then C concurrent clients (keep-alive connections, closed loop: each sends
its next request when the last one answered) drive each mix for S seconds:

* `healthz`: `/healthz`, the reference: the cost of a request through this HTTP stack;
* `summary`: `/api/job/run/summary` over all runs;
* `ai_cached`: `/api/ai/job_run` (JSON) over all runs, every answer from the cache;
* `history`: `/api/tests/history` over the failed tests.

Reported per mix: requests/s, p50/p99/max latency, errors (any non-200, a broken
connection, or an AI answer that was not cached), the ratios to `healthz` measured on the
same server just before, CPU milliseconds per request of the server (all its processes) and
of the load generator, and the machine's load average. Before each mix is measured, every
client asks once for each of its paths, unrecorded: each worker process keeps summaries and
evidence in memory and fills that once per data change, so this measures the steady state.
The load generator runs in its own process but on the same cores as the server, so it takes
CPU the server would otherwise have; its share is printed. So is the load average: anything
else running on the machine shows up in the tail latencies.

Then the slow model, on SQLite with 1 worker and on PostgreSQL with 2: the fake takes D
seconds per call, the server runs with ai_concurrency=4 and ai_queue_limit=8 per worker; B
concurrent requests for uncached AI answers (runs whose answer is not cached) are fired
while the clients keep asking for summaries and for the cached answers of the other runs.
Reported: the latency of those requests before and during the stall, the most model calls
the fake saw at once (must be <= 4 x workers), and how the burst ended (200s, and 503s,
each with a Retry-After header).

    python bench/serve_bench.py [--runs 60] [--seconds 3] [--clients 32] [--workers 1,4]
                                [--model-delay 3] [--burst 40] [--slow-workers 1,2]
                                [--json out.json] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fakes / tests.helpers

from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from tests.helpers import free_port  # noqa: E402

from sippy.db.engine import make_engine  # noqa: E402
from sippy.db.migrate import upgrade  # noqa: E402
from sippy.ingest.load import load_sources  # noqa: E402
from sippy.samples.generator import SampleRun, generate_samples  # noqa: E402
from sippy.settings import Settings  # noqa: E402

MODEL = "bench-model"
SLOW_MODEL = "bench-slow-model"
SLOW_CONCURRENCY = 4
SLOW_QUEUE = 8
REQUEST_TIMEOUT = 60.0
CACHED = b'"cached":true'

# --- the load generator (runs in its own process) ------------------------------------------


@dataclass
class Mix:
    """One kind of request: paths cycled through by `clients` keep-alive connections."""

    name: str
    paths: list[str]
    clients: int
    json: bool = False  # ask for JSON (the AI endpoint answers text/plain by default)
    must_contain: bytes | None = None  # a 200 without it counts as an error


@dataclass
class MixResult:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    errors: Counter[str] = field(default_factory=Counter)
    unexpected: str = ""  # the first unexpected body, for the report

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())


@dataclass
class BurstReply:
    status: int
    retry_after: str | None
    seconds: float
    json_shape: bool  # an error body is exactly {"code", "message"}


@dataclass
class LoadResult:
    mixes: list[MixResult]
    wall: float
    client_cpu: float
    burst: list[BurstReply] = field(default_factory=list)


async def _http_get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One HTTP/1.1 request on an open connection (Content-Length bodies only)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" not in headers:
        raise ValueError("reply without Content-Length")
    body = await reader.readexactly(int(headers[b"content-length"]))
    return status, headers, body


def _request_bytes(host: str, port: int, path: str, *, as_json: bool) -> bytes:
    accept = "application/json" if as_json else "*/*"
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: {accept}\r\n\r\n".encode()


async def _client(
    host: str,
    port: int,
    mix: Mix,
    offset: int,
    stop: asyncio.Event,
    into: MixResult,
    rounds: int | None = None,
) -> None:
    """A closed loop: the next request when the previous one has been answered; until
    `stop`, or after `rounds` passes over the mix's paths."""
    requests = [_request_bytes(host, port, p, as_json=mix.json) for p in mix.paths]
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    index = offset
    last = None if rounds is None else offset + rounds * len(requests)
    while not stop.is_set() and (last is None or index < last):
        request = requests[index % len(requests)]
        index += 1
        started = time.perf_counter()
        try:
            if conn is None:
                conn = await asyncio.open_connection(host, port)
            async with asyncio.timeout(REQUEST_TIMEOUT):
                status, headers, body = await _http_get(*conn, request)
        except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError) as exc:
            into.errors[type(exc).__name__] += 1
            if conn is not None:
                conn[1].close()
            conn = None
            continue
        if headers.get(b"connection") == b"close":
            conn[1].close()
            conn = None
        if status != 200:
            into.errors[f"HTTP {status}"] += 1
        elif mix.must_contain is not None and mix.must_contain not in body:
            into.errors["unexpected body"] += 1
            into.unexpected = into.unexpected or body[:300].decode(errors="replace")
        else:
            into.latencies.append(time.perf_counter() - started)
    if conn is not None:
        conn[1].close()


async def _burst_one(host: str, port: int, path: str) -> BurstReply:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT * 3):
            status, headers, body = await _http_get(
                reader, writer, _request_bytes(host, port, path, as_json=True)
            )
    finally:
        writer.close()
    shape = status == 200
    if status != 200:
        try:
            doc = json.loads(body)
            shape = isinstance(doc, dict) and set(doc) == {"code", "message"}
            shape = shape and doc["code"] == status
        except ValueError:
            shape = False
    retry_after = headers.get(b"retry-after")
    return BurstReply(
        status,
        retry_after.decode() if retry_after is not None else None,
        time.perf_counter() - started,
        shape,
    )


async def _drive(
    host: str,
    port: int,
    mixes: list[Mix],
    seconds: float,
    burst: list[str],
    rounds: int | None,
) -> LoadResult:
    stop = asyncio.Event()
    results = [MixResult(m.name) for m in mixes]
    clients = [
        asyncio.create_task(_client(host, port, mix, n * 7, stop, result, rounds))
        for mix, result in zip(mixes, results, strict=True)
        for n in range(mix.clients)
    ]
    started, cpu = time.perf_counter(), time.process_time()
    replies: list[BurstReply] = []
    if burst:  # measure for as long as the burst takes, and at least `seconds`
        replies = await asyncio.gather(*(_burst_one(host, port, p) for p in burst))
    if rounds is None:
        remaining = seconds - (time.perf_counter() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
        stop.set()
    await asyncio.gather(*clients)
    return LoadResult(
        results, time.perf_counter() - started, time.process_time() - cpu, list(replies)
    )


def drive(
    port: int,
    mixes: list[Mix],
    seconds: float,
    burst: list[str] | None = None,
    rounds: int | None = None,
) -> LoadResult:
    """Entry point in the load-generator process: for `seconds`, or `rounds` passes."""
    return asyncio.run(_drive("127.0.0.1", port, mixes, seconds, burst or [], rounds))


# --- the server under test -----------------------------------------------------------------


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its live descendants (Linux /proc)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _clock_ticks()
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    workers: int


@contextmanager
def sippy_serve(
    dsn: str, workers: int, model_url: str, model: str, log: Path, **env: str
) -> Iterator[Server]:
    """`sippy serve` as a user starts it, on a free loopback port; stopped with SIGTERM."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "sippy",
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        "--listen-metrics",
        "",
        "--log-level",
        "warning",
        "--database-dsn",
        dsn,
        "--workers",
        str(workers),
        "--ai-endpoint",
        model_url,
        "--ai-model",
        model,
    ]
    with log.open("ab") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=sink, env={**os.environ, "COLUMNS": "200", **env}
        )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/healthz", process, log)
        yield Server(port, process, workers)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"sippy serve exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"sippy serve did not answer {url}:\n{log.read_text()[-3000:]}")


def warm_ai_cache(port: int, run_ids: list[int]) -> None:
    """Ask once for every run's AI answer (the fake answers at once) and check it is cached."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for attempt in ("fill", "check"):
            for run_id in run_ids:
                reply = client.get(
                    "/api/ai/job_run",
                    params={"prow_job_run_id": run_id},
                    headers={"Accept": "application/json"},
                )
                if reply.status_code != 200:
                    raise SystemExit(f"warming the AI cache: {reply.status_code} {reply.text}")
                if attempt == "check" and not reply.json()["cached"]:
                    raise SystemExit(f"run {run_id}: the AI answer was not cached")


# --- data ----------------------------------------------------------------------------------


def load_into(dsn: str, root: Path) -> None:
    engine = make_engine(dsn)
    upgrade(engine)
    report = load_sources([str(root)], Settings(database_dsn=dsn), engine)
    engine.dispose()
    if not report.ok:
        why = [o.why or o.problems for o in report.outcomes if o.why or o.problems]
        raise SystemExit(f"load failed: {report.source_errors} {why[:3]}")


@contextmanager
def scratch_postgres(admin: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database for this run, dropped afterwards (None: no server)."""
    import psycopg

    name = f"sippy_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"PostgreSQL skipped: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        yield None
        return
    try:
        yield f"{admin.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def mixes_for(runs: list[SampleRun], clients: int) -> list[Mix]:
    ids = [r.build_id for r in runs]
    tests = sorted({t for r in runs for t in r.failed_tests})
    return [
        Mix("healthz", ["/healthz"], clients),
        Mix("summary", [f"/api/job/run/summary?prow_job_run_id={i}" for i in ids], clients),
        Mix(
            "ai_cached",
            [f"/api/ai/job_run?prow_job_run_id={i}" for i in ids],
            clients,
            json=True,
            must_contain=CACHED,
        ),
        Mix(
            "history", [f"/api/tests/history?test_name={quote(t, safe='')}" for t in tests], clients
        ),
    ]


# --- scenarios -----------------------------------------------------------------------------


@dataclass
class Row:
    database: str
    workers: int
    mix: str
    clients: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_kinds: dict[str, int]
    server_cpu_ms: float  # per request, all server processes
    client_cpu_ms: float  # per request, the load generator
    load1: float  # the machine's 1-minute load average when the mix ended
    model_calls: int = 0  # made during the mix (none expected: answers are cached)
    unexpected: str = ""  # the first 200 answer that failed the mix's check
    rps_ratio: float | None = None  # to healthz on the same server
    p99_ratio: float | None = None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def row_for(database: str, workers: int, mix: Mix, result: MixResult, load: LoadResult,
            server_cpu: float) -> Row:  # fmt: skip
    lat = result.latencies or [float("nan")]
    count = result.requests
    return Row(
        database=database,
        workers=workers,
        mix=mix.name,
        clients=mix.clients,
        requests=count,
        rps=round(count / load.wall, 1),
        p50_ms=round(percentile(lat, 50) * 1000, 2),
        p99_ms=round(percentile(lat, 99) * 1000, 2),
        max_ms=round(max(lat) * 1000, 2),
        errors=sum(result.errors.values()),
        error_kinds=dict(result.errors),
        server_cpu_ms=round(server_cpu / max(count, 1) * 1000, 3),
        client_cpu_ms=round(load.client_cpu / max(count, 1) * 1000, 3),
        load1=round(os.getloadavg()[0], 1),
        unexpected=result.unexpected,
    )


def run_mixes(
    pool: ProcessPoolExecutor,
    server: Server,
    fake: FakeOpenAI,
    database: str,
    mixes: list[Mix],
    seconds: float,
) -> list[Row]:
    rows = []
    for mix in mixes:
        # unrecorded: every client (so every worker, connections being kept alive) asks for
        # every path once, so what each worker keeps in memory is there, as in steady state
        pool.submit(drive, server.port, [mix], 0.0, None, 1).result()
        before, calls = tree_cpu_seconds(server.process.pid), len(fake.chat_requests)
        load = pool.submit(drive, server.port, [mix], seconds).result()
        used = tree_cpu_seconds(server.process.pid) - before
        rows.append(row_for(database, server.workers, mix, load.mixes[0], load, used))
        rows[-1].model_calls = len(fake.chat_requests) - calls
        print(_format_row(rows[-1]), flush=True)
    reference = rows[0]
    for row in rows:
        row.rps_ratio = round(row.rps / reference.rps, 3) if reference.rps else None
        row.p99_ratio = round(row.p99_ms / reference.p99_ms, 2) if reference.p99_ms else None
    return rows


@dataclass
class SlowResult:
    database: str
    workers: int
    model_delay: float
    concurrency_per_worker: int
    queue_per_worker: int
    burst: int
    fake_max_concurrent: int
    fake_calls: int
    burst_ok: int
    burst_503: int
    burst_503_with_retry_after: int
    burst_other: dict[str, int]
    burst_errors_in_json_shape: bool
    burst_seconds_max: float
    shed_seconds_max: float  # how long a 503 took to come back
    calm: list[Row]
    stalled: list[Row]


def slow_model_scenario(
    pool: ProcessPoolExecutor,
    fake: FakeOpenAI,
    database: str,
    dsn: str,
    workers: int,
    runs: list[SampleRun],
    opts: argparse.Namespace,
    log: Path,
) -> SlowResult:
    ids = [r.build_id for r in runs]
    cached, uncached = ids[: len(ids) // 3], ids[len(ids) // 3 :]
    env = {
        "SIPPY_AI_CONCURRENCY": str(SLOW_CONCURRENCY),
        "SIPPY_AI_QUEUE_LIMIT": str(SLOW_QUEUE),
        "SIPPY_AI_TIMEOUT": str(max(60.0, opts.model_delay * 20)),
    }
    model = f"{SLOW_MODEL}-{uuid.uuid4().hex[:6]}"  # nothing cached for it yet
    half = max(1, opts.clients // 2)
    measured = [
        Mix("summary", [f"/api/job/run/summary?prow_job_run_id={i}" for i in ids], half),
        Mix(
            "ai_cached",
            [f"/api/ai/job_run?prow_job_run_id={i}" for i in cached],
            half,
            json=True,
            must_contain=CACHED,
        ),
    ]
    burst = [f"/api/ai/job_run?prow_job_run_id={i}" for i in uncached][: opts.burst]
    with sippy_serve(dsn, workers, fake.base_url, model, log, **env) as server:
        fake.reset()
        warm_ai_cache(server.port, cached)
        pool.submit(drive, server.port, measured, 0.0, None, 1).result()  # unrecorded
        calm_load = pool.submit(drive, server.port, measured, opts.seconds).result()
        fake.reset()
        fake.delay = opts.model_delay
        stall_load = pool.submit(drive, server.port, measured, opts.seconds, burst).result()
        fake_max, fake_calls = fake.max_concurrent, len(fake.chat_requests)
        fake.reset()
    replies = stall_load.burst
    statuses = Counter(r.status for r in replies)
    shed = [r for r in replies if r.status == 503]
    calm = [row_for(database, workers, m, r, calm_load, 0.0) for m, r in
            zip(measured, calm_load.mixes, strict=True)]  # fmt: skip
    stalled = [row_for(database, workers, m, r, stall_load, 0.0) for m, r in
               zip(measured, stall_load.mixes, strict=True)]  # fmt: skip
    return SlowResult(
        database=database,
        workers=workers,
        model_delay=opts.model_delay,
        concurrency_per_worker=SLOW_CONCURRENCY,
        queue_per_worker=SLOW_QUEUE,
        burst=len(burst),
        fake_max_concurrent=fake_max,
        fake_calls=fake_calls,
        burst_ok=statuses.get(200, 0),
        burst_503=len(shed),
        burst_503_with_retry_after=sum(1 for r in shed if r.retry_after),
        burst_other={str(s): n for s, n in statuses.items() if s not in (200, 503)},
        burst_errors_in_json_shape=all(r.json_shape for r in replies),
        burst_seconds_max=round(max((r.seconds for r in replies), default=0.0), 2),
        shed_seconds_max=round(max((r.seconds for r in shed), default=0.0), 3),
        calm=calm,
        stalled=stalled,
    )


# --- report --------------------------------------------------------------------------------

HEADER = (
    f"{'database':10} {'workers':>7} {'mix':9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'max ms':>7} {'errors':>6} {'srv cpu ms':>10} {'cli cpu ms':>10} {'load':>5}"
)


def _format_row(row: Row) -> str:
    return (
        f"{row.database:10} {row.workers:>7} {row.mix:9} {row.rps:>7.0f} {row.p50_ms:>7.1f} "
        f"{row.p99_ms:>7.1f} {row.max_ms:>7.1f} {row.errors:>6} {row.server_cpu_ms:>10.2f} "
        f"{row.client_cpu_ms:>10.2f} {row.load1:>5.1f}"
    )


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| database | workers | mix | req/s | p50 ms | p99 ms | max ms | errors "
        "| req/s ÷ healthz | p99 ÷ healthz | server CPU ms/req | client CPU ms/req | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.database} | {r.workers} | {r.mix} | {r.rps:.0f} | {r.p50_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.max_ms:.1f} | {r.errors} | {r.rps_ratio:.2f} | "
            f"{r.p99_ratio:.1f}× | {r.server_cpu_ms:.2f} | {r.client_cpu_ms:.2f} | {r.load1:.1f} |"
        )
    return "\n".join(lines)


def slow_report(s: SlowResult) -> str:
    limit = s.concurrency_per_worker * s.workers
    lines = [
        f"slow model ({s.database}, {s.workers} worker(s), {s.model_delay:g} s per call, "
        f"ai_concurrency={s.concurrency_per_worker} ai_queue_limit={s.queue_per_worker} per "
        f"worker): {s.burst} concurrent uncached AI requests",
        f"  model calls at once (seen by the fake): {s.fake_max_concurrent} "
        f"(limit {limit}); calls made: {s.fake_calls}",
        f"  burst: {s.burst_ok} answered 200 (last after {s.burst_seconds_max:.1f} s), "
        f"{s.burst_503} shed with 503 ({s.burst_503_with_retry_after} with Retry-After, "
        f"slowest 503 after {s.shed_seconds_max * 1000:.0f} ms), other {s.burst_other or 0}; "
        f"errors in the JSON shape: {s.burst_errors_in_json_shape}",
    ]
    for calm, stalled in zip(s.calm, s.stalled, strict=True):
        lines.append(
            f"  {calm.mix:9} ({calm.clients} clients): p50/p99 {calm.p50_ms:.1f}/"
            f"{calm.p99_ms:.1f} ms before, {stalled.p50_ms:.1f}/{stalled.p99_ms:.1f} ms "
            f"during the stall (max {stalled.max_ms:.1f}); errors {calm.errors}/{stalled.errors}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="generated runs to load")
    parser.add_argument("--seconds", type=float, default=3.0, help="per mix")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients per mix")
    parser.add_argument("--workers", default="1,4", help="worker counts to measure, e.g. 1,4")
    parser.add_argument("--model-delay", type=float, default=3.0, help="slow model, s per call")
    parser.add_argument("--burst", type=int, default=40, help="uncached AI requests at once")
    parser.add_argument(
        "--slow-workers",
        default="1,2",
        help="workers for the slow-model runs: SQLite, then PostgreSQL",
    )
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="which of sqlite,postgresql to use"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    opts = parser.parse_args()
    worker_counts = [int(w) for w in opts.workers.split(",")]
    started = time.perf_counter()
    rows: list[Row] = []
    slow: list[SlowResult] = []
    spawn = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="sippy-serve-bench-") as tmp,
        FakeOpenAI() as fake,
        ProcessPoolExecutor(1, mp_context=spawn) as pool,
        scratch_postgres(opts.pg_dsn) if "postgresql" in opts.databases else _none() as pg_dsn,
    ):
        root, log = Path(tmp) / "runs", Path(tmp) / "serve.log"
        runs = generate_samples(root, count=opts.runs, seed=3)
        databases = []
        if "sqlite" in opts.databases:
            databases.append(("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}"))
        if pg_dsn:
            databases.append(("postgresql", pg_dsn))
        mixes = mixes_for(runs, opts.clients)
        print(
            f"{len(runs)} runs, {len(mixes[3].paths)} failed tests; {opts.clients} clients per "
            f"mix, {opts.seconds:g} s each; CPU ms per request: server = all its processes, "
            f"client = the load generator (same {os.cpu_count()} cores)\n{HEADER}",
            flush=True,
        )
        for database, dsn in databases:
            load_into(dsn, root)
            for workers in worker_counts:
                with sippy_serve(dsn, workers, fake.base_url, MODEL, log) as server:
                    # every time: the answers are found by the evidence's digest, and the
                    # code that builds the evidence may have changed since the last server
                    warm_ai_cache(server.port, [r.build_id for r in runs])
                    rows += run_mixes(pool, server, fake, database, mixes, opts.seconds)
        slow_workers = [int(w) for w in opts.slow_workers.split(",")]
        for (database, dsn), workers in zip(databases, slow_workers, strict=False):
            slow.append(slow_model_scenario(pool, fake, database, dsn, workers, runs, opts, log))
            print(slow_report(slow[-1]), flush=True)
    elapsed = time.perf_counter() - started
    print(f"\n{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores, {elapsed:.0f} s in all\n")
    print(markdown_table(rows))
    for s in slow:
        print(slow_report(s))
    if opts.json:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "date": f"{datetime.now(UTC):%Y-%m-%d}",
            "cores": os.cpu_count(),
            "runs": opts.runs,
            "clients": opts.clients,
            "seconds": opts.seconds,
            "rows": [asdict(r) for r in rows],
            "slow_model": [asdict(s) for s in slow],
        }
        opts.json.write_text(json.dumps(doc, indent=2) + "\n")


@contextmanager
def _none() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    main()
