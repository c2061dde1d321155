"""Build-log scanning: our streaming scanner against `grep -E` with the same patterns.

A ci-operator-style log (mostly INFO lines, errors planted throughout and one cause in the
middle) is generated; both tools read it in full, in the same run. Reported: the time
ratio (target: within 3x of grep) and the scanner's peak Python memory on that log and
on one four times larger (target: it does not grow with the log).

    python bench/buildlog_bench.py [--mb 50]
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from sippy.evidence.buildlog import GREP_PATTERNS, scan_build_log

PLANTED = (
    "An error occurred (VpcLimitExceeded) when calling the CreateVpc operation: "
    "The maximum number of VPCs has been reached."
)
FILLER = (
    "INFO[2026-05-14T19:15:03Z] Running step e2e-aws-ovn-ipi-install-install.",
    'time="2026-05-13T19:05:19Z" level=info msg="Waiting up to 45m0s for the cluster at '
    'https://api.ci-op-x.origin-ci-int-aws.dev.rhcloud.com:6443 to initialize..."',
    "I0514 08:51:33.123456   27 request.go:700] Waited for 1.0s due to client-side throttling, "
    "not priority and fairness, request: GET:https://172.30.0.1:443/api/v1/namespaces",
    'passed: (26.2s) 2026-05-14T00:02:11 "[sig-network] Services should serve a basic endpoint '
    'from pods [Suite:openshift/conformance/parallel]"',
    "  STEP: Creating a kubernetes client @ 05/13/26 20:24:01.078",
    "Release image pull spec: registry.build05.ci.openshift.org/ci-op-x/release@sha256:0a1b",
)


def generate(path: Path, megabytes: int, seed: int = 1) -> int:
    """Write the log; return the line number of the planted cause."""
    rng = random.Random(seed)
    target = megabytes * 1024 * 1024
    size = line_no = planted_at = 0
    with path.open("w") as out:
        while size < target:
            line_no += 1
            if not planted_at and size > target // 2:
                line, planted_at = PLANTED, line_no
            elif line_no % 5000 == 0:
                line = f'time="2026-05-13T19:45:38Z" level=error msg="fetch {line_no}: refused"'
            elif line_no % 20000 == 7:
                line = f"E0514 08:51:33.1 failed to acquire lease for aws-quota-slice-{line_no}"
            else:
                line = rng.choice(FILLER)
            out.write(line + "\n")
            size += len(line) + 1
    return planted_at


def best_of(runs: int, func) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def scan_file(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as stream:
        return scan_build_log(stream)


def grep_file(path: Path) -> int:
    """Matching lines with their numbers, read through a pipe (GNU grep stops at the first
    match when its output is /dev/null, so that would measure nothing)."""
    args = ["grep", "-E", "-n"]
    for pattern in GREP_PATTERNS:
        args += ["-e", pattern]
    result = subprocess.run([*args, str(path)], stdout=subprocess.PIPE, check=False)
    return result.stdout.count(b"\n")


def peak_memory(path: Path) -> int:
    tracemalloc.start()
    scan_file(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=50)
    args = parser.parse_args()
    if shutil.which("grep") is None:
        print("grep not found", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "build-log.txt"
        planted = generate(log, args.mb)
        findings = scan_file(log)
        found = findings and findings[0].line == planted and "VpcLimitExceeded" in findings[0].text
        ours = best_of(3, lambda: scan_file(log))
        grep = best_of(3, lambda: grep_file(log))
        peak = peak_memory(log)
        big = Path(tmp) / "big.txt"
        with big.open("wb") as out:
            for _ in range(4):
                out.write(log.read_bytes())
        big_peak = peak_memory(big)
    ratio = ours / grep
    print(f"{'tool':<22} {'seconds':>8}")
    print(f"{'scan_build_log':<22} {ours:>8.3f}")
    print(f"{'grep -E -n (same)':<22} {grep:>8.3f}")
    print(
        f"buildlog: {args.mb} MB in {ours:.2f} s = {ratio:.1f}x grep -E ({grep:.2f} s); "
        f"peak {peak / 1e6:.1f} MB ({4 * args.mb} MB log: {big_peak / 1e6:.1f} MB); "
        f"planted cause mid-log ranked first: {'yes' if found else 'NO'}"
    )
    return 0 if found and ratio <= 3 and big_peak < 2 * peak + 1_000_000 else 1


if __name__ == "__main__":
    sys.exit(main())
