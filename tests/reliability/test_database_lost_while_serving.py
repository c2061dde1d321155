"""The database goes away under a running server, then comes back.

A real uvicorn server whose engine reaches PostgreSQL through a proxy the test cuts: every
database-backed endpoint answers 503 in the one JSON error shape, promptly, while the rest
of the API keeps working; when the proxy is restored the same requests answer 200 again,
with the same content, without restarting anything.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy import exc as sa_exc

from sippy.app import create_app
from sippy.db import models as m
from sippy.db.engine import make_engine, session_factory
from sippy.db.migrate import upgrade
from sippy.ingest.load import load_sources
from sippy.settings import Settings
from tests.helpers import running_server
from tests.reliability.conftest import ProxiedDatabase

JSON = {"Accept": "application/json"}
UNAVAILABLE = {"code": 503, "message": "database unavailable; try again shortly"}
# Every request reads the database: what is checked here is the 503 when it is gone. With the
# default SIPPY_DERIVED_FRESH_FOR (1 s) a summary kept in memory may still be served for up to
# that long after the loss (tests/db/test_generation.py covers that window).
LIVE = Settings(derived_fresh_for=0)


@pytest.fixture
def served(proxied_pg: ProxiedDatabase, sample_root):
    """The canonical samples loaded (directly), and a server reaching them via the proxy."""
    direct = make_engine(proxied_pg.dsn)
    assert load_sources([str(sample_root)], Settings(), direct).ok
    with session_factory(direct)() as session:
        run_ids = list(session.scalars(select(m.ProwJobRun.id).order_by(m.ProwJobRun.id)))[:3]
        test_name = session.scalars(
            select(m.Test.name)
            .join(m.ProwJobRunTest, m.ProwJobRunTest.test_id == m.Test.id)
            .where(m.ProwJobRunTest.status == 12)
            .order_by(m.Test.name)
        ).first()
    direct.dispose()
    engine = make_engine(proxied_pg.proxied_dsn)
    try:
        with running_server(create_app(LIVE, engine)) as base:
            yield base, run_ids, test_name, proxied_pg.proxy
    finally:
        engine.dispose()


def db_requests(run_ids: list[int], test_name: str) -> list[tuple[str, dict[str, Any], dict]]:
    """(path, params, headers) of every kind of database-backed request, over all runs."""
    requests = []
    for run_id in run_ids:
        requests.append(("/api/job/run/summary", {"prow_job_run_id": run_id}, {}))
        requests.append(("/api/ai/job_run", {"prow_job_run_id": run_id}, JSON))
        requests.append(("/api/ai/job_run", {"prow_job_run_id": run_id, "stream": "true"}, {}))
    requests.append(("/api/tests/history", {"test_name": test_name}, {}))
    requests.append(("/healthz", {}, {}))
    return requests


def fire(
    base: str, requests: list[tuple[str, dict[str, Any], dict]]
) -> list[tuple[httpx.Response, float]]:
    """All requests at once, each on its own connection; (response, seconds) in order."""

    def one(request: tuple[str, dict[str, Any], dict]) -> tuple[httpx.Response, float]:
        path, params, headers = request
        began = time.monotonic()
        response = httpx.get(f"{base}{path}", params=params, headers=headers, timeout=60)
        return response, time.monotonic() - began

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def stable(response: httpx.Response) -> Any:
    """What must be the same before and after the outage (timings aside)."""
    if response.headers["content-type"].startswith("application/json"):
        body = response.json()
        if isinstance(body, dict):
            body.pop("durationSeconds", None)
        return body
    return re.sub(r'"durationSeconds": ?[0-9.eE+-]+', "", response.text)  # event streams


def assert_all_ok(answers: list[tuple[httpx.Response, float]]) -> None:
    for response, _ in answers:
        assert response.status_code == 200, (response.request.url, response.text)


def assert_all_unavailable(answers: list[tuple[httpx.Response, float]], within: float) -> None:
    for response, seconds in answers:
        where = response.request.url
        assert response.status_code == 503, (where, response.status_code, response.text)
        body = response.json()
        if response.request.url.path == "/healthz":
            assert body == {"code": 503, "message": "database unreachable"}
        else:
            assert body == UNAVAILABLE, (where, body)
        assert seconds < within, f"{where} took {seconds:.1f}s"


def test_connections_reset_then_back(served):
    base, run_ids, test_name, proxy = served
    requests = db_requests(run_ids, test_name)
    before = fire(base, requests)
    assert_all_ok(before)

    proxy.cut()  # open connections die; new ones are reset at once (a restarting server)
    down = fire(base, requests)
    assert_all_unavailable(down, within=3)
    for path in ("/api", "/api/capabilities", "/docs", "/livez"):  # no database: unaffected
        assert httpx.get(f"{base}{path}", timeout=5).status_code == 200
    assert httpx.get(f"{base}/readyz", timeout=5).status_code == 503  # out of rotation

    proxy.restore()
    after = fire(base, requests)
    assert_all_ok(after)
    assert [stable(r) for r, _ in after] == [stable(r) for r, _ in before]


def test_silent_server_then_back(served):
    base, run_ids, test_name, proxy = served
    requests = db_requests(run_ids, test_name)
    assert_all_ok(fire(base, requests))

    proxy.cut("blackhole")  # a partition: connecting hangs until the connect timeout (2 s)
    # 44 requests, three times what the engine's pool has connections for (15). Without the
    # engine's connect gate each one tries to connect and waits out the timeout, queueing
    # for the pool behind the others. With it, once connecting has failed one attempt at a
    # time tries again and the rest give up within half a second.
    tried_before = proxy.accepted
    down = fire(base, requests * 4)
    tried = proxy.accepted - tried_before
    assert_all_unavailable(down, within=2 * 2 + 4)
    assert tried <= len(down) // 2, f"{tried} connection attempts for {len(down)} requests"
    assert httpx.get(f"{base}/api/capabilities", timeout=5).status_code == 200

    proxy.restore()
    assert_all_ok(fire(base, requests))


def test_outage_mid_traffic_never_gives_a_500(served):
    """Connections cut while queries are under way: each answer is 200 or 503, no other."""
    base, run_ids, test_name, proxy = served
    requests = db_requests(run_ids, test_name)
    stop = threading.Event()
    with ThreadPoolExecutor(1) as cutter:
        flapping = cutter.submit(_flap, proxy, stop)
        try:
            answers = [answer for _ in range(3) for answer in fire(base, requests)]
        finally:
            stop.set()
        cuts = flapping.result()
    statuses = Counter(response.status_code for response, _ in answers)
    odd = [r.text for r, _ in answers if r.status_code not in (200, 503)]
    assert set(statuses) <= {200, 503}, (statuses, odd)
    assert statuses[503] and cuts >= 3, "the outage never met a request; nothing was tested"
    for response, _ in answers:
        if response.status_code == 503:
            assert response.json()["code"] == 503
    proxy.restore()
    assert_all_ok(fire(base, requests))


def _flap(proxy, stop: threading.Event) -> int:
    """Cut and restore the connection until told to stop; how many cuts there were."""
    cuts = 0
    while not stop.is_set():
        proxy.cut()
        cuts += 1
        stop.wait(0.1)  # how long each outage lasts: the fault's shape, not a synchronisation
        proxy.restore()
        stop.wait(0.2)
    return cuts


def test_no_free_connection_is_503_not_500(tmp_path, sample_root):
    """Every pooled connection busy past the pool timeout: 503 in the error shape, promptly."""
    dsn = f"sqlite:///{tmp_path / 'sippy.db'}"
    loader = make_engine(dsn)
    upgrade(loader)
    assert load_sources([str(sample_root)], Settings(), loader).ok
    loader.dispose()
    engine = create_engine(dsn, pool_size=1, max_overflow=0, pool_timeout=0.5)
    try:
        with running_server(create_app(LIVE, engine)) as base, engine.connect():
            began = time.monotonic()  # the pool's only connection is held right here
            response = httpx.get(f"{base}/api/job/run/summary?prow_job_run_id=1", timeout=10)
            seconds = time.monotonic() - began
        assert response.status_code == 503, response.text
        assert response.json() == UNAVAILABLE
        assert seconds < 3
    finally:
        engine.dispose()


def test_what_counts_as_the_database_being_unavailable():
    """Errors a lost server raises at different points map to 503; a bug stays a 500."""
    import psycopg

    from sippy.db.engine import is_unavailable

    closed = sa_exc.InterfaceError("SELECT 1", {}, psycopg.InterfaceError("connection closed"))
    lost = sa_exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed"))
    invalidated = sa_exc.DBAPIError("SELECT 1", {}, psycopg.DatabaseError("x"))
    invalidated.connection_invalidated = True
    assert is_unavailable(closed) and is_unavailable(lost) and is_unavailable(invalidated)
    assert is_unavailable(sa_exc.TimeoutError("QueuePool limit reached"))
    bug = sa_exc.ProgrammingError("SELEC 1", {}, psycopg.errors.SyntaxError("syntax error"))
    assert not is_unavailable(bug)
    assert not is_unavailable(sa_exc.IntegrityError("INSERT", {}, psycopg.IntegrityError("dup")))
    assert not is_unavailable(ValueError("not a database error"))
