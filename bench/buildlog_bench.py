"""Build-log scan benchmark: `scan_build_log` against `grep -E` with the same patterns.

A ci-operator-style log is generated: mostly progress lines (ci-operator, openshift-install,
openshift-tests, klog, shell traces), about 3% noise that mentions errors without being one
(INFO events, retried klog errors, zero counters, flags), distinct `level=error` lines
throughout, a VPC quota error planted in the middle and the usual failure summary at the end.
Both tools read it in full in the same run (best of 3); grep counts matching lines (`-c`: with
its output sent to /dev/null GNU grep would stop at the first match). The figures that matter:
the time ratio (target: at most 3x grep) and the scanner's peak Python memory, on that log and
on one four times larger (target: it does not grow with the log).

    python bench/buildlog_bench.py [--mb 50] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sippy.evidence.buildlog import GREP_PATTERNS, LogFinding, scan_build_log

PLANTED = (
    "An error occurred (VpcLimitExceeded) when calling the CreateVpc operation: "
    "The maximum number of VPCs has been reached."
)
AREAS = ("network", "storage", "apps", "node", "auth", "cli", "api-machinery", "arch")
NOISE_EVERY = 30  # one line in 30 mentions an error or a failure without being one


def _progress(rng: random.Random, t: datetime, n: int) -> str:
    """One ordinary line, of the kinds that make up most of a real build log."""
    ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    clock = t.strftime("%H:%M:%S.%f")
    area = rng.choice(AREAS)
    kind = rng.randrange(10)
    if kind == 0:
        return f"INFO[{ts}] Running step e2e-aws-ovn-{area}-{n % 97}."
    if kind == 1:
        return (
            f'time="{ts}" level=debug msg="Still waiting for the cluster to initialize: '
            f"Working towards 4.20.0-0.nightly-2026-05-14-114051: {n % 900} of 903 done "
            f'({n % 100}% complete)"'
        )
    if kind in (2, 3, 4):
        return (
            f'passed: ({n % 300}.{n % 10}s) {ts} "[sig-{area}] {area} should work as '
            f'expected number {n % 4000} [Suite:openshift/conformance/parallel]"'
        )
    if kind == 5:
        return f'started: 0/{n % 4000}/4000 "[sig-{area}] {area} case {n % 4000}"'
    if kind == 6:
        return (
            f"I0514 {clock}   {n % 500} request.go:700] Waited for 1.0{n % 10}s due to "
            f"client-side throttling, not priority and fairness, request: "
            f"GET:https://172.30.0.1:443/api/v1/namespaces/e2e-test-{area}-x{n % 9}k2q/pods"
        )
    if kind == 7:
        return f"  STEP: Creating a kubernetes client @ 05/14/26 {clock[:12]}"
    if kind == 8:
        flag = f" --request-timeout={n % 60}s" if n % 10 == 0 else ""  # "timeout", 1 line in 100
        return f"+ oc get pods -n openshift-{area} -o wide{flag}"
    return (
        f'time="{ts}" level=info msg="Waiting up to 40m0s (until {t:%I:%M%p} UTC) for the '
        f'cluster at https://api.ci-op-{n % 10**8:08d}.aws.dev.rhcloud.com:6443 to initialize..."'
    )


def _noise(rng: random.Random, t: datetime, n: int) -> str:
    """A line holding "error", "fail" or "timeout" that is not a cause."""
    ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    clock = t.strftime("%H:%M:%S.%f")
    ip = f"10.0.{n % 250}.{n % 199}"
    kind = rng.randrange(6)
    if kind == 0:
        return (
            f'time="{ts}" level=info msg="event interval matches '
            f'ConnectionErrorDuringSingleNodeAPIServerTargetDown" locator="{{Kind map[node:'
            f'ip-{ip.replace(".", "-")}.us-west-1.compute.internal]}}"'
        )
    if kind == 1:
        return (
            f'E0514 {clock}      {n % 90} memcache.go:265] "Unhandled Error" err="couldn\'t get '
            f'current server API group list: Get \\"https://{ip}:6443/api?timeout=32s\\": dial '
            f'tcp {ip}:6443: i/o timeout"'
        )
    if kind == 2:
        return (
            f"W0514 {clock}      {n % 90} reflector.go:561] failed to list *v1.Pod: the server "
            f"is currently unable to handle the request, will retry"
        )
    if kind == 3:
        return f"localhost : ok={n % 90} changed={n % 30} unreachable=0 failed=0 skipped=3"
    if kind == 4:
        return (
            "+ openshift-tests run --junit-dir=/logs/artifacts/junit --fail-fast=false "
            f"--max-parallel-tests={n % 30} openshift/conformance/parallel"
        )
    return f"Ginkgo exit error 1: exit with code {n % 3 + 1}"


def _summary(t: datetime) -> list[str]:
    ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    pod = "e2e-aws-ovn-ipi-install-install"
    return [
        f"INFO[{ts}] Step {pod} failed after 1h1m24s.",
        f"ERRO[{ts}] Some steps failed:",
        f"ERRO[{ts}]",
        f'  * could not run steps: step e2e-aws-ovn failed: "e2e-aws-ovn" pre steps failed: '
        f'"e2e-aws-ovn" pod "{pod}" failed: could not watch pod: the pod ci-op-x2k4j9zq/{pod} '
        f"failed after 1h0m9s (failed containers: test): ContainerFailed one or more containers "
        f"exited",
        f"INFO[{ts}] Reporting job state 'failed' with reason 'executing_graph:step_failed'",
    ]


def generate(path: Path, megabytes: int, seed: int = 1) -> tuple[int, int]:
    """Write the log; return (line number of the planted cause, lines written)."""
    rng = random.Random(seed)
    target = megabytes * 1024 * 1024
    t = datetime(2026, 5, 14, 8, 0, 0)
    size = n = planted_at = 0
    with path.open("w", encoding="utf-8") as out:
        while size < target:
            n += 1
            t += timedelta(milliseconds=rng.randrange(1, 40))
            if not planted_at and size > target // 2:
                line, planted_at = PLANTED, n
            elif n % 5000 == 0:
                line = (
                    f'time="{t:%Y-%m-%dT%H:%M:%SZ}" level=error msg="failed to fetch resource '
                    f'{n // 5000} of the cluster: connection refused"'
                )
            elif n % NOISE_EVERY == 0:
                line = _noise(rng, t, n)
            else:
                line = _progress(rng, t, n)
            out.write(line + "\n")
            size += len(line.encode()) + 1
        for line in _summary(t):
            out.write(line + "\n")
            n += 1
    return planted_at, n


def best_of(runs: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def scan_file(path: Path) -> list[LogFinding]:
    with path.open("rb") as stream:
        return scan_build_log(stream)


def grep_count(path: Path) -> int:
    """Lines matching any of the patterns: grep reads and matches the whole file."""
    args = ["grep", "-E", "-c"]
    for pattern in GREP_PATTERNS:
        args += ["-e", pattern]
    done = subprocess.run([*args, str(path)], capture_output=True, check=False)
    if done.returncode > 1:
        raise SystemExit(f"grep failed: {done.stderr.decode(errors='replace')}")
    return int(done.stdout or 0)


def peak_memory(path: Path) -> int:
    tracemalloc.start()
    try:
        scan_file(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=50, help="size of the generated log")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool (best)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    opts = parser.parse_args()
    if shutil.which("grep") is None:
        print("grep not found", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "build-log.txt"
        planted, lines = generate(log, opts.mb)
        size = log.stat().st_size
        findings = scan_file(log)
        rank = next(
            (i for i, f in enumerate(findings, 1) if f.line == planted and "VpcLimit" in f.text),
            0,
        )
        matched = grep_count(log)
        ours = best_of(opts.repeat, lambda: scan_file(log))
        grep = best_of(opts.repeat, lambda: grep_count(log))
        peak = peak_memory(log)
        big = Path(tmp) / "big-build-log.txt"
        with big.open("wb") as out:
            for _ in range(4):
                with log.open("rb") as part:
                    shutil.copyfileobj(part, out, 1 << 20)
        big_peak = peak_memory(big)
    results = {
        "megabytes": round(size / 2**20, 1),
        "lines": lines,
        "grep_matching_lines": matched,
        "patterns": len(GREP_PATTERNS),
        "grep_seconds": round(grep, 3),
        "scan_seconds": round(ours, 3),
        "ratio": round(ours / grep, 2),
        "peak_bytes": peak,
        "peak_bytes_4x": big_peak,
        "planted_line": planted,
        "planted_rank": rank,
    }
    _print(results)
    if opts.json:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if rank else 1


def _print(r: dict[str, int | float]) -> None:
    mb, big_mb = r["megabytes"], 4 * r["megabytes"]
    print(
        f"{mb:.0f} MB log, {r['lines']:,} lines, {r['grep_matching_lines']:,} matching "
        f"{r['patterns']} patterns; best of the runs"
    )
    print(f"{'tool':<34} {'time':>8} {'peak memory':>12}")
    print(f"{'grep -E -c (reference)':<34} {r['grep_seconds']:>7.2f}s {'':>12}")
    print(f"{'scan_build_log':<34} {r['scan_seconds']:>7.2f}s {r['peak_bytes'] / 1e6:>9.1f} MB")
    print(
        f"{f'scan_build_log, {big_mb:.0f} MB log':<34} {'':>8} {r['peak_bytes_4x'] / 1e6:>9.1f} MB"
    )
    where = f"rank {r['planted_rank']}" if r["planted_rank"] else "NOT FOUND"
    print(f"planted cause at line {r['planted_line']:,} (mid-log): {where}")
    met = "met" if r["ratio"] <= 3 else "not met"
    print(
        f"buildlog: {mb:.0f} MB in {r['scan_seconds']:.2f} s = {r['ratio']:.1f}x grep -E "
        f"({r['grep_seconds']:.2f} s, target <= 3x {met}); peak {r['peak_bytes'] / 1e6:.1f} MB "
        f"({big_mb:.0f} MB log: {r['peak_bytes_4x'] / 1e6:.1f} MB)"
    )


if __name__ == "__main__":
    sys.exit(main())
