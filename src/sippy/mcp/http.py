"""The MCP server's streamable HTTP endpoint, to mount inside the API app.

Stateless, with plain JSON answers: every tool call is one request and one response, so
nothing is kept per client and any replica can answer. The SDK's session manager can run
only once, so each `running()` (the host app's lifespan) builds a fresh endpoint; a
request outside it gets the API's JSON error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.types import ASGIApp, Receive, Scope, Send

from sippy.api.errors import error_response
from sippy.mcp.server import SippyMCPServer
from sippy.settings import parse_listen


class MCPHttpEndpoint:
    """An ASGI app answering MCP at its mount point; serve it inside `running()`."""

    def __init__(self, server: SippyMCPServer, listen: str) -> None:
        self.server = server
        # The SDK turns DNS-rebinding protection on for a loopback host (Host and Origin
        # must then be local) and leaves it off for a server listening on every interface.
        try:
            self.listen_host = parse_listen(listen)[0]
        except ValueError:
            self.listen_host = "0.0.0.0"
        self._app: ASGIApp | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        app = self.server.streamable_http_app(
            streamable_http_path="/",
            stateless_http=True,
            json_response=True,
            host=self.listen_host,
        )
        async with self.server.session_manager.run():
            self._app = app
            try:
                yield
            finally:
                self._app = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            response = error_response(503, "the MCP endpoint is not running")
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)
