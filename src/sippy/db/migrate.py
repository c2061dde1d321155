"""Alembic, driven from code: `sippy db upgrade` and the automatic first upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class SchemaOutOfDate(RuntimeError):
    """The database holds an older schema; the user must run `sippy db upgrade`."""


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
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


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to `revision`."""
    with _migration_lock(engine):
        command.upgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine) -> None:
    """Create the schema on an empty database; refuse to run on an outdated one."""
    with _migration_lock(engine):
        current = current_revision(engine)
        if current is None:
            if _has_our_tables(engine):
                raise SchemaOutOfDate(
                    "the database has sippy tables but no migration record; "
                    "point --database-dsn at an empty database or run `sippy db upgrade`"
                )
            command.upgrade(alembic_config(engine), "head")
            return
    head = head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database schema is at revision {current}, this version needs {head}: "
            "run `sippy db upgrade`"
        )


def _has_our_tables(engine: Engine) -> bool:
    return "prow_job_runs" in inspect(engine).get_table_names()


MIGRATION_LOCK = 0x51990DB  # PostgreSQL advisory lock key: one migrating process at a time


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, let one process at a time look at and change the schema.

    Two loads started at once on an empty database would both find no schema and both
    create it; the second fails on the first one's tables. With the lock the second waits,
    then finds the schema in place. (Not on SQLite: its only lock is the write lock that
    the migration itself needs.)
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()
        try:
            yield
        finally:
            with suppress(SQLAlchemyError):  # a lost connection took its lock with it
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
