"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import threading
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from sippy.db.engine import make_engine
from sippy.db.migrate import (
    SchemaOutOfDate,
    current_revision,
    ensure_schema,
    head_revision,
    is_ours,
)
from sippy.db.models import Base


def test_migrations_match_models(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": is_ours})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert current_revision(engine) == head_revision()


def test_core_sippy_tables_exist(engine):
    tables = set(inspect(engine).get_table_names())
    assert {
        "prow_jobs",
        "prow_job_runs",
        "suites",
        "tests",
        "prow_job_run_tests",
        "prow_job_run_test_outputs",
    } <= tables


def test_ensure_schema_creates_an_empty_sqlite_database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    ensure_schema(engine)
    assert current_revision(engine) == head_revision()
    ensure_schema(engine)  # idempotent


def test_ensure_schema_refuses_an_outdated_database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    ensure_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'an-old-revision'"))
    with pytest.raises(SchemaOutOfDate, match="sippy db upgrade"):
        ensure_schema(engine)


def _ensure_schema_at_once(dsn: str, workers: int) -> list[BaseException | None]:
    """`ensure_schema` from `workers` threads, each with an engine of its own, released together."""
    start = threading.Barrier(workers)
    outcomes: list[BaseException | None] = [None] * workers

    def create(slot: int) -> None:
        engine = make_engine(dsn)
        try:
            start.wait()
            ensure_schema(engine)
        except BaseException as exc:  # noqa: BLE001 - recorded and asserted on
            outcomes[slot] = exc
        finally:
            engine.dispose()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a schema creation hung"
    return outcomes


@pytest.mark.parametrize("attempt", range(8))
def test_concurrent_first_schema_creation_on_sqlite_succeeds_everywhere(tmp_path, attempt):
    """Several processes starting on a new SQLite file at once (two `sippy load`s, `serve`
    and a load): one creates the schema, the others wait for it and find it in place."""
    dsn = f"sqlite:///{tmp_path / 'new.db'}"
    outcomes = _ensure_schema_at_once(dsn, workers=4)
    assert outcomes == [None] * 4, [repr(o) for o in outcomes if o]
    engine = make_engine(dsn)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:  # created once: one revision row
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    engine.dispose()


@pytest.mark.postgres
def test_a_sql_ascii_database_is_read_as_text(request):
    """initdb's default encoding in a bare container is SQL_ASCII; psycopg would then hand
    back bytes and every query fail. The engine asks for UTF-8 text."""
    import psycopg

    from tests.conftest import PG_ADMIN_DSN

    request.getfixturevalue("pg_database_dsn")  # skips (or fails under CI) without a server
    name = f"sippy_ascii_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            f"CREATE DATABASE \"{name}\" ENCODING 'SQL_ASCII' TEMPLATE template0 "
            "LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    engine = make_engine(f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}")
    try:
        ensure_schema(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            assert isinstance(conn.execute(text("SELECT version()")).scalar(), str)
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
