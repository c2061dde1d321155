"""Fixtures for the fault-injection tests: a PostgreSQL database of their own, a proxy to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import make_url

from tests.fakes.tcp_proxy import TcpProxy


@pytest.fixture
def pg_dsn(request: pytest.FixtureRequest) -> str:
    """An empty, migrated PostgreSQL database (the test session's, emptied for this test)."""
    from tests.conftest import _truncate_all

    _truncate_all(request.getfixturevalue("pg_engine"))
    return request.getfixturevalue("pg_database_dsn")


@pytest.fixture
def empty_pg_dsn(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new PostgreSQL database without any schema, dropped afterwards."""
    import psycopg

    from tests.conftest import PG_ADMIN_DSN

    request.getfixturevalue("pg_database_dsn")  # skips (or fails under CI) without a server
    name = f"sippy_empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class ProxiedDatabase:
    dsn: str  # straight to the server
    proxied_dsn: str  # through the proxy, with a short connect timeout
    proxy: TcpProxy


@pytest.fixture
def proxied_pg(pg_dsn: str) -> Iterator[ProxiedDatabase]:
    """`pg_dsn`, and the same database behind a proxy the test can cut and restore."""
    url = make_url(pg_dsn)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).update_query_dict(
            {"connect_timeout": "2"}  # libpq's floor; a blackholed connect costs this much
        )
        yield ProxiedDatabase(pg_dsn, proxied.render_as_string(hide_password=False), proxy)
