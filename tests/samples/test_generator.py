"""The sample generator: deterministic, internally consistent, and true to its ground truth."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sippy.samples import BUCKET, SCENARIOS, SampleRun, generate_samples
from sippy.samples.generator import SIPPY_IGNORE, SIPPY_SUITES, SNOWFLAKE_EPOCH_MS

ANSI = re.compile(r"\x1b\[[0-9;]*m")
OPENSHIFT_TEST = re.compile(r"^openshift-tests\.|\[Suite:openshift|\[k8s\.io\]|\[sig-|\[bz-")


@pytest.fixture(scope="module")
def canonical(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, SampleRun]]:
    root = tmp_path_factory.mktemp("canonical")
    runs = generate_samples(root)
    return root, {run.scenario: run for run in runs}


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SampleRun]]:
    root = tmp_path_factory.mktemp("many")
    return root, generate_samples(root, count=20, seed=3)


# --- helpers ------------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _suites(path: Path) -> list[ET.Element]:
    root = ET.parse(path).getroot()
    return [root] if root.tag == "testsuite" else list(root.iter("testsuite"))


def _junit_files(run_dir: Path) -> list[Path]:
    return sorted(p for p in run_dir.rglob("*.xml") if "junit" in p.as_posix().lower())


def _failure_texts(run_dir: Path) -> list[str]:
    return [
        failure.text or ""
        for path in _junit_files(run_dir)
        for suite in _suites(path)
        for failure in suite.iter("failure")
    ]


def _sippy_view(run_dir: Path) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """Re-derive failures and flakes from the files alone, with Sippy's rules."""
    status: dict[tuple[str, str], int] = {}
    for path in _junit_files(run_dir):
        for suite in _suites(path):
            if suite.get("name") not in SIPPY_SUITES:
                continue
            for case in suite.findall("testcase"):
                name = case.get("name", "")
                if case.find("skipped") is not None or SIPPY_IGNORE.search(name):
                    continue
                key = (suite.get("name", ""), name)
                new = 12 if case.find("failure") is not None else 1
                old = status.setdefault(key, new)
                if old != 13 and old != new:
                    status[key] = 13
    return (
        {k for k, v in status.items() if v == 12},
        {k for k, v in status.items() if v == 13},
    )


def _letter(run_dir: Path, state: str) -> str:
    """The overall result from the files, by Sippy's rules (operator results are JUnit tests)."""
    if state == "success":
        return "S"
    if state == "error":
        return "n"
    failures, _ = _sippy_view(run_dir)
    failed = {name for suite, name in failures if suite != "step graph"}
    seen = {name for _, name in _all_cases(run_dir)}
    if "install should succeed: overall" in failed:
        operator_results = ("Operator results.operator conditions ", "Operator upgrade ")
        return "I" if any(n.startswith(operator_results) for n in seen) else "N"
    upgrade = {"[sig-cluster-lifecycle] Cluster completes upgrade"}
    if "[sig-cluster-lifecycle] Cluster version operator acknowledges upgrade" in seen and (
        failed & (upgrade | {"[sig-mco] Machine config pools complete upgrade"})
    ):
        return "U"
    if any(OPENSHIFT_TEST.search(n) for n in failed):
        return "F"
    return "n"


def _all_cases(run_dir: Path) -> set[tuple[str, str]]:
    return {
        (suite.get("name", ""), case.get("name", ""))
        for path in _junit_files(run_dir)
        for suite in _suites(path)
        for case in suite.findall("testcase")
    }


