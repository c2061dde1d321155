"""Generate realistic OpenShift CI job runs in GCS layout, each with exact ground truth.

Why: the README's first command, the tests and the load benchmark need run folders that look
like real `gs://test-platform-results/...` runs (prowjob/started/finished JSON, the ci-operator
build log, step-graph / openshift-tests / monitor / install JUnit, gather-extra cluster state)
without shipping copies of real files. Each run's ground truth (`SampleRun`) is derived from the
very test cases and cluster objects that were written, applying Sippy's import rules, so
evaluations can be exact.

Output depends only on the seed: all randomness comes from `random.Random(seed)` and every
timestamp is derived from the run's build id, never from the clock.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sippy.samples.causes import PlantedCause, causes_of

BUCKET = "test-platform-results"
PROW_VIEW = "https://prow.ci.openshift.org/view/gs"
SNOWFLAKE_EPOCH_MS = 1288834974657
SCENARIOS = (
    "success",
    "test-failure",
    "install-failure",
    "infra-failure",
    "upgrade-failure",
    "presubmit-failure",
)
# Extra kind used only when `count` is given: install fails before any cluster exists (letter N).
EXTRA_SCENARIOS = ("install-infra-failure",)

# Sippy's import rules (pkg/db/suites.go allowlist subset, testidentification ignore regex).
SIPPY_SUITES = frozenset(
    {
        "openshift-tests",
        "openshift-tests-upgrade",
        "sippy",
        "cluster install",
        "Operator results",
        "Cluster upgrade",
        "BackendDisruption",
        "step graph",
        "prowjob-junit",
    }
)
SIPPY_IGNORE = re.compile(
    r"^$|Run multi-stage test|operator.Import the release payload|operator.Import a release payload"
    r"|operator.Run template|operator.Build image|Monitor cluster while tests execute|Overall"
    r"|job.initialize|\[sig-arch\]\[Feature:ClusterUpgrade\] Cluster should remain functional"
    r" during upgrade"
)

# --------------------------------------------------------------------------------------------
# Small real-looking vocabularies (names only; no real file content is embedded).

_EARLY_LATE_TESTS = (
    "[sig-ci] [Early] prow job name should match platform type"
    " [Suite:openshift/conformance/parallel]",
    "[sig-ci] [Early] prow job name should match feature set"
    " [Suite:openshift/conformance/parallel]",
    "[sig-ci] [Early] prow job name should match network type"
    " [Suite:openshift/conformance/parallel]",
    "[sig-ci] [Early] prow job name should match security mode"
    " [Suite:openshift/conformance/parallel]",
    "[sig-arch][Early] APIs for openshift.io must have stable versions"
    " [Suite:openshift/conformance/parallel]",
    "[sig-arch][Early] CRDs for openshift.io should have subresource.status"
    " [Suite:openshift/conformance/parallel]",
    "[sig-arch][Early] CRDs for openshift.io should have a status in the CRD schema"
    " [Suite:openshift/conformance/parallel]",
    "[sig-arch][Early] Managed cluster should [apigroup:config.openshift.io] start all core"
    " operators [Skipped:Disconnected] [Suite:openshift/conformance/parallel]",
    "[sig-arch][Early] Operators low level operators should have at least the conditions we had"
    " in 4.17 [Suite:openshift/conformance/parallel]",
    "[sig-etcd] etcd record the start revision of the etcd-operator [Early]"
    " [Suite:openshift/conformance/parallel]",
    "[sig-etcd] etcd cluster has the same number of master nodes and voting members from the"
    " endpoints configmap [Early][apigroup:config.openshift.io]"
    " [Suite:openshift/conformance/parallel]",
    "[sig-node] Managed cluster record the number of nodes at the beginning of the tests [Early]"
    " [Suite:openshift/conformance/parallel]",
    "[sig-auth][Feature:SCC][Early] should not have pod creation failures during install"
    " [Suite:openshift/conformance/parallel]",
    "[sig-scheduling][Early] The HAProxy router pods [apigroup:route.openshift.io] should be"
    " scheduled on different nodes [Skipped:SingleReplicaTopology]"
    " [Suite:openshift/conformance/parallel]",
    "[sig-scheduling][Early] The openshift-console console pods [apigroup:console.openshift.io]"
    " should be scheduled on different nodes [Skipped:SingleReplicaTopology]"
    " [Suite:openshift/conformance/parallel]",
    "[sig-scheduling][Early] The openshift-etcd pods [apigroup:operator.openshift.io] should be"
    " scheduled on different nodes [Skipped:SingleReplicaTopology]"
    " [Suite:openshift/conformance/parallel]",
    "[sig-cluster-lifecycle][Feature:Machines][Early] Managed cluster should have same number of"
    " Machines and Nodes [apigroup:machine.openshift.io] [Suite:openshift/conformance/parallel]",
)
_LATE_TESTS = (
    "[sig-etcd] etcd leader changes are not excessive [Late]"
    " [Suite:openshift/conformance/parallel]",
    "[sig-node] Managed cluster should verify that nodes have no unexpected reboots [Late]"
    " [Suite:openshift/conformance/parallel]",
    "[sig-node][Late] should not have pod creation failures due to systemd timeouts"
    " [Suite:openshift/conformance/parallel]",
    "[sig-api-machinery][Feature:APIServer][Late] kube-apiserver terminates within graceful"
    " termination period [Suite:openshift/conformance/parallel]",
    "[sig-api-machinery][Feature:APIServer][Late] kubelet terminates kube-apiserver gracefully"
    " [Suite:openshift/conformance/parallel]",
    "[sig-api-machinery][Feature:APIServer][Late] API LBs follow /readyz of kube-apiserver and"
    " stop sending requests [Suite:openshift/conformance/parallel]",
    "[sig-instrumentation][Late] Alerts shouldn't exceed the series limit of total series sent"
    " via telemetry from each cluster [Suite:openshift/conformance/parallel]",
    '[sig-arch][Late][Jira:"kube-apiserver"] all tls artifacts must be registered'
    " [Suite:openshift/conformance/parallel]",
    '[sig-arch][Late][Jira:"kube-apiserver"] all registered tls artifacts must have no metadata'
    " violation regressions [Suite:openshift/conformance/parallel]",
    '[sig-arch][Late][Jira:"kube-apiserver"] collect certificate data'
    " [Suite:openshift/conformance/parallel]",
)
_PARALLEL_TESTS = (
    "[sig-network] Services should serve endpoints on same port and different protocols"
    " [Conformance] [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
    "[sig-network] DNS should provide DNS for services  [Conformance]"
    " [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
    "[sig-network] Networking Granular Checks: Pods should function for intra-pod communication:"
    " http [NodeConformance] [Conformance] [Suite:openshift/conformance/parallel/minimal]"
    " [Suite:k8s]",
    "[sig-apps] Deployment deployment should support rollover [Conformance]"
    " [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
    "[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] should perform"
    " rolling updates and roll backs of template modifications [Conformance]"
    " [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
    "[sig-node] Pods should be submitted and removed [NodeConformance] [Conformance]"
    " [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
    "[sig-cli] Kubectl client Kubectl logs should be able to retrieve and filter logs "
    " [Conformance] [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
    "[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin] Simple"
    " CustomResourceDefinition creating/deleting custom resource definition objects works "
    " [Conformance] [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
    "[sig-arch] Managed cluster should ensure platform components have system-* priority class"
    " associated [Suite:openshift/conformance/parallel]",
    "[sig-instrumentation] Prometheus [apigroup:image.openshift.io] when installed on the cluster"
    " should report telemetry [Late] [Skipped:Disconnected] [Suite:openshift/conformance/parallel]",
    "[sig-imageregistry][Feature:ImageTriggers] Annotation trigger reconciles after the image is"
    " overwritten [apigroup:image.openshift.io] [Suite:openshift/conformance/parallel]",
    "[sig-arch] External binary usage",
)
_STORAGE_DRIVERS = {
    "aws": "ebs.csi.aws.com",
    "gcp": "pd.csi.storage.gke.io",
    "azure": "disk.csi.azure.com",
}
_INTREE_DRIVERS = ("local][LocalVolumeType: dir", "emptydir", "hostPath", "nfs", "csi-hostpath")
_STORAGE_PATTERNS = (
    "Dynamic PV (default fs)",
    "Dynamic PV (ext4)",
    "Dynamic PV (xfs)",
    "Dynamic PV (block volmode)",
    "Pre-provisioned PV (default fs)",
    "Inline-volume (default fs)",
    "Generic Ephemeral-volume (default fs) (immediate-binding)",
    "Dynamic PV (filesystem volmode)",
)
_STORAGE_BEHAVIOURS = (
    "subPath should support existing directory",
    "subPath should support readOnly file specified in the volumeMount [LinuxOnly]",
    "volumes should store data",
    "volumes should allow exec of files on the volume",
    "provisioning should provision storage with pvc data source",
    "provisioning should provision storage with mount options",
    "volume-expand should resize volume when PVC is edited while pod is using it",
    "fsgroupchangepolicy (Always)[LinuxOnly], pod created with an initial fsgroup, new pod"
    " fsgroup applied to volume contents",
    "volumeMode should not mount / map unused volumes in a pod [LinuxOnly]",
    "multiVolume [Slow] should access to two volumes with the same volume mode and retain data"
    " across pod recreation on the same node",
)
_UPGRADE_SUITE_TESTS = (
    "[sig-arch][Feature:ClusterUpgrade] All nodes should be in ready state [Early][Suite:upgrade]",
    "[sig-arch][Feature:ClusterUpgrade] Cluster should be upgradeable before beginning upgrade"
    " [Early][Suite:upgrade]",
    "[sig-arch][Feature:ClusterUpgrade] Cluster should be upgradeable after finishing upgrade"
    " [Late][Suite:upgrade]",
    "[sig-network-edge] Application behind service load balancer with PDB remains available"
    " using new connections",
    "[sig-network-edge] Application behind service load balancer with PDB remains available"
    " using reused connections",
    "[sig-imageregistry] Image registry remains available using new connections",
    "[sig-imageregistry] Image registry remains available using reused connections",
    "[sig-apps] deployment-upgrade",
    "[sig-apps] daemonset-upgrade",
    "[sig-apps] statefulset-upgrade",
    "[sig-apps] job-upgrade",
    "[sig-storage] [sig-api-machinery] secret-upgrade",
    "[sig-storage] [sig-api-machinery] configmap-upgrade",
    "[sig-network-edge] Verify DNS availability during and after upgrade success",
    "Cluster should be stable after installation is complete",
    "Cluster should be stable before test is started",
)
CVO_ACK_TEST = "[sig-cluster-lifecycle] Cluster version operator acknowledges upgrade"
UPGRADE_COMPLETES_TEST = "[sig-cluster-lifecycle] Cluster completes upgrade"
MCP_UPGRADE_TEST = "[sig-mco] Machine config pools complete upgrade"
FUNCTIONAL_UPGRADE_TEST = (
    "[sig-arch][Feature:ClusterUpgrade] Cluster should remain functional during upgrade"
    " [Disruptive] [Serial]"
)
SKIPPED_ANNOTATIONS_TEST = "[sig-trt] Skipped annotations present"

# (clusteroperator, bz component, namespace of its operand)
_OPERATORS = (
    ("authentication", "apiserver-auth", "openshift-authentication"),
    ("baremetal", "Bare Metal Hardware Provisioning", "openshift-machine-api"),
    ("cloud-controller-manager", "Cloud Compute", "openshift-cloud-controller-manager"),
    ("cloud-credential", "Cloud Credential Operator", "openshift-cloud-credential-operator"),
    ("cluster-autoscaler", "Cloud Compute", "openshift-machine-api"),
    ("config-operator", "config-operator", "openshift-config-operator"),
    ("console", "Management Console", "openshift-console"),
    ("control-plane-machine-set", "Cloud Compute", "openshift-machine-api"),
    ("csi-snapshot-controller", "Storage", "openshift-cluster-storage-operator"),
    ("dns", "DNS", "openshift-dns"),
    ("etcd", "Etcd", "openshift-etcd"),
    ("image-registry", "Image Registry", "openshift-image-registry"),
    ("ingress", "Routing", "openshift-ingress"),
    ("insights", "Insights Operator", "openshift-insights"),
    ("kube-apiserver", "kube-apiserver", "openshift-kube-apiserver"),
    ("kube-controller-manager", "kube-controller-manager", "openshift-kube-controller-manager"),
    ("kube-scheduler", "kube-scheduler", "openshift-kube-scheduler"),
    (
        "kube-storage-version-migrator",
        "kube-storage-version-migrator",
        "openshift-kube-storage-version-migrator",
    ),
    ("machine-api", "Cloud Compute", "openshift-machine-api"),
    ("machine-approver", "Cloud Compute", "openshift-cluster-machine-approver"),
    ("machine-config", "Machine Config Operator", "openshift-machine-config-operator"),
    ("marketplace", "OLM", "openshift-marketplace"),
    ("monitoring", "Monitoring", "openshift-monitoring"),
    ("network", "Networking", "openshift-network-operator"),
    ("node-tuning", "Node Tuning Operator", "openshift-cluster-node-tuning-operator"),
    ("olm", "OLM", "openshift-cluster-olm-operator"),
    ("openshift-apiserver", "openshift-apiserver", "openshift-apiserver"),
    (
        "openshift-controller-manager",
        "openshift-controller-manager",
        "openshift-controller-manager",
    ),
    ("openshift-samples", "Samples", "openshift-cluster-samples-operator"),
    ("operator-lifecycle-manager", "OLM", "openshift-operator-lifecycle-manager"),
    ("operator-lifecycle-manager-catalog", "OLM", "openshift-operator-lifecycle-manager"),
    ("operator-lifecycle-manager-packageserver", "OLM", "openshift-operator-lifecycle-manager"),
    ("service-ca", "service-ca", "openshift-service-ca"),
    ("storage", "Storage", "openshift-cluster-storage-operator"),
)
_NAMESPACES = (
    "default",
    "kube-system",
    "openshift-apiserver",
    "openshift-apiserver-operator",
    "openshift-authentication",
    "openshift-authentication-operator",
    "openshift-catalogd",
    "openshift-cloud-controller-manager",
    "openshift-cloud-controller-manager-operator",
    "openshift-cloud-credential-operator",
    "openshift-cluster-csi-drivers",
    "openshift-cluster-machine-approver",
    "openshift-cluster-node-tuning-operator",
    "openshift-cluster-olm-operator",
    "openshift-cluster-samples-operator",
    "openshift-cluster-storage-operator",
    "openshift-cluster-version",
    "openshift-config-operator",
    "openshift-console",
    "openshift-console-operator",
    "openshift-controller-manager",
    "openshift-controller-manager-operator",
    "openshift-dns",
    "openshift-dns-operator",
    "openshift-etcd",
    "openshift-etcd-operator",
    "openshift-image-registry",
    "openshift-ingress",
    "openshift-ingress-canary",
    "openshift-ingress-operator",
    "openshift-insights",
    "openshift-kube-apiserver",
    "openshift-kube-apiserver-operator",
    "openshift-kube-controller-manager",
    "openshift-kube-controller-manager-operator",
    "openshift-kube-scheduler",
    "openshift-kube-scheduler-operator",
    "openshift-kube-storage-version-migrator",
    "openshift-machine-api",
    "openshift-machine-config-operator",
    "openshift-marketplace",
    "openshift-monitoring",
    "openshift-multus",
    "openshift-network-diagnostics",
    "openshift-network-node-identity",
    "openshift-network-operator",
    "openshift-oauth-apiserver",
    "openshift-operator-lifecycle-manager",
    "openshift-ovn-kubernetes",
    "openshift-route-controller-manager",
    "openshift-service-ca",
    "openshift-service-ca-operator",
)
_NAMESPACE_FAMILIES = (
    "[sig-architecture] platform pods in ns/{ns} should not fail to start",
    "[sig-auth] all workloads in ns/{ns} must set the 'openshift.io/required-scc' annotation",
    "[sig-architecture] platform pods in ns/{ns} should not exit a moderate amount of times",
    "[sig-architecture] platform pods in ns/{ns} should not exit an excessive amount of times",
    'users in ns/{ns} must not produce too many invalid "update" requests',
    'users in ns/{ns} must not produce too many invalid "patch" requests',
    "users in ns/{ns} must not produce too many applies",
    "operators in in ns/{ns} should not submit invalid apply statements",
    "objects in ns/{ns} should not have too many generations",
    "objects in ns/{ns} should have generation increasing monotonically",
    "[sig-cluster-lifecycle] pathological event should not see excessive Back-off restarting"
    " failed containers for ns/{ns}",
    "[sig-arch] events should not repeat pathologically for ns/{ns}",
    "[sig-arch] all containers in ns/{ns} must have terminationMessagePolicy=FallbackToLogsOnError",
    "[sig-arch] all leases in ns/{ns} must gracefully release",
)
_MONITOR_TESTS = (
    ("Cluster Version Operator", "legacy-cvo-invariants"),
    ("Cluster Version Operator", "operator-state-analyzer"),
    ("Cluster Version Operator", "required-scc-annotation-checker"),
    ("Cluster-Lifecycle / machine-api", "machine-lifecycle"),
    ("Image Registry", "image-registry-availability"),
    ("Monitoring", "metrics-api-availability"),
    ("Network / ovn-kubernetes", "pod-network-avalibility"),
    ("Networking / cluster-network-operator", "legacy-networking-invariants"),
    ("Networking / router", "ingress-availability"),
    ("Networking / router", "service-type-load-balancer-availability"),
    ("Node / Kubelet", "kubelet-log-collector"),
    ("Node / Kubelet", "legacy-node-invariants"),
    ("Node / Kubelet", "node-lifecycle"),
    ("Node / Kubelet", "node-state-analyzer"),
    ("Node / Kubelet", "pod-lifecycle"),
    ("Storage", "legacy-storage-invariants"),
    ("Test Framework", "additional-events-collector"),
    ("Test Framework", "alert-summary-serializer"),
    ("Test Framework", "cluster-info-serializer"),
    ("Test Framework", "clusteroperator-collector"),
    ("Test Framework", "disruption-summary-serializer"),
    ("Test Framework", "e2e-test-analyzer"),
    ("Test Framework", "event-collector"),
    ("Test Framework", "external-service-availability"),
    ("Test Framework", "interval-serializer"),
    ("Test Framework", "known-image-checker"),
    ("Test Framework", "lease-checker"),
    ("Test Framework", "pathological-event-analyzer"),
    ("Test Framework", "timeline-serializer"),
    ("Test Framework", "watch-namespaces"),
    ("apiserver-auth", "legacy-authentication-invariants"),
    ("etcd", "etcd-log-analyzer"),
    ("etcd", "legacy-etcd-invariants"),
    ("kube-apiserver", "apiserver-availability"),
    ("kube-apiserver", "audit-log-analyzer"),
    ("kube-apiserver", "graceful-shutdown-analyzer"),
    ("kube-apiserver", "legacy-kube-apiserver-invariants"),
)
_MONITOR_PHASES = (
    "setup",
    "collection",
    "interval construction",
    "test evaluation",
    "cleanup",
    "writing to storage",
)
_DISRUPTION_BACKENDS = (
    ("[sig-api-machinery] ", "kube-api"),
    ("[sig-api-machinery] ", "cache-kube-api"),
    ("[sig-api-machinery] ", "openshift-api"),
    ("[sig-api-machinery] ", "cache-openshift-api"),
    ("[sig-api-machinery] ", "oauth-api"),
    ("[sig-api-machinery] ", "cache-oauth-api"),
    ("[sig-imageregistry] ", "image-registry"),
    ("[sig-instrumentation] ", "metrics-api"),
    ("[sig-network-edge] ", "service-load-balancer-with-pdb"),
    (
        "[sig-network-edge] ns/openshift-authentication route/oauth-openshift ",
        "ingress-to-oauth-server",
    ),
    ("[sig-network-edge] ns/openshift-console route/console ", "ingress-to-console"),
)
_ALERTS = (
    ("etcd", "etcdMembersDown"),
    ("etcd", "etcdGRPCRequestsSlow"),
    ("etcd", "etcdNoLeader"),
    ("etcd", "etcdHighFsyncDurations"),
    ("kube-apiserver", "KubeAPIErrorBudgetBurn"),
    ("kube-apiserver", "KubeClientErrors"),
    ("storage", "KubePersistentVolumeErrors"),
    ("monitoring", "PrometheusOperatorRejectedResources"),
)
_BUILD_FARMS = ("build01", "build02", "build03", "build04", "build05", "build06", "build09")
_AUTHORS = ("dgoodwin", "stbenjam", "deads2k", "neisw", "xueqzhan", "sosiouxme", "jluhrsen")
_PR_TITLES = (
    "OCPBUGS-61234: wait for CSI driver to report ready before provisioning",
    "TRT-2201: extend disruption backends to the console route",
    "NO-JIRA: bump k8s.io/* to v0.35.1",
    "OCPBUGS-60917: retry volume snapshot restore on transient conflict",
)

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_ALNUM = _LOWER + "0123456789"
_HEX = "0123456789abcdef"
_CONSONANTS = "bcdfghjklmnpqrstvwxz"

# --------------------------------------------------------------------------------------------
# Public types


@dataclass(slots=True)
class SampleRun:
    """Ground truth of one generated run, derived from what was written.

    `failed_tests` / `flaked_tests` are the distinct names Sippy would store as failure (12) /
    flake (13): allowlisted suites only, ignore-regex names and skips dropped, flakes merged per
    (suite, name); `failures` / `flakes` keep the (suite, name) keys, so a name failing in two
    suites appears twice there. `degraded_operators` are operators with Degraded=True or
    Available=False in the latest clusteroperators.json (by step finish time);
    `operator_conditions` lists those conditions as (operator, type, status). `bad_nodes` are
    nodes not Ready or under Memory/Disk/PID pressure; `failed_machines` are Machines in the
    Failed phase. Every `root_cause_lines` entry is a complete line of build-log.txt, a step
    build-log.txt or a JUnit failure text; `causes` label them (`samples.causes`), for
    scoring answers. `cluster_state_source` is the latest clusteroperators.json, the one the
    operator, node and machine truth comes from ("" when nothing was gathered).
    """

    build_id: int
    job_name: str
    path: str
    bucket: str
    scenario: str
    prow_state: str
    expected_result: str
    failed_tests: list[str] = field(default_factory=list)
    flaked_tests: list[str] = field(default_factory=list)
    degraded_operators: list[str] = field(default_factory=list)
    bad_nodes: list[str] = field(default_factory=list)
    failed_machines: list[str] = field(default_factory=list)
    root_cause_lines: list[str] = field(default_factory=list)
    job_type: str = "periodic"
    target: str = ""
    start_time: str = ""
    completion_time: str = ""
    failures: list[tuple[str, str]] = field(default_factory=list)
    flakes: list[tuple[str, str]] = field(default_factory=list)
    operator_conditions: list[tuple[str, str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    causes: list[PlantedCause] = field(default_factory=list)
    cluster_state_source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (tuples are written as lists)."""
        return asdict(self)


