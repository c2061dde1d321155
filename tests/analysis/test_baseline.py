"""Build-log findings that the job's passing runs log too are marked and put last."""

from __future__ import annotations

import json
from pathlib import Path

from sippy.ai.builtin import builtin_summary
from sippy.analysis.summary import job_run_summary
from sippy.db.engine import session_factory
from sippy.evidence.bundle import build_evidence
from sippy.ingest.load import load_sources
from sippy.settings import Settings
from tests.helpers import make_run

JOB = "periodic-ci-openshift-release-main-nightly-4.20-e2e-aws-ovn"
OTHER_JOB = "periodic-ci-openshift-release-main-nightly-4.20-e2e-gcp-ovn"
FAILED_ID = 2054903419998572599
# logged by every run of the job, passing or not (the pod name and time differ each time); by
# the scanner's rules it outranks the real cause, a plain `error:` line
BENIGN = (
    'time="2026-05-14T1{n}:00:00Z" level=error msg="failed to gather machines: the server'
    " doesn't have a resource type machines (pod gather-x9k{n}q)\""
)
CAUSE = (
    "error: creating bootstrap VM: the RHCOS image checksum does not match (ImageChecksumMismatch)"
)


def _run(root: Path, job: str, build_id: int, state: str, hour: int, lines: list[str]) -> None:
    run = make_run(root, job, build_id, state=state, files={"build-log.txt": "\n".join(lines)})
    doc = json.loads((run / "prowjob.json").read_text())
    doc["status"]["startTime"] = f"2026-05-14T{hour:02d}:00:00Z"
    doc["status"]["completionTime"] = f"2026-05-14T{hour:02d}:30:00Z"
    (run / "prowjob.json").write_text(json.dumps(doc))


def _load(root: Path, engine) -> dict:  # type: ignore[no-untyped-def]
    assert load_sources([str(root)], Settings(), engine).count("failed") == 0
    with session_factory(engine)() as session:
        return job_run_summary(session, FAILED_ID)


def test_a_line_the_passing_runs_log_too_is_marked_and_the_cause_leads(tmp_path, engine):
    _run(tmp_path, JOB, FAILED_ID - 2, "success", 8, ["INFO start", BENIGN.format(n=1), "INFO ok"])
    _run(tmp_path, JOB, FAILED_ID - 1, "success", 9, ["INFO start", BENIGN.format(n=2), "INFO ok"])
    _run(tmp_path, OTHER_JOB, FAILED_ID - 3, "success", 9, [CAUSE])  # another job: not compared
    _run(tmp_path, JOB, FAILED_ID + 1, "success", 12, [CAUSE])  # later: not a baseline
    _run(tmp_path, JOB, FAILED_ID, "failure", 10, [BENIGN.format(n=3), "INFO x", CAUSE, "INFO y"])
    summary = _load(tmp_path, engine)
    assert summary["passingRunsCompared"] == 2
    marks = {f["line"]: f["alsoInPassingRuns"] for f in summary["logSnippets"]}
    assert marks == {1: 2, 3: 0}  # the benign line: in both passing runs; the cause: new
    evidence = build_evidence(summary, 3000).text
    cause_item = evidence.index("- build-log.txt line 3:")
    benign_item = evidence.index(
        "- build-log.txt line 1 (also logged by 2 passing runs of this job)"
    )
    assert cause_item < benign_item  # the new line leads; the one passing runs log too is last
    answer = builtin_summary(summary)
    assert "ImageChecksumMismatch" in answer and "resource type" not in answer


def test_without_passing_runs_nothing_is_marked(tmp_path, engine):
    _run(tmp_path, JOB, FAILED_ID - 1, "failure", 9, [BENIGN.format(n=2)])  # failed, not passing
    _run(tmp_path, JOB, FAILED_ID, "failure", 10, [BENIGN.format(n=3), CAUSE])
    summary = _load(tmp_path, engine)
    assert summary["passingRunsCompared"] == 0
    assert [f["alsoInPassingRuns"] for f in summary["logSnippets"]] == [0, 0]


def test_the_run_page_marks_the_line_the_passing_runs_log_too(tmp_path, engine):
    import httpx

    from sippy.app import create_app
    from sippy.settings import build_settings
    from tests.helpers import running_server

    _run(tmp_path, JOB, FAILED_ID - 1, "success", 9, ["INFO start", BENIGN.format(n=2), "INFO ok"])
    _run(tmp_path, JOB, FAILED_ID, "failure", 10, [BENIGN.format(n=3), "INFO x", CAUSE, "INFO y"])
    _load(tmp_path, engine)
    with running_server(create_app(build_settings(), engine)) as base:
        page = httpx.get(f"{base}/runs/{FAILED_ID}", timeout=30).text
    assert page.count("also in 1 of the last 1 passing runs of this job") == 1


def test_a_line_the_passing_runs_log_too_forms_no_theme(tmp_path, engine):
    """Two jobs' failed runs whose best-scoring build-log line is the same benign error: with
    the jobs' passing runs loaded it is noise, and their own (different) causes are used."""
    from sippy.analysis.themes import find_themes

    causes = {
        JOB: "error: creating bootstrap VM: the image checksum does not match",
        OTHER_JOB: "error: creating DNS record: managed zone ci-zone not found",
    }
    failed = {JOB: FAILED_ID, OTHER_JOB: FAILED_ID + 10}
    for job, run_id in failed.items():
        _run(tmp_path, job, run_id, "failure", 10, [BENIGN.format(n=3), "INFO x", causes[job]])
    assert load_sources([str(tmp_path)], Settings(), engine).count("failed") == 0
    with session_factory(engine)() as session:
        before = find_themes(session, failed.values())
    assert [sorted(t["runs"]) for t in before["themes"]] == [sorted(failed.values())]  # noise
    for job, run_id in failed.items():  # the jobs' passing runs log the benign line too
        _run(tmp_path, job, run_id - 1, "success", 9, [BENIGN.format(n=2)])
    assert load_sources([str(tmp_path)], Settings(), engine).count("failed") == 0
    with session_factory(engine)() as session:
        after = find_themes(session, failed.values())
    assert after["themes"] == [] and sorted(after["unexplained"]) == sorted(failed.values())
