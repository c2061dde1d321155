"""Release and variants of a job, as Sippy would file them, from metadata and the job name.

Sippy takes both from its configuration and BigQuery's `job_variants` table; a standalone
tool has only the run itself. The job name carries almost everything (Sippy's own variant
registry reads it the same way), so these rules follow `pkg/variantregistry/ocp.go` with
token-anchored matches that avoid its substring slips (`-virt` in `virtualmedia`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sippy.ingest.records import RunMeta

PRESUBMITS = "Presubmits"
PRESUBMIT_TYPES = frozenset({"presubmit", "batch"})

# Sippy's fixed key order; keys outside it (Release, FromRelease, ...) are never emitted.
VARIANT_KEYS = (
    "Platform",
    "Architecture",
    "Network",
    "NetworkStack",
    "Owner",
    "Topology",
    "FeatureSet",
    "Upgrade",
    "SecurityMode",
    "Installer",
    "JobTier",
    "Component",
    "Capability",
    "OS",
    "Procedure",
    "Aggregation",
    "NetworkAccess",
    "Scheduler",
    "Suite",
    "ContainerRuntime",
    "CGroupMode",
    "LayeredProduct",
)

# X.Y not inside a longer dotted number; majors 3-9 are OpenShift (2.x is ACM/MCE, etc.).
_VERSION = re.compile(r"(?<![\d.])([3-9])\.(\d{1,2})(?![\d])")
_ANY_VERSION = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})(?![\d])")
_COMPACT_OCP = re.compile(r"(?:^|[-_])ocp([45])(\d{2})(?![\d])")
_DASHED = re.compile(r"(?:^|-)([45])-(\d{1,2})(?:-|$)")
_FROM_PREFIX = re.compile(r"from-(?:stable-|nightly-|ci-|latest-)?$")
_TO_TARGET = re.compile(r"(?<![\d.])\d+\.\d+-(?:[a-z]+-)?to-(\d+\.\d+)(?![\d])")
_MINOR_SUFFIX = re.compile(r"-\d+\.\d+-minor")


# ---------------------------------------------------------------------------------------------
# Release


def release_from_job(meta: RunMeta) -> str:
    """The release the run gives signal on: `4.18`, `Presubmits`, or "" when unknown.

    Order: label `job-release`, annotation `release.openshift.io/source` (`ocp/4.22`),
    payload-testing PR jobs (annotation `releaseJobName` plus refs) -> Presubmits as Sippy
    does, the target X.Y of the job name (never an upgrade's from-release), and finally
    `Presubmits` for presubmits whose name carries no version.
    """
    labels = _mapping(getattr(meta, "labels", None))
    annotations = _mapping(getattr(meta, "annotations", None))
    for hint in (labels.get("job-release"), annotations.get("release.openshift.io/source")):
        version = _first_version(hint)
        if version:
            return version
    presubmit = _is_presubmit(meta)
    if "releaseJobName" in annotations and (presubmit or getattr(meta, "pulls", None)):
        return PRESUBMITS
    name = getattr(meta, "job_name", "")
    version = target_release(name if isinstance(name, str) else "")
    if version:
        return version
    return PRESUBMITS if presubmit else ""


def target_release(job_name: str) -> str:
    """The X.Y a job name tests: `...-4.22-upgrade-from-stable-4.21-...` gives 4.22."""
    name = job_name.lower() if isinstance(job_name, str) else ""
    to_target = _TO_TARGET.search(name)  # legacy "4.10-stable-to-4.11"
    if to_target:
        return _normalise(to_target.group(1))
    for match in _VERSION.finditer(name):
        if not _FROM_PREFIX.search(name[: match.start()]):
            return f"{int(match.group(1))}.{int(match.group(2))}"
    compact = _COMPACT_OCP.search(name) or _DASHED.search(name)  # "ocp418", "-4-19-"
    return f"{compact.group(1)}.{int(compact.group(2))}" if compact else ""


def _first_version(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    match = _ANY_VERSION.search(text)
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else ""


def _normalise(version: str) -> str:
    major, _, minor = version.partition(".")
    return f"{int(major)}.{int(minor)}"


def _is_presubmit(meta: RunMeta) -> bool:
    job_type = getattr(meta, "job_type", "")
    name = getattr(meta, "job_name", "")
    if isinstance(job_type, str) and job_type.lower() in PRESUBMIT_TYPES:
        return True
    return isinstance(name, str) and name.startswith("pull-ci-")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------------------------------------
# Variants


def variants_from_job_name(name: str) -> list[str]:
    """Sippy-style `Key:Value` variants of a job, in Sippy's key order; [] for no name."""
    if not isinstance(name, str) or not name.strip():
        return []
    job = name.strip().lower()
    has = _matcher(job)
    release, from_release = _release_span(job)
    values: dict[str, str] = {}
    platform = _platform(has)
    if platform:
        values["Platform"] = platform
    values["Architecture"] = _architecture(has)
    network = _network(has, from_release)
    if network:
        values["Network"] = network
    values["NetworkStack"] = "dual" if has("dualstack") else "ipv6" if has("ipv6") else "ipv4"
    values["Owner"] = _owner(has)
    values["Topology"] = _topology(has)
    values["FeatureSet"] = "techpreview" if has("techpreview", "tech-preview") else "default"
    values["Upgrade"] = _upgrade(job, has, release, from_release)
    values["SecurityMode"] = "fips" if has("fips") else "default"
    values["Installer"] = _installer(has)
    procedure = _procedure(has)
    values["Procedure"] = procedure
    if procedure in ("etcd-scaling", "cpu-partitioning"):
        values["JobTier"] = "rare"  # blocking/informing needs the release config: left out
    aggregated = job.startswith(("aggregated-", "aggregator-")) or has("aggregated")
    values["Aggregation"] = "aggregated" if aggregated else "none"
    values["NetworkAccess"] = _network_access(has)
    values["Scheduler"] = "realtime" if has("rt", exact=True) else "default"
    values["Suite"] = _suite(has)
    runtime = _container_runtime(has, from_release)
    if runtime:
        values["ContainerRuntime"] = runtime
    values["CGroupMode"] = "v1" if has("cgroupsv1") else "v2"
    virt = has("virt", "cnv", exact=True) or has("kubevirt")
    values["LayeredProduct"] = "virt" if virt else "none"
    return [f"{key}:{values[key]}" for key in VARIANT_KEYS if key in values]


Matcher = Callable[..., bool]


def _matcher(job: str) -> Matcher:
    """`has(*tokens, exact=False)`: a token starts (or, if exact, is) a dash-separated part."""

    def has(*tokens: str, exact: bool = False) -> bool:
        end = r"(?:[-_]|$)" if exact else ""
        return any(re.search(rf"(?:^|[-_]){re.escape(t)}{end}", job) for t in tokens)

    return has


def _release_span(job: str) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """(target, oldest) versions in the name; oldest is what an upgrade starts from."""
    found = [(int(m.group(1)), int(m.group(2))) for m in _VERSION.finditer(job)]
    target = target_release(job)
    parsed = tuple(int(p) for p in target.split(".")) if target else None
    release = (parsed[0], parsed[1]) if parsed else None
    oldest = min(found) if found else release
    return release, oldest


def _platform(has: Matcher) -> str:
    ordered = (
        ("alibaba", ("alibaba",)),
        ("rosa", ("rosa",)),  # before aws: ROSA jobs also say aws
        ("aws", ("aws",)),
        ("azure", ("azure",)),
        ("osd-gcp", ("osd-ccs-gcp",)),
        ("gcp", ("gcp",)),
        ("ibmcloud", ("ibmcloud",)),
        ("libvirt", ("libvirt",)),
        ("metal", ("metal", "baremetal")),
        ("nutanix", ("nutanix",)),
        ("openstack", ("openstack",)),
        ("ovirt", ("ovirt",)),
        ("vsphere", ("vsphere",)),
    )
    return next((value for value, tokens in ordered if has(*tokens)), "")


def _architecture(has: Matcher) -> str:
    if has("arm64", "multi-a-a") or has("arm", exact=True):
        return "arm64"
    if has("ppc64le", "multi-p-p") or has("power", "powervs", exact=True):
        return "ppc64le"
    if has("s390x", "multi-z-z"):
        return "s390x"
    if has("heterogeneous") or has("multi", exact=True):
        return "heterogeneous"  # Sippy's value for multi-arch clusters
    return "amd64"


def _network(has: Matcher, from_release: tuple[int, int] | None) -> str:
    if has("ovn"):
        return "ovn"
    if has("sdn"):
        return "sdn"
    if from_release is None:
        return ""
    return "ovn" if from_release >= (4, 12) else "sdn"  # OVN became the default in 4.12


def _owner(has: Matcher) -> str:
    if has("osd", "rosa"):
        return "service-delivery"
    if has("telco5g"):
        return "cnf"
    if has("perfscale"):
        return "perfscale"
    if has("chaos", exact=True):
        return "chaos"
    qe = ("openshift-tests-private", "openshift-verification-tests", "openshift-distributed")
    if has(*qe) or has("qe", exact=True):
        return "qe"
    return "eng"


def _hosted(has: Matcher) -> bool:
    return has("hypershift", "hcp", exact=False) or has("hosted", exact=True)


def _topology(has: Matcher) -> str:
    if has("single-node") or has("sno", exact=True):
        return "single"
    if _hosted(has):
        return "external"
    if has("compact"):
        return "compact"
    if has("microshift"):
        return "microshift"
    return "ha"


def _upgrade(
    job: str, has: Matcher, release: tuple[int, int] | None, from_release: tuple[int, int] | None
) -> str:
    if not has("upgrade"):
        return "none"
    if has("upgrade-out-of-change"):
        return "micro-downgrade"
    if release and from_release and release != from_release:
        same_major = release[0] == from_release[0]
        return "multi" if same_major and release[1] - from_release[1] > 1 else "minor"
    if _MINOR_SUFFIX.search(job) or has("upgrade-from-stable"):
        return "minor"
    return "micro"


def _installer(has: Matcher) -> str:
    if has("assisted"):
        return "assisted"
    if _hosted(has):
        return "hypershift"
    if has("agent", exact=True):
        return "agent"
    if has("upi"):
        return "upi"
    return "ipi"


def _procedure(has: Matcher) -> str:
    if has("etcd-scaling"):
        return "etcd-scaling"
    if has("cpu-partitioning"):
        return "cpu-partitioning"
    if has("automated-release"):
        return "automated-release"
    return "none"


def _network_access(has: Matcher) -> str:
    if has("proxy"):
        return "proxy"
    if has("disconnected"):
        return "disconnected"
    return "default"


def _suite(has: Matcher) -> str:
    if has("serial"):
        return "serial"
    if has("etcd-scaling"):
        return "etcd-scaling"
    if has("conformance", "parallel"):
        return "parallel"  # conformance without serial runs the parallel suite
    return "unknown"


def _container_runtime(has: Matcher, from_release: tuple[int, int] | None) -> str:
    if has("crun"):
        return "crun"
    if has("runc"):
        return "runc"
    if from_release is None:
        return ""
    return "crun" if from_release >= (4, 18) else "runc"  # crun became the default in 4.18
