"""Prometheus metrics for the HTTP server and the loader, on the default registry.

Defined once per process; `sippy serve` exposes them on `--listen-metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram


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
    inflight=Gauge("http_requests_inflight", "HTTP requests being served"),
)
