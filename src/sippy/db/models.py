"""Tables after Sippy's core schema, plus what a run's evidence needs.

Sippy's `prow_jobs`, `prow_job_runs`, `suites`, `tests`, `prow_job_run_tests` (status
1/12/13) and `prow_job_run_test_outputs` keep their names and meanings. Added: the
artifacts each fact came from, cluster-operator conditions, node and machine problems,
pull requests, and per-run load problems. Types are portable across SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def run_fk() -> ForeignKey:
    return ForeignKey("prow_job_runs.id", ondelete="CASCADE")


def artifact_fk() -> ForeignKey:
    return ForeignKey("prow_job_run_artifacts.id", ondelete="CASCADE")


class Base(DeclarativeBase):
    pass


class ProwJob(Base):
    __tablename__ = "prow_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(512), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default="periodic")
    release: Mapped[str] = mapped_column(String(64), index=True)
    variants: Mapped[list[str]] = mapped_column(JSON, default=list)


class ProwJobRun(Base):
    __tablename__ = "prow_job_runs"

    # The Prow build id, as Sippy.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    prow_job_id: Mapped[int] = mapped_column(ForeignKey("prow_jobs.id"), index=True)
    cluster: Mapped[str] = mapped_column(String(128), default="")
    gcs_bucket: Mapped[str] = mapped_column(String(256), default="")
    gcs_path: Mapped[str] = mapped_column(String(1024), default="")
    url: Mapped[str] = mapped_column(String(2048), default="")
    timestamp: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    duration: Mapped[int | None] = mapped_column(BigInteger)  # nanoseconds, as Sippy
    prow_state: Mapped[str] = mapped_column(String(32), default="")
    overall_result: Mapped[str] = mapped_column(String(1), index=True)
    test_failures: Mapped[int] = mapped_column(Integer, default=0)
    test_flakes: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    infrastructure_failure: Mapped[bool] = mapped_column(Boolean, default=False)
    known_failure: Mapped[bool] = mapped_column(Boolean, default=False)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    org: Mapped[str] = mapped_column(String(256), default="")
    repo: Mapped[str] = mapped_column(String(256), default="")
    base_ref: Mapped[str] = mapped_column(String(256), default="")
    metadata_source: Mapped[str] = mapped_column(String(64), default="prowjob.json")
    source: Mapped[str] = mapped_column(String(2048), default="")  # where it was loaded from
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    build_log_path: Mapped[str | None] = mapped_column(String(1024))
    build_log_size: Mapped[int | None] = mapped_column(BigInteger)
    loaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProwPullRequest(Base):
    __tablename__ = "prow_pull_requests"
    __table_args__ = (UniqueConstraint("link", "sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org: Mapped[str] = mapped_column(String(256))
    repo: Mapped[str] = mapped_column(String(256))
    number: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(256), default="")
    sha: Mapped[str] = mapped_column(String(64), default="")
    title: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(1024), default="")


class ProwJobRunPullRequest(Base):
    __tablename__ = "prow_job_run_prow_pull_requests"

    prow_job_run_id: Mapped[int] = mapped_column(run_fk(), primary_key=True)
    prow_pull_request_id: Mapped[int] = mapped_column(
        ForeignKey("prow_pull_requests.id"), primary_key=True
    )


class Suite(Base):
    __tablename__ = "suites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(512), unique=True)


class Test(Base):
    __tablename__ = "tests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Real test names run past 700 characters; Text keeps them whole.
    name: Mapped[str] = mapped_column(Text, unique=True)


class ProwJobRunArtifact(Base):
    """An artifact of a run that was read, with its size and any error reading it."""

    __tablename__ = "prow_job_run_artifacts"
    __table_args__ = (UniqueConstraint("prow_job_run_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prow_job_run_id: Mapped[int] = mapped_column(run_fk(), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class ProwJobRunTest(Base):
    """One test of one run: status 1 (pass), 12 (failure) or 13 (flake), as Sippy.

    The hot table (hundreds of thousands of rows per load). It carries no foreign-key
    constraints: only the loader writes it, always with ids it has just resolved, and
    checking five references per row doubled PostgreSQL's load time. Deleting a run
    deletes its rows explicitly (`ingest.store`).
    """

    __tablename__ = "prow_job_run_tests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prow_job_run_id: Mapped[int] = mapped_column(BigInteger)
    prow_job_id: Mapped[int] = mapped_column(Integer)
    test_id: Mapped[int] = mapped_column(Integer)
    suite_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    lifecycle: Mapped[str] = mapped_column(String(32), default="blocking")
    artifact_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_prow_job_run_tests_run_status", "prow_job_run_id", "status"),
        Index("ix_prow_job_run_tests_test_status", "test_id", "status"),
    )


class ProwJobRunTestOutput(Base):
    __tablename__ = "prow_job_run_test_outputs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prow_job_run_test_id: Mapped[int] = mapped_column(
        ForeignKey("prow_job_run_tests.id", ondelete="CASCADE"), unique=True
    )
    output: Mapped[str] = mapped_column(Text)


class OperatorConditionRow(Base):
    __tablename__ = "prow_job_run_operator_conditions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prow_job_run_id: Mapped[int] = mapped_column(run_fk(), index=True)
    artifact_id: Mapped[int | None] = mapped_column(artifact_fk())
    name: Mapped[str] = mapped_column(String(256))
    condition: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text, default="")
    last_transition_time: Mapped[str | None] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)


class NodeProblemRow(Base):
    __tablename__ = "prow_job_run_node_problems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prow_job_run_id: Mapped[int] = mapped_column(run_fk(), index=True)
    artifact_id: Mapped[int | None] = mapped_column(artifact_fk())
    name: Mapped[str] = mapped_column(String(256))
    condition: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text, default="")
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)


class MachineProblemRow(Base):
    __tablename__ = "prow_job_run_machine_problems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prow_job_run_id: Mapped[int] = mapped_column(run_fk(), index=True)
    artifact_id: Mapped[int | None] = mapped_column(artifact_fk())
    name: Mapped[str] = mapped_column(String(256))
    phase: Mapped[str] = mapped_column(String(64), default="")
    error_reason: Mapped[str] = mapped_column(Text, default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    node: Mapped[str] = mapped_column(String(256), default="")


class LogSnippetRow(Base):
    """A ranked excerpt of a run's logs: a build-log finding or a failed ci-operator step.

    Found at load time (the build log is scanned in full while it streams by), so the
    evidence never needs the artifacts again.
    """

    __tablename__ = "prow_job_run_log_snippets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prow_job_run_id: Mapped[int] = mapped_column(run_fk(), index=True)
    artifact_id: Mapped[int | None] = mapped_column(artifact_fk())
    origin: Mapped[str] = mapped_column(String(32))  # "build-log" | "step" | "junit"
    title: Mapped[str] = mapped_column(Text, default="")  # step name for "step"
    line: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32), default="error")
    score: Mapped[int] = mapped_column(Integer, default=0)
    count: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class AiResultRow(Base):
    """A model answer, cached by what it was computed from.

    The key is the subject (e.g. a run id), a digest of the evidence, the prompt version
    and the model: new evidence, a new prompt or another model miss the cache on their own.
    """

    __tablename__ = "ai_results"
    __table_args__ = (
        UniqueConstraint("purpose", "subject", "evidence_hash", "prompt_version", "model"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))  # "job_run", later "test_failure", ...
    subject: Mapped[str] = mapped_column(String(512))
    evidence_hash: Mapped[str] = mapped_column(String(64))
    prompt_version: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(256))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AiCallRow(Base):
    """Every model call: what was asked of which model, what it cost and how it ended."""

    __tablename__ = "ai_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(512), default="", index=True)
    model: Mapped[str] = mapped_column(String(256))
    prompt_version: Mapped[str] = mapped_column(String(64), default="")
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    outcome: Mapped[str] = mapped_column(String(32))
    upstream_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ReleaseTag(Base):
    """A release payload tag, as Sippy's `release_tags` (phase and `forced` per its rules).

    Written whole from one release-controller release JSON; `source` says which.
    """

    __tablename__ = "release_tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_tag: Mapped[str] = mapped_column(String(256), unique=True)
    release: Mapped[str] = mapped_column(String(64), index=True)
    stream: Mapped[str] = mapped_column(String(64))
    architecture: Mapped[str] = mapped_column(String(32))
    phase: Mapped[str] = mapped_column(String(32))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    release_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    previous_release_tag: Mapped[str | None] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(2048), default="")
    loaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReleaseJobRun(Base):
    """One verification run of a payload, as Sippy's `release_job_runs`.

    `prow_job_run_id` is the Prow build id and deliberately no foreign key: a payload names
    dozens of runs and only the ones a user loads exist in `prow_job_runs`.
    """

    __tablename__ = "release_job_runs"
    __table_args__ = (UniqueConstraint("release_tag_id", "prow_job_run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_tag_id: Mapped[int] = mapped_column(ForeignKey("release_tags.id", ondelete="CASCADE"))
    prow_job_run_id: Mapped[int] = mapped_column(BigInteger, index=True)
    job_name: Mapped[str] = mapped_column(String(256))  # the release controller's short key
    prow_job_name: Mapped[str] = mapped_column(String(512), default="")
    kind: Mapped[str] = mapped_column(String(16))  # Blocking | Informing
    state: Mapped[str] = mapped_column(String(32))
    retries: Mapped[int] = mapped_column(Integer, default=0)
    transition_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    url: Mapped[str] = mapped_column(String(2048), default="")
    upgrade: Mapped[bool] = mapped_column(Boolean, default=False)
    upgrades_from: Mapped[str | None] = mapped_column(String(256))
    upgrades_to: Mapped[str | None] = mapped_column(String(256))


class DataGeneration(Base):
    """One row: a counter bumped by every transaction that stores or removes a run.

    Servers keep values computed from the runs (summaries, evidence, test histories) while
    the generation they read is unchanged; see `sippy.db.generation`.
    """

    __tablename__ = "data_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class AiInflight(Base):
    """A model answer being computed right now, by whom, until when (a lease).

    One row per question (purpose, subject, evidence, prompt version, model, hashed into
    `key`): whoever inserts it asks the model; every other process waits for the answer to
    appear in `ai_results` instead of asking again. A holder that dies leaves the row until
    `expires_at` (its own deadline), after which another process takes it over.
    """

    __tablename__ = "ai_inflight"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FollowFolder(Base):
    """A job folder `sippy follow` watches, and where its last listing stopped.

    `cursor` is the largest build id seen, so a listing asks only for what came after it
    (GCS `startOffset`); `mtime_ns`, for a local folder, lets an unchanged folder be
    skipped without listing it at all.
    """

    __tablename__ = "follow_folders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location: Mapped[str] = mapped_column(String(2048), unique=True)
    job: Mapped[str] = mapped_column(String(512))
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    listed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FollowRun(Base):
    """A run `sippy follow` found, from discovery to its stored summary.

    state: `pending` (no finished.json yet: looked at again each poll), `queued` (its load
    is queued or running), `loaded`, `failed` (the last try failed; tried again until
    `attempts` reaches the limit), `gave_up`. Only pending, queued and failed rows are read
    by a poll, so its cost follows the runs in flight, not the history.
    """

    __tablename__ = "follow_runs"
    __table_args__ = (Index("ix_follow_runs_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location: Mapped[str] = mapped_column(String(2048), unique=True)
    folder_id: Mapped[int | None] = mapped_column(
        ForeignKey("follow_folders.id", ondelete="SET NULL")
    )
    build_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    why: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(String(1), default="")  # overall result once loaded
    discovered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    loaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    summarized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recheck_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
