"""The MCP server: the HTTP API's read-only questions as tools an assistant can call.

Each tool is a thin wrapper over the library function its HTTP route calls, and answers
the same JSON. It is built around one `SummaryService`, so the HTTP app and its MCP
endpoint share the model client's concurrency and queue limits and the answer cache.
Failures become tool errors (`isError`) carrying the API's `{"code", "message"}`.
There is no `refresh`: an MCP caller gets the cached answer and cannot replace it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import Field, ValidationError

from sippy import __version__
from sippy.ai.bug import FORMATS, draft_bug
from sippy.ai.service import SummaryService
from sippy.ai.test_failure import explain
from sippy.ai.themes import payload_themes, run_themes
from sippy.analysis.summary import job_run_summary
from sippy.analysis.test_history import history_of_test
from sippy.api.errors import ApiError, api_error_for, validation_message
from sippy.api.params import SINCE_PATTERN, parse_since
from sippy.api.routes import MAX_BUILD_ID

RunId = Annotated[
    int, Field(ge=0, le=MAX_BUILD_ID, description="Prow build id of a loaded job run")
]
ExactTestName = Annotated[
    str, Field(min_length=1, description="Exact test name, as in the run's testFailures")
]
BugFormat = Literal[FORMATS]  # type: ignore[valid-type]
JobName = Annotated[str | None, Field(description="Only this job (exact name)")]
Release = Annotated[str | None, Field(description="Only this release, e.g. 4.20")]
Since = Annotated[
    str | None,
    Field(
        description="Only runs started since this ISO 8601 date or date-time, e.g. 2026-05-01 "
        "or 2026-05-01T00:00:00Z",
        json_schema_extra={"pattern": SINCE_PATTERN},
    ),
]

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
INSTRUCTIONS = (
    "Answers questions about OpenShift CI (Prow) job runs loaded into this Sippy AI instance: "
    "why a run failed, what went wrong in one test and how to debug it, a bug draft, a test's "
    "record across runs, and the causes shared by a release payload's failed jobs. Runs are "
    "named by their Prow build id (prow_job_run_id). Errors carry {code, message} as JSON: "
    "404 for something not loaded, 400 for bad input, 502/503/504 when the model failed."
)


class SippyMCPServer(MCPServer[Any]):
    """An MCPServer whose tool failures carry the HTTP API's error shape."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        for key, value in arguments.items():  # as the API: PostgreSQL text cannot hold NUL
            if isinstance(value, str) and "\x00" in value:
                shown = key.replace("\x00", "\\x00")[:64]
                return error_result(
                    ApiError(400, f"param '{shown}' must not contain NUL characters")
                )
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError) and not isinstance(exc, UnexpectedToolError):
                # the arguments failed the tool's input schema: the caller's to fix
                return error_result(ApiError(400, validation_message(cause.errors())))
            if isinstance(cause, Exception):
                return error_result(api_error_for(cause))
            raise  # the SDK's own (an unknown tool): its message already says what to fix


def error_result(error: ApiError) -> CallToolResult:
    """A tool error whose text (and structured content) is the API's JSON error."""
    body = {"code": error.code, "message": error.message}
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(body))],
        structured_content=body,
        is_error=True,
    )


def build_mcp_server(service: SummaryService) -> SippyMCPServer:
    """The MCP server over `service` (its settings, database sessions, model and cache)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server = SippyMCPServer(
        name="sippy-ai",
        title="Sippy AI",
        version=__version__,
        instructions=INSTRUCTIONS,
    )
    # The SDK's constructor configures root logging when nothing has; the host owns logging.
    root.handlers[:] = handlers
    root.setLevel(level)
    sessions = service.sessions

    def tool(name: str, title: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a read-only tool described by its docstring (on one line)."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            description = " ".join((fn.__doc__ or "").split())
            server.add_tool(
                fn, name=name, title=title, description=description, annotations=READ_ONLY
            )
            return fn

        return register

    @tool("job_run_summary", "Job run summary")
    def get_job_run_summary(prow_job_run_id: RunId) -> dict[str, Any]:
        """The facts of one job run, as /api/job/run/summary returns them: result letter and
        reason, failed and flaked tests with their decisive lines and history, failed steps,
        ranked build-log lines, degraded operators, nodes, machines, pull requests, links."""
        key = ("mcp_job_run_summary", prow_job_run_id)  # kept like the API's, same lifetime
        with sessions() as session:
            return service.derived.get(
                session, key, lambda: job_run_summary(session, prow_job_run_id)
            )

    @tool("job_run_ai_summary", "Why did it fail?")
    async def get_job_run_ai_summary(prow_job_run_id: RunId) -> dict[str, Any]:
        """Why did this job run fail? 1-3 sentences from the model (or the built-in
        summarizer when none is configured), its category, and the evidence it was given.
        Answers are cached: a repeat is served without asking the model again."""
        return (await service.job_run(prow_job_run_id)).as_dict()

    @tool("debug_test_failure", "Debug a test failure")
    async def debug_test_failure(
        prow_job_run_id: RunId, test_name: ExactTestName
    ) -> dict[str, Any]:
        """What went wrong in one failed (or flaked) test of a run, ordered debugging steps,
        whether it looks like a flake, a regression or infrastructure (from its history),
        and links to the artifacts worth opening."""
        return await explain(service, prow_job_run_id, test_name)

    @tool("draft_bug", "Draft a bug")
    async def draft_a_bug(
        prow_job_run_id: RunId,
        test_name: ExactTestName,
        format: Annotated[  # noqa: A002 - the API's parameter name
            BugFormat, Field(description="jira (wiki markup) or markdown")
        ] = "jira",
    ) -> dict[str, Any]:
        """A bug title and description for one failed test, from the loaded data only:
        summary, failure excerpt, job, release, variants, links, how often and since when
        it fails, other jobs where it fails, component."""
        return await draft_bug(service, prow_job_run_id, test_name, fmt=format)

    @tool("test_history", "Test history")
    def get_test_history(
        test_name: ExactTestName, job: JobName = None, release: Release = None, since: Since = None
    ) -> dict[str, Any]:
        """A test's runs, failures, flakes and failure rate across the loaded runs, by job,
        release and variant, with the runs where it failed (newest first)."""
        after = parse_since(since)
        key = ("mcp_test_history", test_name, job, release, after)
        with sessions() as session:
            return service.derived.get(
                session,
                key,
                lambda: history_of_test(session, test_name, job=job, release=release, since=after),
            )

    @tool("payload_themes", "Release payload themes")
    async def get_payload_themes(
        release_tag: Annotated[
            str, Field(min_length=1, description="e.g. 4.20.0-0.nightly-2026-05-14-120000")
        ],
    ) -> dict[str, Any]:
        """A release payload's phase and jobs, and its failed jobs grouped by shared cause
        (themes, largest first); failed runs in no theme are listed as unexplained."""
        return await payload_themes(service, release_tag)

    @tool("failure_themes", "Failure themes")
    async def get_failure_themes(
        release: Release = None,
        since: Since = None,
        job: Annotated[str | None, Field(description="Only jobs whose name contains this")] = None,
    ) -> dict[str, Any]:
        """Causes shared by the loaded failed runs matching the filters, grouped into
        themes (largest first), as for a payload."""
        return await run_themes(service, release=release, since=parse_since(since), job=job)

    return server


async def serve_stdio(service: SummaryService) -> None:
    """Answer MCP on stdin/stdout until the client closes them (stdout is the protocol)."""
    try:
        await build_mcp_server(service).run_stdio_async()
    finally:
        await service.aclose()
