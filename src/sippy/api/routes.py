"""HTTP endpoints. Each one calls a library function and shapes nothing itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sippy.ai.bug import FORMATS, draft_bug
from sippy.ai.service import SummaryService
from sippy.ai.test_failure import explain
from sippy.ai.themes import payload_themes, run_themes
from sippy.analysis.summary import job_run_summary
from sippy.analysis.test_history import history_of_test
from sippy.api.errors import ApiError, error_response
from sippy.api.streaming import sse_events

router = APIRouter()

MAX_BUILD_ID = 2**63 - 1

ENDPOINTS: list[dict[str, Any]] = [
    {
        "path": "/api",
        "description": "Lists the endpoints this server can serve",
        "required_capabilities": [],
    },
    {
        "path": "/api/capabilities",
        "description": "Lists this server's capabilities",
        "required_capabilities": [],
    },
    {
        "path": "/api/job/run/summary",
        "description": "Returns raw job run summary data including test failures, flakes, "
        "cluster operators, nodes and machines",
        "required_capabilities": ["local_db"],
    },
    {
        "path": "/api/ai/job_run",
        "description": "Why did this job run fail? 1-3 sentences from the model (or the built-in "
        "summarizer); JSON with Accept: application/json, server-sent events with stream=true",
        "required_capabilities": ["local_db"],
    },
    {
        "path": "/api/tests/history",
        "description": "A test's runs, failures, flakes and rates across the loaded runs, by job, "
        "release and variant, with the runs where it failed",
        "required_capabilities": ["local_db"],
    },
    {
        "path": "/api/ai/test_failure",
        "description": "What went wrong in one failed test of a run, and ordered debugging steps "
        "with links to the run's artifacts",
        "required_capabilities": ["local_db"],
    },
    {
        "path": "/api/ai/bug",
        "description": "A bug title and description for one failed test, as Jira wiki markup "
        "(format=jira) or Markdown (format=markdown)",
        "required_capabilities": ["local_db"],
    },
    {
        "path": "/api/ai/payload",
        "description": "A release payload's phase, jobs, and its failed jobs grouped by shared "
        "cause (themes), largest first",
        "required_capabilities": ["local_db"],
    },
    {
        "path": "/api/ai/themes",
        "description": "Common themes across the loaded failed runs, filtered by release, job "
        "and start time",
        "required_capabilities": ["local_db"],
    },
    {
        "path": "/healthz",
        "description": "Liveness and database reachability",
        "required_capabilities": [],
    },
]


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def parse_run_id(value: str | None) -> int:
    """Sippy's id rule (digits only), with distinct messages for missing and invalid ids."""
    if value is None or value == "":
        raise ApiError(400, "param 'prow_job_run_id' is required")
    if not value.isascii() or not value.isdigit():
        raise ApiError(400, f"param 'prow_job_run_id' must be a number, got {value[:64]!r}")
    run_id = int(value)
    if run_id > MAX_BUILD_ID:
        raise ApiError(400, "param 'prow_job_run_id' is out of range")
    return run_id


@router.get("/api/job/run/summary")
def get_job_run_summary(
    session: SessionDep,
    prow_job_run_id: Annotated[str | None, Query(description="Prow build id")] = None,
) -> dict[str, Any]:
    run_id = parse_run_id(prow_job_run_id)
    return job_run_summary(session, run_id)


