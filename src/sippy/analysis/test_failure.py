"""Everything known about one failed (or flaked) test in one run, for debugging and bugs.

The facts a person needs before opening artifacts: the failure text, where it came from,
the exact links to the files worth opening (step log, gather-extra, must-gather), the test's
record in this job and everywhere, and what that record suggests: a known flake, a new
regression, a persistent failure, or infrastructure.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sippy.analysis.history import earlier_test_history
from sippy.analysis.summary import job_run_summary
from sippy.analysis.test_history import history_of_test
from sippy.db import models as m
from sippy.evidence.buildlog import line_score
from sippy.ingest.records import STATUS_FAILURE, STATUS_FLAKE

_STEP_DIR = re.compile(r"^(artifacts/(?P<target>[^/]+)/(?P<step>[^/]+))/")
INFRA_KINDS = {"infrastructure", "quota", "lease"}
MIN_HISTORY = 3


class NotInRun(LookupError):
    """The run has no failed or flaked test of this name."""


def failure_facts(session: Session, run_id: int, test_name: str) -> dict[str, Any]:
    """The facts about `test_name` in run `run_id`; raises RunNotFound or NotInRun."""
    summary = job_run_summary(session, run_id)
    test = _find(session, run_id, test_name)
    run = session.get(m.ProwJobRun, run_id)
    assert run is not None
    earlier = earlier_test_history(
        session, job_id=run.prow_job_id, before=run.timestamp, test_ids=[test["test_id"]]
    )[test["test_id"]]
    overall = history_of_test(session, test_name)
    facts = {
        "run": summary,
        "test": {
            "name": test_name,
            "suite": test["suite"],
            "status": "failure" if test["status"] == STATUS_FAILURE else "flake",
            "output": test["output"] or "",
            "source": test["source"],
        },
        "jobHistory": {**earlier.as_dict(), "summary": earlier.describe()},
        "history": overall,
        "links": artifact_links(summary, test["source"]),
        "component": component_of(test_name),
    }
    facts["classification"] = classify(facts)
    return facts


def _find(session: Session, run_id: int, test_name: str) -> dict[str, Any]:
    rows = session.execute(
        select(
            m.ProwJobRunTest.test_id,
            m.ProwJobRunTest.status,
            m.Suite.name,
            m.ProwJobRunTestOutput.output,
            m.ProwJobRunArtifact.path,
        )
        .join(m.Test, m.Test.id == m.ProwJobRunTest.test_id)
        .outerjoin(m.Suite, m.Suite.id == m.ProwJobRunTest.suite_id)
        .outerjoin(
            m.ProwJobRunTestOutput,
            m.ProwJobRunTestOutput.prow_job_run_test_id == m.ProwJobRunTest.id,
        )
        .outerjoin(m.ProwJobRunArtifact, m.ProwJobRunArtifact.id == m.ProwJobRunTest.artifact_id)
        .where(
            m.ProwJobRunTest.prow_job_run_id == run_id,
            m.Test.name == test_name,
            m.ProwJobRunTest.status.in_((STATUS_FAILURE, STATUS_FLAKE)),
        )
        .order_by(m.ProwJobRunTest.status, m.ProwJobRunTest.id)  # failures before flakes
    ).first()
    if rows is None:
        raise NotInRun(f"run {run_id} has no failed or flaked test named {test_name!r}")
    test_id, status, suite, output, source = rows
    return {
        "test_id": test_id,
        "status": status,
        "suite": suite or "",
        "output": output,
        "source": source,
    }


def artifact_links(summary: dict[str, Any], junit_path: str | None) -> list[dict[str, str]]:
    """gcsweb/Prow links to open, in the order a person would open them."""
    base = summary.get("artifactsUrl")
    links: list[dict[str, str]] = []
    if summary.get("url"):
        links.append({"title": "Prow job page", "url": summary["url"]})
    if not base:
        return links
    if junit_path:
        links.append({"title": "JUnit file with this failure", "url": base + junit_path})
        step = _STEP_DIR.match(junit_path)
        if step:
            folder, target = step.group(1), step.group("target")
            links.append(
                {"title": f"step {step.group('step')} log", "url": f"{base}{folder}/build-log.txt"}
            )
            links.append(
                {
                    "title": "gather-extra (cluster state)",
                    "url": f"{base}artifacts/{target}/gather-extra/artifacts/",
                }
            )
            links.append(
                {
                    "title": "must-gather",
                    "url": f"{base}artifacts/{target}/gather-must-gather/artifacts/",
                }
            )
    if summary.get("buildLog"):
        links.append({"title": "ci-operator build log", "url": base + summary["buildLog"]["path"]})
    links.append({"title": "all artifacts", "url": base})
    return links


def component_of(test_name: str) -> str | None:
    """The owning area when the name says it: `[sig-network]`, `[bz-etcd]`, `[Jira:"x"]`."""
    for pattern in (r'\[Jira:"?([^\]"]+)"?\]', r"\[bz-([^\]]+)\]", r"\[(sig-[^\]]+)\]"):
        found = re.search(pattern, test_name)
        if found:
            return found.group(1)
    return None


def classify(facts: dict[str, Any]) -> str:
    """known flake | new regression | persistent failure | infrastructure | unclear."""
    run, job = facts["run"], facts["jobHistory"]
    if run["overallResult"] in ("N", "n") or _looks_like_infrastructure(facts["test"]["output"]):
        return "infrastructure"
    if facts["test"]["status"] == "flake":
        return "known flake"
    ran, failed, flaked = job["ran"], job["failed"], job["flaked"]
    if ran >= MIN_HISTORY and failed == 0 and flaked == 0:
        return "new regression"
    if ran >= MIN_HISTORY and failed / ran >= 0.8:
        return "persistent failure"
    if flaked or (ran and 0 < failed < ran):
        return "known flake"
    return "unclear"


def _looks_like_infrastructure(output: str) -> bool:
    for line in output.splitlines()[:200]:
        scored = line_score(line)
        if scored and scored[1] in INFRA_KINDS:
            return True
    return False
