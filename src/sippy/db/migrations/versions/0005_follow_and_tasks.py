"""follow state, model-answer leases, and (PostgreSQL) the task queue's schema

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# procrastinate's own tables, functions and types (PostgreSQL only): see sippy.tasks.queue
PROCRASTINATE_TABLES = (
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)
PROCRASTINATE_TYPES = (
    "procrastinate_job_to_defer_v1",
    "procrastinate_job_status",
    "procrastinate_job_event_type",
)


def upgrade() -> None:
    op.create_table(
        "ai_inflight",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "follow_folders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(2048), nullable=False),
        sa.Column("job", sa.String(512), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=True),
        sa.Column("listed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("location"),
    )
    op.create_table(
        "follow_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(2048), nullable=False),
        sa.Column("folder_id", sa.Integer(), nullable=True),
        sa.Column("build_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("result", sa.String(1), nullable=False),
        sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summarized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recheck_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["folder_id"], ["follow_folders.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("location"),
    )
    op.create_index("ix_follow_runs_state", "follow_runs", ["state"])
    if op.get_bind().dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        # the library's schema for the locked version; a later procrastinate release adds
        # an Alembic revision applying its own migration files (sql/migrations)
        # on the DB-API cursor with no parameters, so psycopg leaves its `%` signs alone
        with op.get_bind().connection.cursor() as cursor:
            cursor.execute(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in PROCRASTINATE_TABLES:
            op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        functions = op.get_bind().exec_driver_sql(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%%'"
        )
        for (signature,) in functions.all():
            op.execute(f"DROP FUNCTION IF EXISTS {signature} CASCADE")
        for type_name in PROCRASTINATE_TYPES:
            op.execute(f"DROP TYPE IF EXISTS {type_name} CASCADE")
    op.drop_index("ix_follow_runs_state", table_name="follow_runs")
    op.drop_table("follow_runs")
    op.drop_table("follow_folders")
    op.drop_table("ai_inflight")
