"""`POST /api/runs`: load a run source over HTTP (a write: see `sippy.api.auth`).

An HTTP caller must never make the server read arbitrary files or fetch arbitrary URLs, so
only these sources are accepted: Prow job URLs and gcsweb/storage URLs (mapped to `gs://`),
`gs://bucket/path` (a path below the bucket, no `..`), and absolute local paths that resolve
inside one of the configured `load_roots` (none by default: local paths are refused).
Release-controller URLs are refused too, since loading one fetches a URL the caller chose.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sippy.api.auth import WriteAccess
from sippy.api.errors import ApiError, validation_message
from sippy.api.schema import ERRORS, WRITE_ERRORS
from sippy.ingest.load import LoadReport, load_sources
from sippy.ingest.prowjob import prow_url_to_gcs
from sippy.ingest.sources import GCS_NO_ANSWER
from sippy.settings import Settings

write_router = APIRouter()

MAX_BODY_BYTES = 64 * 1024
# One load at a time per process: loads write in bulk, and SQLite has a single writer.
_LOADING = threading.Lock()


class LoadRequest(BaseModel):
    """What to load."""

    model_config = ConfigDict(extra="forbid")
    source: str = Field(
        min_length=1,
        max_length=4096,
        description="A Prow job URL, gs://bucket/path, or an absolute folder under a load root",
    )
    latest: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Only the N newest runs of each job folder under the source (by build id)",
    )


@write_router.post(
    "/api/runs",
    dependencies=[WriteAccess],
    responses={
        **ERRORS,
        **WRITE_ERRORS,
        502: {"description": "The source could not be listed"},
        504: {"description": "GCS did not answer within SIPPY_GCS_TIMEOUT"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": LoadRequest.model_json_schema()}},
        }
    },
)
async def post_runs(request: Request) -> dict[str, Any]:
    """Load the runs under one source; the answer says what was loaded and what was wrong."""
    body = await _read_body(request)
    try:
        wanted = LoadRequest.model_validate_json(body)
    except ValidationError as exc:
        raise ApiError(400, validation_message(exc.errors())) from None
    settings: Settings = request.app.state.settings
    source = allowed_source(wanted.source, settings)
    report = await run_in_threadpool(
        _load, source, settings, request.app.state.engine, wanted.latest
    )
    if not report.outcomes and not report.payloads and report.source_errors:
        why = report.source_errors[0]
        raise ApiError(_status_for(why), why)
    return report_json(report)


def _status_for(source_error: str) -> int:
    """504 when GCS did not answer in time, 502 when it failed, 404 when nothing is there."""
    if GCS_NO_ANSWER in source_error:
        return 504
    return 502 if "cannot list" in source_error else 404


def allowed_source(source: str, settings: Settings) -> str:
    """The source to load for what the caller sent, or the ApiError saying why not."""
    source = source.strip()
    if not source or "\x00" in source:
        raise ApiError(400, "'source' must be a Prow job URL, a gs:// path or a folder")
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "'source' is not valid Unicode text") from None
    if source.startswith(("http://", "https://", "gs://")):
        mapped = prow_url_to_gcs(source)
        if mapped is None:
            raise ApiError(
                400,
                "'source' must be a Prow job URL (https://prow.ci.openshift.org/view/gs/<bucket>/"
                "<path>), a gcsweb URL or gs://<bucket>/<path> below the bucket; other URLs "
                "are not fetched over HTTP",
            )
        return f"gs://{mapped[0]}/{mapped[1]}"
    return _local_source(source, settings.load_roots)


def _local_source(source: str, roots: list[str]) -> str:
    if not roots:
        raise ApiError(
            403,
            "local paths cannot be loaded over HTTP on this server (it has no SIPPY_LOAD_ROOTS)",
        )
    if not os.path.isabs(source):
        raise ApiError(400, "'source' must be an absolute path under a load root")
    real = os.path.realpath(source)  # symlinks and `..` resolved before the check
    for root in roots:
        real_root = os.path.realpath(root)
        if real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep):
            return real
    raise ApiError(403, "'source' is outside the folders this server may load (SIPPY_LOAD_ROOTS)")


def _load(source: str, settings: Settings, engine: Any, latest: int | None) -> LoadReport:
    with _LOADING:
        return load_sources([source], settings, engine, latest=latest)


async def _read_body(request: Request) -> bytes:
    """The request body, refused with 413 past a small cap (a source is one line)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, f"request body over {MAX_BODY_BYTES:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def report_json(report: LoadReport) -> dict[str, Any]:
    """A LoadReport as the JSON the caller gets."""
    runs = [
        {
            "location": o.location,
            "status": o.status,
            "id": o.run_id,
            "job": o.job,
            "result": o.result,
            "why": o.why,
            "problems": [{"path": path, "error": error} for path, error in o.problems],
        }
        for o in report.outcomes
    ]
    return {
        "ok": report.ok,
        "loaded": report.count("loaded"),
        "unchanged": report.count("unchanged"),
        "failed": report.count("failed"),
        "runIds": [o.run_id for o in report.outcomes if o.run_id and o.status != "failed"],
        "runs": runs,
        "problems": [
            {"location": o.location, "path": path, "error": error}
            for o in report.outcomes
            for path, error in o.problems
        ],
        "sourceErrors": list(report.source_errors),
        "payloads": [
            {"location": p.location, "status": p.status, "releaseTag": p.release_tag, "why": p.why}
            for p in report.payloads
        ],
    }