def generate_samples(root: Path, *, count: int | None = None, seed: int = 0) -> list[SampleRun]:
    """Write sample runs under `root/<bucket>/...` and return their ground truth.

    With `count=None` the six canonical scenarios are written, one run each; with `count=N`,
    N runs cycle through the scenarios (plus an external-infrastructure install failure) with
    varied jobs, test selections and sizes.
    """
    rng = random.Random(seed)
    root = Path(root)
    kinds = SCENARIOS if count is None else SCENARIOS + EXTRA_SCENARIOS
    total = len(SCENARIOS) if count is None else count
    runs: list[SampleRun] = []
    used_ids: set[int] = set()
    clock = _first_clock(rng, canonical=count is None)
    for index in range(total):
        scenario = kinds[index % len(kinds)]
        cycle = 0 if count is None else index // len(kinds)
        if count is None:
            clock += timedelta(seconds=rng.randint(1800, 4 * 3600))
        else:
            clock = _first_clock(rng, canonical=False)
        ctx = _new_context(rng, scenario, cycle, clock, used_ids, big=count is None)
        runs.append(_write_run(root, ctx))
    return runs


def write_manifest(path: Path, runs: Iterable[SampleRun]) -> None:
    """Save ground truth as JSON, for evaluations run later against the same folder."""
    data = [run.to_dict() for run in runs]
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Jobs


@dataclass(frozen=True, slots=True)
class _Job:
    org: str
    repo: str
    branch: str
    variant: str
    test: str
    platform: str
    release: str
    from_release: str = ""
    presubmit: bool = False

    @property
    def name(self) -> str:
        if self.presubmit:
            return f"pull-ci-{self.org}-{self.repo}-{self.branch}-{self.test}"
        return f"periodic-ci-{self.org}-{self.repo}-{self.branch}-{self.variant}-{self.test}"

    @property
    def stream(self) -> str:
        return "nightly" if "nightly" in self.variant or self.presubmit else "ci"

    @property
    def upgrade(self) -> bool:
        return bool(self.from_release)


def _periodic(variant: str, test: str, platform: str, from_release: str = "") -> _Job:
    release = re.search(r"\d+\.\d+", variant).group(0)  # type: ignore[union-attr]
    return _Job("openshift", "release", "main", variant, test, platform, release, from_release)


def _presubmit(repo: str, test: str, platform: str) -> _Job:
    return _Job("openshift", repo, "main", "", test, platform, "4.22", presubmit=True)


# The first job of each list is the canonical one; the others add variety when `count` is set.
_JOBS: dict[str, tuple[_Job, ...]] = {
    "success": (
        _periodic("nightly-4.20", "e2e-aws-ovn", "aws"),
        _periodic("nightly-4.21", "e2e-gcp-ovn", "gcp"),
        _periodic("ci-4.22", "e2e-azure-ovn", "azure"),
        _periodic("nightly-4.19", "e2e-aws-ovn-serial", "aws"),
    ),
    "test-failure": (
        _periodic("ci-4.20", "e2e-azure-ovn", "azure"),
        _periodic("nightly-4.21", "e2e-aws-ovn-serial", "aws"),
        _periodic("nightly-4.22", "e2e-gcp-ovn", "gcp"),
        _periodic("ci-4.19", "e2e-aws-ovn", "aws"),
    ),
    "install-failure": (
        _periodic("nightly-4.21", "e2e-aws-ovn-techpreview", "aws"),
        _periodic("nightly-4.20", "e2e-aws-ovn-fips", "aws"),
        _periodic("ci-4.22", "e2e-gcp-ovn-techpreview", "gcp"),
    ),
    "infra-failure": (
        _periodic("nightly-4.20", "e2e-aws-ovn-shared-vpc-phz", "aws"),
        _periodic("nightly-4.21", "e2e-aws-ovn-serial", "aws"),
        _periodic("ci-4.22", "e2e-aws-ovn-edge-zones", "aws"),
    ),
    "upgrade-failure": (
        _periodic("ci-4.20-upgrade-from-stable-4.19", "e2e-gcp-ovn-upgrade", "gcp", "4.19"),
        _periodic("ci-4.21-upgrade-from-stable-4.20", "e2e-aws-ovn-upgrade", "aws", "4.20"),
        _periodic(
            "nightly-4.22-upgrade-from-stable-4.21", "e2e-azure-ovn-upgrade", "azure", "4.21"
        ),
        _periodic("nightly-4.20", "e2e-aws-ovn-upgrade", "aws", "4.20"),
    ),
    "presubmit-failure": (
        _presubmit("origin", "e2e-aws-csi", "aws"),
        _presubmit("cluster-kube-apiserver-operator", "e2e-aws-ovn", "aws"),
        _presubmit("machine-config-operator", "e2e-gcp-op", "gcp"),
        _presubmit("cluster-ingress-operator", "e2e-azure-operator", "azure"),
    ),
    "install-infra-failure": (
        _periodic("nightly-4.20", "e2e-aws-ovn-single-node", "aws"),
        _periodic("ci-4.21", "e2e-aws-ovn-fips", "aws"),
    ),
}
_REGIONS = {"aws": "us-east-2", "gcp": "us-central1", "azure": "centralus"}
_ZONES = {"aws": ("a", "b", "c"), "gcp": ("a", "b", "c"), "azure": ("1", "2", "3")}
_BASE_DOMAINS = {
    "aws": "aws-2.ci.openshift.org",
    "gcp": "gcp-2.ci.openshift.org",
    "azure": "ci2.azure.devcluster.openshift.com",
}
_LEASES = {"aws": "aws-quota-slice", "gcp": "gcp-quota-slice", "azure": "azure4-quota-slice"}
_INSTANCE_TYPES = {"aws": "m6a.xlarge", "gcp": "n2-standard-4", "azure": "Standard_D4s_v3"}


# --------------------------------------------------------------------------------------------
# Per-run context and plan


@dataclass(slots=True)
class _Pull:
    number: int
    author: str
    sha: str
    base_sha: str
    title: str


@dataclass(slots=True)
class _Ctx:
    rng: random.Random
    scenario: str
    cycle: int
    job: _Job
    build_id: int
    created: datetime
    start: datetime
    namespace: str
    prowjob_id: str
    build_farm: str
    cluster_name: str
    infra_id: str
    payload: str
    initial: str
    test_version: str
    release_image: str
    pull: _Pull | None
    conformance_size: int
    monitor_size: int
    big: bool

    @property
    def target(self) -> str:
        return self.job.test

    def pod(self, step: str) -> str:
        return f"{self.job.test}-{step}"

    @property
    def gcs_path(self) -> str:
        job = self.job
        if job.presubmit and self.pull is not None:
            return (
                f"pr-logs/pull/{job.org}_{job.repo}/{self.pull.number}/{job.name}/{self.build_id}"
            )
        return f"logs/{job.name}/{self.build_id}"


@dataclass(slots=True)
class _Step:
    name: str
    phase: str
    seconds: int
    failed: bool = False
    log: list[str] = field(default_factory=list)
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    end: datetime = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class _Case:
    name: str
    time: float = 0.0
    failure: str | None = None
    skipped: str | None = None
    system_out: str | None = None
    start: datetime | None = None


@dataclass(slots=True)
class _Suite:
    name: str
    path: str
    cases: list[_Case]
    style: str = "openshift"  # openshift | install | step-graph


@dataclass(slots=True)
class _Snapshot:
    """One gather step's view of the cluster."""

    step: str
    operators: list[dict[str, Any]]
    nodes: list[dict[str, Any]]
    machines: list[dict[str, Any]]


@dataclass(slots=True)
class _Plan:
    """What a scenario decided: steps run, JUnit suites, cluster snapshots and the truth."""

    steps: list[_Step]
    state: str
    letter: str
    setup_seconds: int
    suites: list[_Suite] = field(default_factory=list)
    snapshots: list[_Snapshot] = field(default_factory=list)
    root_cause: list[str] = field(default_factory=list)
    reason: str = (
        "executing_graph:step_failed:utilizing_lease:executing_test:executing_multi_stage_test"
    )
    setup_failure: str = ""  # failure before any step ran (lease, import)
    setup_failure_case: str = ""  # the step-graph testcase carrying setup_failure
    step_files: tuple[str, ...] = ()


