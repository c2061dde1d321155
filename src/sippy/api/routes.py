"""HTTP endpoints. Each one calls a library function and shapes nothing itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sippy.ai.client import ModelError
from sippy.ai.service import SummaryService
from sippy.analysis.summary import RunNotFound, job_run_summary
from sippy.api.errors import ApiError, error_response, model_api_error
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
    try:
        return job_run_summary(session, run_id)
    except RunNotFound as exc:
        raise ApiError(404, str(exc)) from exc


@router.get("/api/ai/job_run", response_model=None)
async def get_ai_job_run(
    request: Request,
    prow_job_run_id: Annotated[str | None, Query(description="Prow build id")] = None,
    stream: Annotated[bool, Query(description="Answer as server-sent events")] = False,
    refresh: Annotated[bool, Query(description="Ask the model again, not the cache")] = False,
) -> Response:
    run_id = parse_run_id(prow_job_run_id)
    service: SummaryService = request.app.state.ai
    try:
        if stream:
            answer, chunks = await service.job_run_stream(run_id, refresh=refresh)
            first = await anext(chunks, "")  # fail with a status before any byte is sent
            return StreamingResponse(
                sse_events(answer, first, chunks),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        answer = await service.job_run(run_id, refresh=refresh)
    except RunNotFound as exc:
        raise ApiError(404, str(exc)) from exc
    except ModelError as exc:
        raise model_api_error(exc) from exc
    if _wants_json(request):
        return JSONResponse(answer.as_dict())
    return PlainTextResponse(answer.summary + "\n")


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