@router.get("/api/ai/job_run", response_model=None)
async def get_ai_job_run(
    request: Request,
    prow_job_run_id: Annotated[str | None, Query(description="Prow build id")] = None,
    stream: Annotated[bool, Query(description="Answer as server-sent events")] = False,
    refresh: Annotated[bool, Query(description="Ask the model again, not the cache")] = False,
) -> Response:
    run_id = parse_run_id(prow_job_run_id)
    service: SummaryService = request.app.state.ai
    if stream:
        answer, chunks = await service.job_run_stream(run_id, refresh=refresh)
        first = await anext(chunks, "")  # fail with a status before any byte is sent
        return StreamingResponse(
            sse_events(answer, first, chunks),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = await service.job_run(run_id, refresh=refresh)
    if _wants_json(request):
        return JSONResponse(answer.as_dict())
    return PlainTextResponse(answer.summary + "\n")


def _test_name(value: str | None) -> str:
    if not value:
        raise ApiError(400, "param 'test_name' is required")
    return value


@router.get("/api/tests/history")
def get_test_history(
    session: SessionDep,
    test_name: Annotated[str | None, Query(description="Exact test name")] = None,
    job: Annotated[str | None, Query(description="Only this job")] = None,
    release: Annotated[str | None, Query(description="Only this release, e.g. 4.20")] = None,
    since: Annotated[datetime | None, Query(description="Only runs started since")] = None,
) -> dict[str, Any]:
    return history_of_test(session, _test_name(test_name), job=job, release=release, since=since)


@router.get("/api/ai/test_failure", response_model=None)
async def get_ai_test_failure(
    request: Request,
    prow_job_run_id: Annotated[str | None, Query(description="Prow build id")] = None,
    test_name: Annotated[str | None, Query(description="Exact test name")] = None,
    refresh: Annotated[bool, Query(description="Ask the model again, not the cache")] = False,
) -> Response:
    run_id, name = parse_run_id(prow_job_run_id), _test_name(test_name)
    answer = await explain(request.app.state.ai, run_id, name, refresh=refresh)
    if _wants_json(request):
        return JSONResponse(answer)
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(answer["steps"], 1))
    return PlainTextResponse(f"{answer['summary']}\n\n{steps}\n")


@router.get("/api/ai/bug", response_model=None)
async def get_ai_bug(
    request: Request,
    prow_job_run_id: Annotated[str | None, Query(description="Prow build id")] = None,
    test_name: Annotated[str | None, Query(description="Exact test name")] = None,
    format: Annotated[str, Query(description="jira or markdown")] = "jira",  # noqa: A002
    refresh: Annotated[bool, Query(description="Ask the model again, not the cache")] = False,
) -> Response:
    run_id, name = parse_run_id(prow_job_run_id), _test_name(test_name)
    if format not in FORMATS:
        raise ApiError(400, f"param 'format' must be one of {', '.join(FORMATS)}")
    bug = await draft_bug(request.app.state.ai, run_id, name, fmt=format, refresh=refresh)
    if _wants_json(request):
        return JSONResponse(bug)
    return PlainTextResponse(f"{bug['title']}\n\n{bug['description']}\n")


@router.get("/api/ai/payload")
async def get_ai_payload(
    request: Request,
    release_tag: Annotated[str | None, Query(description="e.g. 4.20.0-0.nightly-…")] = None,
    refresh: Annotated[bool, Query(description="Ask the model again, not the cache")] = False,
) -> dict[str, Any]:
    if not release_tag:
        raise ApiError(400, "param 'release_tag' is required")
    return await payload_themes(request.app.state.ai, release_tag, refresh=refresh)


@router.get("/api/ai/themes")
async def get_ai_themes(
    request: Request,
    release: Annotated[str | None, Query(description="e.g. 4.20")] = None,
    since: Annotated[datetime | None, Query(description="Only runs started since")] = None,
    job: Annotated[str | None, Query(description="Only jobs whose name contains this")] = None,
    refresh: Annotated[bool, Query(description="Ask the model again, not the cache")] = False,
) -> dict[str, Any]:
    return await run_themes(
        request.app.state.ai, release=release, since=since, job=job, refresh=refresh
    )


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/plain" not in accept.split(",")[0]


@router.get("/api")
def list_endpoints(request: Request) -> list[dict[str, Any]]:
    capabilities = set(server_capabilities(request))
    return [
        {**e, "methods": ["GET"]}
        for e in ENDPOINTS
        if set(e["required_capabilities"]) <= capabilities
    ]


@router.get("/api/capabilities")
def server_capabilities(request: Request) -> list[str]:
    capabilities = ["local_db"]
    if request.app.state.settings.mode == "ocp":
        capabilities.insert(0, "openshift_releases")
    if request.app.state.settings.ai_endpoint:
        capabilities.append("ai")
    return capabilities


@router.get("/healthz", response_model=None)
def healthz(session: SessionDep) -> dict[str, str] | JSONResponse:
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return error_response(503, "database unreachable")
    return {"status": "ok", "database": "ok"}