def _check_run(root: Path, run: SampleRun) -> None:
    """Everything a loader may rely on, for one run folder."""
    run_dir = root / run.path
    assert run.path.startswith(f"{BUCKET}/")
    assert run_dir.name == str(run.build_id)
    assert len(str(run.build_id)) == 19
    if run.job_type == "presubmit":
        assert re.fullmatch(rf"{BUCKET}/pr-logs/pull/\w+_[\w-]+/\d+/{run.job_name}/\d+", run.path)
    else:
        assert run.path == f"{BUCKET}/logs/{run.job_name}/{run.build_id}"

    raw = (run_dir / "prowjob.json").read_text(encoding="utf-8")
    assert raw.startswith('{\n\t"kind": "ProwJob"')
    pj = json.loads(raw)
    labels, status, spec = pj["metadata"]["labels"], pj["status"], pj["spec"]
    assert status["build_id"] == labels["prow.k8s.io/build-id"] == str(run.build_id)
    assert status["url"].endswith(f"/{run.job_name}/{run.build_id}")
    assert status["url"].endswith(run.path)
    assert status["state"] == run.prow_state
    assert spec["job"] == run.job_name == pj["metadata"]["annotations"]["prow.k8s.io/job"]
    assert labels["prow.k8s.io/job"] == run.job_name[:63].rstrip("._-")
    assert labels["prow.k8s.io/type"] == spec["type"] == run.job_type
    assert spec["decoration_config"]["gcs_configuration"]["bucket"] == BUCKET
    assert ("refs" in spec) == (run.job_type == "presubmit")

    start, end = _parse_time(status["startTime"]), _parse_time(status["completionTime"])
    created_ms = (run.build_id >> 22) + SNOWFLAKE_EPOCH_MS
    assert 1 <= start.timestamp() - created_ms / 1000 <= 10
    assert start.year == 2026 and end > start

    started = json.loads((run_dir / "started.json").read_text())
    finished = json.loads((run_dir / "finished.json").read_text())
    assert started["timestamp"] == int(start.timestamp())
    assert finished["timestamp"] == int(end.timestamp())
    assert finished["passed"] == (run.prow_state == "success")
    assert finished["result"] == ("SUCCESS" if finished["passed"] else "FAILURE")

    for path in _junit_files(run_dir):
        for suite in _suites(path):
            cases = suite.findall("testcase")
            assert int(suite.get("tests", "-1")) == len(cases), path
            failures = sum(1 for c in cases if c.find("failure") is not None)
            assert int(suite.get("failures", "-1")) == failures, path
            if suite.get("skipped") is not None:
                skipped = sum(1 for c in cases if c.find("skipped") is not None)
                assert int(suite.get("skipped", "-1")) == skipped, path
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    for path in run_dir.rglob("finished.json"):
        step = json.loads(path.read_text())
        assert step["passed"] == (step["result"] == "SUCCESS")

    failures, flakes = _sippy_view(run_dir)
    assert sorted(failures) == run.failures
    assert sorted(flakes) == run.flakes
    assert run.failed_tests == sorted({n for _, n in failures})
    assert run.flaked_tests == sorted({n for _, n in flakes})
    assert _letter(run_dir, run.prow_state) == run.expected_result
    assert sorted(run.files) == sorted(_tree(run_dir))

    lines = _text_lines(run_dir)
    for line in run.root_cause_lines:
        assert line in lines, line
    if run.prow_state != "success":
        assert run.root_cause_lines


def _text_lines(run_dir: Path) -> set[str]:
    lines: set[str] = set()
    for log in run_dir.rglob("build-log.txt"):
        lines.update(ANSI.sub("", log.read_text(encoding="utf-8")).split("\n"))
    for text in _failure_texts(run_dir):
        lines.update(text.split("\n"))
    return lines


def _cluster_operators(path: Path) -> dict[str, dict[str, str]]:
    items = json.loads(path.read_text())["items"]
    return {
        i["metadata"]["name"]: {c["type"]: c["status"] for c in i["status"]["conditions"]}
        for i in items
    }


# --- determinism ----------------------------------------------------------------------------


def test_same_seed_is_byte_identical(tmp_path: Path) -> None:
    first = generate_samples(tmp_path / "a", seed=7)
    second = generate_samples(tmp_path / "b", seed=7)
    assert [r.to_dict() for r in first] == [r.to_dict() for r in second]
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_different_seeds_differ(tmp_path: Path) -> None:
    first = generate_samples(tmp_path / "a", seed=1)
    second = generate_samples(tmp_path / "b", seed=2)
    assert {r.build_id for r in first}.isdisjoint(r.build_id for r in second)
    assert _tree(tmp_path / "a") != _tree(tmp_path / "b")


# --- every run is internally consistent -----------------------------------------------------


def test_canonical_runs_are_consistent(canonical: tuple[Path, dict[str, SampleRun]]) -> None:
    root, runs = canonical
    assert list(runs) == list(SCENARIOS)
    assert len({run.job_name for run in runs.values()}) == len(SCENARIOS)
    for run in runs.values():
        _check_run(root, run)


def test_count_mode_cycles_scenarios_consistently(many: tuple[Path, list[SampleRun]]) -> None:
    root, runs = many
    assert len(runs) == 20
    assert len({run.build_id for run in runs}) == 20
    assert {run.expected_result for run in runs} == {"S", "F", "N", "n", "U"}
    assert len({run.job_name for run in runs}) > len(SCENARIOS)
    for run in runs:
        _check_run(root, run)


