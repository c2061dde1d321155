"""Small run folders with chosen tests, outcomes and start times, for history tests."""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from tests.helpers import make_run


def junit(cases: dict[str, str], suite: str = "openshift-tests") -> str:
    """A JUnit file: each test `pass`, `fail` or `flake` (a failure then a pass, as Prow)."""
    parts = []
    for name, outcome in cases.items():
        attr = quoteattr(name)
        if outcome in ("fail", "flake"):
            text = escape(f"fail [example.go:1]: {name} broke\ndetail line")
            parts.append(f'<testcase name={attr}><failure message="">{text}</failure></testcase>')
        if outcome in ("pass", "flake"):
            parts.append(f"<testcase name={attr}/>")
    return (
        f'<?xml version="1.0"?>\n<testsuite name="{suite}" tests="{len(parts)}">\n'
        + "\n".join(parts)
        + "\n</testsuite>\n"
    )


def run_with_tests(
    root: Path,
    job: str,
    build_id: int,
    start: str,
    cases: dict[str, str],
    *,
    extra: dict[str, str] | None = None,
) -> Path:
    """A failed periodic run of `job` started at `start` (RFC 3339) with these test outcomes."""
    files = {"artifacts/e2e/junit/junit_e2e.xml": junit(cases), **(extra or {})}
    run = make_run(root, job, build_id, files=files)
    doc = json.loads((run / "prowjob.json").read_text())
    doc["status"]["startTime"] = start
    doc["status"]["completionTime"] = start.replace("T10:", "T11:")
    (run / "prowjob.json").write_text(json.dumps(doc))
    return run
