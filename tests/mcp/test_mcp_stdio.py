"""`sippy mcp`: the same tools over stdio, spawned by the official MCP client."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from sippy.analysis.summary import job_run_summary
from sippy.db.engine import session_factory
from tests.mcp.conftest import TOOLS, Loaded, answer, error


def over_stdio(db_dsn: str, stderr: Path, calls: list[tuple[str, dict[str, Any]]]) -> Any:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "sippy", "mcp", "--database-dsn", db_dsn, "--log-level", "debug"],
    )

    async def run() -> Any:
        with stderr.open("w") as errlog:
            async with (
                stdio_client(server, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                tools = (await session.list_tools()).tools
                return tools, [await session.call_tool(name, args) for name, args in calls]

    return asyncio.run(run())


@pytest.mark.parametrize("db_dsn", ["sqlite"], indirect=True)  # HTTP tests cover both
def test_sippy_mcp_serves_the_tools_on_stdio(loaded: Loaded, db_dsn: str, tmp_path: Path):
    failed = loaded.runs["test-failure"]
    stderr = tmp_path / "stderr.log"
    tools, (summary, why, missing) = over_stdio(
        db_dsn,
        stderr,
        [
            ("job_run_summary", {"prow_job_run_id": failed.build_id}),
            ("job_run_ai_summary", {"prow_job_run_id": failed.build_id}),
            ("job_run_summary", {"prow_job_run_id": 12345}),
        ],
    )
    with session_factory(loaded.engine)() as session:
        expected = json.loads(json.dumps(job_run_summary(session, failed.build_id)))
    assert {t.name for t in tools} == TOOLS
    assert answer(summary) == expected
    why = answer(why)
    assert why["model"] == "builtin" and why["category"] == "test failure"
    assert why["summary"].startswith(f'The CI job "{failed.job_name}" failed')
    assert error(missing) == {"code": 404, "message": "job run 12345 not found"}
    assert "DEBUG" in stderr.read_text()  # the log went to stderr; stdout carried only MCP
