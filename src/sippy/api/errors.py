"""One JSON error shape for every failure: `{"code": N, "message": "..."}`."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sippy.ai.client import ModelError
from sippy.analysis.payload import PayloadNotFound
from sippy.analysis.summary import RunNotFound
from sippy.analysis.test_failure import NotInRun
from sippy.analysis.test_history import UnknownTest
from sippy.db.engine import is_unavailable

# What the library raises for something the caller named that is not loaded: a 404.
NOT_FOUND: tuple[type[Exception], ...] = (RunNotFound, NotInRun, UnknownTest, PayloadNotFound)

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error meant for the caller: status code and a message that says what to fix."""

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers


def error_response(code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=code, headers=headers)


def model_api_error(exc: ModelError) -> ApiError:
    """A model failure as our error: 502/503/504, with Retry-After when shedding load."""
    headers = None
    if exc.retry_after is not None:
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    return ApiError(exc.status, exc.message, headers)


def api_error_for(exc: Exception) -> ApiError:
    """Any exception as the error a caller sees (HTTP API and MCP tools alike)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, NOT_FOUND):
        return ApiError(404, str(exc))
    if isinstance(exc, ModelError):
        return model_api_error(exc)
    if isinstance(exc, StarletteHTTPException):
        return ApiError(exc.status_code, str(exc.detail), exc.headers)
    if is_unavailable(exc):  # lost, refused, timed out, or no free connection
        log.error("database unavailable: %s", exc)
        return ApiError(503, "database unavailable; try again shortly")
    log.exception("unhandled error", exc_info=exc)
    return ApiError(500, "internal error; the server log has details")


def validation_message(errors: Sequence[Any]) -> str:
    """Pydantic validation errors as one line naming each bad parameter."""
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body"))
        if where and err.get("type") == "missing":  # Sippy's wording for a missing parameter
            parts.append(f"param '{where}' is required")
            continue
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    for kind in (ApiError, *NOT_FOUND, ModelError, StarletteHTTPException, SQLAlchemyError):
        app.add_exception_handler(kind, _error)
    app.add_exception_handler(Exception, _error)


async def _error(_request: Request, exc: Exception) -> JSONResponse:
    error = api_error_for(exc)
    return error_response(error.code, error.message, error.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, validation_message(exc.errors()))
