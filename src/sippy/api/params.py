"""Checks every endpoint's parameters share."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import Query, Request

from sippy.api.errors import ApiError


async def refuse_nul(request: Request) -> None:
    """400 for a NUL character in a query parameter.

    PostgreSQL cannot hold NUL in text, so such a value would fail deep in a query (a 500);
    no job, test, release or tag name can contain one, so it is a client error. Async
    because it does no I/O: a plain function would cost every request a thread hop.
    """
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            shown = name.replace("\x00", "\\x00")[:64]
            raise ApiError(400, f"param '{shown}' must not contain NUL characters")


SINCE_PATTERN = r"^\d{4}-\d{2}-\d{2}"
SinceParam = Annotated[
    str | None,
    Query(
        description="Only runs started since this ISO 8601 date or date-time, e.g. 2026-05-01 "
        "or 2026-05-01T00:00:00Z",
        json_schema_extra={"pattern": SINCE_PATTERN},
    ),
]


def parse_since(value: str | None) -> datetime | None:
    """The `since` parameter: an ISO 8601 date or date-time, nothing looser (no epoch numbers)."""
    if value is None:
        return None
    try:
        if not re.match(SINCE_PATTERN, value):
            raise ValueError(value)
        return datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(
            400,
            f"param 'since' must be an ISO 8601 date or date-time such as 2026-05-01 or "
            f"2026-05-01T00:00:00Z, got {value[:64]!r}",
        ) from None