def _first_clock(rng: random.Random, *, canonical: bool) -> datetime:
    if canonical:
        return datetime(2026, 5, 11, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 3 * 86400))
    return datetime(2026, 1, 5, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 170 * 86400))


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _new_context(
    rng: random.Random,
    scenario: str,
    cycle: int,
    clock: datetime,
    used_ids: set[int],
    *,
    big: bool,
) -> _Ctx:
    """Pick the job and every identifier of one run; times all derive from the build id."""
    jobs = _JOBS[scenario]
    job = jobs[cycle % len(jobs)]
    created_ms = int(clock.timestamp() * 1000) + rng.randint(0, 999)
    build_id = _snowflake(rng, created_ms, used_ids)
    created = _snowflake_time(build_id)
    start = created.replace(microsecond=0) + timedelta(seconds=rng.randint(2, 9))
    suffix = _rand(rng, _ALNUM, 8)
    namespace = f"ci-op-{suffix}"
    cluster_name = f"{namespace}-{_rand(rng, _HEX, 5)}"
    payload_time = start - timedelta(hours=rng.randint(2, 9), minutes=rng.randint(0, 59))
    payload = f"{job.release}.0-0.{job.stream}-{payload_time:%Y-%m-%d-%H%M%S}"
    initial = payload
    if job.upgrade and job.from_release != job.release:
        initial = f"{job.from_release}.{rng.randint(8, 31)}"
    elif job.upgrade:
        earlier = payload_time - timedelta(days=1, hours=rng.randint(1, 20))
        initial = f"{job.release}.0-0.{job.stream}-{earlier:%Y-%m-%d-%H%M%S}"
    build_farm = rng.choice(_BUILD_FARMS)
    short = _rand(rng, _HEX, 7)
    stamp = payload_time - timedelta(hours=rng.randint(10, 30))
    test_version = f"{job.release}.0-{stamp:%Y%m%d%H%M}.p2.g{short}.assembly.stream.el9-{short}"
    release_image = (
        f"registry.{build_farm}.ci.openshift.org/{namespace}/release@sha256:{_rand(rng, _HEX, 64)}"
    )
    pull = None
    if job.presubmit:
        pull = _Pull(
            number=rng.randint(29800, 31900),
            author=rng.choice(_AUTHORS),
            sha=_rand(rng, _HEX, 40),
            base_sha=_rand(rng, _HEX, 40),
            title=rng.choice(_PR_TITLES),
        )
    return _Ctx(
        rng=rng,
        scenario=scenario,
        cycle=cycle,
        job=job,
        build_id=build_id,
        created=created,
        start=start,
        namespace=namespace,
        prowjob_id=_uuid1_like(rng),
        build_farm=build_farm,
        cluster_name=cluster_name,
        infra_id=f"{cluster_name}-{_rand(rng, 'bcdfghjklmnpqrstvwxz2456789', 5)}",
        payload=payload,
        initial=initial,
        test_version=test_version,
        release_image=release_image,
        pull=pull,
        conformance_size=420 if big else rng.randint(200, 600),
        monitor_size=640 if big else rng.randint(300, 1000),
        big=big,
    )


def _snowflake(rng: random.Random, created_ms: int, used: set[int]) -> int:
    """A 19-digit Prow build id whose timestamp bits are `created_ms`."""
    while True:
        build_id = ((created_ms - SNOWFLAKE_EPOCH_MS) << 22) | rng.getrandbits(22)
        if build_id not in used:
            used.add(build_id)
            return build_id


def _snowflake_time(build_id: int) -> datetime:
    millis = (build_id >> 22) + SNOWFLAKE_EPOCH_MS
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def _uuid1_like(rng: random.Random) -> str:
    """Prow names ProwJobs with time-based UUIDs (`xxxxxxxx-xxxx-11f1-xxxx-0a580a8xxxxx`)."""
    return (
        f"{_rand(rng, _HEX, 8)}-{_rand(rng, _HEX, 4)}-11f1-"
        f"{rng.choice('89ab')}{_rand(rng, _HEX, 3)}"
        f"-0a580a8{_rand(rng, _HEX, 5)}"
    )


# --------------------------------------------------------------------------------------------
# Formatting helpers that mimic the Go tools' output byte for byte where it matters


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


def _go_duration(seconds: float) -> str:
    """Go's time.Duration String() for whole seconds: 2h26m6s, 1m53s, 9s."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _go_float(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64)-like: 26, 1.362838192, 4.9893e-05."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


_XML_ESCAPES = {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord('"'): "&#34;",
    ord("'"): "&#39;",
    ord("\t"): "&#x9;",
    ord("\n"): "&#xA;",
    ord("\r"): "&#xD;",
}
_XML_ESCAPES.update({c: "\ufffd" for c in range(32) if c not in (9, 10, 13)})


def _x(text: str) -> str:
    """Go encoding/xml escaping: quotes as &#34;/&#39;, newlines as &#xA;, ESC as U+FFFD."""
    return text.translate(_XML_ESCAPES)


def _go_json(value: Any, indent: str | int | None = None, *, sort_keys: bool = False) -> bytes:
    """json.Marshal(Indent)-like bytes: UTF-8, HTML characters escaped as Go does."""
    if indent is None:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    else:
        text = json.dumps(value, indent=indent, ensure_ascii=False, sort_keys=sort_keys)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode("utf-8")


_COLOURS = {
    "INFO": "\x1b[36mINFO\x1b[0m",
    "WARN": "\x1b[33mWARN\x1b[0m",
    "ERRO": "\x1b[31mERRO\x1b[0m",
}


def _logrus(level: str, when: datetime, message: str) -> str:
    """One ci-operator log line as written to a terminal-less pod: colour codes included."""
    return f"{_COLOURS[level]}[{_ts(when)}] {message}".rstrip()


def _installer(level: str, when: datetime, message: str) -> str:
    """An openshift-install logrus text line."""
    return f'time="{_ts(when)}" level={level} msg={json.dumps(message, ensure_ascii=False)}'


# --------------------------------------------------------------------------------------------
# Steps and scheduling

_PRE_STEPS = (
    ("ipi-conf", 0, 2),
    ("ipi-conf-telemetry", 0, 1),
    ("ipi-conf-{platform}", 4, 9),
    ("ovn-conf", 0, 1),
    ("ipi-install-monitoringpvc", 0, 1),
    ("ipi-install-rbac", 1, 2),
    ("openshift-cluster-bot-rbac", 0, 1),
    ("ipi-install-hosted-loki", 0, 1),
    ("{install}", 2100, 2900),
    ("ipi-install-times-collection", 1, 2),
    ("nodes-readiness", 2, 6),
    ("multiarch-validate-nodes", 0, 1),
)
_POST_STEPS = (
    ("gather-network", 90, 130),
    ("gather-core-dump", 14, 25),
    ("gather-must-gather", 89, 130),
    ("gather-extra", 300, 620),
    ("gather-audit-logs", 24, 50),
    ("ipi-deprovision-deprovision", 290, 400),
)
OBSERVER_STEP = "observers-resource-watch"


def _install_step(job: _Job) -> str:
    return "ipi-install-install-stableinitial" if job.upgrade else "ipi-install-install"


def _pre_steps(ctx: _Ctx, *, until: str | None = None) -> list[_Step]:
    """The IPI pre phase, cut after `until` (the step that fails) when given."""
    steps = []
    for template, low, high in _PRE_STEPS:
        name = template.format(platform=ctx.job.platform, install=_install_step(ctx.job))
        steps.append(_Step(name, "pre", ctx.rng.randint(low, high)))
        if name == until:
            break
    return steps


def _post_steps(ctx: _Ctx) -> list[_Step]:
    return [_Step(n, "post", ctx.rng.randint(lo, hi)) for n, lo, hi in _POST_STEPS]


def _find(steps: list[_Step], name: str) -> _Step:
    return next(step for step in steps if step.name == name)


def _schedule(ctx: _Ctx, steps: list[_Step], setup_seconds: int) -> None:
    """Run steps back to back after ci-operator's setup (imports, lease)."""
    now = ctx.start + timedelta(seconds=setup_seconds)
    for step in steps:
        step.start = now
        now = now + timedelta(seconds=step.seconds)
        step.end = now


# --------------------------------------------------------------------------------------------
# JUnit content


def _project(rng: random.Random) -> str:
    return f"e2e-test-{_rand(rng, _LOWER, 6)}-{_rand(rng, _ALNUM, 5)}"


def _failure_noise(rng: random.Random, when: datetime, count: int) -> list[str]:
    """Ginkgo STEP lines, client logs and a goroutine trace, as follow a `fail [` line."""
    project = _project(rng)
    stamp = when.strftime("%m/%d/%y %H:%M:%S")
    klog = when.strftime("I%m%d %H:%M:%S")
    pid = rng.randint(300, 30000)
    origin = "github.com/openshift/origin/test/extended/util"
    templates = (
        "  STEP: Creating a kubernetes client @ {stamp}.{ms}",
        '{klog}.{us} {pid} client.go:288] configPath is now "/tmp/configfile{big}"',
        '{klog}.{us} {pid} client.go:365] Creating project "{project}"',
        "  STEP: Waiting for a default service account to be provisioned in namespace"
        " @ {stamp}.{ms}",
        "{origin}.(*CLI).Run(0xc00{h7}, {{0x{h7}, 0x{small:x}}})",
        "\t{origin}/client.go:{line} +0x{h3}",
    )
    out = []
    for i in range(count):
        us = f"{rng.randint(0, 999999):06d}"
        out.append(
            templates[i % len(templates)].format(
                stamp=stamp,
                klog=klog,
                pid=pid,
                project=project,
                origin=origin,
                ms=us[:3],
                us=us,
                big=rng.randint(10**9, 4 * 10**9),
                h7=_rand(rng, _HEX, 7),
                small=rng.randint(2, 20),
                line=rng.randint(100, 999),
                h3=_rand(rng, _HEX, 3),
            )
        )
    out.append(f'  STEP: Destroying namespace "{project}" for this suite. @ {stamp}.{us[:3]}')
    return out


@dataclass(frozen=True, slots=True)
class _FailureTemplate:
    name: str
    source: str
    message: str


_CONFORMANCE_FAILURES = (
    _FailureTemplate(
        "[sig-network][Feature:Router][apigroup:route.openshift.io] The HAProxy router should"
        " serve the correct routes when scoped to a single namespace and label set"
        " [Suite:openshift/conformance/parallel]",
        "github.com/openshift/origin/test/extended/router/scoped.go:123",
        'route "route-1" in namespace {project} was not admitted by router "router-scoped"'
        " within 3m0s: last condition Admitted=False reason HostAlreadyClaimed",
    ),
    _FailureTemplate(
        "[sig-cli] oc adm must-gather runs successfully [apigroup:config.openshift.io]"
        " [Suite:openshift/conformance/parallel]",
        "github.com/openshift/origin/test/extended/cli/mustgather.go:87",
        "oc adm must-gather --dest-dir /tmp/must-gather-{suffix} exited with status 1:"
        " gather did not complete within 10m0s",
    ),
    _FailureTemplate(
        "[sig-builds][Feature:Builds] oc new-app should succeed with a --name of 58 characters"
        " [apigroup:build.openshift.io] [Suite:openshift/conformance/parallel]",
        "github.com/openshift/origin/test/extended/builds/new_app.go:67",
        'build "a234567890123456789012345678901234567890123456789012345678-1" failed: error'
        " pushing image to image-registry.openshift-image-registry.svc:5000/{project}:"
        " unauthorized",
    ),
    _FailureTemplate(
        "[sig-auth][Feature:OAuthServer] [Token Expiration] Using a OAuth client with a"
        " non-default token max age to generate tokens that expire shortly works as expected when"
        " using a code authorization flow [apigroup:oauth.openshift.io]"
        " [apigroup:user.openshift.io] [Suite:openshift/conformance/parallel]",
        "github.com/openshift/origin/test/extended/oauth/expiration.go:104",
        "token sha256~{suffix} was still valid 10s after its expiry",
    ),
    _FailureTemplate(
        "[sig-network] network isolation when using a plugin in a mode that does not isolate"
        " namespaces by default should allow communication between pods in different namespaces"
        " on the same node [apigroup:project.openshift.io] [Suite:openshift/conformance/parallel]",
        "github.com/openshift/origin/test/extended/networking/isolation.go:28",
        "pod net-client in ns {project} could not reach 10.129.2.{octet}:8080 within 2m0s:"
        " connection timed out",
    ),
)
_STORAGE_FAILURE = _FailureTemplate(
    "[sig-storage] CSI Volumes [Driver: {driver}] [Testpattern: Dynamic PV (default fs)]"
    " provisioning should provision storage with pvc data source"
    " [Suite:openshift/conformance/parallel] [Suite:k8s]",
    "k8s.io/kubernetes@v1.35.1/test/e2e/storage/testsuites/provisioning.go:421",
    "while waiting for PVC pvc-{suffix} to be bound: PersistentVolumeClaims [pvc-{suffix}] not"
    " all in phase Bound within 5m0s",
)
_UNICODE_TAIL = (
    "[must-gather-{suffix}] OUT gather_network_logs: ✓ collected 12 files…",
    "[must-gather-{suffix}] OUT gather_audit_logs: ✓ collected 3 files…",
    "[must-gather-{suffix}] OUT 言語設定: ja_JP.UTF-8 — 収集がタイムアウトしました（10分）",
    "[must-gather-{suffix}] OUT 残りのノード: 2 … 中断します ✗",
)


def _decisive(template: _FailureTemplate, ctx: _Ctx, *, driver: str = "") -> tuple[str, str]:
    """(test name, decisive `fail [...]` line) for a failure template."""
    rng = ctx.rng
    fields = {
        "project": _project(rng),
        "suffix": _rand(rng, _ALNUM, 5),
        "octet": str(rng.randint(2, 250)),
    }
    name = template.name.format(driver=driver)
    return name, f"fail [{template.source}]: {template.message.format(**fields)}"


def _failure_text(ctx: _Ctx, decisive: str, when: datetime, *, unicode_tail: bool) -> str:
    """Decisive line first, then noise; optionally end in multi-byte UTF-8 text."""
    lines = [decisive, *_failure_noise(ctx.rng, when, ctx.rng.randint(40, 70))]
    if unicode_tail:
        suffix = _rand(ctx.rng, _ALNUM, 5)
        lines += [line.format(suffix=suffix) for line in _UNICODE_TAIL]
        lines.append("Ginkgo exit error 1: exit with code 1")
        return _split_multibyte("\n".join(lines))
    lines.append("Ginkgo exit error 1: exit with code 1")
    return "\n".join(lines)


def _split_multibyte(text: str) -> str:
    """Pad the last line so byte offset len-256 falls inside a multi-byte character."""
    cut = text.rfind("\nGinkgo exit error")
    for pad in range(48):
        candidate = text[:cut] + " " * pad + text[cut:]
        data = candidate.encode("utf-8")
        if len(data) > 256 and (data[len(data) - 256] & 0xC0) == 0x80:
            return candidate
    return text


def _skip_message(name: str) -> str:
    if "[Driver: " in name:
        driver = name.split("[Driver: ", 1)[1].split("]", 1)[0]
        return (
            "skip [k8s.io/kubernetes@v1.35.1/test/e2e/storage/framework/testsuite.go:116]: Driver"
            f" {driver} doesn't support this test pattern -- skipping\n"
            "Ginkgo exit error 3: exit with code 3"
        )
    if "prow job name" in name:
        return (
            "skip [github.com/openshift/origin/test/extended/ci/job_names.go:139]: This is only"
            " expected to work on periodics, skipping\nGinkgo exit error 3: exit with code 3"
        )
    return (
        "skip [github.com/openshift/origin/test/extended/util/framework.go:2174]: Test requires"
        " a cluster capability that is not enabled\nGinkgo exit error 3: exit with code 3"
    )


@functools.cache
def _storage_names(platform: str) -> tuple[str, ...]:
    """The storage test matrix (driver x pattern x behaviour), as kubernetes names it."""
    drivers = [(_STORAGE_DRIVERS[platform], "CSI"), *((d, "In-tree") for d in _INTREE_DRIVERS)]
    return tuple(
        f"[sig-storage] {kind} Volumes [Driver: {driver}] [Testpattern: {pattern}]"
        f" {behaviour} [Suite:openshift/conformance/parallel] [Suite:k8s]"
        for driver, kind in drivers
        for pattern in _STORAGE_PATTERNS
        for behaviour in _STORAGE_BEHAVIOURS
    )


