"""Overall-result letters and synthetic tests, as Sippy HEAD derives them."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from sippy.ingest.classify import (
    CUSTOM_JOB_INSTALL_NAMES,
    INSTALL_NAME_HINTS,
    RESULT_REASONS,
    Classification,
    RunSignals,
    classify_run,
    is_install_step_equivalent,
    is_non_suite_test,
    is_operator_health_test,
    is_synthetic,
    operator_name_from_test,
    run_signals,
)
from sippy.ingest.junit import merge_test_cases, parse_junit
from sippy.ingest.records import STATUS_FAILURE, STATUS_FLAKE, STATUS_SUCCESS
from sippy.ingest.records import TestResult as Result  # not collected by pytest

PASS, FAIL, FLAKE = STATUS_SUCCESS, STATUS_FAILURE, STATUS_FLAKE
INSTALL_OVERALL = "install should succeed: overall"
E2E = "[sig-network] pods should talk [Suite:openshift/conformance/parallel]"
CVO_ACK = "[sig-cluster-lifecycle] Cluster version operator acknowledges upgrade"
COMPLETES = "[sig-cluster-lifecycle] Cluster completes upgrade"
MCP = "[sig-mco] Machine config pools complete upgrade"


def t(name: str, status: int = PASS, suite: str = "openshift-tests") -> Result:
    return Result(suite=suite, name=name, status=status)


def synthetic(result: Classification) -> dict[str, int]:
    return {r.name: r.status for r in result.synthetic}


def test_result_reasons_are_heads_strings():
    assert RESULT_REASONS == {
        "S": "Succeeded",
        "R": "Running",
        "F": "Test failures",
        "I": "Install failure",
        "U": "Upgrade failure",
        "N": "External infrastructure failure",
        "n": "Internal infrastructure failure",
        "A": "Aborted",
        "f": "Unknown",
    }


def test_success_wins_regardless_of_tests():
    result = classify_run("success", [t(INSTALL_OVERALL, FAIL), t(E2E, FAIL)])
    assert result.overall_result == "S"
    # install "failed" but the run succeeded: install should work passes
    assert synthetic(result) == {
        "[sig-sippy] install should work": PASS,
        "[sig-sippy] install should not timeout": PASS,
        "[sig-sippy] infrastructure should work": PASS,
    }


@pytest.mark.parametrize(
    ("state", "letter"),
    [("aborted", "A"), ("error", "n"), ("pending", "R"), ("triggered", "R"), ("", "R")],
)
def test_prow_state_letters(state, letter):
    tests = [t(INSTALL_OVERALL, FAIL), t(E2E, FAIL)]
    assert classify_run(state, tests).overall_result == letter
    assert classify_run(state.upper(), tests).overall_result == letter


def test_install_failure_with_operator_results_is_I():
    tests = [
        t(INSTALL_OVERALL, FAIL, "cluster install"),
        t("Operator results.operator conditions etcd", PASS, "Operator results"),
        t("Operator results.operator conditions ingress", FAIL, "Operator results"),
        t(E2E, FAIL),
    ]
    result = classify_run("failure", tests)
    assert result.overall_result == "I"
    assert synthetic(result) == {
        "[sig-sippy] install should work": FAIL,
        "[sig-sippy] install should not timeout": PASS,  # an operator really failed
        "[sig-sippy] infrastructure should work": PASS,  # operators answered: infra worked
        "[sig-sippy] tests should finish with healthy operators": FAIL,
        "[sig-sippy] openshift-tests should work": FAIL,
        "operator install etcd": PASS,
        "operator install ingress": FAIL,
    }
    failed = {r.name: r.output for r in result.synthetic if r.status == FAIL}
    assert failed["operator install ingress"] == 'Synthetic test "operator install ingress" failed'
    assert all(is_synthetic(r) and r.suite == "sippy" for r in result.synthetic)


def test_install_timeout_when_every_operator_ended_healthy():
    tests = [t(INSTALL_OVERALL, FAIL), t("Operator results.operator conditions etcd", PASS)]
    result = classify_run("failure", tests)
    assert result.overall_result == "I"
    assert synthetic(result)["[sig-sippy] install should not timeout"] == FAIL


def test_install_failure_without_operator_results_is_N():
    result = classify_run("failure", [t(INSTALL_OVERALL, FAIL, "cluster install")])
    assert result.overall_result == "N"
    assert synthetic(result) == {
        "[sig-sippy] install should not timeout": PASS,
        "[sig-sippy] infrastructure should work": FAIL,
    }


def test_upgrade_failure_is_U_with_operator_upgrade_tests():
    tests = [
        t(INSTALL_OVERALL),
        t(CVO_ACK),
        t(f"Cluster upgrade.{COMPLETES}", FAIL, "Cluster upgrade"),
        t(MCP),
        t("Operator upgrade etcd", PASS, "Cluster upgrade"),
        t("Operator upgrade dns", FAIL, "Cluster upgrade"),
        t(E2E, FAIL),
    ]
    result = classify_run("failure", tests)
    assert result.overall_result == "U"
    assert synthetic(result) == {
        "[sig-sippy] install should work": PASS,
        "[sig-sippy] install should not timeout": PASS,
        "[sig-sippy] infrastructure should work": PASS,
        "[sig-sippy] tests should finish with healthy operators": FAIL,
        "[sig-sippy] openshift-tests should work": FAIL,
        "[sig-sippy] upgrade should work": FAIL,
        "operator install etcd": PASS,
        "operator install dns": PASS,  # install succeeded, so every operator installed
        "[sig-sippy] operator upgrade etcd": PASS,
        "[sig-sippy] operator upgrade dns": FAIL,
    }


def test_successful_upgrade_marks_every_operator_upgraded():
    tests = [t(INSTALL_OVERALL), t(CVO_ACK), t(COMPLETES), t(MCP), t("Operator upgrade dns", FAIL)]
    result = classify_run("failure", tests)
    assert result.overall_result == "n"  # failed, but no install/upgrade/test failure
    assert synthetic(result)["[sig-sippy] upgrade should work"] == PASS
    assert synthetic(result)["[sig-sippy] operator upgrade dns"] == PASS


def test_upgrade_synthetics_are_skipped_when_install_is_not_known_good():
    result = classify_run("failure", [t(CVO_ACK), t(COMPLETES, FAIL)])
    assert result.overall_result == "U"
    assert "[sig-sippy] upgrade should work" not in synthetic(result)


def test_test_failure_is_F():
    result = classify_run("failure", [t(INSTALL_OVERALL), t(E2E, FAIL), t("other", PASS)])
    assert result.overall_result == "F"
    failed = [r for r in result.synthetic if r.status == FAIL]
    assert [(r.name, r.output) for r in failed] == [
        (
            "[sig-sippy] openshift-tests should work",
            'Synthetic test "[sig-sippy] openshift-tests should work" failed',
        )
    ]


def test_failed_run_without_test_failures_is_n():
    result = classify_run("failure", [t(INSTALL_OVERALL), t(E2E, FLAKE), t("other", PASS)])
    assert result.overall_result == "n"
    assert synthetic(result)["[sig-sippy] openshift-tests should work"] == PASS
    assert classify_run("failure", []).overall_result == "n"


def test_step_graph_and_synthetic_inputs_do_not_count():
    step = "Run multi-stage test e2e - e2e-openshift-e2e-test container test"
    tests = [
        t(step, FAIL, "step graph"),
        t("Find the input image x", FAIL, "step graph"),
        t("anything", FAIL, "prowjob-junit"),
        t("Run pipeline step x", FAIL, "openshift-tests"),
        t("[sig-sippy] openshift-tests should work", FAIL, "sippy"),
    ]
    result = classify_run("failure", tests)
    assert result.overall_result == "n"
    assert run_signals("failure", tests).tests_status == ""


def test_classification_is_idempotent_over_stored_results():
    real = [t(INSTALL_OVERALL), t("Operator upgrade dns", FAIL), t(E2E, FAIL)]
    first = classify_run("failure", real)
    again = classify_run("failure", real + first.synthetic)
    assert again == first


def test_install_recognition():
    assert len(CUSTOM_JOB_INSTALL_NAMES) == 55
    for name in CUSTOM_JOB_INSTALL_NAMES:  # the fast pre-check must never miss one
        assert any(hint in name for hint in INSTALL_NAME_HINTS), name
    for name in (
        "install should succeed: overall",
        "e2e-aws-proxy-ipi-install-install container test",
        "operator.Run template e2e - e2e container setup",
        "hypershift-launch-wait-for-nodes",
        "e2e-azure-upgrade-ipi-conf-azure",
        "foo create-cluster",
        "Up",
    ):
        assert is_install_step_equivalent(name), name
    for name in ("install should succeed: infrastructure", "Up ", "upgrade", E2E):
        assert not is_install_step_equivalent(name), name
    result = classify_run("failure", [t("Up", FAIL, "Kubernetes e2e suite")])
    assert result.overall_result == "N"


def test_operator_names():
    assert operator_name_from_test("Operator upgrade kube-apiserver") == "kube-apiserver"
    assert operator_name_from_test("Operator results.operator conditions etcd") == "etcd"
    assert operator_name_from_test("Operator results.x operator install dns") == "dns"
    assert not is_operator_health_test("operator install dns")
    assert is_non_suite_test("step graph", "x") and not is_non_suite_test("openshift-tests", "x")


# --- the optimised run_signals equals a plain transcription of Sippy's loop ------------------

_ACK = re.compile(
    r"^(Cluster upgrade\.)?\[sig-cluster-lifecycle\] "
    r"Cluster version operator acknowledges upgrade\Z"
)
_DONE = re.compile(r"^(Cluster upgrade\.)?\[sig-cluster-lifecycle\] Cluster completes upgrade\Z")
_POOLS = re.compile(r"^(Cluster upgrade\.)?\[sig-mco\] Machine config pools complete upgrade\Z")


def sippy_signals(state: str, tests: list[Result]) -> RunSignals:
    """testsToRawJobRunResult, test by test, without any shortcut."""
    s = RunSignals(
        succeeded=state == "success",
        failed=state == "failure",
        errored=state == "error",
        aborted=state == "aborted",
    )
    for test in tests:
        name = test.name
        if test.suite == "sippy" or is_non_suite_test(test.suite, name):
            continue
        overall = name == "Overall" or name.endswith(".Overall")
        if test.status in (PASS, FLAKE):
            if overall:
                s.succeeded = True
                if s.install_status != "Failure":
                    s.install_status = "Success"
            elif is_operator_health_test(name):
                s.operator_states.append((operator_name_from_test(name), "Success"))
            elif is_install_step_equivalent(name):
                if s.install_status != "Failure":
                    s.install_status = "Success"
            elif _ACK.match(name):
                s.upgrade_started = True
            elif _DONE.match(name):
                if s.upgrade_operators_status != "Failure":
                    s.upgrade_operators_status = "Success"
            elif _POOLS.match(name):
                if s.upgrade_mcp_status != "Failure":
                    s.upgrade_mcp_status = "Success"
            elif s.tests_status == "":
                s.tests_status = "Success"
        elif test.status == FAIL:
            if overall:
                s.failed = True
            elif is_operator_health_test(name):
                s.operator_states.append((operator_name_from_test(name), "Failure"))
            elif is_install_step_equivalent(name):
                s.install_status = "Failure"
            elif _ACK.match(name):
                s.upgrade_started = True
            elif _DONE.match(name):
                s.upgrade_operators_status = "Failure"
            elif _POOLS.match(name):
                s.upgrade_mcp_status = "Failure"
            else:
                s.tests_status = "Failure"
    return s


def test_run_signals_equals_sippys_loop_on_random_runs():
    names = [
        INSTALL_OVERALL,
        E2E,
        CVO_ACK,
        COMPLETES,
        MCP,
        f"Cluster upgrade.{MCP}",
        "Up",
        "Overall",
        "job.Overall",
        "Operator upgrade dns",
        "Operator results.operator conditions etcd",
        "e2e-metal-ipi-baremetalds-devscripts-setup",
        "x container setup",
        "upgrade-ish test",
        "Run multi-stage test x",
        "install something",
        "[sig-arch] setup ok",
        "a\nb",
        "",
    ]
    suites = ["openshift-tests", "step graph", "sippy", "cluster install"]
    rng = random.Random(4)
    for _ in range(3000):
        tests = [
            t(rng.choice(names), rng.choice([PASS, FAIL, FLAKE, 0]), rng.choice(suites))
            for _ in range(rng.randint(0, 8))
        ]
        state = rng.choice(["success", "failure", "error", "aborted", "pending"])
        assert run_signals(state, tests) == sippy_signals(state, tests), tests


# --- real runs --------------------------------------------------------------------------------


def run_results(folder: Path) -> list[Result]:
    cases = []
    for path in sorted(folder.glob("*.xml")):
        cases += parse_junit(path.read_bytes(), path.name).cases
    return merge_test_cases(cases)


def test_real_runs(realdata):
    jobs = realdata / "historical-payload-data"
    serial = jobs / (
        "4.18.0-0.nightly-2026-05-14-085133/4.18/nightly/4.18.0-0.nightly-2026-05-14-085133/"
        "jobs/blocking/aws-ovn-serial/junit"
    )
    result = classify_run("failure", run_results(serial))
    assert result.overall_result == "F"
    # no install junit in this snapshot: install unknown and no operators, so "infra" fails
    assert synthetic(result) == {
        "[sig-sippy] install should not timeout": PASS,
        "[sig-sippy] infrastructure should work": FAIL,
        "[sig-sippy] openshift-tests should work": FAIL,
    }
    metal = jobs / (
        "4.22.0-0.nightly-2026-03-20-053450/4.22/nightly/4.22.0-0.nightly-2026-03-20-053450/"
        "jobs/blocking/metal-ipi-ovn-ipv6/junit"
    )
    assert classify_run("failure", run_results(metal)).overall_result == "N"


def test_real_upgrade_run_with_a_panic(realdata):
    results = run_results(realdata / "origin/pkg/test")
    result = classify_run("failure", results)
    assert result.overall_result == "F"  # the <error type="Panic"> test failed
    got = synthetic(result)
    assert got["operator install etcd"] == PASS and len(got) == 5 + 33
    assert "[sig-sippy] upgrade should work" not in got  # install never marked successful
    as_sippy = [
        Result(r.suite, r.name, PASS if "Prometheus metrics" in r.name else r.status)
        for r in results
    ]
    assert classify_run("failure", as_sippy).overall_result == "n"  # Sippy: <error> = pass
