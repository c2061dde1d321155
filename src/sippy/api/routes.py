"""HTTP endpoints. Each one calls a library function and shapes nothing itself."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from sippy.ai.bug import FORMATS, draft_bug
from sippy.ai.service import SummaryService
from sippy.ai.test_failure import explain
from sippy.ai.themes import payload_themes, run_themes
from sippy.analysis.runs import MAX_PER_PAGE, PER_PAGE, find_run, recent_runs
from sippy.analysis.summary import job_run_summary
from sippy.analysis.test_history import history_of_test
from sippy.api.auth import Refresh, writes_enabled
from sippy.api.errors import ApiError, error_response
from sippy.api.params import SinceParam, parse_since, refuse_nul
from sippy.api.schema import ERRORS, MODEL_ERRORS, RUN_ID_PATTERN, text_or_json
from sippy.api.streaming import sse_events
from sippy.db.generation import MISSING

router = APIRouter(dependencies=[Depends(refuse_nul)], responses=ERRORS)

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
        "path": "/api/runs",
        "description": "Loaded runs, newest first, one page at a time, filtered by release, job "
        "(name contains) and result letter: what the home page lists",
        "required_capabilities": ["local_db"],
    },
    {
        "path": "/api/runs/resolve",
        "description": "The loaded run a build id, Prow URL, gcsweb URL or gs:// path names; "
        "404 when it is not loaded",
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
        "path": "/api/runs",
        "description": "Loads the runs under a Prow job URL, gs:// path or a folder under a load "
        'root (POST {"source": ...}; a write: needs the bearer token)',
        "required_capabilities": ["write"],
        "methods": ["POST"],
    },
    {
        "path": "/healthz",
        "description": "Liveness and database reachability",
        "required_capabilities": [],
    },
]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for a (sync) endpoint, with one thread hop where a sync generator takes two.

    Made on the loop: a new session does no I/O until first used. Closed (its connection
    back to the pool) in a thread outside the shared pool's limit, as FastAPI does for sync
    generators: endpoints waiting for a pooled connection may hold every pool thread, and
    the close that frees one must not wait behind them; shielded, so a client that hangs up
    cannot leak the connection.
    """
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(session.close, limiter=anyio.CapacityLimiter(1))


SessionDep = Annotated[Session, Depends(get_session)]
# Required in the schema; the handlers check them to give Sippy's distinct messages.
RunIdParam = Annotated[
    str, Query(description="Prow build id", json_schema_extra={"pattern": RUN_ID_PATTERN})
]
TestNameParam = Annotated[
    str, Query(description="Exact test name", json_schema_extra={"minLength": 1})
]


def json_bytes(value: Any) -> bytes:
    """A JSON body as JSONResponse renders it, made once so that it can be kept."""
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


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


@router.get("/api/job/run/summary", response_model=dict[str, Any])
async def get_job_run_summary(request: Request, prow_job_run_id: RunIdParam) -> Response:
    run_id = parse_run_id(prow_job_run_id)
    body = await _kept_or_computed(
        request, ("job_run_summary", run_id), lambda s: json_bytes(job_run_summary(s, run_id))
    )
    return Response(body, media_type="application/json")


async def _kept_or_computed(
    request: Request, key: tuple[Any, ...], compute: Callable[[Session], bytes]
) -> bytes:
    """A kept JSON body straight from memory on the event loop (no thread hop, which under
    many concurrent requests costs more than the answer); else computed in a worker thread
    with a session of its own, and kept."""
    derived = request.app.state.derived
    kept = derived.peek(key)
    if kept is not MISSING:
        return kept  # type: ignore[no-any-return]

    def in_thread() -> bytes:
        with request.app.state.sessions() as session:
            return derived.get(session, key, lambda: compute(session))  # type: ignore[no-any-return]

    return await run_in_threadpool(in_thread)


@router.get("/api/runs")
def get_runs(
    session: SessionDep,
    release: Annotated[str | None, Query(description="Only this release, e.g. 4.20")] = None,
    job: Annotated[str | None, Query(description="Only jobs whose name contains this")] = None,
    result: Annotated[str | None, Query(description="Only this result letter, e.g. F")] = None,
    page: Annotated[int, Query(ge=1, description="Page number, from 1")] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="Runs per page")] = PER_PAGE,
) -> dict[str, Any]:
    return recent_runs(
        session, release=release, job=job, result=result, page=page, per_page=per_page
    )


@router.get("/api/runs/resolve")
def resolve_run(
    session: SessionDep,
    source: Annotated[str, Query(min_length=1, description="Build id, Prow URL or gs:// path")],
) -> dict[str, Any]:
    if not source.strip():
        raise ApiError(400, "param 'source' is required")
    run_id = find_run(session, source)
    if run_id is None:
        raise ApiError(404, f"no loaded run matches {source.strip()[:200]!r}")
    return {"id": run_id, "url": f"/runs/{run_id}"}


