"""Alembic environment: the engine comes from the caller, never from a config file."""

from __future__ import annotations

from alembic import context

from sippy.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:  # the caller holds a lock on it and commits (db.migrate)
        _run_on(given)
        return
    with config.attributes["engine"].connect() as connection:
        _run_on(connection)
        connection.commit()


def _run_on(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
