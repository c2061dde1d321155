"""The streaming build-log scanner: ranking, folding, chunking, bounds, real and sample logs."""

from __future__ import annotations

import io
import itertools
import json
import re
import shutil
import subprocess
import tracemalloc
from pathlib import Path

import pytest

from sippy.evidence.buildlog import (
    FINDING_BYTES,
    GREP_PATTERNS,
    KINDS,
    PATTERNS,
    PREFILTER,
    LogFinding,
    line_score,
    scan_build_log,
)

STEP_FAILED = (
    '  * could not run steps: step e2e-aws failed: "e2e-aws" pre steps failed: "e2e-aws" pod '
    '"e2e-aws-ipi-install-install" failed: could not watch pod: the pod ci-op-x2k4j9zq/e2e-aws-'
    "ipi-install-install failed after 1h0m9s (failed containers: test): ContainerFailed"
)
CI_OPERATOR_LOG = "\n".join(
    [
        "\x1b[36mINFO\x1b[0m[2026-05-13T18:00:00Z] ci-operator version v20260511-abc",
        "INFO[2026-05-13T18:00:01Z] Acquiring leases for test e2e-aws: [aws-quota-slice]",
        'time="2026-05-13T19:45:38Z" level=info msg="Waiting up to 45m0s for bootstrapping"',
        'time="2026-05-13T19:45:38Z" level=error msg="Bootstrap failed to complete: timed out"',
        '{"component":"entrypoint","error":"wrapped process failed: exit status 1"}',
        "error: failed to execute wrapped command: exit status 1",
        "INFO[2026-05-13T20:04:43Z] Step e2e-aws-ipi-install-install failed after 1h1m24s.",
        "\x1b[31mERRO\x1b[0m[2026-05-13T20:04:43Z] Some steps failed:",
        "\x1b[31mERRO\x1b[0m[2026-05-13T20:04:43Z]",
        STEP_FAILED,
        "INFO[2026-05-13T20:04:44Z] Reporting job state 'failed' with reason 'step_failed'",
    ]
).encode()
FILLER = b'time="2026-05-13T19:05:19Z" level=info msg="Still waiting for the cluster: 80% done"\n'
PLANTED = b"An error occurred (VpcLimitExceeded) when calling the CreateVpc operation\n"


def scan(data: bytes, chunk: int | None = None, **kw) -> list[LogFinding]:
    """Scan from a file object, or from an iterable of `chunk`-byte pieces."""
    if chunk is None:
        return scan_build_log(io.BytesIO(data), **kw)
    return scan_build_log((data[i : i + chunk] for i in range(0, len(data), chunk)), **kw)


def matched_line(finding: LogFinding, data: bytes) -> str:
    """The log line a finding points at, as the scanner shows it."""
    raw = data.split(b"\n")[finding.line - 1]
    return re.sub(r"\x1b\[[0-9;]*m", "", raw.decode("utf-8", "replace")).rstrip()


# --- ranking ------------------------------------------------------------------------------


def test_the_failed_step_ranks_first_and_wrappers_last():
    findings = scan(CI_OPERATOR_LOG)
    top = findings[0]
    assert (top.kind, top.line) == ("step-failed", 10)
    assert top.text.splitlines() == [
        "ERRO[2026-05-13T20:04:43Z] Some steps failed:",  # the bare "ERRO[...]" line is left out
        STEP_FAILED,
        "INFO[2026-05-13T20:04:44Z] Reporting job state 'failed' with reason 'step_failed'",
    ]
    assert matched_line(findings[1], CI_OPERATOR_LOG).endswith(
        "Step e2e-aws-ipi-install-install failed after 1h1m24s."
    )
    by_line = {f.line: f for f in findings}
    assert by_line[4].kind == "level-error"  # the installer's own error
    wrappers = [by_line[5], by_line[6]]
    assert all(w.score < min(by_line[4].score, top.score) for w in wrappers)
    assert {f.kind for f in findings} <= set(KINDS)


