"""Generate release payloads (release-controller JSON) with their job runs and planted themes.

Why: "group a payload's failures by shared cause" can only be scored against a payload whose
causes are known. Each generated payload lists its blocking and informing jobs, one run each,
written in GCS layout beside it. Some failed runs share a planted cause (a theme): the same
failing test with the same `fail [...]` line whose ids, names, addresses and numbers vary
from run to run, the same cause behind several different tests, or the same installer error
in the build log of runs that wrote no test result. The other failed runs are one-off
failures, each with a cause of its own, and the rest pass. Themes always span runs of
different jobs, as they do in real payloads.

Ground truth (`SamplePayload`): for each planted theme the set of its runs and its cause
label (`samples.causes.PlantedCause`), and every failed run's cause. Output depends only on
the seed; no clock is read.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sippy.samples.causes import PlantedCause
from sippy.samples.generator import BUCKET, PROW_VIEW, SNOWFLAKE_EPOCH_MS

RELEASE = "4.23"
FIRST_TAG_TIME = datetime(2026, 7, 6, 3, 0, tzinfo=UTC)  # after every generate_samples run
_HEX = "0123456789abcdef"
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_PLATFORMS = ("aws", "gcp", "azure", "metal-ipi", "vsphere", "nutanix", "openstack", "ibmcloud")
_VARIANTS = ("ovn", "ovn-serial", "ovn-techpreview", "ovn-upgrade", "ovn-fips", "csi")
_DOMAINS = {"aws": "aws-2.ci.openshift.org", "gcp": "gcp-2.ci.openshift.org"}


@dataclass(frozen=True, slots=True)
class _ThemeSpec:
    """A cause that can be planted in several runs: `kind` "test" or "build-log"."""

    key: str
    kind: str
    cause: PlantedCause
    tests: tuple[str, ...] = ()  # the failing test(s); one per run is picked when several
    template: str = ""  # the decisive line; {placeholders} vary per run
    platform: str = ""  # only jobs on this platform (a cloud-specific error)


def _cause(label: str, marker: str, *terms: tuple[str, ...]) -> PlantedCause:
    return PlantedCause(label, marker, tuple(terms))


_THEMES: tuple[_ThemeSpec, ...] = (
    _ThemeSpec(
        "ovnkube-crashloop",
        "test",
        _cause(
            "ovnkube-node is crash-looping, so services get no endpoints",
            "is CrashLoopBackOff",
            ("ovnkube",),
            ("crashloop", "crash loop", "crash-loop", "crashing", "restarting"),
        ),
        (
            "[sig-network] Services should be able to create a functioning NodePort service"
            " [Conformance] [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
        ),
        "fail [k8s.io/kubernetes@v1.36.0/test/e2e/network/service.go:{line}]: service"
        " nodeport-test-{id5} in namespace e2e-services-{id4} got no endpoints within {mins}m0s:"
        " pod ovnkube-node-{id5} on node {node} is CrashLoopBackOff (restarted {count} times)",
    ),
    _ThemeSpec(
        "etcd-slow-disk",
        "test",
        _cause(
            "etcd changed leader repeatedly because of a slow disk (WAL fsync)",
            "possibly due to slow disk",
            ("etcd",),
            ("slow disk", "fsync", "disk latency", "disk"),
        ),
        (
            "[sig-etcd] etcd leader changes are not excessive [Late]"
            " [Suite:openshift/conformance/parallel]",
        ),
        "fail [github.com/openshift/origin/test/extended/etcd/leader_changes.go:{line}]: Leader"
        " changes observed: {count} leader changes on member etcd-{node}: etcdserver: request"
        " timed out, possibly due to slow disk (wal fsync p99 {ms}ms)",
    ),
    _ThemeSpec(
        "apiserver-refused",
        "test",
        _cause(
            "the kube-apiserver refused connections on port 6443",
            ":6443: connect: connection refused",
            ("connection refused", "refused"),
            ("6443", "api server", "apiserver", "kube-apiserver", "api endpoint"),
        ),
        (
            "[sig-apps] Deployment should run the lifecycle of a Deployment [Conformance]"
            " [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
            "[sig-api-machinery] ResourceQuota should create a ResourceQuota and capture the life"
            " of a pod [Conformance] [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
            "[sig-node] ConfigMap should be consumable via environment variable [Conformance]"
            " [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
            "[sig-cli] oc observe works as expected [apigroup:config.openshift.io]"
            " [Suite:openshift/conformance/parallel]",
        ),
        'fail [github.com/openshift/origin/test/extended/util/client.go:{line}]: Get "https://'
        'api.ci-op-{id8}.aws-2.ci.openshift.org:6443/api/v1/namespaces/e2e-test-{id5}/pods":'
        " dial tcp {ip}:6443: connect: connection refused",
    ),
    _ThemeSpec(
        "builder-manifest-unknown",
        "test",
        _cause(
            "the nodejs builder image's manifest is missing from registry.redhat.io",
            "manifest unknown: manifest tagged by",
            ("manifest unknown", "manifest not found", "manifest tagged by", "manifest is missing"),
        ),
        (
            "[sig-builds][Feature:Builds] s2i build with a root user image should create a root"
            " build and pass with a privileged SCC [apigroup:build.openshift.io]"
            " [Suite:openshift/conformance/parallel]",
        ),
        "fail [github.com/openshift/origin/test/extended/builds/s2i_root.go:{line}]: build"
        " nodejspass-{id5}-1 failed: pulling image registry.redhat.io/ubi9/nodejs-20:latest:"
        ' manifest unknown: manifest tagged by "latest" is not found',
    ),
    _ThemeSpec(
        "aws-insufficient-capacity",
        "build-log",
        _cause(
            "AWS had no m6a.xlarge capacity in the zone (InsufficientInstanceCapacity)",
            "InsufficientInstanceCapacity",
            (
                "InsufficientInstanceCapacity",
                "insufficient capacity",
                "insufficient instance capacity",
                "m6a.xlarge capacity",
            ),
        ),
        (),
        'level=error msg="Error: creating EC2 Instance: InsufficientInstanceCapacity: We'
        " currently do not have sufficient m6a.xlarge capacity in the Availability Zone you"
        " requested (us-east-1{zone}). Our system will be working on provisioning additional"
        ' capacity. status code: 500, request id: {uuid}"',
        platform="aws",
    ),
    _ThemeSpec(
        "gcp-dns-rate-limit",
        "build-log",
        _cause(
            "Cloud DNS rate-limited the installer while it created the API records",
            "rateLimitExceeded",
            ("dns",),
            ("ratelimitexceeded", "rate limit", "rate-limit", "rate exceeded", "throttl"),
        ),
        (),
        'level=error msg="failed to fetch Cluster: failed to generate asset \\"Cluster\\":'
        " failed to create cluster: failed to create DNS record api-int.ci-op-{id8}"
        ".gcp-2.ci.openshift.org: googleapi: Error 403: Quota exceeded for quota metric 'DNS"
        " changes', rateLimitExceeded, request id {uuid}\"",
        platform="gcp",
    ),
)

# One-off failures: each cause appears in one run of a payload only.
_ONE_OFFS: tuple[_ThemeSpec, ...] = (
    _ThemeSpec(
        "explain-spec-status",
        "test",
        _cause(
            "oc explain lacks the status field for routes",
            "expected spec+status for routes",
            ("explain",),
            ("status",),
        ),
        (
            "[sig-cli] oc explain should contain proper spec+status for CRDs"
            " [apigroup:route.openshift.io] [Suite:openshift/conformance/parallel]",
        ),
        "fail [github.com/openshift/origin/test/extended/cli/explain.go:{line}]: expected"
        " spec+status for routes.route.openshift.io, got only spec",
    ),
    _ThemeSpec(
        "cronjob-concurrency",
        "test",
        _cause(
            "a CronJob ran fewer concurrent jobs than expected",
            "active jobs of cronjob concurrent",
            ("cronjob", "cron job"),
            ("concurren", "active jobs"),
        ),
        (
            "[sig-apps] CronJob should schedule multiple jobs concurrently [Conformance]"
            " [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
        ),
        "fail [k8s.io/kubernetes@v1.36.0/test/e2e/apps/cronjob.go:{line}]: Expected <int>: 1 to"
        " be >= <int>: 2 active jobs of cronjob concurrent in namespace cronjob-{id4}",
    ),
    _ThemeSpec(
        "csinode-volume-limit",
        "test",
        _cause(
            "a CSINode reports no volume limit for the EBS driver",
            "has no volume limit for driver",
            ("volume limit",),
            ("csinode", "ebs"),
        ),
        (
            "[sig-storage] [Serial] Volume metrics should verify that all csinodes have volume"
            " limits [Suite:openshift/conformance/serial] [Suite:k8s]",
        ),
        "fail [k8s.io/kubernetes@v1.36.0/test/e2e/storage/volume_limits.go:{line}]: csinode"
        " {node} has no volume limit for driver ebs.csi.aws.com",
    ),
    _ThemeSpec(
        "cadvisor-metrics",
        "test",
        _cause(
            "Prometheus returned no host cAdvisor metrics",
            "container_cpu_usage_seconds_total",
            ("cadvisor", "container_cpu_usage_seconds_total"),
            ("0 series", "no series", "no metrics", "returned 0", "empty"),
        ),
        (
            "[sig-instrumentation] Prometheus [apigroup:image.openshift.io] when installed on the"
            " cluster should have non-Pod host cAdvisor metrics"
            " [Suite:openshift/conformance/parallel]",
        ),
        "fail [github.com/openshift/origin/test/extended/prometheus/prometheus.go:{line}]: query"
        ' container_cpu_usage_seconds_total{{id!~"/kubepods.*"}} for cAdvisor returned 0 series',
    ),
    _ThemeSpec(
        "scc-privileged-admitted",
        "test",
        _cause(
            "a privileged pod was admitted under the restricted-v2 SCC",
            "was admitted under SCC restricted-v2",
            ("privileged",),
            ("restricted-v2", "admitted"),
        ),
        (
            "[sig-auth][Feature:SCC] SCC admission should deny privileged pods without permission"
            " [Suite:openshift/conformance/parallel]",
        ),
        "fail [github.com/openshift/origin/test/extended/authorization/scc.go:{line}]: pod"
        " privileged-{id5} in namespace e2e-scc-{id4} was admitted under SCC restricted-v2",
    ),
    _ThemeSpec(
        "liveness-restart",
        "test",
        _cause(
            "a container with a failing exec liveness probe was never restarted",
            "restart count 0, expected 1",
            ("liveness",),
            ("restart",),
        ),
        (
            '[sig-node] Probing container should be restarted with a exec "cat /tmp/health"'
            " liveness probe [NodeConformance] [Conformance]"
            " [Suite:openshift/conformance/parallel/minimal] [Suite:k8s]",
        ),
        "fail [k8s.io/kubernetes@v1.36.0/test/e2e/common/node/container_probe.go:{line}]: pod"
        " liveness-exec-{id5} restart count 0, expected 1 within {mins}m0s",
    ),
    # Traps: the test of a planted theme failing for another reason, which a grouping by
    # test name alone would wrongly join to the theme.
    _ThemeSpec(
        "etcd-oom-killed",
        "test",
        _cause(
            "an etcd member was OOM-killed",
            "was OOMKilled",
            ("etcd",),
            ("oom", "out of memory", "memory limit"),
        ),
        (
            "[sig-etcd] etcd leader changes are not excessive [Late]"
            " [Suite:openshift/conformance/parallel]",
        ),
        "fail [github.com/openshift/origin/test/extended/etcd/leader_changes.go:{line}]: Leader"
        " changes observed: member etcd-{node} was OOMKilled after its container exceeded the"
        " 4Gi memory limit; the watch cache was rebuilt from scratch",
    ),
    _ThemeSpec(
        "s2i-no-space",
        "test",
        _cause(
            "the build node ran out of disk space while committing the image",
            "no space left on device",
            ("no space left", "out of disk", "disk space", "disk full"),
        ),
        (
            "[sig-builds][Feature:Builds] s2i build with a root user image should create a root"
            " build and pass with a privileged SCC [apigroup:build.openshift.io]"
            " [Suite:openshift/conformance/parallel]",
        ),
        "fail [github.com/openshift/origin/test/extended/builds/s2i_root.go:{line}]: build"
        " nodejspass-{id5}-1 failed: committing container for step Commit: writing blob:"
        " no space left on device",
    ),
    _ThemeSpec(
        "registry-digest-404",
        "test",
        _cause(
            "the image registry answered 404 for a manifest by digest",
            "manifests by digest returned 404",
            ("registry",),
            ("404", "not found"),
        ),
        (
            "[sig-imageregistry][Feature:ImageLookup] Image registry should serve manifests by"
            " digest [apigroup:image.openshift.io] [Suite:openshift/conformance/parallel]",
        ),
        "fail [github.com/openshift/origin/test/extended/imageapis/digest.go:{line}]: GET"
        " /v2/e2e-test-{id5}/app/manifests by digest returned 404 MANIFEST_UNKNOWN",
    ),
    _ThemeSpec(
        "installer-panic",
        "build-log",
        _cause(
            "the installer panicked with a nil pointer dereference",
            "invalid memory address or nil pointer dereference",
            ("panic", "nil pointer", "segmentation"),
        ),
        (),
        "panic: runtime error: invalid memory address or nil pointer dereference [signal"
        " SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x{hex7}]",
    ),
    _ThemeSpec(
        "quota-lease",
        "build-log",
        _cause(
            "no cloud quota lease was free",
            "failed to acquire lease for",
            ("lease",),
        ),
        (),
        "could not run steps: step e2e failed: failed to acquire lease for"
        ' "{platform}-quota-slice": resources not found',
    ),
)


@dataclass(slots=True)
class PayloadRun:
    """One job of a payload and its run. `theme` is the planted theme's key, or None."""

    build_id: int
    job_name: str  # the Prow job
    short_name: str  # the release controller's key
    kind: str  # Blocking | Informing
    state: str  # Succeeded | Failed
    path: str  # <bucket>/logs/<job>/<id>
    theme: str | None = None
    cause: PlantedCause | None = None
    cause_kind: str = ""  # test | build-log: where the cause was planted
    failed_tests: list[str] = field(default_factory=list)
    root_cause_lines: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PlantedTheme:
    key: str
    kind: str  # test | build-log
    cause: PlantedCause
    runs: list[int]


