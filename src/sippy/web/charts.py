"""Inline SVG charts as plain geometry: the templates draw them, so every label is escaped.

No chart library and no JavaScript: a chart is a list of cells (position, status class,
hover title, link) plus a title a screen reader says.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

CELL = 12
GAP = 2
HEIGHT = 16
STATUSES = ("failure", "flake", "pass", "absent")


@dataclass(frozen=True, slots=True)
class Cell:
    x: int
    y: int
    width: int
    height: int
    status: str  # failure | flake | pass | absent: the CSS class
    title: str  # hover text
    href: str | None
    current: bool = False


@dataclass(frozen=True, slots=True)
class Strip:
    """One row of cells, oldest first: a test's outcome run by run."""

    title: str
    width: int
    height: int
    cells: list[Cell]
    counts: dict[str, int]


def outcome_strip(
    name: str, runs: list[dict[str, Any]], *, current: int | None = None, cell: int = CELL
) -> Strip:
    """A strip over `[{id, startTime, status, job?}]` (oldest first); `current` is outlined.

    Its title says the counts in words, so the chart reads without seeing the colours.
    """
    gap = GAP if cell > 6 else 1
    cells = []
    for index, run in enumerate(runs):
        when = (run.get("startTime") or "unknown time").replace("T", " ").replace("Z", " UTC")
        where = f" {run['job']}" if run.get("job") else ""
        status = run["status"] if run["status"] in STATUSES else "absent"
        cells.append(
            Cell(
                x=index * (cell + gap),
                y=0,
                width=cell,
                height=HEIGHT,
                status=status,
                title=f"{status}: run {run['id']}{where}, {when}",
                href=f"/runs/{run['id']}",
                current=run["id"] == current,
            )
        )
    counts = Counter(c.status for c in cells)
    tally = {s: counts.get(s, 0) for s in STATUSES}
    width = max(len(cells) * (cell + gap) - gap, 1)
    return Strip(strip_title(name, tally), width, HEIGHT, cells, tally)


def strip_title(name: str, counts: dict[str, int]) -> str:
    """`<name>: 3 failures, 1 flake, 16 passes in 20 runs`: what the chart shows, in words."""
    total = sum(counts.values())
    parts = [
        f"{counts['failure']} failure{'s' * (counts['failure'] != 1)}",
        f"{counts['flake']} flake{'s' * (counts['flake'] != 1)}",
        f"{counts['pass']} pass{'es' * (counts['pass'] != 1)}",
    ]
    if counts.get("absent"):
        parts.append(f"{counts['absent']} not run")
    return f"{name}: {', '.join(parts)} in {total} run{'s' * (total != 1)}"