@router.get(
    "/api/ai/job_run",
    response_model=None,
    responses={**MODEL_ERRORS, **text_or_json("Why the run failed", stream=True)},
)
async def get_ai_job_run(
    request: Request,
    prow_job_run_id: RunIdParam,
    stream: Annotated[bool, Query(description="Answer as server-sent events")] = False,
    refresh: Refresh = False,
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
        return Response(answer.json_body(), media_type="application/json")
    return PlainTextResponse(answer.summary + "\n")


def _test_name(value: str | None) -> str:
    if not value:
        raise ApiError(400, "param 'test_name' is required")
    return value


@router.get("/api/tests/history", response_model=dict[str, Any])
async def get_test_history(
    request: Request,
    test_name: TestNameParam,
    job: Annotated[str | None, Query(description="Only this job")] = None,
    release: Annotated[str | None, Query(description="Only this release, e.g. 4.20")] = None,
    since: SinceParam = None,
) -> Response:
    name, after = _test_name(test_name), parse_since(since)
    body = await _kept_or_computed(
        request,
        ("tests_history", name, job, release, after),
        lambda s: json_bytes(history_of_test(s, name, job=job, release=release, since=after)),
    )
    return Response(body, media_type="application/json")


@router.get(
    "/api/ai/test_failure",
    response_model=None,
    responses={**MODEL_ERRORS, **text_or_json("What went wrong, and debugging steps")},
)
async def get_ai_test_failure(
    request: Request,
    prow_job_run_id: RunIdParam,
    test_name: TestNameParam,
    refresh: Refresh = False,
) -> Response:
    run_id, name = parse_run_id(prow_job_run_id), _test_name(test_name)
    answer = await explain(request.app.state.ai, run_id, name, refresh=refresh)
    if _wants_json(request):
        return JSONResponse(answer)
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(answer["steps"], 1))
    return PlainTextResponse(f"{answer['summary']}\n\n{steps}\n")


@router.get(
    "/api/ai/bug",
    response_model=None,
    responses={**MODEL_ERRORS, **text_or_json("A bug title and description")},
)
async def get_ai_bug(
    request: Request,
    prow_job_run_id: RunIdParam,
    test_name: TestNameParam,
    format: Annotated[  # noqa: A002
        str, Query(description="jira or markdown", json_schema_extra={"enum": list(FORMATS)})
    ] = "jira",
    refresh: Refresh = False,
) -> Response:
    run_id, name = parse_run_id(prow_job_run_id), _test_name(test_name)
    if format not in FORMATS:
        raise ApiError(400, f"param 'format' must be one of {', '.join(FORMATS)}")
    bug = await draft_bug(request.app.state.ai, run_id, name, fmt=format, refresh=refresh)
    if _wants_json(request):
        return JSONResponse(bug)
    return PlainTextResponse(f"{bug['title']}\n\n{bug['description']}\n")


@router.get("/api/ai/payload", responses=MODEL_ERRORS)
async def get_ai_payload(
    request: Request,
    release_tag: Annotated[
        str, Query(description="e.g. 4.20.0-0.nightly-…", json_schema_extra={"minLength": 1})
    ],
    refresh: Refresh = False,
) -> dict[str, Any]:
    if not release_tag:
        raise ApiError(400, "param 'release_tag' is required")
    return await payload_themes(request.app.state.ai, release_tag, refresh=refresh)


@router.get("/api/ai/themes", responses=MODEL_ERRORS)
async def get_ai_themes(
    request: Request,
    release: Annotated[str | None, Query(description="e.g. 4.20")] = None,
    since: SinceParam = None,
    job: Annotated[str | None, Query(description="Only jobs whose name contains this")] = None,
    refresh: Refresh = False,
) -> dict[str, Any]:
    return await run_themes(
        request.app.state.ai, release=release, since=parse_since(since), job=job, refresh=refresh
    )


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/plain" not in accept.split(",")[0]


@router.get("/api")
async def list_endpoints(request: Request) -> list[dict[str, Any]]:
    capabilities = set(await server_capabilities(request))
    return [
        {**e, "methods": e.get("methods", ["GET"])}
        for e in ENDPOINTS
        if set(e["required_capabilities"]) <= capabilities
    ]


@router.get("/api/capabilities")
async def server_capabilities(request: Request) -> list[str]:
    capabilities = ["local_db"]
    if request.app.state.settings.mode == "ocp":
        capabilities.insert(0, "openshift_releases")
    if request.app.state.settings.ai_endpoint:
        capabilities.append("ai")
    if writes_enabled(request.app.state.settings):
        capabilities.append("write")
    return capabilities


@router.get("/livez")
async def livez() -> dict[str, str]:
    """Liveness: the process answers (a probe that fails restarts it)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
@router.get("/healthz", response_model=None)
def healthz(session: SessionDep) -> dict[str, str] | JSONResponse:
    """Readiness: the database answers (else 503: take it out of rotation, do not kill)."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return error_response(503, "database unreachable")
    return {"status": "ok", "database": "ok"}
