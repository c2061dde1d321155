"""Write statements that differ between SQLite and PostgreSQL, written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _insert(session: Session, model: Any, keys: list[str]) -> Any:
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return builder(model).on_conflict_do_nothing(index_elements=keys)


def insert_ignore(
    session: Session, model: Any, rows: list[dict[str, Any]], keys: list[str]
) -> None:
    """INSERT ... ON CONFLICT (keys) DO NOTHING, for many rows at once."""
    session.execute(_insert(session, model, keys), rows)


def insert_new(session: Session, model: Any, row: dict[str, Any], keys: list[str]) -> bool:
    """Insert one row unless its key exists; True if this call inserted it (RETURNING:
    psycopg reports no row count for this statement)."""
    statement = _insert(session, model, keys).returning(getattr(model, keys[0]))
    return session.connection().execute(statement, row).first() is not None
