"""Shared fixtures: real artifacts from ../shared/realdata, scratch folders, databases."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("SIPPY_REALDATA", REPO_ROOT.parent / "shared" / "realdata"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The real CI artifacts shipped beside the project; skip cleanly where absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real artifacts not found at {REALDATA} (set SIPPY_REALDATA to point at them)")
    return REALDATA


# --- databases ------------------------------------------------------------------------------
# Every test that takes `engine` runs on SQLite (a fresh file) and on PostgreSQL (a database
# created for this test session, emptied before each test, dropped at the end). Under CI=true
# PostgreSQL is required: a missing server fails the run instead of skipping.

import uuid  # noqa: E402

from sqlalchemy import Engine, text  # noqa: E402

PG_ADMIN_DSN = os.environ.get("SIPPY_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not reachable ({reason}); set SIPPY_TEST_PG_DSN or start it")


@pytest.fixture(scope="session")
def pg_database_dsn():
    """A database of this test session's own on the local PostgreSQL, dropped afterwards."""
    import psycopg

    admin = PG_ADMIN_DSN
    name = f"sippy_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        _pg_unavailable(str(exc).strip().splitlines()[0])
    base = admin.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_engine(pg_database_dsn):
    from sippy.db.engine import make_engine
    from sippy.db.migrate import upgrade

    engine = make_engine(pg_database_dsn)
    upgrade(engine)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    from sippy.db.migrate import PROCRASTINATE_TABLES
    from sippy.db.models import Base

    tables = [t.name for t in Base.metadata.sorted_tables] + list(PROCRASTINATE_TABLES)
    names = ", ".join(f'"{name}"' for name in tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_dsn(request, tmp_path) -> str:
    """A DSN for an empty, migrated database of each kind."""
    if request.param == "sqlite":
        from sippy.db.engine import make_engine
        from sippy.db.migrate import upgrade

        dsn = f"sqlite:///{tmp_path / 'sippy.db'}"
        engine = make_engine(dsn)
        upgrade(engine)
        engine.dispose()
        return dsn
    engine = request.getfixturevalue("pg_engine")
    _truncate_all(engine)
    return request.getfixturevalue("pg_database_dsn")


@pytest.fixture
def engine(db_dsn):
    from sippy.db.engine import make_engine

    engine = make_engine(db_dsn)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    """The canonical generated sample runs (written once per test session)."""
    from sippy.samples.generator import generate_samples

    root = tmp_path_factory.mktemp("samples")
    generate_samples(root)
    return root