def _conformance_cases(
    ctx: _Ctx,
    step: _Step,
    failures: list[tuple[str, str]],
    flakes: list[str],
    size: int,
) -> list[_Case]:
    """An openshift/conformance/parallel result: Early, bulk (about half skipped), Late."""
    rng = ctx.rng
    special = {name for name, _ in failures} | set(flakes)
    bulk_pool = [
        n for n in (*_PARALLEL_TESTS, *_storage_names(ctx.job.platform)) if n not in special
    ]
    fixed = [n for n in (*_EARLY_LATE_TESTS, *_LATE_TESTS) if n not in special]
    bulk_count = size - len(fixed) - len(special) - len(flakes)  # a flake is two testcases
    bulk = _ordered_sample(rng, bulk_pool, bulk_count)
    middle = [*bulk, *(n for n, _ in failures), *flakes]
    rng.shuffle(middle)
    early = [n for n in _EARLY_LATE_TESTS if n not in special]
    late = [n for n in _LATE_TESTS if n not in special]
    names = [*early[:9], *middle, *early[9:], *late]
    decisive = dict(failures)
    flaky = set(flakes)
    span = max(step.seconds - 300, 600)
    cases: list[_Case] = []
    for i, name in enumerate(names):
        when = step.start + timedelta(seconds=60 + span * i // max(len(names), 1))
        duration = round(rng.uniform(0.4, 95.0), 1)
        if name in decisive:
            text = _failure_text(ctx, decisive[name], when, unicode_tail="must-gather" in name)
            cases.append(
                _Case(name, duration, failure=text, system_out=_system_out(ctx, when), start=when)
            )
        elif name in flaky:
            _, line = _decisive(rng.choice(_CONFORMANCE_FAILURES), ctx)
            first = _Case(name, duration, failure=f"flake: {line.split(']: ', 1)[1]}", start=when)
            cases += [first, _Case(name, round(duration * 0.8, 1), start=when)]
        elif _should_skip(rng, name):
            cases.append(_Case(name, 0.0, skipped=_skip_message(name), start=when))
        else:
            cases.append(_Case(name, duration, start=when))
    return cases


def _should_skip(rng: random.Random, name: str) -> bool:
    """About half of a parallel run is skipped, mostly storage patterns a driver lacks."""
    if "[sig-storage] In-tree" in name:
        return rng.random() < 0.7
    if "[sig-storage] CSI" in name:
        return rng.random() < 0.25
    return rng.random() < 0.06


def _system_out(ctx: _Ctx, when: datetime) -> str:
    klog = when.strftime("I%m%d %H:%M:%S")
    return "\n".join(
        [
            f"{klog}.{ctx.rng.randint(100000, 999999)}     394 factory.go:193]"
            ' Registered Plugin "containerd"',
            f"openshift-tests {ctx.test_version}",
            f'time="{_ts(when)}" level=info msg="Decoding provider" clusterState="<nil>"'
            " discover=false dryRun=false",
        ]
    )


def _monitor_names(ctx: _Ctx, size: int, required: Iterable[str]) -> list[str]:
    """Monitor-test / invariant names, as many as `size`, always including `required`."""
    rng = ctx.rng
    fixed = [
        f'[Jira:"{comp}"] monitor test {test} {phase}'
        for comp, test in _MONITOR_TESTS
        for phase in _MONITOR_PHASES
    ]
    fixed += [
        f"[bz-{bz}] clusteroperator/{co} should not change condition/{cond}"
        for co, bz, _ in _OPERATORS
        for cond in ("Available", "Degraded")
    ]
    fixed += _disruption_names()
    fixed += [
        f"[bz-{comp}][invariant] alert/{alert} should not be at or above {lvl}"
        for comp, alert in _ALERTS
        for lvl in ("pending", "info")
    ]
    pool = [fam.format(ns=ns) for fam in _NAMESPACE_FAMILIES for ns in _NAMESPACES]
    required = list(dict.fromkeys(required))
    chosen = set(required)
    keep = _ordered_sample(rng, [n for n in fixed if n not in chosen], size - len(required))
    free = [n for n in pool if n not in chosen]
    names = [*keep, *_ordered_sample(rng, free, size - len(keep) - len(required))]
    for name in required:
        names.insert(rng.randint(0, len(names)), name)
    return names


def _ordered_sample(rng: random.Random, items: list[str], count: int) -> list[str]:
    """Up to `count` items picked at random, kept in their original order."""
    count = max(0, min(count, len(items)))
    return [items[i] for i in sorted(rng.sample(range(len(items)), count))]


def _disruption_names() -> list[str]:
    return [
        f"{prefix}disruption/{backend} connection/{kind} should be available throughout the test"
        for prefix, backend in _DISRUPTION_BACKENDS
        for kind in ("new", "reused")
    ]


def _monitor_failure(ctx: _Ctx, name: str, when: datetime) -> str:
    """A monitor-test failure message shaped like the family of `name`."""
    rng = ctx.rng
    stamp = when.strftime("%b %d %H:%M:%S")
    pod = f"{_rand(rng, _LOWER, 6)}-{_rand(rng, _ALNUM, 10)}-{_rand(rng, _ALNUM, 5)}"
    ns = name.split("ns/", 1)[1].split(" ", 1)[0] if "ns/" in name else "openshift-etcd"
    if "disruption/" in name:
        return _disruption_failure(rng, name, stamp)
    if "clusteroperator/" in name:
        co = name.split("clusteroperator/", 1)[1].split(" ", 1)[0]
        cond = name.rsplit("condition/", 1)[1]
        status = "False" if cond == "Available" else "True"
        return (
            f"1 unexpected clusteroperator state transitions during e2e test run \n\n{stamp}.000 -"
            f" {rng.randint(20, 900)}s   E clusteroperator/{co} condition/{cond}"
            f" reason/{_camel(co)}{cond} status/{status} {co} changed {cond} to {status}"
        )
    if "required-scc" in name:
        return (
            f"annotation missing from pod '{pod}' (owners: replicaset/{pod.rsplit('-', 1)[0]});"
            " cannot suggest required-scc, no validated SCC on pod"
        )
    if "pathologically" in name or "Back-off" in name:
        return (
            f"1 events happened too frequently\n\nevent happened {rng.randint(21, 60)} times,"
            f" something is wrong: namespace/{ns} pod/{pod} hmsg/{_rand(rng, _HEX, 10)} -"
            " reason/BackOff Back-off restarting failed container"
        )
    if "leases" in name:
        return f"lease {pod} in ns/{ns} was not gracefully released before its holder terminated"
    return f"1 pods in ns/{ns} failed: pod/{pod} exited {rng.randint(4, 12)} times"


def _disruption_failure(rng: random.Random, name: str, stamp: str) -> str:
    backend = name.split("disruption/", 1)[1].split(" ", 1)[0]
    kind = name.split("connection/", 1)[1].split(" ", 1)[0]
    seconds = rng.randint(6, 19)
    source = f"{backend}-{kind}-connections"
    return (
        f"disruption/{backend} connection/{kind} was unreachable during disruption:"
        f" for at least {seconds}s (maxAllowed=1s):\n\n{stamp}.000 - {seconds}s   E"
        f" backend-disruption-name/{source} connection/{kind} disruption/{backend}"
        f" reason/DisruptionBegan {source} stopped responding to GET requests over {kind}"
        " connections: net/http: timeout awaiting response headers"
    )


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _monitor_cases(
    ctx: _Ctx, step: _Step, hard: list[str], flakes: list[str], size: int
) -> list[_Case]:
    """The monitor/invariant JUnit: flakes are a failure+pass pair of the same name."""
    rng = ctx.rng
    when = step.end - timedelta(minutes=3)
    cases: list[_Case] = []
    hard_set, flaky = set(hard), set(flakes)
    for name in _monitor_names(ctx, size, [*hard, *flakes]):
        duration = rng.choice((0.0, 0.0, 4.6e-07, 2.2861e-05, 0.000189256, 1.2, 36.0))
        if name in hard_set:
            text = _monitor_failure(ctx, name, when)
            cases.append(_Case(name, duration, failure=text, system_out=text))
        elif name in flaky:
            text = _monitor_failure(ctx, name, when)
            pair = [_Case(name, duration, failure=text, system_out=text), _Case(name, duration)]
            if rng.random() < 0.3:
                pair.reverse()
            cases += pair
        else:
            cases.append(_Case(name, duration))
    return cases


def _render_openshift_suite(suite: _Suite, ctx: _Ctx, total_time: int) -> bytes:
    """openshift-tests JUnit (4-space indent, Go escaping; 4.22+ adds per-case attributes)."""
    cases = suite.cases
    failures = sum(1 for c in cases if c.failure is not None)
    skipped = sum(1 for c in cases if c.skipped is not None)
    rich = ctx.job.release >= "4.22"
    out = [
        f'<testsuite name="{_x(suite.name)}" tests="{len(cases)}" skipped="{skipped}"'
        f' failures="{failures}" time="{total_time}">',
        "    <properties>",
        f'        <property name="TestVersion" value="{_x(ctx.test_version)}"></property>',
        "    </properties>",
    ]
    for case in cases:
        attrs = f'name="{_x(case.name)}" time="{_go_float(case.time)}"'
        if rich and case.start is not None:
            end = case.start + timedelta(seconds=case.time)
            attrs += (
                f' start-time="{_ts(case.start)}" end-time="{_ts(end)}" lifecycle="blocking"'
                ' source-image="tests" source-binary="openshift-tests"'
            )
        children = []
        if case.skipped is not None:
            children.append(f'        <skipped message="{_x(case.skipped)}"></skipped>')
        if case.failure is not None:
            children.append(f'        <failure message="">{_x(case.failure)}</failure>')
        if case.system_out is not None:
            children.append(f"        <system-out>{_x(case.system_out)}</system-out>")
        if children:
            out += [f"    <testcase {attrs}>", *children, "    </testcase>"]
        else:
            out.append(f"    <testcase {attrs}></testcase>")
    out.append("</testsuite>")
    return "\n".join(out).encode("utf-8")


def _render_install_suite(suite: _Suite) -> bytes:
    """junit_install.xml as the install step's shell heredoc writes it."""
    failures = sum(1 for c in suite.cases if c.failure is not None)
    out = [
        f'      <testsuite name="cluster install" tests="{len(suite.cases)}" failures="{failures}">'
    ]
    for case in suite.cases:
        if case.failure is None:
            out.append(f'        <testcase name="{_x(case.name)}"/>')
        else:
            out += [
                f'        <testcase name="{_x(case.name)}">',
                f'          <failure message="">{_x(case.failure)}</failure>',
                "        </testcase>",
            ]
    out.append("      </testsuite>")
    return ("\n".join(out) + "\n").encode("utf-8")


_INSTALL_STAGES = (
    "other",
    "configuration",
    "infrastructure",
    "cluster bootstrap",
    "cluster creation",
    "cluster operator stability",
    "overall",
)


def _install_suite(ctx: _Ctx, failed_stage: str | None) -> _Suite:
    """junit_install.xml: all seven stages on success, the failed stage + overall otherwise."""
    path = f"artifacts/{ctx.target}/{_install_step(ctx.job)}/artifacts/junit_install.xml"
    if failed_stage is None:
        cases = [_Case(f"install should succeed: {stage}") for stage in _INSTALL_STAGES]
    else:
        cases = [
            _Case(
                f"install should succeed: {failed_stage}",
                failure=f"openshift cluster install failed with {failed_stage}",
            ),
            _Case(
                "install should succeed: overall",
                failure="openshift cluster install failed overall",
            ),
        ]
    return _Suite("cluster install", path, cases, style="install")


def _junit_dir(ctx: _Ctx) -> str:
    return f"artifacts/{ctx.target}/openshift-e2e-test/artifacts/junit"


def _junit_stamp(step: _Step) -> str:
    return (step.start + timedelta(seconds=95)).strftime("%Y%m%d-%H%M%S")


# --------------------------------------------------------------------------------------------
# Step graph (junit_operator.xml)


def _step_graph_suite(ctx: _Ctx, plan: _Plan) -> _Suite:
    """ci-operator's step graph: inputs, imports, every step and phase, sorted by name."""
    rng = ctx.rng
    job = ctx.job
    cases = [
        _Case("", rng.uniform(2e-5, 6e-5)),
        _Case("All images are built and tagged into stable", rng.uniform(1.2e-6, 1.9e-6)),
    ]
    quick = rng.uniform(1.2, 4.4)
    for image in (f"ocp-{job.release}-upi-installer", "origin-centos-8"):
        name = f"Find the input image {image} and tag it into the pipeline"
        cases.append(_Case(name, quick + rng.uniform(0, 0.003)))
    if job.presubmit:
        cases.append(_Case("Build image src from the repository", rng.uniform(90, 240)))
        cases.append(_Case("Build image tests from the repository", rng.uniform(400, 900)))
    for payload in ("latest", "initial") if job.upgrade else ("latest",):
        failed = plan.setup_failure_case == f"import:{payload}"
        name = f'Import the release payload "{payload}" from an external source'
        cases.append(_Case(name, rng.uniform(95, 140), plan.setup_failure if failed else None))
    if plan.setup_failure_case == "test":
        name = f"Run multi-stage test {ctx.target}"
        cases.append(_Case(name, rng.uniform(8, 20), plan.setup_failure))
    for step in plan.steps:
        name = f"Run multi-stage test {ctx.target} - {ctx.pod(step.name)} container test"
        cases.append(_Case(name, float(step.seconds), _tail(step.log, 40) if step.failed else None))
    if plan.steps:
        name = f"Run multi-stage test {ctx.target} - {ctx.pod(OBSERVER_STEP)} container test"
        cases.append(_Case(name, 0.0))
    cases += _phase_cases(ctx, plan)
    cases.sort(key=lambda case: case.name)
    return _Suite("step graph", "artifacts/junit_operator.xml", cases, style="step-graph")


def _phase_cases(ctx: _Ctx, plan: _Plan) -> list[_Case]:
    cases = []
    for phase in ("pre", "test", "post"):
        steps = [s for s in plan.steps if s.phase == phase]
        if not steps:
            continue
        failed = next((s for s in steps if s.failed), None)
        seconds = (steps[-1].end - steps[0].start).total_seconds() + ctx.rng.uniform(0.1, 6.0)
        case = _Case(f"Run multi-stage test {phase} phase", seconds)
        case.failure = _phase_failure(ctx, failed) if failed else None
        case.system_out = f"The collected steps of multi-stage phase {phase}."
        cases.append(case)
    return cases


def _render_step_graph(suite: _Suite, seconds: float) -> bytes:
    """junit_operator.xml as ci-operator writes it (Go encoding/xml, 2-space indent)."""
    failures = sum(1 for case in suite.cases if case.failure is not None)
    out = [
        "<testsuites>",
        f'  <testsuite name="step graph" tests="{len(suite.cases)}" skipped="0"'
        f' failures="{failures}" time="{_go_float(round(seconds, 9))}">',
        "    <properties></properties>",
    ]
    for case in suite.cases:
        head = f'    <testcase name="{_x(case.name)}" time="{_go_float(_round_time(case.time))}">'
        if case.failure is None and case.system_out is None:
            out.append(head + "</testcase>")
            continue
        out.append(head)
        if case.failure is not None:
            out.append(f'      <failure message="">{_x(case.failure)}</failure>')
        if case.system_out is not None:
            out.append(f"      <system-out>{_x(case.system_out)}</system-out>")
        out.append("    </testcase>")
    out += ["  </testsuite>", "</testsuites>"]
    return "\n".join(out).encode("utf-8")


def _round_time(seconds: float) -> float:
    return float(int(seconds)) if seconds >= 1 and seconds == int(seconds) else round(seconds, 9)


def _tail(lines: list[str], count: int) -> str:
    return "\n".join(lines[-count:]) + "\n"


def _pod_failed(ctx: _Ctx, step: _Step) -> str:
    pod = ctx.pod(step.name)
    return (
        f'"{ctx.target}" pod "{pod}" failed: could not watch pod: the pod {ctx.namespace}/{pod}'
        f" failed after {_go_duration(step.seconds - 3)} (failed containers: test):"
        " ContainerFailed one or more containers exited\n\nContainer test exited with code 1,"
        f" reason Error\n---\n{_tail(step.log, 30)}---"
    )


def _registry_links(ctx: _Ctx, step: _Step) -> str:
    job = ctx.job
    link = (
        f"https://steps.ci.openshift.org/job?org={job.org}&repo={job.repo}&branch={job.branch}"
        f"&test={job.test}"
    )
    if job.variant:
        link += f"&variant={job.variant}"
    return (
        f"Link to step on registry info site: https://steps.ci.openshift.org/reference/{step.name}\n"
        f"Link to job on registry info site: {link}"
    )


def _phase_failure(ctx: _Ctx, step: _Step) -> str:
    return f"{_pod_failed(ctx, step)}\n{_registry_links(ctx, step)}"


# --------------------------------------------------------------------------------------------
# Cluster state (gather-extra)


def _meta(ctx: _Ctx, name: str, when: datetime, **extra: Any) -> dict[str, Any]:
    rng = ctx.rng
    meta = {
        "creationTimestamp": _ts(when),
        "name": name,
        "resourceVersion": str(rng.randint(10000, 400000)),
        "uid": _uuid4(rng),
    }
    meta.update(extra)
    return meta


def _uuid4(rng: random.Random) -> str:
    raw = _rand(rng, _HEX, 32)
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-{rng.choice('89ab')}{raw[17:20]}-{raw[20:]}"


def _condition(kind: str, status: str, when: datetime, reason: str, message: str) -> dict[str, Any]:
    return {
        "lastTransitionTime": _ts(when),
        "message": message,
        "reason": reason,
        "status": status,
        "type": kind,
    }


def _operators(
    ctx: _Ctx,
    installed: datetime,
    taken: datetime,
    bad: dict[str, list[tuple[str, str, str, str]]],
    versions: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """ClusterOperator objects; `bad[name]` overrides conditions as (type, status, reason, msg)."""
    rng = ctx.rng
    items = []
    for name, _, namespace in _OPERATORS:
        changed = installed + timedelta(seconds=rng.randint(60, 1500))
        conditions = {
            "Degraded": _condition("Degraded", "False", changed, "AsExpected", "All is well"),
            "Progressing": _condition("Progressing", "False", changed, "AsExpected", "All is well"),
            "Available": _condition("Available", "True", changed, "AsExpected", "All is well"),
            "Upgradeable": _condition(
                "Upgradeable", "True", installed, "AsExpected", "All is well"
            ),
        }
        for kind, status, reason, message in bad.get(name, []):
            when = taken - timedelta(seconds=rng.randint(300, 2400))
            conditions[kind] = _condition(kind, status, when, reason, message)
        version = (versions or {}).get(name, ctx.payload)
        items.append(
            {
                "apiVersion": "config.openshift.io/v1",
                "kind": "ClusterOperator",
                "metadata": _meta(
                    ctx,
                    name,
                    installed - timedelta(minutes=rng.randint(20, 35)),
                    annotations={
                        "include.release.openshift.io/self-managed-high-availability": "true",
                        "include.release.openshift.io/single-node-developer": "true",
                    },
                    generation=1,
                    ownerReferences=[
                        {
                            "apiVersion": "config.openshift.io/v1",
                            "controller": True,
                            "kind": "ClusterVersion",
                            "name": "version",
                            "uid": _uuid4(rng),
                        }
                    ],
                ),
                "spec": {},
                "status": {
                    "conditions": list(conditions.values()),
                    "extension": None,
                    "relatedObjects": [
                        {
                            "group": "operator.openshift.io",
                            "name": "cluster",
                            "resource": name + "s",
                        },
                        {"group": "", "name": namespace, "resource": "namespaces"},
                    ],
                    "versions": [{"name": "operator", "version": version}],
                },
            }
        )
    return items


@dataclass(slots=True)
class _NodeSpec:
    name: str
    role: str
    zone: str
    machine: str
    address: str
    problems: list[tuple[str, str, str, str]] = field(default_factory=list)
    unschedulable: bool = False


def _node_layout(ctx: _Ctx, workers: int = 3) -> list[_NodeSpec]:
    """Three control-plane nodes and `workers` workers, named as the platform names them."""
    rng = ctx.rng
    platform = ctx.job.platform
    region = _REGIONS[platform]
    zones = _ZONES[platform]
    specs = []
    for i in range(3 + workers):
        role = "master" if i < 3 else "worker"
        zone = zones[i % 3]
        if role == "master":
            machine = f"{ctx.infra_id}-master-{i}"
        elif platform == "aws":
            machine = (
                f"{ctx.infra_id}-worker-{region}{zone}-{_rand(rng, 'bcdfghjklmnpqrstvwxz', 5)}"
            )
        elif platform == "gcp":
            machine = f"{ctx.infra_id}-worker-{zone}-{_rand(rng, 'bcdfghjklmnpqrstvwxz', 4)}"
        else:
            machine = (
                f"{ctx.infra_id}-worker-{region}{zone}-{_rand(rng, 'bcdfghjklmnpqrstvwxz', 5)}"
            )
        third, fourth = rng.randint(1, 127), rng.randint(2, 254)
        if platform == "aws":
            name = f"ip-10-0-{third}-{fourth}.{region}.compute.internal"
        else:
            name = machine
        specs.append(_NodeSpec(name, role, zone, machine, f"10.0.{third}.{fourth}"))
    return specs


_HEALTHY_NODE = (
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


def _nodes(
    ctx: _Ctx, specs: list[_NodeSpec], installed: datetime, taken: datetime
) -> list[dict[str, Any]]:
    """Node objects with the four kubelet conditions and node-role labels."""
    rng = ctx.rng
    platform = ctx.job.platform
    items = []
    for spec in specs:
        overrides = {
            kind: (status, reason, message) for kind, status, reason, message in spec.problems
        }
        conditions = []
        for kind, status, reason, message in _HEALTHY_NODE:
            status, reason, message = overrides.get(kind, (status, reason, message))
            changed = (
                taken - timedelta(seconds=rng.randint(200, 1800))
                if kind in overrides
                else installed
            )
            cond = _condition(kind, status, changed, reason, message)
            cond["lastHeartbeatTime"] = _ts(taken - timedelta(seconds=rng.randint(5, 40)))
            conditions.append(dict(sorted(cond.items())))
        labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/instance-type": _INSTANCE_TYPES[platform],
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": spec.name.split(".")[0],
            "kubernetes.io/os": "linux",
            "node.kubernetes.io/instance-type": _INSTANCE_TYPES[platform],
            "node.openshift.io/os_id": "rhel",
            "topology.kubernetes.io/region": _REGIONS[platform],
            "topology.kubernetes.io/zone": _zone_name(platform, spec.zone),
        }
        if spec.role == "master":
            labels["node-role.kubernetes.io/control-plane"] = ""
            labels["node-role.kubernetes.io/master"] = ""
        else:
            labels["node-role.kubernetes.io/worker"] = ""
        spec_obj: dict[str, Any] = {"providerID": _provider_id(ctx, spec)}
        taints = _taints(spec)
        if taints:
            spec_obj["taints"] = taints
        if spec.unschedulable:
            spec_obj["unschedulable"] = True
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": _meta(
                    ctx,
                    spec.name,
                    installed - timedelta(minutes=rng.randint(8, 25)),
                    annotations={
                        "machine.openshift.io/machine": f"openshift-machine-api/{spec.machine}"
                    },
                    labels=labels,
                ),
                "spec": spec_obj,
                "status": {
                    "addresses": [
                        {"address": spec.address, "type": "InternalIP"},
                        {"address": spec.name, "type": "Hostname"},
                    ],
                    "allocatable": {"cpu": "3500m", "memory": "14918908Ki", "pods": "250"},
                    "capacity": {"cpu": "4", "memory": "16116988Ki", "pods": "250"},
                    "conditions": conditions,
                    "nodeInfo": {
                        "architecture": "amd64",
                        "containerRuntimeVersion": "cri-o://1.33.4-2.rhaos4.20.git1a2b3c4.el9",
                        "kernelVersion": "5.14.0-570.42.1.el9_6.x86_64",
                        "kubeletVersion": "v1.33.4",
                        "operatingSystem": "linux",
                        "osImage": "Red Hat Enterprise Linux CoreOS 9.6.20260510-0 (Plow)",
                    },
                },
            }
        )
    return items


