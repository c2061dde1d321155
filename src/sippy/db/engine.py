"""Engines and sessions for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def normalize_dsn(dsn: str) -> str:
    """Accept `postgres://` and `postgresql://` and use the psycopg 3 driver for them."""
    url = make_url(dsn.replace("postgres://", "postgresql://", 1))
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


# A server that has gone away must cost a request seconds, not minutes: connecting gives up
# after CONNECT_TIMEOUT (a `connect_timeout` in the DSN wins), waiting for a pooled connection
# after POOL_TIMEOUT, and every pooled connection is checked before use (pre-ping), so the
# pool recovers by itself when the server is back.
CONNECT_TIMEOUT = 5
POOL_TIMEOUT = 10
SQLITE_BUSY_TIMEOUT = 30  # seconds a writer waits for another process's transaction


def make_engine(dsn: str) -> Engine:
    """An engine for `dsn`; SQLite gets foreign keys, WAL and a busy timeout."""
    url = make_url(normalize_dsn(dsn))
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, object] = {"client_encoding": "utf8"}  # text, even on SQL_ASCII
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    engine = create_engine(
        url, pool_pre_ping=True, pool_timeout=POOL_TIMEOUT, connect_args=connect_args
    )
    event.listen(engine, "do_connect", ConnectGate())
    return engine


class ConnectGate:
    """While connecting fails, one attempt at a time finds out whether the server is back.

    Without it, when the server is unreachable every request waits out the connect timeout
    on its own, and they queue behind each other for threads and pooled connections, so
    answers take many times the timeout. With it, an attempt made while another is under
    way waits a moment for that one's outcome (a healthy server answers within
    milliseconds) and then shares it, or gives up: no request waits longer than one
    connect timeout, and the first attempt that succeeds lets everyone through again.
    """

    PROBE_WAIT = 0.5  # seconds to wait for the attempt under way before giving up

    def __init__(self) -> None:
        self._state = threading.Condition()
        self._failing: str | None = None  # why the last attempt failed; None: all is well
        self._probing = False

    def __call__(self, dialect, _record, cargs, cparams):  # type: ignore[no-untyped-def]
        with self._state:
            if self._probing:
                self._state.wait_for(lambda: not self._probing, self.PROBE_WAIT)
                if self._failing is not None:
                    raise dialect.loaded_dbapi.OperationalError(
                        f"{self._failing} (and the attempt under way has not succeeded)"
                    )
            probe = self._failing is not None
            self._probing = self._probing or probe
        try:
            connection = dialect.connect(*cargs, **cparams)
        except Exception as exc:
            with self._state:
                self._failing = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise
        finally:
            if probe:
                with self._state:
                    self._probing = False
                    self._state.notify_all()
        with self._state:
            self._failing = None
        return connection


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _use_wal(cursor) -> None:  # type: ignore[no-untyped-def]
    """Switch a database to WAL, waiting out other connections switching it at the same time.

    A new file is switched by the first connection; connections opened at that moment get
    "database is locked" at once (SQLite does not call the busy handler for the switch), so
    they retry until the busy timeout. A database already in WAL is left alone.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def is_unavailable(exc: BaseException) -> bool:
    """Is `exc` the database being out of reach (try again later) rather than a bug?

    A lost server shows up as OperationalError when connecting or mid-query, as
    InterfaceError on a connection found closed, and as a pool TimeoutError when every
    connection is stuck; SQLAlchemy flags any error that invalidated its connection.
    """
    if isinstance(exc, sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return False


DB_THREADS = 40  # as many as Starlette runs sync endpoints on (anyio's default)


def widen_default_executor() -> None:
    """Give the running loop a default executor as wide as Starlette's thread pool.

    Async endpoints do their database work with `asyncio.to_thread`, on the loop's default
    executor, which has only CPUs + 4 threads: with the database slow or unreachable, AI
    requests would queue there behind each other for many times the connect timeout.
    """
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(DB_THREADS, thread_name_prefix="sippy-db")
    )