@dataclass(slots=True)
class SamplePayload:
    """Ground truth of one generated payload."""

    release_tag: str
    release_json: str  # the file written
    phase: str
    runs: list[PayloadRun]
    themes: list[PlantedTheme]

    @property
    def failed_runs(self) -> list[int]:
        return [r.build_id for r in self.runs if r.state == "Failed"]

    @property
    def one_off_runs(self) -> list[int]:
        return [r.build_id for r in self.runs if r.state == "Failed" and r.theme is None]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def generate_payloads(
    root: Path,
    *,
    tags: int = 2,
    themes: int = 4,
    one_offs: int = 4,
    passing: int = 6,
    seed: int = 0,
) -> list[SamplePayload]:
    """Write `tags` payloads: release JSON under `root/releases/`, runs under `root/<bucket>/`.

    Each payload plants `themes` themes (2-5 runs each, at most len(_THEMES)), `one_offs`
    failed runs with causes of their own and `passing` runs that succeeded.
    """
    if not 0 <= themes <= len(_THEMES) or not 0 <= one_offs <= len(_ONE_OFFS):
        raise ValueError(f"themes must be 0..{len(_THEMES)}, one_offs 0..{len(_ONE_OFFS)}")
    rng = random.Random(seed)
    root = Path(root)
    out = []
    used: set[int] = set()
    for index in range(tags):
        when = FIRST_TAG_TIME + timedelta(hours=7 * index, minutes=rng.randint(0, 59))
        start = index * themes  # each payload plants a different selection, rotating
        picked = [_THEMES[(start + i) % len(_THEMES)] for i in range(themes)]
        singles = _one_offs(rng, picked, one_offs)
        out.append(_write_payload(root, rng, when, picked, singles, passing, used))
    return out


