"""The FastAPI application: a thin layer over the library functions."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine

from sippy import __version__
from sippy.ai.service import SummaryService
from sippy.api.errors import install_error_handlers
from sippy.api.routes import router
from sippy.db.engine import session_factory
from sippy.metrics import HTTP
from sippy.settings import Settings


def create_app(settings: Settings, engine: Engine) -> FastAPI:
    """Build the app around an engine the caller owns (and has migrated)."""
    sessions = session_factory(engine)
    ai = SummaryService(settings, sessions)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await ai.aclose()

    app = FastAPI(
        title="Sippy AI",
        version=__version__,
        description="Why did this OpenShift CI job run fail? Job-run summaries from artifacts.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.ai = ai
    install_error_handlers(app)
    app.middleware("http")(_metrics_and_cors)
    app.include_router(router)
    return app


async def _metrics_and_cors(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    HTTP.inflight.inc()
    try:
        response = await call_next(request)
    finally:
        HTTP.inflight.dec()
    route = request.scope.get("route")
    handler = getattr(route, "path", "unmatched")
    HTTP.requests.labels(request.method, handler, str(response.status_code)).inc()
    HTTP.duration.labels(request.method, handler).observe(time.perf_counter() - started)
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response
