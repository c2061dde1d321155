"""One typed settings object, built once at start-up: flags > environment > defaults.

Nothing here connects to anything or reads configuration at import time; the CLI builds
a `Settings` from its flags and hands it down.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["debug", "info", "warning", "error"]


class Settings(BaseSettings):
    """Everything the tool can be told; each field has an `SIPPY_<NAME>` variable."""

    model_config = SettingsConfigDict(
        env_prefix="SIPPY_", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    database_dsn: str = Field(
        default="sqlite:///sippy.db",
        description="SQLAlchemy-style DSN: sqlite:///path.db or postgresql://user@host/db.",
    )
    log_level: LogLevel = "info"
    mode: Literal["ocp", "none"] = "ocp"
    listen: str = ":8080"
    listen_metrics: str = ":2112"
    max_artifact_bytes: int = Field(
        default=64 * 1024 * 1024,
        description="Artifacts larger than this are refused (reported, never read).",
        gt=0,
    )
    load_workers: int = Field(default=8, ge=1, le=64, description="Parallel reads per load.")
    serve_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server worker processes; AI limits (concurrency, queue) apply to each.",
    )
    gcs_endpoint: str | None = Field(
        default=None,
        description="GCS JSON API endpoint, for emulators (also read from STORAGE_EMULATOR_HOST).",
    )
    gcs_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds one GCS operation (a listing, reading one file) may take, "
        "retries included; also the longest wait to connect or for the next bytes.",
    )
    default_bucket: str = "test-platform-results"

    # The model. No endpoint: the built-in summarizer answers, with no model.
    ai_endpoint: str | None = Field(
        default=None,
        description="OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1/ (Ollama).",
    )
    ai_model: str = "meta-llama/Llama-3.1-8B-Instruct"
    ai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "SIPPY_AI_API_KEY"),
        description="Bearer token for the endpoint; optional (read from OPENAI_API_KEY).",
    )
    ai_max_tokens: int = Field(default=300, ge=16, le=8192, description="Answer length cap.")
    ai_temperature: float = Field(default=0.1, ge=0.0, le=2.0)
    ai_timeout: float = Field(default=60.0, gt=0, description="Seconds for a whole model call.")
    ai_connect_timeout: float = Field(default=5.0, gt=0)
    ai_retries: int = Field(default=2, ge=0, le=10, description="Retries after the first try.")
    ai_concurrency: int = Field(default=4, ge=1, le=256, description="Model calls at once.")
    ai_queue_limit: int = Field(
        default=32, ge=0, description="AI requests that may wait for a model slot; more get 503."
    )
    derived_fresh_for: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Seconds a server answers kept summaries from memory before it checks "
        "whether runs changed (0: check on every request).",
    )
    evidence_token_budget: int = Field(
        default=3000,
        ge=500,
        le=200_000,
        description="Prompt tokens (system + evidence), estimated conservatively.",
    )

    # Background work: `sippy follow` and `sippy worker`.
    listen_status: str = Field(
        default="",
        description="Where `follow` and `worker` serve /livez, /readyz, /healthz and /metrics "
        "([host]:port; empty: nowhere).",
    )
    follow_interval: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds between two polls of `follow`."
    )
    follow_requeue_after: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a load `follow` queued may go unrecorded before it asks the queue "
        "whether the load was lost (a restart, an outage) and queues it again.",
    )
    task_concurrency: int = Field(
        default=4, ge=0, le=256, description="Tasks (loads, summaries) one process runs at once."
    )
    task_heartbeat: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Seconds between a worker's heartbeats; the jobs of a worker silent for "
        "three heartbeats are given to another.",
    )

    # Writes over HTTP (loading runs, recomputing model answers): off unless asked for, and
    # then only with a bearer token, which comes from the environment, never from a flag.
    enable_write_endpoints: bool = Field(
        default=False, description="Serve endpoints that write (POST /api/runs, refresh=true)."
    )
    write_token: SecretStr | None = Field(
        default=None, description="Bearer token the write endpoints require (SIPPY_WRITE_TOKEN)."
    )
    load_roots: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Folders POST /api/runs may load local paths from (os.pathsep-separated "
        "in SIPPY_LOAD_ROOTS); empty: local paths are refused over HTTP.",
    )

    @field_validator("load_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in value.split(os.pathsep) if part]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


def build_settings(**overrides: Any) -> Settings:
    """Settings from the environment with flag values (those not None) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def parse_listen(listen: str) -> tuple[str, int]:
    """Turn Sippy's `--listen` forms (`:8080`, `host:port`) into (host, port)."""
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"invalid listen address {listen!r}: expected [host]:port")
    return host or "0.0.0.0", int(port)