def test_the_reason_in_a_failed_step_line_gives_its_kind():
    line = (
        b"  * could not run steps: step fips-payload-scan failed: failed to acquire lease for"
        b' "openshift-org-aws-quota-slice": status 502 Bad Gateway\n'
    )
    (finding,) = scan(line)
    assert (finding.kind, finding.score) == ("lease", 100)


def test_consequences_rank_below_causes():
    data = b"\n".join(
        [
            b"WARNING: retrying describe-account-attributes (1/5): Throttling: Rate exceeded",
            PLANTED.rstrip(),
            b"INFO[2026-05-13T20:04:43Z] Step e2e-aws-ipi-install-install failed after 1h.",
            b"INFO[2026-05-13T20:14:43Z] Step e2e-aws-gather-extra failed after 10s.",
        ]
    )
    ranked = [f.line for f in scan(data)]
    assert ranked == [3, 2, 4, 1]  # the failed step, the quota, a gather step, a retry


@pytest.mark.parametrize(
    "line",
    [
        'time="2026-05-14T15:46:03Z" level=info msg="event interval matches '
        'ConnectionErrorDuringSingleNodeAPIServerTargetDown" error: none',
        "INFO[2026-05-14T15:46:03Z] Retrying: error: transient",
        "localhost : ok=89 changed=29 unreachable=0 failed=0 skipped=33",
        "Ran 12 suites: 0 errors, 0 failures",
        "summary errors=0 failures=0",
        "+ openshift-tests run --fail-fast=false --on-error=continue",
        "cp /var/log/error: /tmp/x",
        "ERRO[2026-05-14T15:46:03Z]",
    ],
)
def test_lines_that_only_echo_an_error_are_ignored(line):
    assert scan(line.encode() + b"\n") == []


def test_an_error_next_to_a_flag_still_counts():
    (finding,) = scan(b"error: unknown flag --fail-fast\n")
    assert finding.kind == "error"


def test_a_pytest_failure_outranks_the_make_wrapper_after_it():
    pytest_line = (
        "FAILED src/tests/test_bootstrap_in_place.py::TestBootstrapInPlace::test_sno"
        " - waiting.exceptions.TimeoutExpired: Timeout of 4200 seconds expired waiting ..."
    )
    data = f"{pytest_line}\nmake: *** [Makefile:419: _test] Error 1\n".encode()
    ranked = scan(data)
    assert [(f.line, f.kind) for f in ranked] == [(1, "test-failed"), (2, "error")]
    assert line_score(pytest_line)[0] > line_score("make: *** [Makefile:419: _test] Error 1")[0]
    assert line_score("3 FAILED, 10 passed") != line_score(pytest_line)  # a count, not a test


def test_line_score_agrees_with_the_scanner():
    findings = scan(CI_OPERATOR_LOG)
    for finding in findings:
        assert line_score(matched_line(finding, CI_OPERATOR_LOG)) == (finding.score, finding.kind)
    assert line_score("all good") is None


# --- finding things anywhere, folding -----------------------------------------------------


def test_an_error_in_the_middle_of_a_large_log_is_found_with_its_line_number():
    half = 25_000  # about 2 x 2.2 MB: several chunk reads
    data = FILLER * half + PLANTED + FILLER * half
    (finding,) = scan(data)
    assert (finding.line, finding.kind, finding.count) == (half + 1, "quota", 1)
    assert finding.text.splitlines() == [
        FILLER.decode().rstrip(),
        FILLER.decode().rstrip(),
        PLANTED.decode().rstrip(),
        FILLER.decode().rstrip(),
        FILLER.decode().rstrip(),
    ]


def test_copies_fold_into_the_first_with_a_count():
    data = b"".join(
        f'time="2026-05-13T19:{i % 60:02d}:38Z" level=error msg="pod etcd-7d9f8b6c5d-'
        f'{"bcdfg"[i % 5]}{"hjklm"[i % 5]}x2z at 10.0.0.{i % 250}:2379 unreachable after {i}s"\n'
        "".encode()
        for i in range(500)
    )
    data = b"before\n" + data
    (finding,) = scan(data)
    assert (finding.line, finding.count) == (2, 500)
    assert finding.text.splitlines()[0] == "before"
    assert "19:00:38Z" in finding.text  # the first copy's own line


