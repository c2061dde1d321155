"""Overall result of a job run and Sippy's synthetic tests, from the Prow state and tests.

Follows openshift/sippy HEAD (2026; commit 3839c923, Aug 2026):
``pkg/dataloader/prowloader/testconversion.testsToRawJobRunResult`` turns the merged tests into
run signals, ``pkg/synthetictests/ocp_synthetic_tests.go`` derives the synthetic tests (suite
``sippy``) and ``jobRunStatus`` the one-letter overall result. At HEAD every failing test
outside the step-graph/prowjob suites counts towards "Test failures" (the 2025 filter to
openshift-tests names is gone) and ``f`` (Unknown) is never produced.

Differences from Sippy, both for determinism and re-use:

* synthetic tests come out in a fixed order (Go iterates a map);
* input tests in the ``sippy`` suite are skipped, so classifying already-stored results
  (real + synthetic) gives the same answer again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sippy.ingest.junit import names_containing
from sippy.ingest.records import (
    STATUS_FAILURE,
    STATUS_FLAKE,
    STATUS_SUCCESS,
    TestResult,
)

# JobOverallResult letters and their HEAD String().
RESULT_REASONS: dict[str, str] = {
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

SUCCESS = "Success"
FAILURE = "Failure"

SIPPY_SUITE = "sippy"
INSTALL_TEST = "[sig-sippy] install should work"
INSTALL_TIMEOUT_TEST = "[sig-sippy] install should not timeout"
INFRASTRUCTURE_TEST = "[sig-sippy] infrastructure should work"
FINAL_OPERATOR_HEALTH_TEST = "[sig-sippy] tests should finish with healthy operators"
OPENSHIFT_TESTS_TEST = "[sig-sippy] openshift-tests should work"
UPGRADE_TEST = "[sig-sippy] upgrade should work"
OPERATOR_INSTALL_PREFIX = "operator install "  # no [sig-sippy] prefix, as in Sippy
SIPPY_OPERATOR_UPGRADE_PREFIX = "[sig-sippy] operator upgrade "

OPERATOR_UPGRADE_PREFIX = "Operator upgrade "
OPERATOR_FINAL_HEALTH_PREFIX = "Operator results.operator conditions "
NEW_INSTALL_TEST = "install should succeed: overall"

# pkg/testidentification customJobInstallNames (55 step names; substring match, verbatim).
CUSTOM_JOB_INSTALL_NAMES: tuple[str, ...] = (
    "aws-ipi-ipi-install-install-stableinitial",
    "azure-upi-upi-install-azure",
    "e2e-44-stable-to-45-ci-ipi-install-install-stableinitial",
    "e2e-aws-hypershift-ipi-install",
    "e2e-aws-proxy-ipi-install-install",
    "e2e-aws-upgrade-ipi-install-install-stableinitial",
    "e2e-aws-upgrade-rollback-ipi-install-install-stableinitial",
    "e2e-aws-workers-rhel7-ipi-install-install",
    "e2e-azure-cucushift-upi-upi-install-azure",
    "e2e-azure-upgrade-ipi-conf-azure",
    "e2e-azure-upi-upi-install-azure",
    "e2e-azurestack-csi-upi-install-azurestack",
    "e2e-baremetal-cucushift-ipi-baremetalds-devscripts-setup",
    "e2e-gcp-cucushift-upi-upi-install-gcp",
    "e2e-gcp-libvirt-cert-rotation-openshift-e2e-gcp-libvirt-cert-rotation-setup",
    "e2e-gcp-upgrade-ipi-install-install-stableinitial",
    "e2e-gcp-upi-upi-install-gcp",
    "e2e-metal-assisted-baremetalds-assisted-setup",
    "e2e-metal-assisted-ipv6-baremetalds-assisted-setup",
    "e2e-metal-assisted-onprem-baremetalds-assisted-setup",
    "e2e-metal-ipi-baremetalds-devscripts-setup",
    "e2e-metal-ipi-compact-baremetalds-devscripts-setup",
    "e2e-metal-ipi-ovn-dualstack-baremetalds-devscripts-setup",
    "e2e-metal-ipi-ovn-ipv6-baremetalds-devscripts-setup",
    "e2e-metal-ipi-serial-compact-baremetalds-devscripts-setup",
    "e2e-metal-ipi-serial-ipv4-baremetalds-devscripts-setup",
    "e2e-metal-ipi-serial-ovn-ipv6-baremetalds-devscripts-setup",
    "e2e-metal-ipi-serial-ovn-dualstack-baremetalds-devscripts-setup",
    "e2e-metal-ipi-serial-virtualmedia-baremetalds-devscripts-setup",
    "e2e-metal-ipi-virtualmedia-baremetalds-devscripts-setup",
    "e2e-metal-ipi-ovn-dualstack-local-gateway-baremetalds-devscripts-setup",
    "e2e-metal-ipi-upgrade-baremetalds-devscripts-setup container test",
    "e2e-metal-ipi-upgrade-ovn-ipv6-baremetalds-devscripts-setup",
    "e2e-metal-ipi-virtualmedia-baremetalds-devscripts-setup ",
    "e2e-metal-single-node-live-iso-baremetalds-sno-setup",
    "e2e-openshift-proxy-ipi-install-install",
    "e2e-openstack-upgrade-ipi-install",
    "e2e-ovirt-ipi-install-install container test",
    "e2e-telco5g-telco-bastion-setup",
    "e2e-vsphere-cucushift-upi-upi-install-vsphere",
    "e2e-vsphere-ipi-install-vsphere",
    "e2e-vsphere-serial-ipi-install-vsphere",
    "e2e-vsphere-upi-serial-upi-install-vsphere",
    "e2e-vsphere-upi-upi-install-vsphere",
    "hypershift-launch-wait-for-nodes",
    "install-install container test",
    "install-stableinitial container test",
    "ipi-install-libvirt-install",
    "ocp-installer-remote-libvirt-ppc64le-ipi-install-libvirt-install",
    "ocp-installer-remote-libvirt-s390x-ipi-install-libvirt-install",
    "upgrade-verification-tests-azure-upi-upi-install-azure",
    "upgrade-verification-tests-baremetal-ipi-baremetalds-devscripts-setup",
    "upgrade-verification-tests-gcp-upi-upi-install-gcp",
    "upgrade-verification-tests-vsphere-upi-upi-install-vsphere",
    "vsphere-upi-upi-install-vsphere",
)

_OPERATOR_INSTALL_TEST = re.compile(r"Operator results.*operator install (?P<operator>.*)")
_UPGRADE_PREFIX = r"^(Cluster upgrade\.)?"
_UPGRADE_STARTED = re.compile(
    _UPGRADE_PREFIX + r"\[sig-cluster-lifecycle\] Cluster version operator acknowledges upgrade\Z"
)
_OPERATORS_UPGRADED = re.compile(
    _UPGRADE_PREFIX + r"\[sig-cluster-lifecycle\] Cluster completes upgrade\Z"
)
_MCP_UPGRADED = re.compile(_UPGRADE_PREFIX + r"\[sig-mco\] Machine config pools complete upgrade\Z")
# Every CUSTOM_JOB_INSTALL_NAMES entry contains one of these; checking them first avoids 55
# substring searches for nearly every test (classification is on the load's hot path).
INSTALL_NAME_HINTS: tuple[str, ...] = ("install", "setup", "conf-azure", "for-nodes")
# Literals that any overall/operator/install/upgrade test name contains ("Up" aside).
_SPECIAL_NEEDLES = (
    "Overall",
    OPERATOR_UPGRADE_PREFIX,
    "Operator results",
    *INSTALL_NAME_HINTS,
    "create-cluster",
    "upgrade",
)
_STEP_TEST_NEEDLES = ("Run pipeline step", "Run multi-stage test")
_COUNTED_STATUSES = (STATUS_SUCCESS, STATUS_FLAKE, STATUS_FAILURE)


@dataclass(slots=True)
class RunSignals:
    """What the Prow state and the tests say about a run (Sippy's RawJobRunResult)."""

    succeeded: bool = False
    failed: bool = False
    errored: bool = False
    aborted: bool = False
    install_status: str = ""  # "" | Success | Failure
    operator_states: list[tuple[str, str]] = field(default_factory=list)  # (operator, state)
    upgrade_started: bool = False
    upgrade_operators_status: str = ""
    upgrade_mcp_status: str = ""
    tests_status: str = ""


@dataclass(slots=True)
class Classification:
    """The overall result letter and the synthetic tests (suite ``sippy``) of a run."""

    overall_result: str
    synthetic: list[TestResult] = field(default_factory=list)


def is_synthetic(result: TestResult) -> bool:
    """True for every test Sippy makes up, ``operator install <op>`` included."""
    return result.suite == SIPPY_SUITE


def classify_run(state: str, tests: Iterable[TestResult]) -> Classification:
    """Classify a run from its Prow state (success, failure, aborted, error, pending, ...)."""
    signals = run_signals(state, tests)
    return Classification(overall_result(signals), synthetic_tests(signals))


def run_signals(state: str, tests: Iterable[TestResult]) -> RunSignals:
    """Sippy's testsToRawJobRunResult; flakes count as passes.

    Only names that may be special (overall, operator, install, upgrade) are examined one
    by one; every other test just feeds ``tests_status``, whose final value does not depend
    on order (Failure if any failed, else Success if any passed).
    """
    prow_state = state.strip().lower()
    signals = RunSignals(
        succeeded=prow_state == "success",
        failed=prow_state == "failure",
        errored=prow_state == "error",
        aborted=prow_state == "aborted",
    )
    skip_suite: dict[str, bool] = {}
    kept: list[TestResult] = []
    for test in tests:
        skip = skip_suite.get(test.suite)
        if skip is None:
            skip = skip_suite[test.suite] = test.suite == SIPPY_SUITE or _is_step_suite(test.suite)
        if not skip and test.status in _COUNTED_STATUSES:
            kept.append(test)
    names = [test.name for test in kept]
    steps = names_containing(names, _STEP_TEST_NEEDLES)
    special = names_containing(names, _SPECIAL_NEEDLES) - steps
    other_failed = other_passed = False
    for index, test in enumerate(kept):
        if index in special or test.name == "Up":
            _note(signals, test.name, FAILURE if test.status == STATUS_FAILURE else SUCCESS)
        elif index in steps:
            continue
        elif test.status == STATUS_FAILURE:
            other_failed = True
        else:
            other_passed = True
    if other_failed:
        signals.tests_status = FAILURE
    elif other_passed:
        signals.tests_status = signals.tests_status or SUCCESS
    return signals


def _note(s: RunSignals, name: str, result: str) -> None:
    """Fold one test into the signals; the checks are ordered as in Sippy."""
    failed = result == FAILURE
    if name == "Overall" or name.endswith(".Overall"):
        if failed:
            s.failed = True
        else:
            s.succeeded = True  # the whole job passed, so install did too
            s.install_status = s.install_status or SUCCESS
    elif is_operator_health_test(name):
        s.operator_states.append((operator_name_from_test(name), result))
    elif is_install_step_equivalent(name):
        s.install_status = FAILURE if failed else s.install_status or SUCCESS
    elif "upgrade" in name and _UPGRADE_STARTED.match(name):
        s.upgrade_started = True  # a failing acknowledgement still means it started
    elif "upgrade" in name and _OPERATORS_UPGRADED.match(name):
        s.upgrade_operators_status = FAILURE if failed else s.upgrade_operators_status or SUCCESS
    elif "upgrade" in name and _MCP_UPGRADED.match(name):
        s.upgrade_mcp_status = FAILURE if failed else s.upgrade_mcp_status or SUCCESS
    else:
        s.tests_status = FAILURE if failed else s.tests_status or SUCCESS


def overall_result(s: RunSignals) -> str:
    """Sippy's jobRunStatus: the first matching rule wins."""
    if s.succeeded:
        return "S"
    if s.aborted:
        return "A"
    if s.errored:
        return "n"
    if not s.failed:
        return "R"
    if s.install_status == FAILURE:
        return "I" if s.operator_states else "N"
    if s.upgrade_started and FAILURE in (s.upgrade_operators_status, s.upgrade_mcp_status):
        return "U"
    if s.tests_status == FAILURE:
        return "F"
    return "n"


def synthetic_tests(s: RunSignals) -> list[TestResult]:
    """Sippy's CreateSyntheticTests. A test with neither pass nor fail is not emitted."""
    outcome: dict[str, bool | None] = dict.fromkeys(
        (
            INSTALL_TEST,
            INSTALL_TIMEOUT_TEST,
            INFRASTRUCTURE_TEST,
            FINAL_OPERATOR_HEALTH_TEST,
            OPENSHIFT_TESTS_TEST,
        )
    )
    if s.upgrade_started:
        outcome[UPGRADE_TEST] = None
    has_operators = bool(s.operator_states)
    operators_healthy = all(state != FAILURE for _, state in s.operator_states)
    install_failed = s.failed and s.install_status != SUCCESS
    install_succeeded = s.succeeded or s.install_status == SUCCESS

    if has_operators:
        outcome[FINAL_OPERATOR_HEALTH_TEST] = operators_healthy
    if install_succeeded:
        outcome[INSTALL_TEST] = True
        for name, _ in s.operator_states:
            outcome[OPERATOR_INSTALL_PREFIX + name] = True
    elif has_operators:
        outcome[INSTALL_TEST] = False
        for name, state in s.operator_states:
            outcome[OPERATOR_INSTALL_PREFIX + name] = state == SUCCESS
    outcome[INSTALL_TIMEOUT_TEST] = not (
        not install_succeeded and has_operators and operators_healthy
    )
    outcome[INFRASTRUCTURE_TEST] = not (install_failed and not has_operators)
    if s.upgrade_started and not install_failed:
        upgraded = s.upgrade_operators_status == SUCCESS and s.upgrade_mcp_status == SUCCESS
        outcome[UPGRADE_TEST] = upgraded
        for name, state in s.operator_states:
            outcome[SIPPY_OPERATOR_UPGRADE_PREFIX + name] = upgraded or state == SUCCESS
    if s.failed and s.tests_status == FAILURE:
        outcome[OPENSHIFT_TESTS_TEST] = False
    elif s.tests_status == SUCCESS:
        outcome[OPENSHIFT_TESTS_TEST] = True
    return [_synthetic(name, passed) for name, passed in outcome.items() if passed is not None]


def _synthetic(name: str, passed: bool) -> TestResult:
    if passed:
        return TestResult(suite=SIPPY_SUITE, name=name, status=STATUS_SUCCESS)
    return TestResult(
        suite=SIPPY_SUITE,
        name=name,
        status=STATUS_FAILURE,
        output=f"Synthetic test {_go_quote(name)} failed",
    )


def is_non_suite_test(suite: str, name: str) -> bool:
    """Step-level results (ci-operator step graph, prowjob junit) carry no test signal."""
    return _is_step_suite(suite) or any(needle in name for needle in _STEP_TEST_NEEDLES)


def _is_step_suite(suite: str) -> bool:
    return "prowjob-junit" in suite or "step graph" in suite


def is_overall_test(name: str) -> bool:
    return name == "Overall" or name.endswith(".Overall")


def is_operator_health_test(name: str) -> bool:
    return (
        name.startswith(OPERATOR_UPGRADE_PREFIX)
        or _OPERATOR_INSTALL_TEST.search(name) is not None
        or name.startswith(OPERATOR_FINAL_HEALTH_PREFIX)
    )


def operator_name_from_test(name: str) -> str:
    """The operator an operator-health test is about (Sippy's GetOperatorNameFromTest)."""
    if name.startswith(OPERATOR_UPGRADE_PREFIX):
        return name[len(OPERATOR_UPGRADE_PREFIX) :]
    match = _OPERATOR_INSTALL_TEST.search(name)
    if match:
        return match.group("operator")
    if name.startswith(OPERATOR_FINAL_HEALTH_PREFIX):
        return name[len(OPERATOR_FINAL_HEALTH_PREFIX) :]
    return ""


def is_install_step_equivalent(name: str) -> bool:
    """Install tests differ per job; Sippy recognises them by these names and suffixes."""
    return (
        NEW_INSTALL_TEST in name
        or (
            ("install" in name or "setup" in name or "conf-azure" in name or "for-nodes" in name)
            and any(step in name for step in CUSTOM_JOB_INSTALL_NAMES)
        )
        or name.endswith(("container setup", "create-cluster"))
        or name == "Up"  # Kubernetes' way of saying the cluster came up
    )


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def _go_quote(text: str) -> str:
    """Go's %q (strconv.Quote), which Sippy uses in synthetic failure outputs."""
    out = []
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'
