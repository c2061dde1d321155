"""The streaming build-log scanner: ranking, de-duplication, chunking, bounds, real logs."""

from __future__ import annotations

import io
import itertools
import re
import tracemalloc

import pytest

from sippy.evidence.buildlog import LITERALS, PATTERNS, scan_build_log

STEP_FAILED = (
    '  * could not run steps: step e2e-aws failed: "e2e-aws" pre steps failed: "e2e-aws" pod '
    '"e2e-aws-ipi-install-install" failed: could not watch pod: the pod ci-op-x/e2e-aws-ipi-'
    "install-install failed after 1h0m9s (failed containers: test): ContainerFailed"
)
CI_OPERATOR_LOG = "\n".join(
    [
        "INFO[2026-05-13T18:00:00Z] ci-operator version v20260511-abc",
        "INFO[2026-05-13T18:00:01Z] Acquiring leases for test e2e-aws: [aws-quota-slice]",
        'time="2026-05-13T19:45:38Z" level=info msg="Waiting up to 45m0s for bootstrapping"',
        'time="2026-05-13T19:45:38Z" level=error msg="Bootstrap failed to complete: timed out"',
        "error: failed to execute wrapped command: exit status 1",
        "INFO[2026-05-13T20:04:43Z] Step e2e-aws-ipi-install-install failed after 1h1m24s.",
        "ERRO[2026-05-13T20:04:43Z] Some steps failed:",
        STEP_FAILED,
        "INFO[2026-05-13T20:04:44Z] Reporting job state 'failed'",
    ]
).encode()


def scan(data: bytes, chunk: int | None = None, **kw):
    if chunk is None:
        return scan_build_log(io.BytesIO(data), **kw)
    return scan_build_log([data[i : i + chunk] for i in range(0, len(data), chunk)], **kw)


def test_the_step_failure_ranks_first_and_generic_wrappers_last():
    findings = scan(CI_OPERATOR_LOG)
    assert findings[0].kind == "step-failed"
    assert "could not run steps" in findings[0].text or "Some steps failed" in findings[0].text
    kinds = [f.kind for f in findings]
    assert "level-error" in kinds
    wrapper = next(
        f
        for f in findings
        if f.text.endswith("exit status 1") or "wrapped command" in f.text.splitlines()[-1]
    )
    assert wrapper.score < findings[0].score


def test_an_error_in_the_middle_of_a_large_log_is_found_with_its_line_number():
    filler = b'time="2026-05-13T19:05:19Z" level=info msg="Still waiting for the cluster"\n'
    planted = b"An error occurred (VpcLimitExceeded) when calling the CreateVpc operation\n"
    lines = 120_000
    data = filler * (lines // 2) + planted + filler * (lines // 2)
    findings = scan(data)
    assert findings[0].line == lines // 2 + 1
    assert "VpcLimitExceeded" in findings[0].text
    assert findings[0].kind == "infrastructure"


def test_duplicates_fold_into_one_finding_with_a_count():
    data = b"".join(
        f'time="2026-05-13T19:{i % 60:02d}:38Z" level=error msg="pod etcd-{i:05d}'
        f' at 10.0.0.{i % 250} unreachable"\n'.encode()
        for i in range(500)
    )
    findings = scan(data)
    assert len(findings) == 1
    assert findings[0].count == 500 and findings[0].line == 1


@pytest.mark.parametrize("chunk", [1, 7, 100, 4096])
def test_results_do_not_depend_on_how_the_log_is_chunked(chunk):
    data = CI_OPERATOR_LOG * 3 + "naïve café ✗ error: multi-byte ✓\n".encode() * 2
    assert scan(data, chunk, context=2) == scan(data, context=2)


def test_invalid_utf8_and_control_bytes_never_raise():
    data = b"\xff\xfe error: bad \xc3 bytes \x00\x07 here\n\x1b[31mERROR: red\x1b[0m\n"
    findings = scan(data)
    assert findings and all(isinstance(f.text, str) for f in findings)
    assert "\x1b" not in "".join(f.text for f in findings)
    assert any("ERROR: red" in f.text for f in findings)


def test_empty_input():
    assert scan(b"") == []
    assert scan_build_log([]) == []


def test_a_huge_single_line_is_bounded_in_memory():
    size = 20 * 1024 * 1024
    chunks = (b"x" * (1 << 20) for _ in range(size >> 20))
    tracemalloc.start()
    findings = scan_build_log(
        itertools.chain([b"error: at the start "], chunks, [b" tail\nlevel=error next line\n"])
    )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < size // 4
    assert [f.line for f in findings] == [1, 2] or [f.line for f in findings] == [2, 1]
    assert all(len(f.text.encode()) <= 1024 for f in findings)


def test_output_is_deterministic_and_bounded():
    data = b"".join(
        f"error: distinct failure number {chr(97 + i % 26) * (i % 7 + 1)}{i}\n".encode()
        for i in range(5000)
    )
    first = scan(data, max_findings=20)
    assert first == scan(data, max_findings=20)
    assert len(first) == 20


@pytest.mark.parametrize(
    "line",
    [
        "could not run steps: x",
        "Some steps failed:",
        "Step e2e failed after 1m.",
        'pod "x" failed: y',
        "VpcLimitExceeded",
        "InsufficientInstanceCapacity",
        "Quota exceeded for quota metric",
        "QuotaExceeded",
        "failed to acquire lease for aws",
        "Lease request timed out",
        "Suite run returned error: boom",
        "error: 2 fail, 175 pass, 242 skip",
        "panic: runtime error",
        "fatal error: concurrent map writes",
        "fail [a.go:1]: boom",
        "[FAILED] in [It]",
        "--- FAIL: TestX",
        "level=fatal msg=x",
        "Installation failed",
        "timed out waiting for the condition",
        "context deadline exceeded",
        "read: i/o timeout",
        "ERROR: x",
        "Failed to pull image",
    ],
)
def test_every_pattern_is_reachable_through_the_literal_prefilter(line):
    assert any(re.search(pattern, line) for _, _, pattern in PATTERNS)
    assert any(literal in line.lower().encode() for literal in LITERALS)
    assert scan(f"{line}\n".encode()), line


def test_real_build_logs_give_the_failed_step_first(realdata):
    excerpts = sorted(realdata.rglob("build-log.tail-excerpt.txt"))
    if not excerpts:
        pytest.skip("no build-log excerpts in realdata")
    for path in excerpts:
        text = path.read_bytes()
        findings = scan_build_log(io.BytesIO(text))
        if b"could not run steps" in text:
            top = findings[0]
            assert top.kind == "step-failed", path
            assert "could not run steps" in top.text, path
            expected = text[: text.index(b"could not run steps")].count(b"\n") + 1
            assert top.line in (expected - 2, expected - 1, expected), path


def test_patterns_are_in_score_order():
    """The scanner takes the first matching pattern as the best one."""
    scores = [score for _, score, _ in PATTERNS]
    assert scores == sorted(scores, reverse=True)