def _taints(spec: _NodeSpec) -> list[dict[str, str]]:
    taints = []
    if spec.role == "master":
        taints.append({"effect": "NoSchedule", "key": "node-role.kubernetes.io/master"})
    kinds = {kind: status for kind, status, _, _ in spec.problems}
    if kinds.get("Ready") in ("False", "Unknown"):
        taints.append({"effect": "NoSchedule", "key": "node.kubernetes.io/not-ready"})
    if kinds.get("DiskPressure") == "True":
        taints.append({"effect": "NoSchedule", "key": "node.kubernetes.io/disk-pressure"})
    if spec.unschedulable:
        taints.append({"effect": "NoSchedule", "key": "node.kubernetes.io/unschedulable"})
    return taints


def _zone_name(platform: str, zone: str) -> str:
    region = _REGIONS[platform]
    if platform == "azure":
        return f"{region}-{zone}"
    if platform == "gcp":
        return f"{region}-{zone}"
    return f"{region}{zone}"


def _provider_id(ctx: _Ctx, spec: _NodeSpec) -> str:
    platform = ctx.job.platform
    if platform == "aws":
        return f"aws:///{_zone_name(platform, spec.zone)}/i-0{_rand(ctx.rng, _HEX, 16)}"
    if platform == "gcp":
        return f"gce://openshift-gce-devel-ci-2/{_zone_name(platform, spec.zone)}/{spec.machine}"
    return (
        f"azure:///subscriptions/{_uuid4(ctx.rng)}/resourceGroups/{ctx.infra_id}-rg/providers/"
        f"Microsoft.Compute/virtualMachines/{spec.machine}"
    )


def _machines(
    ctx: _Ctx,
    specs: list[_NodeSpec],
    installed: datetime,
    failed: list[tuple[str, str, str]],
) -> list[dict[str, Any]]:
    """machine.openshift.io/v1beta1 Machines; `failed` adds (name, errorReason, errorMessage)."""
    rng = ctx.rng
    platform = ctx.job.platform
    items = []
    rows = [(spec.machine, spec.role, spec.zone, spec, None, None) for spec in specs]
    for name, reason, message in failed:
        rows.append((name, "worker", _ZONES[platform][2], None, reason, message))
    for name, role, zone, spec, reason, message in rows:
        labels = {
            "machine.openshift.io/cluster-api-cluster": ctx.infra_id,
            "machine.openshift.io/cluster-api-machine-role": role,
            "machine.openshift.io/cluster-api-machine-type": role,
            "machine.openshift.io/instance-type": _INSTANCE_TYPES[platform],
            "machine.openshift.io/region": _REGIONS[platform],
            "machine.openshift.io/zone": _zone_name(platform, zone),
        }
        status: dict[str, Any] = {
            "lastUpdated": _ts(installed + timedelta(seconds=rng.randint(60, 900))),
            "phase": "Running" if spec is not None else "Failed",
        }
        if spec is not None:
            status["addresses"] = [{"address": spec.name, "type": "InternalDNS"}]
            status["nodeRef"] = {"kind": "Node", "name": spec.name, "uid": _uuid4(rng)}
            status["providerStatus"] = {"instanceState": "running"}
        else:
            status["errorMessage"] = message
            status["errorReason"] = reason
            status["providerStatus"] = {
                "conditions": [
                    {
                        "reason": "MachineCreationFailed",
                        "status": "False",
                        "type": "MachineCreation",
                    }
                ]
            }
        items.append(
            {
                "apiVersion": "machine.openshift.io/v1beta1",
                "kind": "Machine",
                "metadata": _meta(
                    ctx,
                    name,
                    installed - timedelta(minutes=rng.randint(25, 40)),
                    labels=labels,
                    namespace="openshift-machine-api",
                ),
                "spec": {
                    **({"providerID": _provider_id(ctx, spec)} if spec is not None else {}),
                    "providerSpec": {
                        "value": {
                            "instanceType": _INSTANCE_TYPES[platform],
                            "kind": f"{platform.upper()}MachineProviderConfig",
                        }
                    },
                },
                "status": status,
            }
        )
    return items


def _list(items: list[dict[str, Any]]) -> bytes:
    """`oc get -o json` List wrapper, 4-space indent, sorted keys."""
    return _go_json(
        {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}},
        4,
        sort_keys=True,
    )


def _healthy_snapshot(ctx: _Ctx, installed: datetime, taken: datetime) -> _Snapshot:
    specs = _node_layout(ctx)
    return _Snapshot(
        "gather-extra",
        _operators(ctx, installed, taken, {}),
        _nodes(ctx, specs, installed, taken),
        _machines(ctx, specs, installed, []),
    )


# --------------------------------------------------------------------------------------------
# Step logs


def _openshift_tests_log(
    ctx: _Ctx, step: _Step, suite_arg: str, suites: list[_Suite], monitor_failed: bool
) -> list[str]:
    """What `openshift-tests run` prints: one started/result line per test, then the summary."""
    platform = ctx.job.platform
    provider = json.dumps({"type": platform, "region": _REGIONS[platform], "multizone": True})
    lines = [
        f"+ openshift-tests run {suite_arg} --provider '{provider}'"
        " -o /logs/artifacts/e2e.log --junit-dir /logs/artifacts/junit",
        f"openshift-tests {ctx.test_version}",
        f'time="{_ts(step.start)}" level=info msg="Decoding provider" clusterState="<nil>"'
        " discover=false dryRun=false",
        f'time="{_ts(step.start)}" level=warning msg="config was nil" func=DecodeProvider',
    ]
    main = next((s for s in suites if "junit_e2e__" in s.path), None)
    cases = main.cases if main else []
    lines += _test_result_lines(cases, step)
    return lines + _suite_summary(ctx, step, cases, monitor_failed)


def _test_result_lines(cases: list[_Case], step: _Step) -> list[str]:
    """started/passed/skipped/failed lines; a failure prints its output first."""
    lines = []
    for i, case in enumerate(cases):
        stamp = (case.start or step.start).strftime("%Y-%m-%dT%H:%M:%S")
        lines.append(f'started: 0/{i + 1}/{len(cases)} "{case.name}"')
        if case.failure is not None:
            lines += case.failure.split("\n")
            took = _go_duration(case.time) if case.time >= 1 else "0s"
            lines.append(f'failed: ({took}) {stamp} "{case.name}"')
        elif case.skipped is not None:
            lines.append(f'skipped: (0s) {stamp} "{case.name}"')
        else:
            lines.append(f'passed: ({case.time}s) {stamp} "{case.name}"')
    return lines


def _suite_summary(ctx: _Ctx, step: _Step, cases: list[_Case], monitor_failed: bool) -> list[str]:
    """Monitor processing, junit writing, flaky/failing lists and the final verdict."""
    rng = ctx.rng
    passed = {c.name for c in cases if c.failure is None and c.skipped is None}
    failing = dict.fromkeys(c.name for c in cases if c.failure is not None)
    flaky = [name for name in failing if name in passed]
    failed = [name for name in failing if name not in passed]
    skipped = sum(1 for c in cases if c.skipped is not None)
    lines = []
    for _, test in _MONITOR_TESTS[: rng.randint(8, 14)]:
        size = rng.randint(20000, 40000)
        lines += [f"Processing monitorTest: {test}", f"  finalIntervals size = {size}"]
    stamp = _junit_stamp(step)
    lines += [
        "Writing junits.",
        f"Writing JUnit report to /logs/artifacts/junit/e2e-monitor-tests__{stamp}.xml",
    ]
    if flaky:
        lines += ["", "Flaky tests:", "", *flaky]
    if failed:
        lines += ["", "Failing tests:", "", *failed]
    lines += ["", f"Writing JUnit report to /logs/artifacts/junit/junit_e2e__{stamp}.xml", ""]
    took = _go_duration(step.seconds - 60)
    counts = f"{len(passed)} pass, {skipped} skip ({took})"
    if not failed and not monitor_failed:
        return [*lines, counts]
    if monitor_failed:
        lines.append("Suite run returned error: failed due to a MonitorTest failure")
    if failed:
        lines.append(f"error: {len(failed)} fail, {counts}")
    return lines + _entrypoint_failure(step.end)