def test_distinct_messages_stay_apart_and_output_is_bounded_and_deterministic():
    words = ["".join(p) for p in itertools.product("bcdfghjklm", repeat=4)][:3000]
    data = b"".join(f"error: cannot reach component {w}\n".encode() for w in words)
    first = scan(data)
    assert len(first) == 20 and first == scan(data)
    assert [f.line for f in first] == list(range(1, 21))  # equal scores: earliest first
    assert len(scan(data, max_findings=3000)) > 500  # more kept than shown, capped below
    assert scan(data, max_findings=0) == []


# --- chunking and bytes -------------------------------------------------------------------


def test_results_do_not_depend_on_how_the_log_is_cut():
    data = (
        CI_OPERATOR_LOG
        + b"\n"
        + FILLER * 3
        + "naïve café ✗ error: multi-byte ✓\n".encode() * 2
        + b"x" * 3000
        + b" error: after a long run\n"
        + CI_OPERATOR_LOG
    )
    whole = scan(data, context=2)
    assert whole
    for size in (1, 2, 7, 100, 4096):
        assert scan(data, size, context=2) == whole, size
    # a match split across two reads
    cut = data.index(b"could not run steps") + 7
    assert scan_build_log([data[:cut], data[cut:]], context=2) == whole


def test_invalid_utf8_control_bytes_and_colours_never_raise():
    data = (
        b"\xff\xfe error: bad \xc3 bytes \x00\x07 here\n"
        b"\x1b[31mERROR: red\x1b[0m\r\n" + bytes(range(256)) + b"\n"
    )
    findings = scan(data)
    texts = "\n".join(f.text for f in findings)
    assert "ERROR: red" in texts and "\x1b" not in texts and "\x00" not in texts
    assert "\ufffd" in texts  # invalid bytes are replaced, not dropped


def test_a_multibyte_character_at_the_cut_is_not_split():
    line = b"error: " + "é".encode() * 100 + b"\n"  # 207 bytes; cut at 64 falls inside an é
    (finding,) = scan(b"\xe2\x9c\x97 before " + "✓".encode() * 90 + b"\n" + line, max_line_bytes=64)
    matched = finding.text.splitlines()[1]
    assert matched.startswith("error: é") and "\ufffd" not in finding.text
    assert len(matched.encode()) <= 64
    finding.text.encode().decode("utf-8")  # whole characters only


def test_a_long_line_keeps_its_head_and_its_tail():
    """A Go error chain ends with its cause: of an over-long line the head and the tail are
    looked at (the cause at the end decides the kind); the middle is not, so memory stays
    bounded; and how the log is cut into chunks does not matter."""
    data = b"error: at the start " + b"y" * 10_000 + b" quota exceeded at the end\nnext\n"
    (finding,) = scan(data, max_line_bytes=256)
    assert (finding.line, finding.kind) == (1, "quota")
    line = finding.text.splitlines()[0]
    assert line.startswith("error: at the start") and line.endswith("quota exceeded at the end")
    assert "…" in line and len(line.encode()) <= 256
    for size in (1, 7, 100, 255, 256, 257, 4096):
        assert scan(data, size, max_line_bytes=256) == [finding], size
    middle = b"y" * 5000 + b" error: in the middle " + b"y" * 5000 + b"\n"
    assert scan(middle, max_line_bytes=256) == []


def test_a_long_line_split_inside_a_character_stays_valid_utf8():
    # max_line_bytes=101 keeps the first 48 bytes and the last 50: both cuts fall inside
    # a character (1 + 15 * 3 + 2; 33 + 10 + 7)
    data = b"a" + "日".encode() * 300 + "é".encode() * 400 + b" error: x " + "日".encode() * 11
    for size in (None, 1, 2, 3, 64):
        (finding,) = scan(data + b"\n", size, max_line_bytes=101)
        assert "\ufffd" not in finding.text
        assert finding.text.startswith("a" + "日" * 15 + "…é")
        assert finding.text.endswith("é error: x " + "日" * 11)
        assert len(finding.text.encode()) <= 101


