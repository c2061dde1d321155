"""One JSON error shape for every failure: `{"code": N, "message": "..."}`."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sippy.ai.client import ModelError
from sippy.analysis.payload import PayloadNotFound
from sippy.analysis.summary import RunNotFound
from sippy.analysis.test_failure import NotInRun
from sippy.analysis.test_history import UnknownTest

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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    for not_found in NOT_FOUND:
        app.add_exception_handler(not_found, _not_found)
    app.add_exception_handler(ModelError, _model_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.code, exc.message, exc.headers)


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, str(exc))


async def _model_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ModelError)
    error = model_api_error(exc)
    return error_response(error.code, error.message, error.headers)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return error_response(400, "; ".join(parts) or "invalid request")


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable: %s", exc)
    return error_response(503, "database unavailable; try again shortly")


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal error; the server log has details")