def _bootstrap_wait(ctx: _Ctx, t: datetime) -> list[str]:
    api = f"https://api.{ctx.cluster_name}.{_BASE_DOMAINS[ctx.job.platform]}:6443"
    up = t + timedelta(minutes=4)
    return [
        _installer(
            "info",
            t,
            f"Waiting up to 20m0s (until {t + timedelta(minutes=20):%-I:%M%p} UTC)"
            f" for the Kubernetes API at {api}...",
        ),
        _installer("info", up, "API v1.33.4 up"),
        _installer(
            "info",
            up,
            f"Waiting up to 45m0s (until {up + timedelta(minutes=45):%-I:%M%p} UTC)"
            " for bootstrapping to complete...",
        ),
    ]


def _entrypoint_failure(when: datetime) -> list[str]:
    entry = {
        "component": "entrypoint",
        "error": "wrapped process failed: exit status 1",
        "file": "sigs.k8s.io/prow/pkg/entrypoint/run.go:84",
        "func": "sigs.k8s.io/prow/pkg/entrypoint.Options.internalRun",
        "level": "error",
        "msg": "Error executing test process",
        "severity": "error",
        "time": _ts(when),
    }
    return [
        json.dumps(entry, separators=(",", ":")),
        "error: failed to execute wrapped command: exit status 1",
    ]


def _installer_log(ctx: _Ctx, step: _Step, errors: list[str], *, api_up: bool) -> list[str]:
    """openshift-install output: manifests, infrastructure, bootstrap wait, then `errors`."""
    rng = ctx.rng
    t = step.start
    lines = [
        f"Installing from release {ctx.release_image}",
        "+ openshift-install --dir=/tmp/installer create manifests",
        _installer("info", t, "Consuming Install Config from target directory"),
        _installer(
            "info", t, "Manifests created in: /tmp/installer/manifests and /tmp/installer/openshift"
        ),
        "+ openshift-install --dir=/tmp/installer create cluster",
        _installer("info", t, "Creating infrastructure resources..."),
        _installer("info", t, "Started local control plane with envtest"),
    ]
    kinds = ("IAM role", "security group", "subnet", "load balancer", "DNS record", "bucket")
    for _ in range(rng.randint(60, 120)):
        t += timedelta(seconds=rng.randint(1, 9))
        created = f"{ctx.infra_id}-{_rand(rng, _ALNUM, 6)}"
        lines.append(_installer("info", t, f"Created {rng.choice(kinds)} {created}"))
    if api_up:
        lines += _bootstrap_wait(ctx, t + timedelta(minutes=9))
    return lines + errors


def _generic_step_log(ctx: _Ctx, step: _Step, lines: int) -> list[str]:
    rng = ctx.rng
    verbs = ("Gathering", "Collecting", "Copying", "Waiting for")
    out = [f"+ echo 'Running {step.name}'", f"Running {step.name}"]
    for i in range(lines):
        when = _ts(step.start + timedelta(seconds=i))
        target = f"{rng.choice(_NAMESPACES)}/{_rand(rng, _ALNUM, 6)}"
        out.append(f"{when} {rng.choice(verbs)} {target}")
    return out


# --------------------------------------------------------------------------------------------
# Scenarios


def _e2e_plan(ctx: _Ctx, state: str, letter: str, seconds: int) -> tuple[_Plan, _Step]:
    """Install, one openshift-e2e-test step, then the gather/deprovision post phase."""
    failed = state != "success"
    e2e = _Step("openshift-e2e-test", "test", seconds, failed=failed)
    steps = [*_pre_steps(ctx), e2e, *_post_steps(ctx)]
    plan = _Plan(steps, state, letter, ctx.rng.randint(150, 320))
    if not failed:
        plan.reason = ""
    _schedule(ctx, steps, plan.setup_seconds)
    plan.step_files = (_install_step(ctx.job), "openshift-e2e-test", "gather-extra")
    return plan, e2e


def _e2e_suites(
    ctx: _Ctx, e2e: _Step, suite: str, tests: list[_Case], monitor: list[_Case]
) -> list[_Suite]:
    stamp = _junit_stamp(e2e)
    return [
        _install_suite(ctx, None),
        _Suite(suite, f"{_junit_dir(ctx)}/junit_e2e__{stamp}.xml", tests),
        _Suite(suite, f"{_junit_dir(ctx)}/e2e-monitor-tests__{stamp}.xml", monitor),
    ]


def _installed(ctx: _Ctx, plan: _Plan) -> datetime:
    return _find(plan.steps, _install_step(ctx.job)).end


def _scenario_success(ctx: _Ctx) -> _Plan:
    plan, e2e = _e2e_plan(ctx, "success", "S", ctx.rng.randint(4200, 7800))
    conformance = _conformance_cases(ctx, e2e, [], [], ctx.conformance_size)
    monitor = _monitor_cases(ctx, e2e, [], [], ctx.monitor_size)
    plan.suites = _e2e_suites(ctx, e2e, "openshift-tests", conformance, monitor)
    e2e.log = _openshift_tests_log(ctx, e2e, _CONFORMANCE, plan.suites, False)
    gathered = _find(plan.steps, "gather-extra").end
    plan.snapshots = [_healthy_snapshot(ctx, _installed(ctx, plan), gathered)]
    return plan


_CONFORMANCE = "openshift/conformance/parallel"
_CANONICAL_FLAKE = (
    '[sig-arch][Late][Jira:"kube-apiserver"] all tls artifacts must be registered'
    " [Suite:openshift/conformance/parallel]"
)
_CANONICAL_MONITOR_FLAKES = (
    "[sig-auth] all workloads in ns/openshift-dns must set the 'openshift.io/required-scc'"
    " annotation",
    "[sig-arch] events should not repeat pathologically for ns/openshift-etcd",
    "[sig-architecture] platform pods in ns/openshift-monitoring should not fail to start",
)
_CANONICAL_DISRUPTION = (
    "[sig-network-edge] ns/openshift-console route/console disruption/ingress-to-console"
    " connection/new should be available throughout the test"
)


def _test_failure_choices(ctx: _Ctx) -> tuple[list[_FailureTemplate], list[str], list[str], str]:
    """(conformance failures, conformance flakes, monitor flakes, failing disruption test)."""
    if ctx.big:
        return (
            list(_CONFORMANCE_FAILURES[:2]),
            [_CANONICAL_FLAKE],
            list(_CANONICAL_MONITOR_FLAKES),
            _CANONICAL_DISRUPTION,
        )
    rng = ctx.rng
    families = [f.format(ns=ns) for f in _NAMESPACE_FAMILIES[:4] for ns in _NAMESPACES[10:30]]
    return (
        rng.sample(_CONFORMANCE_FAILURES, rng.randint(1, 3)),
        rng.sample(_LATE_TESTS, rng.randint(0, 2)),
        rng.sample(families, rng.randint(1, 5)),
        rng.choice(_disruption_names()) if rng.random() < 0.5 else "",
    )


def _scenario_test_failure(ctx: _Ctx) -> _Plan:
    plan, e2e = _e2e_plan(ctx, "failure", "F", ctx.rng.randint(4200, 7800))
    templates, flakes, monitor_flakes, disruption = _test_failure_choices(ctx)
    failures = [_decisive(t, ctx) for t in templates]
    conformance = _conformance_cases(ctx, e2e, failures, flakes, ctx.conformance_size)
    hard = [disruption] if disruption else []
    monitor = _monitor_cases(ctx, e2e, hard, monitor_flakes, ctx.monitor_size)
    plan.suites = _e2e_suites(ctx, e2e, "openshift-tests", conformance, monitor)
    plan.root_cause = [line for _, line in failures]
    if disruption:
        text = next(c.failure for c in monitor if c.name == disruption and c.failure)
        plan.suites.append(_backend_disruption_suite(ctx, e2e, disruption, text))
        plan.root_cause.append(text.split("\n", 1)[0])
    e2e.log = _openshift_tests_log(ctx, e2e, _CONFORMANCE, plan.suites, bool(hard))
    gathered = _find(plan.steps, "gather-extra").end
    plan.snapshots = [_healthy_snapshot(ctx, _installed(ctx, plan), gathered)]
    return plan


def _backend_disruption_suite(ctx: _Ctx, step: _Step, failing: str, text: str) -> _Suite:
    """A second suite (BackendDisruption) that repeats the disruption tests by name."""
    cases = []
    for name in _disruption_names():
        seconds = round(ctx.rng.uniform(3000, step.seconds), 1)
        cases.append(_Case(name, seconds, failure=text if name == failing else None))
    path = f"{_junit_dir(ctx)}/backend-disruption__{_junit_stamp(step)}.xml"
    return _Suite("BackendDisruption", path, cases)


def _install_failed_plan(ctx: _Ctx, letter: str, seconds: int) -> tuple[_Plan, _Step]:
    """Pre phase up to a failing install step, then the post phase."""
    install = _install_step(ctx.job)
    steps = [*_pre_steps(ctx, until=install), *_post_steps(ctx)]
    step = _find(steps, install)
    step.failed, step.seconds = True, seconds
    plan = _Plan(steps, "failure", letter, ctx.rng.randint(150, 320))
    _schedule(ctx, steps, plan.setup_seconds)
    plan.step_files = (install, "gather-extra")
    return plan, step


_CNI_NOT_READY = (
    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady"
    " message:Network plugin returns error: No CNI configuration file in"
    " /etc/kubernetes/cni/net.d/. Has your network provider started?"
)


def _scenario_install_failure(ctx: _Ctx) -> _Plan:
    """Bootstrap times out; the half-built cluster is gathered.

    Letter N, by Sippy's rules: operator results count only as JUnit tests ("Operator
    results..."), never from a gathered clusteroperators.json, and an install failure
    without them is an external infrastructure failure.
    """
    plan, step = _install_failed_plan(ctx, "N", ctx.rng.randint(3500, 4100))
    specs = _node_layout(ctx, workers=2)
    master, worker = specs[2], specs[4]
    master.problems = [("Ready", "False", "KubeletNotReady", _CNI_NOT_READY)]
    worker.problems = [
        ("DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure")
    ]
    bad = _bootstrap_operator_problems(ctx, step, master.name)
    end = step.end - timedelta(seconds=40)
    errors = [
        _installer(
            "error", end, "Bootstrap failed to complete: timed out waiting for the condition"
        ),
        _installer(
            "error",
            end,
            "Failed to wait for bootstrapping to complete. This error usually happens when there"
            " is a problem with control plane hosts that prevents the control plane operators"
            " from creating the control plane.",
        ),
    ]
    plan.root_cause = list(errors)
    errors += _installer_operator_lines(end, bad)
    errors.append(
        _installer(
            "error",
            end,
            'failed to fetch Cluster: failed to generate asset "Cluster": failed to wait for'
            " bootstrapping to complete: timed out waiting for the condition",
        )
    )
    tail = ["Installer exit with code 5", *_entrypoint_failure(step.end)]
    step.log = _installer_log(ctx, step, errors, api_up=True) + tail
    plan.suites = [_install_suite(ctx, "cluster bootstrap")]
    installed = step.start + timedelta(minutes=30)
    taken = _find(plan.steps, "gather-extra").end
    machines = _machines(ctx, specs, installed, [_capacity_failure(ctx)])
    operators = _operators(ctx, installed, taken, bad)
    nodes = _nodes(ctx, specs, installed, taken)
    plan.snapshots = [_Snapshot("gather-extra", operators, nodes, machines)]
    return plan


_Problems = dict[str, list[tuple[str, str, str, str]]]


def _bootstrap_operator_problems(ctx: _Ctx, step: _Step, master: str) -> _Problems:
    """etcd/kube-apiserver/kcm Degraded by a NotReady master; authentication unavailable."""
    since = (step.start + timedelta(minutes=31)).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    node_msg = (
        f'NodeControllerDegraded: The master nodes not ready: node "{master}" not ready since'
        f" {since} because KubeletNotReady ({_CNI_NOT_READY})"
    )
    host = f"oauth-openshift.apps.{ctx.cluster_name}.{_BASE_DOMAINS[ctx.job.platform]}"
    return {
        "etcd": [
            (
                "Degraded",
                "True",
                "EtcdMembers_UnhealthyMembers::NodeController_MasterNodesReady",
                f"EtcdMembersDegraded: 2 of 3 members are available, {master} is unhealthy\n"
                + node_msg,
            )
        ],
        "kube-apiserver": [("Degraded", "True", "NodeController_MasterNodesReady", node_msg)],
        "kube-controller-manager": [
            ("Degraded", "True", "NodeController_MasterNodesReady", node_msg)
        ],
        "authentication": [
            (
                "Available",
                "False",
                "OAuthServerRouteEndpointAccessibleController_EndpointUnavailable",
                "OAuthServerRouteEndpointAccessibleControllerAvailable:"
                f' Get "https://{host}/healthz": dial tcp: lookup {host} on 172.30.0.10:53:'
                " no such host",
            )
        ],
    }


def _installer_operator_lines(when: datetime, bad: _Problems) -> list[str]:
    """The installer's closing report of unhealthy operators."""
    lines = []
    for name, conditions in bad.items():
        for kind, status, reason, message in conditions:
            level = "error" if kind == "Degraded" else "info"
            first = message.splitlines()[0]
            text = f"Cluster operator {name} {kind} is {status} with {reason}: {first}"
            lines.append(_installer(level, when, text))
    return lines


def _capacity_failure(ctx: _Ctx) -> tuple[str, str, str]:
    """A worker Machine the cloud could not place: (name, errorReason, errorMessage)."""
    platform = ctx.job.platform
    zone = _ZONES[platform][2]
    name = f"{ctx.infra_id}-worker-{_REGIONS[platform]}{zone}-{_rand(ctx.rng, _CONSONANTS, 5)}"
    message = (
        f"error launching instance: We currently do not have sufficient"
        f" {_INSTANCE_TYPES[platform]} capacity in the Availability Zone you requested"
        f" ({_zone_name(platform, zone)}). Our system will be working on provisioning additional"
        " capacity."
    )
    return name, "InsufficientResources", message


def _scenario_install_infra_failure(ctx: _Ctx) -> _Plan:
    """Install fails creating infrastructure: no cluster, so no gathered state (letter N)."""
    plan, step = _install_failed_plan(ctx, "N", ctx.rng.randint(900, 1500))
    decisive = _installer(
        "error",
        step.end - timedelta(seconds=30),
        'failed to fetch Cluster: failed to generate asset "Cluster": failed to create cluster:'
        f" failed to provision control-plane machines: machine {ctx.infra_id}-master-0 failed:"
        " VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit"
        " of 1152 allows for the instance bucket that the specified instance type belongs to.",
    )
    tail = ["Installer exit with code 4", *_entrypoint_failure(step.end)]
    step.log = _installer_log(ctx, step, [decisive], api_up=False) + tail
    _find(plan.steps, "gather-extra").log = [_NO_KUBECONFIG]
    plan.root_cause = [decisive]
    plan.suites = [_install_suite(ctx, "infrastructure")]
    return plan


_NO_KUBECONFIG = "No kubeconfig, so no point in gathering extra artifacts."
_VPC_QUOTA = (
    "An error occurred (VpcLimitExceeded) when calling the CreateVpc operation:"
    " The maximum number of VPCs has been reached."
)


def _scenario_infra_failure(ctx: _Ctx) -> _Plan:
    """CI/cloud infrastructure breaks before install; the cause is only in the build log."""
    kind = "quota" if ctx.big else ("quota", "lease", "import")[ctx.cycle % 3]
    if kind != "quota":
        return _setup_failure(ctx, kind)
    rng = ctx.rng
    gathers = ("gather-network", "gather-core-dump", "gather-must-gather", "gather-extra")
    steps = [
        _Step("ipi-conf", "pre", rng.randint(0, 2)),
        _Step("ipi-conf-telemetry", "pre", rng.randint(0, 1)),
        _Step("ipi-conf-aws", "pre", rng.randint(4, 9)),
        _Step("aws-provision-vpc-shared", "pre", rng.randint(400, 700), failed=True),
        *(_Step(name, "post", rng.randint(10, 40)) for name in gathers),
        _Step("gather-audit-logs", "post", rng.randint(10, 40)),
        _Step("ipi-deprovision-deprovision", "post", rng.randint(60, 200)),
        _Step("aws-deprovision-stacks", "post", rng.randint(30, 90)),
    ]
    plan = _Plan(steps, "failure", "n", rng.randint(150, 320))
    _schedule(ctx, steps, plan.setup_seconds)
    step = _find(steps, "aws-provision-vpc-shared")
    step.log = _vpc_log(ctx, step, _VPC_QUOTA)
    _find(steps, "gather-extra").log = [_NO_KUBECONFIG]
    plan.root_cause = [_VPC_QUOTA]
    plan.step_files = ("aws-provision-vpc-shared", "gather-extra")
    return plan


