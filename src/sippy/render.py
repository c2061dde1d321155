"""Terminal rendering of a job-run summary (the same dict the API returns)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

RESULT_STYLE = {
    "S": "green",
    "F": "red",
    "I": "red",
    "U": "red",
    "N": "magenta",
    "n": "magenta",
    "A": "yellow",
    "R": "cyan",
}


def render_summary(console: Console, summary: dict[str, Any]) -> None:
    """Print one summary: header, failures, flakes, operators, nodes, machines, problems."""
    style = RESULT_STYLE.get(summary["overallResult"], "white")
    seconds = summary.get("durationSeconds")
    header = (
        f"[bold]{escape(summary['name'])}[/]  #{summary['id']}\n"
        f"[{style}]{summary['overallResult']} {escape(summary['reason'])}[/]"
        f"  release {escape(summary['release'])}"
        + (f"  {seconds / 60:.0f} min" if seconds else "")
        + f"\n{summary['testCount']} tests, {summary['testFailureCount']} failed, "
        f"{summary['testFlakeCount']} flaked\n{escape(summary['url'] or '')}"
    )
    console.print(Panel(header, expand=False))
    _section(console, "Failed tests", summary["testFailures"])
    _section(console, "Flaked tests", summary["testFlakes"], snippets=False)
    _rows(
        console,
        "Cluster operators",
        summary["clusterOperators"],
        ("name", "condition", "status", "reason", "message"),
    )
    _rows(console, "Nodes", summary["nodes"], ("name", "condition", "status", "reason"))
    _rows(
        console, "Machines", summary["machines"], ("name", "phase", "errorReason", "errorMessage")
    )
    _rows(console, "Load problems", summary["loadProblems"], ("path", "error"))


def _section(console: Console, title: str, tests: dict[str, str], snippets: bool = True) -> None:
    if not tests:
        return
    console.print(f"[bold]{title}[/] ({len(tests)})")
    for name, snippet in tests.items():
        console.print(f"  • {escape(name)}", soft_wrap=True)
        if snippets and snippet:
            for line in snippet.splitlines()[:8]:
                console.print(f"      [dim]{escape(line)}[/]", soft_wrap=True)


def _rows(console: Console, title: str, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    if not rows:
        return
    table = Table(title=title, title_justify="left", show_lines=False)
    for key in keys:
        table.add_column(key, overflow="fold")
    for row in rows:
        table.add_row(*(escape(str(row.get(k) or "")) for k in keys))
    console.print(table)
