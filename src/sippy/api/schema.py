"""What the OpenAPI schema says beyond the handlers' signatures: errors and content types.

Every error has one shape, so the schema documents it once per status. Documenting `4XX`
also keeps FastAPI from advertising its 422, which this API never sends (bad parameters
are 400).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

RUN_ID_PATTERN = "^[0-9]{1,19}$"


class ErrorBody(BaseModel):
    """The one error shape."""

    code: int = Field(description="The HTTP status code")
    message: str = Field(description="What went wrong and what to change")


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("A missing or invalid parameter"),
    404: _error("An unknown run, test, payload or path"),
    "4XX": _error("Any other client error (405 wrong method, 401/403 writes)"),
    500: _error("An unexpected error; no stack trace, the server log has details"),
    503: _error("The database (or the model) is unreachable, or too much AI work is waiting"),
}
MODEL_ERRORS: dict[int | str, dict[str, Any]] = {
    502: _error("The model answered with an error or an unusable reply"),
    504: _error("The model did not answer in time"),
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("A write without the right bearer token (WWW-Authenticate: Bearer)"),
    403: _error("Writes are disabled on this server"),
}


def text_or_json(description: str, *, stream: bool = False) -> dict[int | str, dict[str, Any]]:
    """A 200 that is text/plain by default, JSON with Accept: application/json (and SSE)."""
    content: dict[str, Any] = {
        "text/plain": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "object"}},
    }
    if stream:
        content["text/event-stream"] = {"schema": {"type": "string"}}
    return {200: {"description": description, "content": content}}