def _vpc_log(ctx: _Ctx, step: _Step, decisive: str) -> list[str]:
    """A long provisioning log with the quota error in the middle and a long debug dump after."""
    rng = ctx.rng
    stack = f"{ctx.cluster_name}-shared-vpc"
    before = [
        f"+ export AWS_DEFAULT_REGION={_REGIONS['aws']}",
        f"+ STACK_NAME={stack}",
        "+ cat /tmp/vpc-template.yaml",
        "AWSTemplateFormatVersion: 2010-09-09",
        "Description: Template for Best Practice VPC with 1-3 AZs",
    ]
    count = 1150 if ctx.big else rng.randint(700, 1200)
    before += [_vpc_noise(rng, i, step.start + timedelta(seconds=i // 4)) for i in range(count)]
    before.append(
        f"+ aws ec2 create-vpc --cidr-block 10.{rng.randint(1, 250)}.0.0/16"
        f" --tag-specifications 'ResourceType=vpc,Tags=[{{Key=Name,Value={stack}}}]'"
    )
    after = [
        "+ echo 'Failed to create VPC, dumping VPC state for debugging'",
        "Failed to create VPC, dumping VPC state for debugging",
        "+ aws ec2 describe-vpcs --output json",
        "{",
        '    "Vpcs": [',
    ]
    count = 1150 if ctx.big else rng.randint(700, 1200)
    after += [_vpc_dump(rng, i) for i in range(count - count % 6)]
    after += ["    ]", "}", "+ exit 1", *_entrypoint_failure(step.end)]
    return [*before, decisive, *after]


def _vpc_noise(rng: random.Random, i: int, when: datetime) -> str:
    resource = rng.choice(("vpc", "eip", "natgateway", "internetgateway"))
    lines = (
        f"  PublicSubnet{i // 8}:",
        "    Type: AWS::EC2::Subnet",
        f"      CidrBlock: 10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/20",
        f"      AvailabilityZone: !Select [{i % 3}, !GetAZs '']",
        f"{_ts(when)} Waiting for quota check on {resource} in {_REGIONS['aws']}...",
        f"WARNING: retrying describe-account-attributes ({rng.randint(1, 5)}/5): Throttling:"
        " Rate exceeded",
        f"      MapPublicIpOnLaunch: {rng.choice(('true', 'false'))}",
        f"      VpcId: !Ref VPC{i % 3}",
    )
    return lines[i % len(lines)]


def _vpc_dump(rng: random.Random, i: int) -> str:
    lines = (
        "        {",
        f'            "CidrBlock": "10.{rng.randint(0, 255)}.0.0/16",',
        f'            "State": "available", "VpcId": "vpc-0{_rand(rng, _HEX, 16)}",',
        f'            "OwnerId": "{rng.randint(10**11, 10**12 - 1)}", "IsDefault": false,',
        f'            "Tags": [{{"Key": "Name", "Value": "ci-op-{_rand(rng, _ALNUM, 8)}"}}]',
        "        },",
    )
    return lines[i % len(lines)]


def _setup_failure(ctx: _Ctx, kind: str) -> _Plan:
    """ci-operator fails before any step: the lease or the payload import (letter n)."""
    plan = _Plan([], "failure", "n", ctx.rng.randint(60, 1300))
    if kind == "lease":
        lease = _LEASES[ctx.job.platform]
        plan.setup_failure = f'failed to acquire lease for "{lease}": resources not found'
        plan.setup_failure_case = "test"
        plan.reason = "executing_graph:step_failed:utilizing_lease:acquiring_lease"
        step = f"step {ctx.target}"
    else:
        pod = "release-images-latest"
        plan.setup_failure = (
            f'release "{pod}" failed: could not watch pod: the pod {ctx.namespace}/{pod} failed'
            " after 2m50s (failed containers: ): Evicted The node was low on resource: memory."
            " Threshold quantity: 100Mi, available: 32964Ki."
        )
        plan.setup_failure_case = "import:latest"
        plan.reason = "executing_graph:step_failed:importing_release"
        step = "step [release:latest]"
    plan.root_cause = [f"  * could not run steps: {step} failed: {plan.setup_failure}"]
    return plan


def _upgrade_messages(ctx: _Ctx, drained: str) -> tuple[str, str, str]:
    """(MCO Degraded message, `Cluster completes upgrade` line, `pools complete` line)."""
    rng = ctx.rng
    router = f"router-default-{_rand(rng, _HEX, 10)}-{_rand(rng, _ALNUM, 5)}"
    mco = (
        f"Unable to apply {ctx.payload}: error during syncRequiredMachineConfigPools: [context"
        " deadline exceeded, error MachineConfigPool worker is not ready, retrying. Status: (pool"
        " degraded: true total: 3, ready 2, updated: 2, unavailable: 1, reason: Node"
        f' {drained} is reporting: "failed to drain node: {drained} after 1 hour: cannot evict'
        " pod as it would violate the pod's disruption budget:"
        f' openshift-ingress/{router}")]'
    )
    completes = (
        "fail [github.com/openshift/origin/test/e2e/upgrade/upgrade.go:187]: during upgrade to"
        f" {ctx.release_image}: Cluster did not complete upgrade: timed out waiting for the"
        " condition: Cluster operator machine-config is degraded (RequiredPoolsFailed)"
    )
    pools = (
        "fail [github.com/openshift/origin/test/e2e/upgrade/upgrade.go:411]: Pools did not"
        " complete upgrade: timed out waiting for the condition: worker pool has 1 unavailable"
        f" machine: {drained} failed to drain"
    )
    return mco, completes, pools


def _upgrade_cases(ctx: _Ctx, e2e: _Step, completes: str, pools: str) -> list[_Case]:
    """openshift-tests-upgrade: CVO acknowledges (pass), completes + pools (fail), a flake."""
    rng = ctx.rng
    when = e2e.end - timedelta(minutes=5)
    begin = e2e.start
    cases = [_Case(n, round(rng.uniform(0.3, 3.9), 1), start=begin) for n in _EARLY_LATE_TESTS]
    cases += [
        _Case(CVO_ACK_TEST, round(rng.uniform(15, 40), 1), start=begin),
        _Case(
            UPGRADE_COMPLETES_TEST,
            float(e2e.seconds - 900),
            failure=_failure_text(ctx, completes, when, unicode_tail=False),
            start=begin,
        ),
        _Case(
            MCP_UPGRADE_TEST,
            float(e2e.seconds - 880),
            failure=_failure_text(ctx, pools, when, unicode_tail=False),
            start=begin,
        ),
        _Case(
            FUNCTIONAL_UPGRADE_TEST,
            float(e2e.seconds - 400),
            failure=completes,
            system_out=_system_out(ctx, when),
            start=begin,
        ),
    ]
    cases += [
        _Case(n, round(rng.uniform(2000, 7000), 1), start=begin) for n in _UPGRADE_SUITE_TESTS
    ]
    flake = "flake: Skipped annotations present: 1 test skipped with an OCPBUGS reference"
    cases += [
        _Case(SKIPPED_ANNOTATIONS_TEST, 0.0, failure=flake, start=e2e.end),
        _Case(SKIPPED_ANNOTATIONS_TEST, 0.0, start=e2e.end),
    ]
    return cases


_MCO_DEGRADED_TEST = (
    "[bz-Machine Config Operator] clusteroperator/machine-config should not change"
    " condition/Degraded"
)


def _scenario_upgrade_failure(ctx: _Ctx) -> _Plan:
    """machine-config cannot drain a worker; the upgrade never completes (letter U)."""
    rng = ctx.rng
    plan, e2e = _e2e_plan(ctx, "failure", "U", rng.randint(7800, 9600))
    specs = _node_layout(ctx)
    specs[-1].unschedulable = True
    mco, completes, pools = _upgrade_messages(ctx, specs[-1].name)
    flakes = [
        f"[bz-{bz}] clusteroperator/{co} should not change condition/Available"
        for co, bz, _ in _OPERATORS
        if co in ("dns", "network")
    ]
    monitor = _monitor_cases(ctx, e2e, [_MCO_DEGRADED_TEST], flakes, ctx.monitor_size)
    tests = _upgrade_cases(ctx, e2e, completes, pools)
    plan.suites = _e2e_suites(ctx, e2e, "openshift-tests-upgrade", tests, monitor)
    e2e.log = _openshift_tests_log(ctx, e2e, "openshift/upgrade", plan.suites, True)
    plan.root_cause = [completes, pools]
    early: _Problems = {
        "machine-config": [
            ("Degraded", "True", "RequiredPoolsFailed", mco),
            ("Progressing", "True", "", f"Working towards {ctx.payload}"),
        ],
        "kube-apiserver": [
            (
                "Degraded",
                "True",
                "GuardController_SyncError",
                f"GuardControllerDegraded: Missing operand on node {specs[1].name}",
            )
        ],
        "network": [
            (
                "Progressing",
                "True",
                "Deploying",
                'DaemonSet "/openshift-ovn-kubernetes/ovnkube-node" is not available'
                " (awaiting 1 nodes)",
            )
        ],
    }
    late = {"machine-config": early["machine-config"]}
    must, extra = _find(plan.steps, "gather-must-gather"), _find(plan.steps, "gather-extra")
    must.log = _generic_step_log(ctx, must, 40)
    plan.snapshots = [
        _snapshot(ctx, "gather-must-gather", specs, _installed(ctx, plan), must.end, early),
        _snapshot(ctx, "gather-extra", specs, _installed(ctx, plan), extra.end, late),
    ]
    plan.step_files = (
        _install_step(ctx.job),
        "openshift-e2e-test",
        "gather-must-gather",
        "gather-extra",
    )
    return plan


def _snapshot(
    ctx: _Ctx,
    step: str,
    specs: list[_NodeSpec],
    installed: datetime,
    taken: datetime,
    bad: _Problems,
) -> _Snapshot:
    """Mid-upgrade cluster state: machine-config still reports the initial version."""
    versions = {"machine-config": ctx.initial}
    return _Snapshot(
        step,
        _operators(ctx, installed, taken, bad, versions),
        _nodes(ctx, specs, installed, taken),
        _machines(ctx, specs, installed, []),
    )


def _scenario_presubmit_failure(ctx: _Ctx) -> _Plan:
    """A pull request breaks one test (letter F)."""
    rng = ctx.rng
    plan, e2e = _e2e_plan(ctx, "failure", "F", rng.randint(3600, 6000))
    plan.setup_seconds = rng.randint(600, 1500)
    _schedule(ctx, plan.steps, plan.setup_seconds)
    if ctx.job.test == "e2e-aws-csi" or (not ctx.big and rng.random() < 0.5):
        driver = _STORAGE_DRIVERS[ctx.job.platform]
        failure = _decisive(_STORAGE_FAILURE, ctx, driver=driver)
    else:
        failure = _decisive(rng.choice(_CONFORMANCE_FAILURES), ctx)
    flake = (
        "[sig-architecture] platform pods in ns/openshift-cluster-csi-drivers should not fail"
        " to start"
    )
    sizes = (260, 380) if ctx.big else (ctx.conformance_size, ctx.monitor_size)
    tests = _conformance_cases(ctx, e2e, [failure], [], sizes[0])
    monitor = _monitor_cases(ctx, e2e, [], [flake], sizes[1])
    plan.suites = _e2e_suites(ctx, e2e, "openshift-tests", tests, monitor)
    suite = "openshift/csi" if "csi" in ctx.job.test else _CONFORMANCE
    e2e.log = _openshift_tests_log(ctx, e2e, suite, plan.suites, False)
    plan.root_cause = [failure[1]]
    gathered = _find(plan.steps, "gather-extra").end
    plan.snapshots = [_healthy_snapshot(ctx, _installed(ctx, plan), gathered)]
    return plan


_SCENARIO_BUILDERS: dict[str, Callable[[_Ctx], _Plan]] = {
    "success": _scenario_success,
    "test-failure": _scenario_test_failure,
    "install-failure": _scenario_install_failure,
    "infra-failure": _scenario_infra_failure,
    "upgrade-failure": _scenario_upgrade_failure,
    "presubmit-failure": _scenario_presubmit_failure,
    "install-infra-failure": _scenario_install_infra_failure,
}


# --------------------------------------------------------------------------------------------
# ci-operator build log


def _build_log(ctx: _Ctx, plan: _Plan, end: datetime) -> list[str]:
    """The top-level build-log.txt: setup, every phase, failing step logs inline, summary."""
    log = _log_head(ctx, plan)
    if plan.setup_failure:
        return log + _log_tail(ctx, plan, None, end)
    log.append(_logrus("INFO", plan.steps[0].start, f"Running multi-stage test {ctx.target}"))
    failed = next((step for step in plan.steps if step.failed), None)
    for phase in ("pre", "test", "post"):
        steps = [s for s in plan.steps if s.phase == phase]
        if steps:
            log += _phase_log(ctx, phase, steps)
    return log + _log_tail(ctx, plan, failed, end)


def _phase_log(ctx: _Ctx, phase: str, steps: list[_Step]) -> list[str]:
    """One multi-stage phase; a failing step's own log is dumped inline, as ci-operator does."""
    log = [_logrus("INFO", steps[0].start, f"Running multi-stage phase {phase}")]
    if phase == "post":
        observer = ctx.pod(OBSERVER_STEP)
        message = f'Signalling observer pod "{observer}" to terminate...'
        log.append(_logrus("INFO", steps[0].start, message))
    for step in steps:
        pod = ctx.pod(step.name)
        log.append(_logrus("INFO", step.start, f"Running step {pod}."))
        if step.failed:
            log.append(_logrus("INFO", step.end, f"Logs for container test in pod {pod}:"))
            log += step.log
        verdict = "failed" if step.failed else "succeeded"
        took = _go_duration(step.seconds)
        log.append(_logrus("INFO", step.end, f"Step {pod} {verdict} after {took}."))
    verdict = "failed" if any(s.failed for s in steps) else "succeeded"
    took = _go_duration((steps[-1].end - steps[0].start).total_seconds())
    log.append(_logrus("INFO", steps[-1].end, f"Step phase {phase} {verdict} after {took}."))
    return log


def _lease_lines(ctx: _Ctx, plan: _Plan) -> list[str]:
    ready = ctx.start + timedelta(seconds=max(plan.setup_seconds - 20, 30))
    created = f"{ctx.start - timedelta(hours=3):%Y-%m-%d %H:%M:%S} +0000 UTC"
    lease = _LEASES[ctx.job.platform]
    log = [
        _logrus(
            "INFO",
            ready,
            f"Imported release {ctx.payload} created at {created} with 190 images to tag"
            " release:latest",
        ),
        _logrus("INFO", ready, f"Acquiring leases for test {ctx.target}: [{lease}]"),
    ]
    if plan.setup_failure_case != "test":
        slot = f"{_REGIONS[ctx.job.platform]}--{lease}-{ctx.rng.randint(0, 40):02d}"
        log.append(_logrus("INFO", ready, f"Acquired 1 lease(s) for {lease}: [{slot}]"))
    return log


def _log_head(ctx: _Ctx, plan: _Plan) -> list[str]:
    """Configuration, source and release resolution, imports and the lease."""
    rng = ctx.rng
    job = ctx.job
    t = ctx.start + timedelta(seconds=1)
    config = f"{job.org}/{job.repo}@{job.branch}" + (f" [{job.variant}]" if job.variant else "")
    if ctx.pull is not None:
        pull = ctx.pull
        source = (
            f"https://github.com/{job.org}/{job.repo} to {job.branch}@{pull.base_sha[:8]},"
            f" merging: #{pull.number} {pull.sha[:8]} @{pull.author}"
        )
    else:
        source = f"https://github.com/openshift/release to main@{_rand(rng, _HEX, 8)}"
    installer = f"ocp-{job.release}-upi-installer"
    messages = [
        f"ci-operator version v{(ctx.start - timedelta(days=2)):%Y%m%d}-{_rand(rng, _HEX, 9)}",
        f"Loading configuration from https://config.ci.openshift.org for {config}",
        f"Resolved source {source}",
        f"Resolved release latest to registry.ci.openshift.org/ocp/release:{ctx.payload}",
    ]
    if job.upgrade:
        initial = f"quay.io/openshift-release-dev/ocp-release:{ctx.initial}-x86_64"
        messages.append(f"Resolved release initial to {initial}")
    messages += [
        f"Using namespace https://console.{ctx.build_farm}.ci.openshift.org/k8s/cluster/projects/"
        + ctx.namespace,
        f"Running [input:{installer}], [input:origin-centos-8], [release-inputs],"
        f" [release:latest], [images], {ctx.target}",
        f"Tagging {installer} into pipeline:{installer}.",
        "Tagging origin-centos-8 into pipeline:origin-centos-8.",
        "Importing release image latest.",
    ]
    if job.upgrade:
        messages.append("Importing release image initial.")
    log = [_logrus("INFO", t, message) for message in messages]
    if plan.setup_failure_case == "import:latest":
        return log
    return log + _lease_lines(ctx, plan)


def _log_tail(ctx: _Ctx, plan: _Plan, failed: _Step | None, end: datetime) -> list[str]:
    """Lease release, run time, the failure summary and the reported job state."""
    last = end - timedelta(seconds=ctx.rng.randint(8, 16))
    lines = []
    if plan.steps:
        lines.append(_logrus("INFO", last, f"Releasing leases for test {ctx.target}"))
    lines.append(
        _logrus("INFO", last, f"Ran for {_go_duration((last - ctx.start).total_seconds())}")
    )
    if plan.state == "success":
        return lines + [_logrus("INFO", last, "Reporting job state 'succeeded'")]
    lines += [_logrus("ERRO", last, "Some steps failed:"), _logrus("ERRO", last, "")]
    if failed is not None:
        lines.append(
            f'  * could not run steps: step {ctx.target} failed: "{ctx.target}" {failed.phase}'
            f" steps failed: {_pod_failed(ctx, failed)}"
        )
        lines.append(_registry_links(ctx, failed))
    else:
        lines += plan.root_cause
    reason = f"Reporting job state 'failed' with reason '{plan.reason}'"
    lines.append(_logrus("INFO", last, reason))
    return [line for chunk in lines for line in chunk.split("\n")]


# --------------------------------------------------------------------------------------------
# Prow metadata


def _label_value(value: str) -> str:
    """Prow cuts label values to 63 characters and trims trailing '._-'."""
    return value[:63].rstrip("._-")


def _prowjob(ctx: _Ctx, plan: _Plan, end: datetime) -> dict[str, Any]:
    """ProwJob as crier's gcsreporter writes it (status mirrors the finished run)."""
    job = ctx.job
    rng = ctx.rng
    labels = {
        "ci-operator.openshift.io/cloud": job.platform,
        "ci-operator.openshift.io/cloud-cluster-profile": f"{job.platform}-2"
        if job.platform != "azure"
        else "azure4",
        "ci.openshift.io/build-farm": ctx.build_farm,
        "ci.openshift.io/generator": "prowgen",
        "created-by-prow": "true",
        "pj-rehearse.openshift.io/can-be-rehearsed": "true",
        "prow.k8s.io/build-id": str(ctx.build_id),
        "prow.k8s.io/id": ctx.prowjob_id,
        "prow.k8s.io/job": _label_value(job.name),
        "prow.k8s.io/type": "presubmit" if job.presubmit else "periodic",
    }
    annotations = {"prow.k8s.io/job": job.name}
    spec: dict[str, Any] = {
        "type": labels["prow.k8s.io/type"],
        "agent": "kubernetes",
        "cluster": ctx.build_farm,
        "namespace": "ci",
        "job": job.name,
    }
    if job.presubmit and ctx.pull is not None:
        pull = ctx.pull
        labels.update(
            {
                "event-GUID": _uuid1_like(rng),
                "prow.k8s.io/context": job.test,
                "prow.k8s.io/is-optional": "true",
                "prow.k8s.io/refs.base_ref": job.branch,
                "prow.k8s.io/refs.org": job.org,
                "prow.k8s.io/refs.pull": str(pull.number),
                "prow.k8s.io/refs.repo": job.repo,
            }
        )
        annotations["prow.k8s.io/context"] = f"ci/prow/{job.test}"
        repo_link = f"https://github.com/{job.org}/{job.repo}"
        spec["refs"] = {
            "org": job.org,
            "repo": job.repo,
            "repo_link": repo_link,
            "base_ref": job.branch,
            "base_sha": pull.base_sha,
            "base_link": f"{repo_link}/commit/{pull.base_sha}",
            "pulls": [
                {
                    "number": pull.number,
                    "author": pull.author,
                    "sha": pull.sha,
                    "title": pull.title,
                    "link": f"{repo_link}/pull/{pull.number}",
                    "commit_link": f"{repo_link}/pull/{pull.number}/commits/{pull.sha}",
                    "author_link": f"https://github.com/{pull.author}",
                }
            ],
        }
        spec.update(
            {"report": True, "context": f"ci/prow/{job.test}", "rerun_command": f"/test {job.test}"}
        )
    else:
        labels["ci-operator.openshift.io/variant"] = job.variant
        labels["job-release"] = job.release
        spec["extra_refs"] = [{"org": "openshift", "repo": "release", "base_ref": "main"}]
        spec["report"] = True
    args = [
        "--gcs-upload-secret=/secrets/gcs/service-account.json",
        "--image-import-pull-secret=/etc/pull-secret/.dockerconfigjson",
        "--lease-server-credentials-file=/etc/boskos/credentials",
        "--report-credentials-file=/etc/report/credentials",
        "--secret-dir=/secrets/ci-pull-credentials",
        f"--secret-dir=/usr/local/{job.test}-cluster-profile",
        f"--target={job.test}",
    ]
    if job.variant:
        args.append(f"--variant={job.variant}")
    spec["pod_spec"] = {
        "containers": [
            {
                "name": "",
                "image": "ci-operator:latest",
                "command": ["ci-operator"],
                "args": args,
                "resources": {"requests": {"cpu": "10m"}},
                "imagePullPolicy": "Always",
            }
        ],
        "serviceAccountName": "ci-operator",
    }
    tag = f"v{(ctx.start - timedelta(days=5)):%Y%m%d}-{_rand(rng, _HEX, 9)}"
    spec["decoration_config"] = {
        "timeout": "4h0m0s",
        "grace_period": "1h0m0s",
        "utility_images": {
            tool: f"us-docker.pkg.dev/k8s-infra-prow/images/{tool}:{tag}"
            for tool in ("clonerefs", "initupload", "entrypoint", "sidecar")
        },
        "gcs_configuration": {
            "bucket": BUCKET,
            "path_strategy": "explicit",
            "default_org": "openshift",
            "default_repo": "origin",
            "mediaTypes": {"log": "text/plain"},
        },
        "gcs_credentials_secret": "gce-sa-credentials-gcs-publisher",
        "censor_secrets": True,
    }
    spec["prowjob_defaults"] = {"tenant_id": "GlobalDefaultID"}
    reporters = {"gcsk8sreporter": plan.state, "gcsreporter": plan.state}
    if job.presubmit:
        reporters["github-reporter"] = plan.state
    return {
        "kind": "ProwJob",
        "apiVersion": "prow.k8s.io/v1",
        "metadata": {
            "name": ctx.prowjob_id,
            "namespace": "ci",
            "uid": _uuid4(rng),
            "resourceVersion": str(rng.randint(10**9, 4 * 10**9)),
            "generation": rng.randint(5, 9),
            "creationTimestamp": _ts(ctx.created),
            "labels": dict(sorted(labels.items())),
            "annotations": dict(sorted(annotations.items())),
        },
        "spec": spec,
        "status": {
            "startTime": _ts(ctx.start),
            "pendingTime": _ts(ctx.start + timedelta(seconds=rng.randint(1, 12))),
            "completionTime": _ts(end),
            "state": plan.state,
            "description": "Job succeeded." if plan.state == "success" else "Job failed.",
            "url": f"{PROW_VIEW}/{BUCKET}/{ctx.gcs_path}",
            "pod_name": ctx.prowjob_id,
            "build_id": str(ctx.build_id),
            "prev_report_states": reporters,
        },
    }


def _repos(ctx: _Ctx) -> dict[str, str]:
    job = ctx.job
    if ctx.pull is not None:
        pull = ctx.pull
        return {f"{job.org}/{job.repo}": f"{job.branch}:{pull.base_sha},{pull.number}:{pull.sha}"}
    return {"openshift/release": "main"}


def _started(ctx: _Ctx) -> dict[str, Any]:
    started: dict[str, Any] = {"timestamp": _epoch(ctx.start)}
    if ctx.pull is not None:
        started["pull"] = str(ctx.pull.number)
    started["repos"] = _repos(ctx)
    if ctx.pull is not None:
        started["repo-commit"] = ctx.pull.sha
        started["repo-version"] = ctx.pull.sha
    return started


def _finished(ctx: _Ctx, plan: _Plan, end: datetime) -> dict[str, Any]:
    """Sidecar finished.json; metadata merged from ci-operator's artifacts/metadata.json."""
    job = ctx.job
    repo = f"{job.org}/{job.repo}" if ctx.pull else "openshift/release"
    metadata = {
        "infra-commit": _rand(ctx.rng, _HEX, 9),
        "job-version": "",
        "pod": ctx.prowjob_id,
        "repo": repo,
        "repo-commit": ctx.pull.sha if ctx.pull else "",
        "repos": _repos(ctx),
        "revision": "1",
        "work-namespace": ctx.namespace,
    }
    passed = plan.state == "success"
    return {
        "timestamp": _epoch(end),
        "passed": passed,
        "metadata": metadata,
        "revision": ctx.pull.sha if ctx.pull else "main",
        "result": "SUCCESS" if passed else "FAILURE",
    }


def _step_finished(step: _Step) -> dict[str, Any]:
    return {
        "timestamp": _epoch(step.end),
        "passed": not step.failed,
        "result": "FAILURE" if step.failed else "SUCCESS",
    }


def _render_files(ctx: _Ctx, plan: _Plan, graph: _Suite, end: datetime) -> dict[str, bytes]:
    """Every artifact of the run, keyed by path relative to the run folder."""
    build_log = "\n".join(_build_log(ctx, plan, end)) + "\n"
    files = {
        "prowjob.json": _go_json(_prowjob(ctx, plan, end), "\t"),
        "started.json": _go_json(_started(ctx)),
        "finished.json": _go_json(_finished(ctx, plan, end)),
        "build-log.txt": build_log.encode("utf-8"),
        graph.path: _render_step_graph(graph, (end - ctx.start).total_seconds() + 0.25),
    }
    e2e_seconds = max((s.seconds for s in plan.steps if s.name == "openshift-e2e-test"), default=0)
    for suite in plan.suites:
        if suite.style == "install":
            files[suite.path] = _render_install_suite(suite)
        else:
            seconds = 0 if "e2e-monitor-tests__" in suite.path else max(e2e_seconds - 60, 0)
            files[suite.path] = _render_openshift_suite(suite, ctx, seconds)
    for snapshot in plan.snapshots:
        base = f"artifacts/{ctx.target}/{snapshot.step}/artifacts"
        files[f"{base}/clusteroperators.json"] = _list(snapshot.operators)
        files[f"{base}/nodes.json"] = _list(snapshot.nodes)
        files[f"{base}/machines.json"] = _list(snapshot.machines)
    for name in plan.step_files:
        step = _find(plan.steps, name)
        folder = f"artifacts/{ctx.target}/{name}"
        log = step.log or _generic_step_log(ctx, step, 12)
        files[f"{folder}/build-log.txt"] = ("\n".join(log) + "\n").encode("utf-8")
        files[f"{folder}/finished.json"] = _go_json(_step_finished(step))
    return files


# --------------------------------------------------------------------------------------------
# Ground truth


def _sippy_tests(suites: list[_Suite]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(failures, flakes) as (suite, name), applying Sippy's allowlist, ignores and flake merge."""
    status: dict[tuple[str, str], int] = {}
    for suite in suites:
        if suite.name not in SIPPY_SUITES:
            continue
        for case in suite.cases:
            if case.skipped is not None or SIPPY_IGNORE.search(case.name):
                continue
            key = (suite.name, case.name)
            new = 12 if case.failure is not None else 1
            old = status.get(key)
            if old is None:
                status[key] = new
            elif old != 13 and old != new:
                status[key] = 13
    failures = sorted(key for key, value in status.items() if value == 12)
    flakes = sorted(key for key, value in status.items() if value == 13)
    return failures, flakes


def _cluster_truth(plan: _Plan) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """Bad operator conditions, bad nodes and failed machines in the latest snapshot."""
    if not plan.snapshots:
        return [], [], []
    latest = plan.snapshots[-1]
    conditions = []
    for item in latest.operators:
        for cond in item["status"]["conditions"]:
            bad_degraded = cond["type"] == "Degraded" and cond["status"] == "True"
            bad_available = cond["type"] == "Available" and cond["status"] != "True"
            if bad_degraded or bad_available:
                conditions.append((item["metadata"]["name"], cond["type"], cond["status"]))
    nodes = []
    for node in latest.nodes:
        for cond in node["status"]["conditions"]:
            if (cond["type"] == "Ready" and cond["status"] != "True") or (
                cond["type"] in ("MemoryPressure", "DiskPressure", "PIDPressure")
                and cond["status"] == "True"
            ):
                nodes.append(node["metadata"]["name"])
                break
    machines = [m["metadata"]["name"] for m in latest.machines if m["status"]["phase"] == "Failed"]
    return sorted(conditions), sorted(nodes), sorted(machines)


# --------------------------------------------------------------------------------------------
# Writing one run


def _write_run(root: Path, ctx: _Ctx) -> SampleRun:
    """Build one scenario's plan, write every artifact, and derive the ground truth."""
    plan = _SCENARIO_BUILDERS[ctx.scenario](ctx)
    last = plan.steps[-1].end if plan.steps else ctx.start + timedelta(seconds=plan.setup_seconds)
    end = last + timedelta(seconds=ctx.rng.randint(20, 45))
    graph = _step_graph_suite(ctx, plan)
    files = _render_files(ctx, plan, graph, end)
    run_dir = root / BUCKET / ctx.gcs_path
    for rel, data in files.items():
        target = run_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    failures, flakes = _sippy_tests([graph, *plan.suites])
    conditions, nodes, machines = _cluster_truth(plan)
    return SampleRun(
        build_id=ctx.build_id,
        job_name=ctx.job.name,
        path=f"{BUCKET}/{ctx.gcs_path}",
        bucket=BUCKET,
        scenario=ctx.scenario,
        prow_state=plan.state,
        expected_result=plan.letter,
        failed_tests=sorted({name for _, name in failures}),
        flaked_tests=sorted({name for _, name in flakes}),
        degraded_operators=sorted({name for name, _, _ in conditions}),
        bad_nodes=nodes,
        failed_machines=machines,
        root_cause_lines=plan.root_cause,
        job_type="presubmit" if ctx.job.presubmit else "periodic",
        target=ctx.target,
        start_time=_ts(ctx.start),
        completion_time=_ts(end),
        failures=failures,
        flakes=flakes,
        operator_conditions=conditions,
        files=sorted(files),
        causes=causes_of(plan.root_cause),
        cluster_state_source=(
            f"artifacts/{ctx.target}/{plan.snapshots[-1].step}/artifacts/clusteroperators.json"
            if plan.snapshots
            else ""
        ),
    )
