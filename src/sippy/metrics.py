"""Prometheus metrics for the HTTP server, the loader and model calls, on the default registry.

Defined once per process; `sippy serve` exposes them on `--listen-metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from sippy.db.models import ProwJobRun


@dataclass(frozen=True)
class LoaderMetrics:
    runs: Counter
    artifact_errors: Counter
    source_errors: Counter
    write_seconds: Histogram


@dataclass(frozen=True)
class HttpMetrics:
    requests: Counter
    duration: Histogram
    inflight: Gauge


LOADER = LoaderMetrics(
    runs=Counter(
        "sippy_prow_job_runs_processed_total", "Job runs processed by the loader", ["outcome"]
    ),
    artifact_errors=Counter(
        "sippy_artifact_errors_total", "Artifacts that could not be used, or needed repair"
    ),
    source_errors=Counter("sippy_source_errors_total", "Sources that could not be listed"),
    write_seconds=Histogram("sippy_run_write_seconds", "Time to write one run to the database"),
)

HTTP = HttpMetrics(
    requests=Counter("http_requests_total", "HTTP requests", ["method", "handler", "code"]),
    duration=Histogram(
        "http_request_duration_seconds",
        "HTTP request duration",
        ["method", "handler"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    ),
    # livesum: with several worker processes, the sum over the live ones
    inflight=Gauge(
        "http_requests_inflight", "HTTP requests being served", multiprocess_mode="livesum"
    ),
)


@dataclass(frozen=True)
class AiMetrics:
    requests: Counter
    duration: Histogram
    tokens: Counter
    in_flight: Gauge


AI = AiMetrics(
    requests=Counter("sippy_ai_requests_total", "Model calls, by outcome", ["outcome"]),
    duration=Histogram(
        "sippy_ai_request_duration_seconds",
        "Model call duration, waiting for a slot and retries included",
        buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120),
    ),
    tokens=Counter("sippy_ai_tokens_total", "Tokens the model reported using", ["kind"]),
    in_flight=Gauge(
        "sippy_ai_in_flight", "Model calls holding a concurrency slot", multiprocess_mode="livesum"
    ),
)


@dataclass(frozen=True)
class FollowMetrics:
    lag: Histogram
    runs: Counter
    storage_ops: Counter
    polls: Counter
    poll_seconds: Histogram
    queue_depth: Gauge
    outage: Gauge


FOLLOW = FollowMetrics(
    lag=Histogram(
        "sippy_follow_lag_seconds",
        "From a run's finished.json appearing to the run loaded (stage=loaded) and, for a "
        "failed run, to its AI summary stored (stage=summarized)",
        ["stage"],
        buckets=(1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800, 3600),
    ),
    runs=Counter(
        "sippy_follow_runs_total",
        "Runs by what happened to them: discovered, queued, loaded, unchanged, failed, "
        "gave_up, summarized, summary_failed",
        ["event"],
    ),
    storage_ops=Counter(
        "sippy_follow_storage_operations_total",
        "Storage requests made by follow polls: list (a listing or one page of it), stat",
        ["op"],
    ),
    polls=Counter("sippy_follow_polls_total", "Follow polls, by outcome", ["outcome"]),
    poll_seconds=Histogram("sippy_follow_poll_seconds", "Duration of one follow poll"),
    queue_depth=Gauge(
        "sippy_follow_queue_depth",
        "Tasks waiting in the queue (loads and summaries not yet started)",
        multiprocess_mode="liveall",
    ),
    outage=Gauge(
        "sippy_follow_outage",
        "1 while the last follow poll failed (storage or database out of reach), else 0",
        multiprocess_mode="liveall",
    ),
)


class DatabaseCollector:
    """Gauges read from the database at scrape time: what has been loaded, and when.

    `sippy serve` registers one; the loader may run in another process, so these come
    from the stored rows rather than from in-process counters.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        runs = GaugeMetricFamily(
            "sippy_prow_job_runs", "Job runs stored, by overall result", labels=["overall_result"]
        )
        last = GaugeMetricFamily(
            "sippy_last_load_timestamp_seconds", "When a job run was last stored (Unix time)"
        )
        try:
            with self.engine.connect() as conn:
                for result, count in conn.execute(
                    select(ProwJobRun.overall_result, func.count()).group_by(
                        ProwJobRun.overall_result
                    )
                ):
                    runs.add_metric([result], count)
                loaded = conn.execute(select(func.max(ProwJobRun.loaded_at))).scalar()
        except SQLAlchemyError:
            return  # the database is down: /healthz says so; scrapes still succeed
        yield runs
        if loaded is not None:
            last.add_metric(
                [], (loaded if loaded.tzinfo else loaded.replace(tzinfo=UTC)).timestamp()
            )
            yield last