def test_count_mode_has_realistic_junit_sizes(many: tuple[Path, list[SampleRun]]) -> None:
    root, runs = many
    for run in runs:
        for path in _junit_files(root / run.path):
            tests = sum(len(s.findall("testcase")) for s in _suites(path))
            if path.name.startswith("junit_e2e__") and run.scenario != "upgrade-failure":
                assert 200 <= tests <= 620, (path, tests)
            if path.name.startswith("e2e-monitor-tests__"):
                assert 300 <= tests <= 1020, (path, tests)


# --- each canonical scenario has what it promises -------------------------------------------


def test_success(canonical: tuple[Path, dict[str, SampleRun]]) -> None:
    root, runs = canonical
    run = runs["success"]
    assert run.job_name == "periodic-ci-openshift-release-main-nightly-4.20-e2e-aws-ovn"
    assert (run.prow_state, run.expected_result) == ("success", "S")
    assert run.failed_tests == run.flaked_tests == run.degraded_operators == []
    assert run.bad_nodes == run.failed_machines == run.root_cause_lines == []
    assert _failure_texts(root / run.path) == []


def test_test_failure(canonical: tuple[Path, dict[str, SampleRun]]) -> None:
    root, runs = canonical
    run = runs["test-failure"]
    run_dir = root / run.path
    assert (run.prow_state, run.expected_result) == ("failure", "F")
    [conformance] = run_dir.rglob("junit_e2e__*.xml")
    hard = [
        case
        for case in _suites(conformance)[0].findall("testcase")
        if case.find("failure") is not None
        and case.get("name") in {n for s, n in run.failures if s == "openshift-tests"}
    ]
    assert len(hard) == 2
    for case in hard:
        text = case.find("failure").text or ""  # type: ignore[union-attr]
        first = text.split("\n", 1)[0]
        assert first.startswith("fail [github.com/openshift/origin/test/extended/")
        assert first in run.root_cause_lines
        data = text.encode("utf-8")
        assert first.encode("utf-8") not in data[-256:]
    texts = [(c.find("failure").text or "").encode("utf-8") for c in hard]  # type: ignore[union-attr]
    cut = [data for data in texts if (data[-256] & 0xC0) == 0x80]
    assert cut, "a naive 256-byte tail must start inside a multi-byte character"
    assert any(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", d.decode()[-200:]) for d in texts)
    assert "…" in texts[1].decode()[-300:] or "…" in texts[0].decode()[-300:]
    assert len(run.flaked_tests) >= 3
    suites_by_name: dict[str, set[str]] = {}
    for suite, name in run.failures:
        suites_by_name.setdefault(name, set()).add(suite)
    assert any(len(suites) == 2 for suites in suites_by_name.values())
    graph = _suites(run_dir / "artifacts" / "junit_operator.xml")[0]
    failing = {c.get("name") for c in graph.findall("testcase") if c.find("failure") is not None}
    assert failing == {
        "Run multi-stage test e2e-azure-ovn - e2e-azure-ovn-openshift-e2e-test container test",
        "Run multi-stage test test phase",
    }


def test_install_failure(canonical: tuple[Path, dict[str, SampleRun]]) -> None:
    root, runs = canonical
    run = runs["install-failure"]
    run_dir = root / run.path
    target = run_dir / "artifacts" / run.target
    assert (run.prow_state, run.expected_result) == ("failure", "N")
    install = _suites(target / "ipi-install-install" / "artifacts" / "junit_install.xml")[0]
    assert install.get("name") == "cluster install"
    assert run.failed_tests == [
        "install should succeed: cluster bootstrap",
        "install should succeed: overall",
    ]
    operators = _cluster_operators(target / "gather-extra" / "artifacts" / "clusteroperators.json")
    assert len(operators) >= 33
    assert sum(1 for c in operators.values() if c.get("Degraded") == "True") >= 2
    assert sum(1 for c in operators.values() if c.get("Available") == "False") == 1
    nodes = json.loads((target / "gather-extra" / "artifacts" / "nodes.json").read_text())
    conditions = {
        n["metadata"]["name"]: (
            {c["type"]: c["status"] for c in n["status"]["conditions"]},
            n["metadata"]["labels"],
        )
        for n in nodes["items"]
    }
    not_ready = [n for n, (c, labels) in conditions.items() if c["Ready"] != "True"]
    assert len(not_ready) == 1
    assert "node-role.kubernetes.io/master" in conditions[not_ready[0]][1]
    assert [n for n, (c, _) in conditions.items() if c["DiskPressure"] == "True"]
    assert sorted(run.bad_nodes) == sorted(
        n
        for n, (c, _) in conditions.items()
        if c["Ready"] != "True" or "True" in (c["DiskPressure"], c["MemoryPressure"])
    )
    machines = json.loads((target / "gather-extra" / "artifacts" / "machines.json").read_text())
    assert machines["items"][0]["apiVersion"] == "machine.openshift.io/v1beta1"
    failed = [m for m in machines["items"] if m["status"]["phase"] == "Failed"]
    assert len(failed) == 1 and failed[0]["status"]["errorReason"]
    assert failed[0]["status"]["errorMessage"] and "nodeRef" not in failed[0]["status"]
    assert run.failed_machines == [failed[0]["metadata"]["name"]]
    graph = _suites(run_dir / "artifacts" / "junit_operator.xml")[0]
    failing = {c.get("name") for c in graph.findall("testcase") if c.find("failure") is not None}
    assert failing == {
        f"Run multi-stage test {run.target} - {run.target}-ipi-install-install container test",
        "Run multi-stage test pre phase",
    }


def test_infra_failure_cause_is_mid_log(canonical: tuple[Path, dict[str, SampleRun]]) -> None:
    root, runs = canonical
    run = runs["infra-failure"]
    run_dir = root / run.path
    assert run.prow_state in ("failure", "error") and run.expected_result == "n"
    assert not list(run_dir.rglob("junit_e2e__*.xml"))
    assert not list(run_dir.rglob("e2e-monitor-tests__*.xml"))
    assert run.failed_tests == [] and run.degraded_operators == []
    lines = (run_dir / "build-log.txt").read_text(encoding="utf-8").split("\n")
    assert len(lines) > 2000
    [cause] = run.root_cause_lines
    where = [i for i, line in enumerate(lines) if line == cause]
    assert len(where) == 1
    assert len(lines) / 3 <= where[0] <= 2 * len(lines) / 3
    tail = "\n".join(lines[-200:])
    assert cause not in tail
    assert all(cause not in text for text in _failure_texts(run_dir))


def test_upgrade_failure(canonical: tuple[Path, dict[str, SampleRun]]) -> None:
    root, runs = canonical
    run = runs["upgrade-failure"]
    run_dir = root / run.path
    target = run_dir / "artifacts" / run.target
    assert run.job_name.endswith("-upgrade-from-stable-4.19-e2e-gcp-ovn-upgrade")
    assert (run.prow_state, run.expected_result) == ("failure", "U")
    [junit] = run_dir.rglob("junit_e2e__*.xml")
    suite = _suites(junit)[0]
    assert suite.get("name") == "openshift-tests-upgrade"
    result = {c.get("name"): c.find("failure") is None for c in suite.findall("testcase")}
    assert result["[sig-cluster-lifecycle] Cluster version operator acknowledges upgrade"]
    assert not result["[sig-cluster-lifecycle] Cluster completes upgrade"]
    assert "[sig-cluster-lifecycle] Cluster completes upgrade" in run.failed_tests
    snapshots = sorted(run_dir.rglob("clusteroperators.json"))
    assert len(snapshots) == 2
    assert snapshots[0].read_bytes() != snapshots[1].read_bytes()
    finished = {
        path.parent.parent.name: json.loads((path.parent.parent / "finished.json").read_text())
        for path in snapshots
    }
    latest = max(finished, key=lambda step: finished[step]["timestamp"])
    assert finished["gather-must-gather"]["timestamp"] < finished["gather-extra"]["timestamp"]
    ops = _cluster_operators(target / latest / "artifacts" / "clusteroperators.json")
    assert run.degraded_operators == sorted(n for n, c in ops.items() if c["Degraded"] == "True")
    assert run.degraded_operators == ["machine-config"]


def test_presubmit_failure(canonical: tuple[Path, dict[str, SampleRun]]) -> None:
    root, runs = canonical
    run = runs["presubmit-failure"]
    assert run.job_name == "pull-ci-openshift-origin-main-e2e-aws-csi"
    assert run.path.startswith(f"{BUCKET}/pr-logs/pull/openshift_origin/")
    assert (run.prow_state, run.expected_result) == ("failure", "F")
    assert len(run.failed_tests) == 1
    pj = json.loads((root / run.path / "prowjob.json").read_text())
    [pull] = pj["spec"]["refs"]["pulls"]
    assert {"number", "author", "sha", "title", "link"} <= set(pull)
    assert run.path.split("/")[4] == str(pull["number"])
    started = json.loads((root / run.path / "started.json").read_text())
    assert started["pull"] == str(pull["number"])
