"""release_from_job and variants_from_job_name, on named examples and the real job-name lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from sippy.ingest.records import RunMeta
from sippy.ingest.release import (
    VARIANT_KEYS,
    release_from_job,
    target_release,
    variants_from_job_name,
)

NAME_LISTS = (
    "ci-tools/pkg/jobrunaggregator/jobtableprimer/generated_job_names.txt",
    "sippy/pkg/testidentification/ocp_never_stable.txt",
)


def _meta(name: str, job_type: str = "periodic", **kwargs) -> RunMeta:
    return RunMeta(build_id=1, job_name=name, job_type=job_type, **kwargs)


def _variants(name: str) -> dict[str, str]:
    return dict(v.split(":", 1) for v in variants_from_job_name(name))


# --- release ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "release"),
    [
        ("periodic-ci-openshift-release-main-nightly-4.18-e2e-aws-ovn-serial", "4.18"),
        (
            "periodic-ci-openshift-release-main-ci-4.22-upgrade-from-stable-4.21-e2e-gcp-ovn-upgrade",
            "4.22",
        ),
        (
            "periodic-ci-openshift-release-main-nightly-4.22-upgrade-from-stable-4.21-e2e-metal-ipi-ovn-upgrade",
            "4.22",
        ),
        (
            "periodic-ci-openshift-release-master-ci-4.18-upgrade-from-stable-4.17-from-stable-4.16-e2e-aws-ovn-upgrade",
            "4.18",
        ),
        (
            "periodic-ci-openshift-multiarch-master-nightly-4.11-upgrade-from-nightly-4.10-ocp-remote-libvirt-s390x",
            "4.11",
        ),
        ("periodic-ci-openshift-hypershift-release-4.20-periodics-e2e-aws-ovn-conformance", "4.20"),
        ("release-openshift-origin-installer-e2e-aws-upgrade-4.10-stable-to-4.11-ci", "4.11"),
        (
            "periodic-ci-openshift-assisted-test-infra-master-e2e-metal-assisted-bond-4-14-periodic",
            "4.14",
        ),
        (
            "periodic-ci-quay-quay-tests-master-omr-ocp418-quay-omr-tests-omr-ocp418-disconnected",
            "4.18",
        ),
        (
            "periodic-ci-openshift-assisted-service-release-ocm-2.11-e2e-ai-operator-ztp-periodic",
            "",
        ),
        ("release-openshift-origin-installer-launch-openstack", ""),
    ],
)
def test_release_from_job_name(name: str, release: str) -> None:
    assert release_from_job(_meta(name)) == release


def test_release_label_and_annotation_win() -> None:
    name = "periodic-ci-openshift-release-main-nightly-4.18-e2e-aws"
    assert release_from_job(_meta(name, labels={"job-release": "4.19"})) == "4.19"
    source = {"release.openshift.io/source": "ocp/4.22"}
    assert release_from_job(_meta("some-verify-job", annotations=source)) == "4.22"


def test_presubmits() -> None:
    assert release_from_job(_meta("pull-ci-openshift-origin-master-e2e-aws-csi", "presubmit")) == (
        "Presubmits"
    )
    assert release_from_job(_meta("pull-ci-openshift-origin-master-e2e-aws", "")) == "Presubmits"
    assert release_from_job(
        _meta("pull-ci-openshift-origin-release-4.14-e2e-aws", "presubmit")
    ) == ("4.14")
    payload = _meta(
        "openshift-origin-27600-nightly-4.18-e2e-aws-ovn",
        "periodic",
        annotations={"releaseJobName": "periodic-ci-x-4.18"},
        pulls=[],
        org="openshift",
    )
    assert release_from_job(payload) == "4.18"
    payload.job_type = "presubmit"
    assert release_from_job(payload) == "Presubmits"


def test_release_with_wrong_types_never_raises() -> None:
    meta = _meta("x")
    meta.labels = None  # type: ignore[assignment]
    meta.annotations = {"release.openshift.io/source": 4}
    meta.job_name = None  # type: ignore[assignment]
    assert release_from_job(meta) == ""
    assert target_release(None) == ""  # type: ignore[arg-type]


# --- variants ---------------------------------------------------------------------------------


def test_variants_serial_aws() -> None:
    assert variants_from_job_name(
        "periodic-ci-openshift-release-main-nightly-4.18-e2e-aws-ovn-serial"
    ) == [
        "Platform:aws",
        "Architecture:amd64",
        "Network:ovn",
        "NetworkStack:ipv4",
        "Owner:eng",
        "Topology:ha",
        "FeatureSet:default",
        "Upgrade:none",
        "SecurityMode:default",
        "Installer:ipi",
        "Procedure:none",
        "Aggregation:none",
        "NetworkAccess:default",
        "Scheduler:default",
        "Suite:serial",
        "ContainerRuntime:crun",
        "CGroupMode:v2",
        "LayeredProduct:none",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "periodic-ci-openshift-release-main-ci-4.22-upgrade-from-stable-4.21-e2e-gcp-ovn-upgrade",
            {"Platform": "gcp", "Upgrade": "minor", "Network": "ovn"},
        ),
        (
            "periodic-ci-openshift-release-master-ci-4.14-e2e-azure-ovn-upgrade",
            {"Platform": "azure", "Upgrade": "micro"},
        ),
        (
            "periodic-ci-openshift-release-master-ci-4.18-upgrade-from-stable-4.17-from-stable-4.16-e2e-aws-ovn-upgrade",
            {"Upgrade": "multi"},
        ),
        (
            "periodic-ci-openshift-release-master-ci-4.15-e2e-azure-ovn-upgrade-out-of-change",
            {"Upgrade": "micro-downgrade"},
        ),
        (
            "periodic-ci-openshift-hypershift-release-4.20-periodics-e2e-aws-ovn-conformance",
            {"Topology": "external", "Installer": "hypershift", "Suite": "parallel"},
        ),
        (
            "periodic-ci-openshift-multiarch-master-nightly-4.13-ocp-e2e-aws-ovn-arm64-techpreview-serial",
            {"Architecture": "arm64", "FeatureSet": "techpreview", "Suite": "serial"},
        ),
        (
            "periodic-ci-openshift-multiarch-master-nightly-4.17-upgrade-from-nightly-4.16-ocp-ovn-remote-libvirt-multi-p-p",
            {"Architecture": "ppc64le", "Platform": "libvirt", "Upgrade": "minor"},
        ),
        (
            "periodic-ci-openshift-multiarch-master-nightly-4.15-ocp-heavy-build-ovn-remote-libvirt-s390x",
            {"Architecture": "s390x"},
        ),
        (
            "periodic-ci-openshift-multiarch-master-nightly-4.12-upgrade-from-stable-4.11-ocp-e2e-aws-heterogeneous-upgrade",
            {"Architecture": "heterogeneous"},
        ),
        (
            "periodic-ci-openshift-release-master-nightly-4.10-e2e-metal-ipi-serial-ovn-ipv6",
            {"Platform": "metal", "NetworkStack": "ipv6", "Network": "ovn", "Suite": "serial"},
        ),
        (
            "periodic-ci-openshift-release-main-nightly-4.22-e2e-metal-ipi-ovn-dualstack",
            {"NetworkStack": "dual"},
        ),
        (
            "periodic-ci-openshift-release-master-nightly-4.14-e2e-aws-ovn-single-node",
            {"Topology": "single"},
        ),
        (
            "periodic-ci-openshift-release-master-nightly-4.16-e2e-azure-sdn-fips",
            {"SecurityMode": "fips", "Network": "sdn"},
        ),
        ("periodic-ci-openshift-release-master-nightly-4.10-e2e-azure-upi", {"Installer": "upi"}),
        (
            "periodic-ci-openshift-release-master-nightly-4.20-e2e-agent-single-node-ipv6-conformance",
            {"Installer": "agent", "Topology": "single"},
        ),
        (
            "periodic-ci-openshift-release-master-nightly-4.14-e2e-metal-assisted",
            {"Installer": "assisted"},
        ),
        (
            "periodic-ci-openshift-release-master-nightly-4.14-e2e-metal-ovn-compact",
            {"Topology": "compact"},
        ),
        (
            "periodic-ci-openshift-release-master-nightly-4.22-e2e-metal-ipi-ovn-serial-virtualmedia-1of2",
            {"LayeredProduct": "none"},  # Sippy's `-virt` substring would say virt
        ),
        ("periodic-ci-openshift-release-master-nightly-4.10-e2e-gcp", {"Network": "sdn"}),
        (
            "periodic-ci-openshift-release-master-nightly-4.15-e2e-gcp-ovn-etcd-scaling",
            {
                "Procedure": "etcd-scaling",
                "JobTier": "rare",
                "Suite": "etcd-scaling",
            },
        ),
    ],
)
def test_named_variants(name: str, expected: dict[str, str]) -> None:
    variants = _variants(name)
    assert {k: variants.get(k) for k in expected} == expected


def test_variants_of_nothing() -> None:
    assert variants_from_job_name("") == []
    assert variants_from_job_name(None) == []  # type: ignore[arg-type]
    assert _variants("pull-ci-openshift-origin-master-e2e-aws-csi")["Platform"] == "aws"


def _real_names(realdata: Path) -> list[str]:
    names: list[str] = []
    for rel in NAME_LISTS:
        lines = (realdata / rel).read_text(encoding="utf-8").splitlines()
        names += [n.strip() for n in lines if n.strip() and not n.startswith("//")]
    return names


def test_real_job_names(realdata: Path) -> None:
    names = _real_names(realdata)
    assert len(names) > 2800
    order = {key: i for i, key in enumerate(VARIANT_KEYS)}
    with_platform = with_release = 0
    for name in names:
        variants = variants_from_job_name(name)
        keys = [v.split(":", 1)[0] for v in variants]
        assert keys == sorted(keys, key=order.__getitem__), name
        assert len(set(keys)) == len(keys)
        with_platform += "Platform" in keys
        release = release_from_job(_meta(name))
        with_release += bool(release)
        if "-upgrade-from-stable-" in name:
            assert _variants(name)["Upgrade"] in ("minor", "multi"), name
            from_release = name.split("-upgrade-from-stable-")[1].split("-")[0]
            assert release != from_release, name
        if "-arm64" in name:
            assert _variants(name)["Architecture"] == "arm64", name
    assert with_platform / len(names) > 0.9
    assert with_release / len(names) > 0.98
