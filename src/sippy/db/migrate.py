"""Alembic, driven from code: `sippy db upgrade` and the automatic first upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class SchemaOutOfDate(RuntimeError):
    """The database holds an older schema; the user must run `sippy db upgrade`."""


def alembic_config(engine: Engine, connection: Connection | None = None) -> Config:
    """Alembic's configuration; with `connection`, the migrations run on it (db.migrations.env)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config_stub())
    head = script.get_current_head()
    assert head is not None
    return head


def alembic_config_stub() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def current_revision(engine: Engine | Connection) -> str | None:
    if isinstance(engine, Connection):
        return MigrationContext.configure(engine).get_current_revision()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to `revision`."""
    with _migration_lock(engine) as locked:
        command.upgrade(alembic_config(engine, locked), revision)


def ensure_schema(engine: Engine) -> None:
    """Create the schema on an empty database; refuse to run on an outdated one."""
    with _migration_lock(engine) as locked:
        current = current_revision(locked or engine)
        if current is None:
            if _has_our_tables(locked or engine):
                raise SchemaOutOfDate(
                    "the database has sippy tables but no migration record; "
                    "point --database-dsn at an empty database or run `sippy db upgrade`"
                )
            command.upgrade(alembic_config(engine, locked), "head")
            return
    head = head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database schema is at revision {current}, this version needs {head}: "
            "run `sippy db upgrade`"
        )


def _has_our_tables(engine: Engine | Connection) -> bool:
    return "prow_job_runs" in inspect(engine).get_table_names()


MIGRATION_LOCK = 0x51990DB  # PostgreSQL advisory lock key: one migrating process at a time


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection | None]:
    """Let one process at a time look at and change the schema.

    Two loads started at once on an empty database would both find no schema and both
    create it; the second fails on the first one's tables. With the lock the second waits,
    then finds the schema in place. PostgreSQL: a session advisory lock (yields None: the
    migrations use connections of their own). SQLite: its database-wide write lock, taken
    at once (BEGIN IMMEDIATE) on a connection that is yielded, because the migrations must
    run on it (any other connection would wait for that lock); committed when the block
    ends without an error.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection
            connection.commit()
        return
    if engine.dialect.name != "postgresql":
        yield None
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()
        try:
            yield None
        finally:
            with suppress(SQLAlchemyError):  # a lost connection took its lock with it
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()


def is_ours(name: str | None, type_: str, _parents: object) -> bool:
    """Alembic's `include_name` filter: the task queue's tables are procrastinate's own
    (created by migration 0005 from its schema), not described by our models."""
    return not (type_ == "table" and name is not None and name.startswith("procrastinate_"))


#: The task queue's tables on PostgreSQL (procrastinate's), for tools that empty a database.
PROCRASTINATE_TABLES = (
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)
