"""The payload generator: its release JSON, run folders and planted themes agree with its truth."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sippy.ingest.payload import parse_payload, read_release_json
from sippy.samples.causes import causes_of
from sippy.samples.generator import generate_samples
from sippy.samples.payloads import SamplePayload, generate_payloads


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SamplePayload]]:
    root = tmp_path_factory.mktemp("payloads")
    return root, generate_payloads(root, tags=2, themes=5, one_offs=4, passing=3, seed=11)


def _failures(run_dir: Path) -> dict[str, str]:
    """Failed test name -> failure text, read from the run's JUnit files."""
    found = {}
    for path in run_dir.rglob("*.xml"):
        if "junit" not in path.as_posix() or path.name == "junit_operator.xml":
            continue
        for case in ET.parse(path).getroot().iter("testcase"):
            failure = case.find("failure")
            if failure is not None:
                found[case.get("name")] = failure.text or ""
    return found


def test_release_json_lists_every_run_with_its_state(generated):
    root, payloads = generated
    for payload in payloads:
        parsed = parse_payload(
            read_release_json(payload.release_json, max_bytes=1 << 24), source="x"
        )
        assert parsed.release_tag == payload.release_tag and parsed.phase == payload.phase
        assert parsed.warnings == []
        by_id = {job.prow_job_run_id: job for job in parsed.jobs}
        assert set(by_id) == {run.build_id for run in payload.runs}
        for run in payload.runs:
            job = by_id[run.build_id]
            assert (job.state, job.kind, job.name) == (run.state, run.kind, run.short_name)
            assert job.gcs_path == run.path.split("/", 1)[1]
            assert (root / run.path / "prowjob.json").is_file()
        assert payload.phase == ("Rejected" if parsed.failed_jobs() else "Accepted")


def test_planted_themes_span_runs_of_different_jobs_and_nothing_else(generated):
    _, payloads = generated
    for payload in payloads:
        runs = {run.build_id: run for run in payload.runs}
        in_themes = [r for theme in payload.themes for r in theme.runs]
        assert len(in_themes) == len(set(in_themes))  # a run plants one cause
        for theme in payload.themes:
            assert len(theme.runs) >= 2
            assert len({runs[r].job_name for r in theme.runs}) == len(theme.runs)
            assert {runs[r].theme for r in theme.runs} == {theme.key}
            assert {runs[r].cause for r in theme.runs} == {theme.cause}
        one_offs = [runs[r] for r in payload.one_off_runs]
        assert len({r.cause for r in one_offs}) == len(one_offs)  # each its own cause
        assert not {r.cause for r in one_offs} & {t.cause for t in payload.themes}
        assert sorted(payload.failed_runs) == sorted(in_themes + payload.one_off_runs)
        assert len({r.job_name for r in payload.runs}) == len(payload.runs)  # one run per job
    assert [len(p.themes) for p in payloads] == [5, 5]


def test_each_failed_run_holds_its_cause_where_the_truth_says(generated):
    root, payloads = generated
    for payload in payloads:
        for run in payload.runs:
            run_dir = root / run.path
            failures = _failures(run_dir)
            build_log = (run_dir / "build-log.txt").read_text(encoding="utf-8")
            if run.state == "Succeeded":
                assert failures == {} and run.cause is None and "'succeeded'" in build_log
                continue
            [line] = run.root_cause_lines
            assert run.cause is not None and run.cause.marker in line
            assert run.cause.named_in(line)  # the label's terms are the cause's own words
            if run.cause_kind == "test":
                assert list(failures) == run.failed_tests
                assert failures[run.failed_tests[0]].splitlines()[0] == line
            else:
                assert run.failed_tests == []
                assert set(failures) == {
                    "install should succeed: infrastructure",
                    "install should succeed: overall",
                }
                lines = build_log.splitlines()
                where = next(i for i, text in enumerate(lines) if line in text)
                assert 40 < where < len(lines) - 40  # mid-log, not at either end


def test_theme_runs_vary_in_their_ids_not_in_their_cause(generated):
    _, payloads = generated
    for payload in payloads:
        runs = {run.build_id: run for run in payload.runs}
        for theme in payload.themes:
            lines = {runs[r].root_cause_lines[0] for r in theme.runs}
            assert len(lines) == len(theme.runs)  # every run says it differently


def test_same_seed_same_payloads(tmp_path):
    first = generate_payloads(tmp_path / "a", tags=1, seed=4)
    second = generate_payloads(tmp_path / "b", tags=1, seed=4)
    assert [p.to_dict() | {"release_json": ""} for p in first] == [
        p.to_dict() | {"release_json": ""} for p in second
    ]
    a = json.loads(Path(first[0].release_json).read_text())
    b = json.loads(Path(second[0].release_json).read_text())
    assert a == b


def test_too_many_themes_is_refused(tmp_path):
    with pytest.raises(ValueError, match="themes must be"):
        generate_payloads(tmp_path, themes=99)


def test_every_failed_sample_run_has_a_labelled_cause_named_in_its_lines(tmp_path):
    for sample in generate_samples(tmp_path, count=14, seed=2):
        if sample.expected_result == "S":
            assert sample.causes == [] and sample.root_cause_lines == []
            continue
        assert sample.causes == causes_of(sample.root_cause_lines) != []
        for cause in sample.causes:
            assert any(
                cause.named_in(line) for line in sample.root_cause_lines if cause.marker in line
            )
        for line in sample.root_cause_lines:  # no planted line goes unlabelled
            assert any(cause.marker in line for cause in sample.causes)