def test_a_20mb_line_without_newline_is_streamed_in_bounded_memory():
    size = 20 * 2**20
    chunks = itertools.chain(
        [b"level=error msg=boom at the start "],
        (b"x" * 2**20 for _ in range(size >> 20)),
        [b" tail\npanic: next line\n", b"z" * (5 * 2**20)],  # and one more, unterminated
    )
    tracemalloc.start()
    try:
        findings = scan_build_log(chunks)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < size // 5, peak
    assert sorted((f.line, f.kind) for f in findings) == [(1, "level-error"), (2, "panic")]
    assert all(len(f.text.encode()) <= FINDING_BYTES for f in findings)


def test_empty_input():
    assert scan(b"") == []
    assert scan_build_log([]) == []
    assert scan_build_log([b"", b""]) == []
    assert scan(b"\n\n\n") == []


def test_the_last_line_needs_no_newline():
    (finding,) = scan(FILLER * 3 + b"panic: no newline")
    assert (finding.line, finding.kind) == (4, "panic")


def test_finding_text_is_bounded():
    long = b"level=error msg=" + "é".encode() * 3000 + b"\n"
    findings = scan(long * 3 + b"z" * 5000 + b"\n" + long.replace(b"error", b"fatal"), context=5)
    assert findings
    for finding in findings:
        assert len(finding.text.encode()) <= FINDING_BYTES
        finding.text.encode().decode("utf-8")


# --- the pattern data -----------------------------------------------------------------------


def test_patterns_are_in_score_order_and_of_known_kinds():
    scores = [p.score for p in PATTERNS]
    assert scores == sorted(scores, reverse=True)
    assert {p.kind for p in PATTERNS} == set(KINDS)


def test_every_pattern_literal_holds_a_prefilter_literal():
    """Otherwise the byte-level prefilter could skip a line the pattern matches."""
    for pattern in PATTERNS:
        assert pattern.literal == pattern.literal.lower()
        assert any(p.decode() in pattern.literal for p in PREFILTER), pattern


EXAMPLES = [
    "  * could not run steps: step e2e failed: x",
    "INFO[x] Step e2e-aws-ipi-install failed after 1m.",
    'could not watch: "e2e" pod "e2e-gather" failed: x',
    'failed to acquire lease for "aws-quota-slice": status 502',
    "An error occurred (VpcLimitExceeded) when calling the CreateVpc operation",
    "Quota 'CPUS' exceeded. Limit: 24.0 in region us-central1",
    "QuotaExceeded: Operation could not be completed",
    "Throttling: Rate exceeded",
    "InsufficientInstanceCapacity: We currently do not have sufficient capacity",
    "results in exceeding approved standardDSv3Family Cores quota",
    "Suite run returned error: failed due to a MonitorTest failure",
    "error: 2 blocking fail, 0 informing fail, 30 pass, 2 skip (2h39m5s)",
    "DONE 494 tests, 26 skipped, 2 failures in 0.014s",
    "panic: runtime error: invalid memory address",
    "fatal error: concurrent map writes",
    "Blocking test failures:",
    "Failing tests:",
    'time="x" level=fatal msg="failed to fetch Cluster"',
    "FATA[0000] cannot load configuration",
    "fail [github.com/openshift/origin/test/e2e.go:12]: expected true",
    "[FAILED] in [It] - /go/src/test.go:55",
    "--- FAIL: TestCreateCluster (3102.49s)",
    "=== FAIL: . TestCreateCluster/Teardown (1945.15s)",
    "FAIL",
    'failed: (1m2s) 2026-05-14T00:02:11 "[sig-network] a test"',
    "FAILED tests/test_x.py::TestY::test_z - TimeoutExpired: Timeout of 60 seconds",
    'time="x" level=error msg="Bootstrap failed to complete"',
    "Test Failed! suite=[root BackendDisruption], testCase=should collect",
    "Install failed: timeout",
    "Installation failed",
    "failed to provision control-plane machines",
    "Process did not finish before 4h0m0s timeout",
    "ERRO[x] Failed to release leaked leases error=no resource name",
    "error: timed out waiting for the condition",
    "Get https://x: context deadline exceeded",
    "dial tcp 10.0.0.1:6443: i/o timeout",
    "timeout waiting for the pods",
    "net/http: TLS handshake timeout",
    "make: *** [Makefile:61: ironic] Error 1",
    "Error from server (Forbidden): pods is forbidden",
    "error: image not found",
    "2026-03-27 00:39:25+00:00 - ERROR: Cluster reported invalid state",
    "error running options: boom",
    "ERRO[2026-05-13T00:48:13Z] Some steps failed:",
    "ERRO[2026-05-13T00:11:53Z] cannot release",
    "Reporting job state 'failed' with reason 'executing_graph:step_failed'",
    "Failed to download kubeconfig",
    "TASK FAILED",
    "Failed: boom",
]


