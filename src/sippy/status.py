"""The small HTTP server of `sippy follow` and `sippy worker`: health and metrics.

- `/livez`: 200 while the process's event loop answers (a liveness probe restarts it when not).
- `/readyz`: 200 when the database answers, else 503 (take it out of rotation, do not kill).
- `/healthz`: the same status code, and what the process knows: the follower's last poll,
  runs by follow state, the queue's depth.
- `/metrics`: Prometheus.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from sippy.db.engine import session_factory
from sippy.follow import state

Probe = Callable[[], dict[str, Any]]


def status_app(engine: Engine, details: Probe | None = None) -> FastAPI:
    """The status server's app; `details` adds the caller's own facts to /healthz."""
    app = FastAPI(title="sippy status", openapi_url=None, docs_url=None, redoc_url=None)
    sessions = session_factory(engine)

    def database() -> dict[str, Any]:
        with sessions() as session:
            session.execute(text("SELECT 1"))
            return {"follow": state.counts(session)}

    async def check() -> tuple[bool, dict[str, Any]]:
        try:
            found = await asyncio.to_thread(database)
        except SQLAlchemyError as exc:
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "unreachable"
            return False, {"database": f"unavailable: {reason}"}
        return True, {"database": "ok", **found}

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ok, found = await check()
        status = {"status": "ok" if ok else "unavailable", "database": found["database"]}
        return JSONResponse(status, status_code=200 if ok else 503)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        ok, found = await check()
        body = {"status": "ok" if ok else "unavailable", **found, **(details() if details else {})}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return app
