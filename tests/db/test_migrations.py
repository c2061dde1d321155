"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from sippy.db.engine import make_engine
from sippy.db.migrate import SchemaOutOfDate, current_revision, ensure_schema, head_revision
from sippy.db.models import Base


def test_migrations_match_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
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