def test_every_pattern_has_an_example_and_examples_hold_their_literals():
    for pattern in PATTERNS:
        regex = re.compile(pattern.regex)
        matches = [line for line in EXAMPLES if regex.search(line)]
        assert matches, pattern
        assert all(pattern.literal in line.lower() for line in matches), pattern
    for line in EXAMPLES:
        assert scan(line.encode() + b"\n"), line


@pytest.mark.skipif(shutil.which("grep") is None, reason="grep not installed")
def test_grep_reads_the_patterns_as_python_does(tmp_path):
    """GREP_PATTERNS must mean the same to `grep -E` (the benchmark's reference)."""
    lines = [*EXAMPLES, "all good", "Step phase test failed after 2h.", "errors: 0"]
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(lines) + "\n")
    for pattern in GREP_PATTERNS:
        done = subprocess.run(
            ["grep", "-E", "-n", "-e", pattern, str(path)], capture_output=True, check=False
        )
        assert done.returncode in (0, 1) and not done.stderr, (pattern, done.stderr)
        by_grep = {int(row.split(b":", 1)[0]) for row in done.stdout.splitlines()}
        by_python = {i for i, line in enumerate(lines, 1) if re.search(pattern, line)}
        assert by_grep == by_python, pattern


# --- real build logs (../shared/realdata) and generated samples -----------------------------


def _excerpt(realdata: Path, job: str) -> bytes:
    paths = sorted(realdata.rglob(f"jobs/*/{job}/build-log.tail-excerpt.txt"))
    if not paths:
        pytest.skip(f"no build-log excerpt for {job} in realdata")
    return paths[0].read_bytes()


def _has(findings: list[LogFinding], data: bytes, text: str) -> LogFinding:
    """The finding whose own line (not its context) holds `text`."""
    found = next((f for f in findings if text in matched_line(f, data)), None)
    assert found is not None, f"{text!r} not in {[matched_line(f, data) for f in findings]}"
    return found


def test_real_excerpts_put_the_failed_step_first(realdata):
    paths = sorted(realdata.rglob("build-log.tail-excerpt.txt"))
    if not paths:
        pytest.skip("no build-log excerpts in realdata")
    checked = 0
    for path in paths:
        data = path.read_bytes()
        findings = scan_build_log(io.BytesIO(data))
        assert findings == scan(data, 4099), path
        if b"could not run steps" in data:
            top = findings[0]
            assert top.score == 100 and "could not run steps" in matched_line(top, data), path
            assert top.line == data[: data.index(b"could not run steps")].count(b"\n") + 1
            checked += 1
        for finding in findings:
            assert matched_line(finding, data)[:60] in finding.text, (path, finding.line)
            assert len(finding.text.encode()) <= FINDING_BYTES
    assert checked >= 4


