"""The FastAPI application: a thin layer over the library functions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from sippy import __version__
from sippy.ai.service import SummaryService
from sippy.api.errors import install_error_handlers
from sippy.api.middleware import MetricsAndCors
from sippy.api.routes import router
from sippy.api.write import write_router
from sippy.db.engine import session_factory, widen_default_executor
from sippy.db.generation import DerivedCache
from sippy.mcp.http import MCPHttpEndpoint
from sippy.mcp.server import build_mcp_server
from sippy.settings import Settings
from sippy.web.pages import install_pages


def create_app(settings: Settings, engine: Engine) -> FastAPI:
    """Build the app around an engine the caller owns (and has migrated)."""
    sessions = session_factory(engine)
    # summaries, evidence, histories: kept until runs change
    derived = DerivedCache(fresh_for=settings.derived_fresh_for)
    ai = SummaryService(settings, sessions, derived)
    mcp = MCPHttpEndpoint(build_mcp_server(ai), settings.listen)  # shares the AI limits, cache

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        widen_default_executor()
        try:
            async with mcp.running():
                yield
        finally:
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
    app.state.derived = derived
    install_error_handlers(app)
    app.add_middleware(MetricsAndCors)
    app.mount("/mcp/v1", mcp)
    app.include_router(router)
    app.include_router(write_router)
    install_pages(app)  # the web pages and their static files
    return app