def _one_offs(rng: random.Random, picked: list[_ThemeSpec], count: int) -> list[_ThemeSpec]:
    """`count` one-off causes, the traps for the planted themes' tests first."""
    tests = {test for spec in picked for test in spec.tests}
    traps = [spec for spec in _ONE_OFFS if set(spec.tests) & tests]
    others = [spec for spec in _ONE_OFFS if spec not in traps]
    return (traps + rng.sample(others, len(others)))[:count]


def _write_payload(
    root: Path,
    rng: random.Random,
    when: datetime,
    picked: list[_ThemeSpec],
    singles: list[_ThemeSpec],
    passing: int,
    used: set[int],
) -> SamplePayload:
    tag = f"{RELEASE}.0-0.nightly-{when:%Y-%m-%d-%H%M%S}"
    jobs = [(p, v) for p in _PLATFORMS for v in _VARIANTS]
    rng.shuffle(jobs)
    runs: list[PayloadRun] = []
    planted: list[PlantedTheme] = []

    def take(platform: str = "") -> tuple[str, str]:
        for i, (p, _) in enumerate(jobs):
            if not platform or p == platform:
                return jobs.pop(i)
        raise ValueError(f"no job left on {platform}")

    for spec in picked:
        size = rng.randint(2, 5)
        members = []
        for n in range(size):
            run = _failed_run(root, rng, when, take(spec.platform), spec, n, used)
            run.theme = spec.key
            runs.append(run)
            members.append(run.build_id)
        planted.append(PlantedTheme(spec.key, spec.kind, spec.cause, members))
    for spec in singles:
        runs.append(_failed_run(root, rng, when, take(spec.platform), spec, 0, used))
    for _ in range(passing):
        runs.append(_passing_run(root, rng, when, take(), used))
    rng.shuffle(runs)
    failed_blocking = False
    for number, run in enumerate(runs):
        run.kind = "Blocking" if number % 3 == 0 else "Informing"
        failed_blocking |= run.kind == "Blocking" and run.state == "Failed"
    phase = "Rejected" if failed_blocking else "Accepted"
    path = root / "releases" / f"{tag}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_release_json(tag, phase, runs, when), indent=2) + "\n")
    return SamplePayload(tag, str(path), phase, runs, planted)