def test_real_excerpts_surface_the_decisive_lines(realdata):
    data = _excerpt(realdata, "aws-ovn-serial-1of2")
    serial = scan_build_log(io.BytesIO(data))
    step = serial[1]
    assert step.kind == "step-failed"
    assert matched_line(step, data).endswith(
        "Step e2e-aws-ovn-serial-openshift-e2e-test failed after 2m54s."
    )
    cause = _has(serial, data, "error: couldn't retrieve test suites: failed to extract")
    wrapper = _has(serial, data, "error: failed to execute wrapped command: exit status 1")
    assert cause.score > wrapper.score and cause.count == 2  # printed twice: folded

    data = _excerpt(realdata, "fips-scan")
    lease = scan_build_log(io.BytesIO(data))
    assert lease[0].kind == "lease" and "failed to acquire lease" in matched_line(lease[0], data)

    data = _excerpt(realdata, "aws-ovn-upgrade-4.20-micro-fips")
    upgrade = scan_build_log(io.BytesIO(data))
    suite = _has(upgrade, data, "Suite run returned error: 2 blocking fail, 0 informing fail")
    assert suite.kind == "suite-error" and suite is upgrade[2]
    _has(upgrade, data, "Blocking test failures:")

    data = _excerpt(realdata, "hypershift-e2e-aws")
    hypershift = scan_build_log(io.BytesIO(data))
    _has(hypershift, data, "DONE 494 tests, 26 skipped, 2 failures")
    failed = _has(hypershift, data, "--- FAIL: TestCreateClusterPrivateWithRouteKAS (")
    assert failed.kind == "test-failed"

    data = _excerpt(realdata, "metal-ipi-ovn-ipv6")
    metal = scan_build_log(io.BytesIO(data))
    _has(metal, data, "make: *** [Makefile:61: ironic] Error 1")
    _has(metal, data, 'error: image "virthost.ostest.test.metalkube.org:5000/localimages/')

    data = _excerpt(realdata, "aws-ovn-serial")  # 4.18: 1,495 lines, many INFO mentions
    noisy = scan_build_log(io.BytesIO(data), max_findings=100)
    assert not any("level=info" in matched_line(f, data) for f in noisy)


def test_line_numbers_agree_with_the_build_log_digests(realdata):
    """build_log.json keeps a log's tail and its error lines with their line numbers."""
    digests = sorted(realdata.rglob("build_log.json"))
    if not digests:
        pytest.skip("no build_log.json digests in realdata")
    agreed = 0
    for path in digests:
        digest = json.loads(path.read_text())
        tail = "\n".join(digest["tail_lines"]).encode() + b"\n"
        offset = digest["tail_start_line"] - 1
        listed = {e["line_number"]: e["text"] for e in digest["error_warning_lines"]}
        for finding in scan_build_log(io.BytesIO(tail), max_findings=50):
            line = matched_line(finding, tail)
            assert line[:60] in finding.text, path
            if finding.line + offset in listed:
                assert re.sub(r"\x1b\[[0-9;]*m", "", listed[finding.line + offset]) == line
                agreed += 1
    assert agreed >= 10


def test_generated_runs_root_causes_are_found(tmp_path):
    from sippy.samples.generator import generate_samples

    runs = generate_samples(tmp_path)
    checked = 0
    for run in runs:
        (log,) = tmp_path.glob(f"**/{run.build_id}/build-log.txt")
        data = log.read_bytes()
        lines = data.decode().split("\n")
        findings = scan_build_log(io.BytesIO(data))
        for cause in run.root_cause_lines:
            if cause in lines:
                found = _has(findings, data, cause.strip()[:100])
                assert found.line == lines.index(cause) + 1
                checked += 1
    assert checked >= 4


def test_a_finding_longer_than_its_share_keeps_the_words_that_name_the_cause():
    """The matched line is cut to LINE_BYTES around its cause, not to its first bytes."""
    line = (
        b'time="2026-04-04T16:55:43Z" level=error msg="failed to fetch Cluster: '
        + b"failed to create the machine set: " * 30
        + b"machine ci-op-xaqdib8k-master-0 failed: VcpuLimitExceeded: You have requested more"
        b" vCPU capacity than your current vCPU limit of 1152 allows: "
        + b"retry budget used up; " * 20
        + b'gave up"\n'
    )
    assert len(line) > 1500 and line.index(b"VcpuLimitExceeded") > 1000
    (finding,) = scan(FILLER + line + FILLER, context=0)
    matched = finding.text
    assert matched.startswith('time="2026')  # long identifiers, a timestamp too, compacted
    assert 'level=error msg="failed to fetch Cluster: failed to create the machine set' in matched
    assert "VcpuLimitExceeded: You have requested more vCPU capacity" in matched
    assert matched.endswith('gave up"') and len(finding.text.encode()) <= FINDING_BYTES
