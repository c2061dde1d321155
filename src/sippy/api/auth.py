"""Who may write: the HTTP API is read-only unless the server was started to allow writes.

Writes (loading runs, asking the model again instead of using the cache) need
`--enable-write-endpoints` and `Authorization: Bearer <SIPPY_WRITE_TOKEN>`. Disabled: 403.
Missing or wrong token: 401 with `WWW-Authenticate: Bearer`. The token is compared in
constant time and never logged or echoed.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Query, Request

from sippy.api.errors import ApiError
from sippy.settings import Settings

REALM = 'Bearer realm="sippy"'


def writes_enabled(settings: Settings) -> bool:
    """Enabled and configured: a server started without a token never accepts writes."""
    return settings.enable_write_endpoints and bool(
        settings.write_token and settings.write_token.get_secret_value()
    )


def require_write(request: Request) -> None:
    """A dependency for anything that writes; raises the 403/401 a caller should see."""
    settings: Settings = request.app.state.settings
    if not writes_enabled(settings):
        raise ApiError(
            403,
            "write endpoints are disabled on this server (start it with "
            "--enable-write-endpoints and SIPPY_WRITE_TOKEN set)",
        )
    assert settings.write_token is not None  # writes_enabled checked it
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise ApiError(
            401,
            "this endpoint writes: send Authorization: Bearer <token>",
            {"WWW-Authenticate": REALM},
        )
    expected = settings.write_token.get_secret_value().encode()
    if not hmac.compare_digest(given.strip().encode(), expected):
        raise ApiError(
            401,
            "invalid bearer token",
            {"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )


async def refresh_param(
    request: Request,
    refresh: Annotated[
        bool,
        Query(
            description="Ask the model again instead of answering from the cache; a write: "
            "needs --enable-write-endpoints and the bearer token"
        ),
    ] = False,
) -> bool:
    """The `refresh` parameter, allowed only to writers: it replaces a stored answer.
    Async: a sync dependency would cost every AI request a hop through the thread pool."""
    if refresh:
        require_write(request)
    return refresh


Refresh = Annotated[bool, Depends(refresh_param)]
WriteAccess = Depends(require_write)