def _release_json(tag: str, phase: str, runs: list[PayloadRun], when: datetime) -> dict[str, Any]:
    """The release controller's `/api/v1/releasestream/<stream>/release/<tag>` document."""
    results: dict[str, dict[str, Any]] = {"blockingJobs": {}, "informingJobs": {}}
    for run in sorted(runs, key=lambda r: r.short_name):
        key = "blockingJobs" if run.kind == "Blocking" else "informingJobs"
        results[key][run.short_name] = {
            "state": run.state,
            "url": f"{PROW_VIEW}/{run.path}",
            "retries": 1 if run.state == "Failed" and run.kind == "Blocking" else 0,
            "transitionTime": (when + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    return {
        "name": tag,
        "phase": phase,
        "pullSpec": f"registry.ci.openshift.org/ocp/release:{tag}",
        "results": results,
    }


# --------------------------------------------------------------------------------------------
# Runs


def _ids(rng: random.Random) -> dict[str, Any]:
    """Everything that varies between two runs of one cause."""
    return {
        "id4": "".join(rng.choices(_ALNUM, k=4)),
        "id5": "".join(rng.choices(_ALNUM, k=5)),
        "id8": "".join(rng.choices(_ALNUM, k=8)),
        "hex7": "".join(rng.choices(_HEX, k=7)),
        "uuid": "-".join("".join(rng.choices(_HEX, k=n)) for n in (8, 4, 4, 4, 12)),
        "line": rng.randint(60, 990),
        "mins": rng.randint(2, 10),
        "count": rng.randint(3, 40),
        "ms": rng.randint(120, 2400),
        "zone": rng.choice("abcdf"),
        "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}",
        "node": f"ip-10-0-{rng.randint(0, 255)}-{rng.randint(2, 250)}.ec2.internal",
    }


def _snowflake(rng: random.Random, when: datetime, used: set[int]) -> int:
    while True:
        millis = int(when.timestamp() * 1000) + rng.randint(0, 3_600_000)
        build_id = ((millis - SNOWFLAKE_EPOCH_MS) << 22) | rng.getrandbits(22)
        if build_id not in used:
            used.add(build_id)
            return build_id


def _job_names(platform: str, variant: str) -> tuple[str, str]:
    short = f"{platform}-{variant}"
    return short, f"periodic-ci-openshift-release-main-nightly-{RELEASE}-e2e-{short}"


def _failed_run(
    root: Path,
    rng: random.Random,
    when: datetime,
    job: tuple[str, str],
    spec: _ThemeSpec,
    member: int,
    used: set[int],
) -> PayloadRun:
    platform = job[0]
    short, name = _job_names(*job)
    build_id = _snowflake(rng, when, used)
    values = {**_ids(rng), "platform": platform}
    decisive = spec.template.format(**values)
    run = PayloadRun(build_id, name, short, "", "Failed", f"{BUCKET}/logs/{name}/{build_id}")
    run.cause, run.cause_kind = spec.cause, spec.kind
    run.root_cause_lines = [decisive]
    target = f"e2e-{short}"
    files: dict[str, str] = {}
    stamp = _start(build_id) + timedelta(minutes=55)
    if spec.kind == "test":
        test = spec.tests[member % len(spec.tests)]
        run.failed_tests = [test]
        failure = _failure_text(rng, decisive, stamp)
        files[_e2e_junit_path(target, stamp)] = _openshift_junit(rng, [(test, failure)])
        failed_step, step_log = "openshift-e2e-test", _e2e_log(rng, test, decisive)
    else:
        files[f"artifacts/{target}/ipi-install-install/artifacts/junit_install.xml"] = (
            _install_junit()
        )
        failed_step, step_log = "ipi-install-install", _install_log(rng, decisive, stamp)
    files["artifacts/junit_operator.xml"] = _step_graph(target, failed_step, step_log)
    files["build-log.txt"] = _build_log(target, failed_step, step_log, stamp)
    _write_run(root, run, files, "failure")
    return run


def _passing_run(
    root: Path, rng: random.Random, when: datetime, job: tuple[str, str], used: set[int]
) -> PayloadRun:
    short, name = _job_names(*job)
    build_id = _snowflake(rng, when, used)
    run = PayloadRun(build_id, name, short, "", "Succeeded", f"{BUCKET}/logs/{name}/{build_id}")
    target = f"e2e-{short}"
    stamp = _start(build_id) + timedelta(minutes=55)
    files = {
        _e2e_junit_path(target, stamp): _openshift_junit(rng, []),
        "artifacts/junit_operator.xml": _step_graph(target, None, []),
        "build-log.txt": _build_log(target, None, [], stamp),
    }
    _write_run(root, run, files, "success")
    return run


def _e2e_junit_path(target: str, when: datetime) -> str:
    folder = f"artifacts/{target}/openshift-e2e-test/artifacts/junit"
    return f"{folder}/junit_e2e__{when:%Y%m%d-%H%M%S}.xml"


def _start(build_id: int) -> datetime:
    millis = (build_id >> 22) + SNOWFLAKE_EPOCH_MS
    return datetime.fromtimestamp(millis // 1000 + 5, tz=UTC)


def _write_run(root: Path, run: PayloadRun, files: dict[str, str], state: str) -> None:
    folder = root / run.path
    start = _start(run.build_id)
    end = start + timedelta(hours=2, minutes=run.build_id % 50)
    prowjob = {
        "kind": "ProwJob",
        "apiVersion": "prow.k8s.io/v1",
        "metadata": {
            "labels": {
                "prow.k8s.io/build-id": str(run.build_id),
                "prow.k8s.io/job": run.job_name[:63].rstrip("._-"),
                "prow.k8s.io/type": "periodic",
                "job-release": RELEASE,
            },
            "annotations": {"prow.k8s.io/job": run.job_name},
        },
        "spec": {
            "type": "periodic",
            "job": run.job_name,
            "cluster": "build05",
            "decoration_config": {"gcs_configuration": {"bucket": BUCKET}},
        },
        "status": {
            "state": state,
            "url": f"{PROW_VIEW}/{run.path}",
            "build_id": str(run.build_id),
            "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "completionTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }
    passed = state == "success"
    files = {
        **files,
        "prowjob.json": json.dumps(prowjob, indent="\t"),
        "started.json": json.dumps({"timestamp": int(start.timestamp())}),
        "finished.json": json.dumps(
            {
                "timestamp": int(end.timestamp()),
                "passed": passed,
                "result": "SUCCESS" if passed else "FAILURE",
            }
        ),
    }
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Artifact text

_PASSING_TESTS = (
    "[sig-network] DNS should provide DNS for services [Conformance]",
    "[sig-apps] Deployment deployment should support rollover [Conformance]",
    "[sig-node] Pods should be submitted and removed [NodeConformance] [Conformance]",
    "[sig-cli] Kubectl client Kubectl logs should be able to retrieve and filter logs",
    "[sig-storage] EmptyDir volumes should support (root,0644,tmpfs) [LinuxOnly]",
    "[sig-auth] ServiceAccounts should mount an API token into pods [Conformance]",
    "[sig-api-machinery] Watchers should be able to restart watching from the last version",
    "[sig-network] Networking Granular Checks: Pods should function for node-pod communication",
    "[sig-scheduling] SchedulerPredicates validates resource limits of pods that are allowed",
    "[sig-instrumentation] Events should manage the lifecycle of an event [Conformance]",
    "[sig-arch] Managed cluster should ensure platform components have system-* priority class",
    "[sig-etcd] etcd record the start revision of the etcd-operator [Early]",
)


def _failure_text(rng: random.Random, decisive: str, when: datetime) -> str:
    """The decisive line first, then the test's log, as openshift-tests writes a failure."""
    project = f"e2e-test-{''.join(rng.choices(_ALNUM, k=5))}"
    klog = when.strftime("I%m%d %H:%M:%S")
    pid = rng.randint(300, 30000)
    lines = [decisive]
    for i in range(rng.randint(12, 30)):
        us = rng.randint(0, 999999)
        lines.append(
            (
                f"  STEP: Creating a kubernetes client @ {when:%m/%d/%y %H:%M:%S}.{us // 1000:03d}",
                f'{klog}.{us:06d} {pid} client.go:288] configPath is now "/tmp/configfile{us}"',
                f'{klog}.{us:06d} {pid} client.go:365] Creating project "{project}"',
                f"  STEP: Waiting for a default service account in namespace {project}",
            )[i % 4]
        )
    lines.append(f'  STEP: Destroying namespace "{project}" for this suite.')
    lines.append("Ginkgo exit error 1: exit with code 1")
    return "\n".join(lines)


def _openshift_junit(rng: random.Random, failures: list[tuple[str, str]]) -> str:
    suffix = " [Suite:openshift/conformance/parallel]"
    passing = rng.sample(_PASSING_TESTS, rng.randint(6, len(_PASSING_TESTS)))
    cases = [
        f'    <testcase name={quoteattr(name + suffix)} time="{rng.uniform(1, 90):.2f}"></testcase>'
        for name in passing
    ]
    for name, text in failures:
        cases.append(
            f'    <testcase name={quoteattr(name)} time="{rng.uniform(30, 600):.2f}">\n'
            f'        <failure message="">{escape(text)}</failure>\n    </testcase>'
        )
    head = (
        f'<testsuite name="openshift-tests" tests="{len(cases)}" skipped="0"'
        f' failures="{len(failures)}" time="3600">'
    )
    return "\n".join([head, *cases, "</testsuite>"]) + "\n"


def _install_junit() -> str:
    return (
        '<testsuite name="cluster install" tests="2" skipped="0" failures="2" time="1800">\n'
        '    <testcase name="install should succeed: infrastructure" time="0">\n'
        '        <failure message="">openshift cluster install failed with infrastructure'
        " setup</failure>\n    </testcase>\n"
        '    <testcase name="install should succeed: overall" time="1800">\n'
        '        <failure message="">openshift cluster install failed overall</failure>\n'
        "    </testcase>\n</testsuite>\n"
    )


def _e2e_log(rng: random.Random, test: str, decisive: str) -> list[str]:
    passed = rng.randint(900, 1400)
    return [
        "Starting e2e run for the [openshift/conformance/parallel] suite",
        f"started: 0/1/{passed + 1} {json.dumps(test)}",
        f"failed: ({rng.randint(30, 600)}s) {json.dumps(test)}",
        decisive,
        f"{passed} pass, 1 fail, 0 skip",
        f"error: 1 fail, {passed} pass, {rng.randint(300, 600)} skip",
    ]


def _install_log(rng: random.Random, decisive: str, when: datetime) -> list[str]:
    """openshift-install output with the error in the middle, then the teardown chatter."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f'time="{stamp}" level=info msg="Creating infrastructure resources..."']
    for i in range(rng.randint(40, 120)):
        lines.append(f'time="{stamp}" level=debug msg="module.compute[{i}]: Still creating..."')
    lines.append(decisive if decisive.startswith("panic:") else f'time="{stamp}" {decisive}')
    for i in range(rng.randint(40, 120)):
        lines.append(f'time="{stamp}" level=debug msg="module.network[{i}]: Destroying..."')
    lines.append("Installer exit with code 4")
    return lines


def _step_graph(target: str, failed: str | None, log: list[str]) -> str:
    steps = ("ipi-install-install", "openshift-e2e-test", "gather-extra")
    cases = []
    for step in steps:
        name = f"Run multi-stage test {target} - {target}-{step} container test"
        if step == failed:
            tail = escape("\n".join(log[-40:]))
            cases.append(
                f'    <testcase name={quoteattr(name)} time="600">\n'
                f'      <failure message="">{tail}</failure>\n    </testcase>'
            )
        else:
            cases.append(f'    <testcase name={quoteattr(name)} time="60"></testcase>')
    failures = 1 if failed else 0
    return (
        "<testsuites>\n"
        f'  <testsuite name="step graph" tests="{len(cases)}" skipped="0" failures="{failures}"'
        ' time="7200">\n' + "\n".join(cases) + "\n  </testsuite>\n</testsuites>\n"
    )


def _build_log(target: str, failed: str | None, log: list[str], when: datetime) -> str:
    """ci-operator's top-level log; a failed step's container log is dumped inline."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"INFO[{stamp}] ci-operator version v20260701-abcdef012",
        f"INFO[{stamp}] Running [input:origin-centos-8], [release:latest], [images], {target}",
    ]
    for step in ("ipi-install-install", "openshift-e2e-test", "gather-extra"):
        lines.append(f"INFO[{stamp}] Running step {target}-{step}.")
        if step == failed:
            lines.append(f"INFO[{stamp}] Logs for container test in pod {target}-{step}:")
            lines += log
            lines.append(f"INFO[{stamp}] Step {target}-{step} failed after 40m0s.")
        else:
            lines.append(f"INFO[{stamp}] Step {target}-{step} succeeded after 10m0s.")
    if failed:
        lines += [
            f"ERRO[{stamp}] Some steps failed:",
            f'  * could not run steps: step {target} failed: "{target}" test steps failed:'
            f' "{target}" pod "{target}-{failed}" failed: the pod ci-op-x/{target}-{failed}'
            " failed after 40m0s (failed containers: test): ContainerFailed one or more"
            " containers exited",
            f"INFO[{stamp}] Reporting job state 'failed' with reason"
            " 'executing_graph:step_failed:utilizing_lease:executing_test'",
        ]
    else:
        lines.append(f"INFO[{stamp}] Reporting job state 'succeeded'")
    return "\n".join(lines) + "\n"
