"""Themes on real payload snapshots: every failed run accounted for, no theme from noise."""

from __future__ import annotations

import json
from pathlib import Path

from sippy.analysis.themes import failed_runs, find_themes
from sippy.db.engine import session_factory
from sippy.ingest.load import load_sources
from sippy.settings import Settings
from tests.helpers import make_run


def write_snapshot_runs(realdata: Path, root: Path) -> int:
    """Run folders from the failed jobs of the real payload snapshots (JUnit + build-log tail)."""
    count = 0
    for job_json in sorted((realdata / "historical-payload-data").rglob("job.json")):
        job = json.loads(job_json.read_text())
        folder = job_json.parent
        junits = sorted((folder / "junit").glob("*.xml")) if (folder / "junit").is_dir() else []
        tail = folder / "build-log.tail-excerpt.txt"
        if job["state"] != "Failed" or not (junits or tail.exists()):
            continue
        *_, name, build_id = job["gcs_bucket_path"].split("/")
        files = {f"artifacts/junit/{path.name}": path.read_bytes() for path in junits}
        if tail.exists():
            files["build-log.txt"] = tail.read_bytes()
        make_run(root, name, int(build_id), files=files)
        count += 1
    return count


def test_real_payload_failures_are_all_accounted_for_and_wrappers_group_nothing(
    realdata, tmp_path, engine
):
    count = write_snapshot_runs(realdata, tmp_path)
    assert count >= 10
    assert load_sources([str(tmp_path)], Settings(), engine).ok
    with session_factory(engine)() as session:
        ids = failed_runs(session)
        found = find_themes(session, ids)
    assert len(ids) == count == found["runs"]
    grouped = {run for theme in found["themes"] for run in theme["runs"]}
    assert grouped | set(found["unexplained"]) == set(ids)
    assert not grouped & set(found["unexplained"])
    for theme in found["themes"]:  # "exit status 1" wrappers must not pose as a shared cause
        assert "wrapped process failed" not in theme["representative"]
        assert "exit status" not in theme["representative"]
