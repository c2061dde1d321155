"""failure_snippet keeps the decisive line within a byte budget; tail_256 mimics Sippy."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sippy.evidence.snippets import MARKER, failure_snippet, tail_256

FAIL = "fail [github.com/openshift/origin/test/extended/apps/deployment.go:123]: Expected"
REAL_JUNIT = (
    "historical-payload-data/4.20.0-0.nightly-2026-05-14-114051/4.20/nightly/"
    "4.20.0-0.nightly-2026-05-14-114051/jobs/blocking/aws-ovn-upgrade-4.20-micro-fips/junit/"
    "junit_e2e__20260514-163144.xml"
)


def _noise(count: int, start: int = 0) -> str:
    return "".join(
        f"I0514 16:39:{i % 60:02d} step {i}: waiting for pods\n"
        for i in range(start, start + count)
    )


def _gomega_output() -> str:
    """A 20 KB openshift-tests failure whose decisive lines come first."""
    head = f"{FAIL}\n    <int>: 1\nto equal\n    <int>: 0\n"
    return head + _noise(500) + "Ran 1 of 1 Specs in 3.2 seconds\nFAIL! -- 0 Passed | 1 Failed\n"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def test_decisive_line_at_start_of_20kb_output_is_kept() -> None:
    text = _gomega_output()
    assert _size(text) > 20_000
    snippet = failure_snippet(text)
    assert snippet.startswith(f"{FAIL}\n    <int>: 1\nto equal\n    <int>: 0\n{MARKER}\n")
    assert snippet.endswith("FAIL! -- 0 Passed | 1 Failed")
    assert _size(snippet) <= 1024
    assert "fail [" not in tail_256(text)  # what Sippy loses


def test_lines_keep_original_order_with_markers() -> None:
    text = (
        "first line\n"
        + _noise(100)
        + "E0101 error: connection refused\n"
        + _noise(100, 100)
        + "last"
    )
    lines = failure_snippet(text, 400).split("\n")
    assert lines[0] == "first line"
    assert lines[-1] == "last"
    assert "E0101 error: connection refused" in lines
    real = [line for line in lines if line != MARKER]
    positions = [text.index(line) for line in real]
    assert positions == sorted(positions)
    assert all(a != MARKER or b != MARKER for a, b in zip(lines, lines[1:], strict=False))


def test_decisive_priority() -> None:
    text = (
        "starting\n"
        + _noise(50)
        + "operation timed out after 5m\n"
        + _noise(50, 50)
        + "panic: runtime error: invalid memory address\n"
        + _noise(50, 100)
        + "done\n"
    )
    snippet = failure_snippet(text, 200)
    assert "panic: runtime error" in snippet
    assert _size(snippet) <= 200


@pytest.mark.parametrize(
    "line",
    [
        'level=error msg="failed to install"',
        "Error: unable to create cluster",
        "    error: no route to host",
        "expected 3 replicas, got 1",
        "timeout waiting for condition",
        "[FAILED] in [It] - github.com/x/y.go:187",
    ],
)
def test_each_decisive_kind_survives(line: str) -> None:
    text = _noise(300) + line + "\n" + _noise(300, 300)
    assert line.strip() in failure_snippet(text, 300)


@pytest.mark.parametrize("budget", [1, 2, 3, 4, 5, 10, 15, 16, 17, 50, 100, 256, 1000, 4096])
def test_budget_is_respected_in_bytes(budget: int) -> None:
    for text in (_gomega_output(), "日本語のログ行です\n" * 500, "x" * 50_000, FAIL):
        snippet = failure_snippet(text, budget)
        assert _size(snippet) <= budget
        assert snippet or budget < 4  # a 4-byte character cannot fit in less


def test_multibyte_characters_never_split() -> None:
    rng = random.Random(5)
    alphabet = ["a", "é", "日", "😀", " ", "\n", "error: ", "ü"]
    for _ in range(40):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 3000)))
        for budget in range(1, 200, 7):
            snippet = failure_snippet(text, budget)
            encoded = snippet.encode("utf-8")  # would fail on a lone surrogate
            assert len(encoded) <= budget
            assert "\ufffd" not in snippet
            assert encoded.decode("utf-8") == snippet


def test_long_single_line_is_cut_on_a_character_boundary() -> None:
    text = "😀" * 1000
    for budget in range(1, 64):
        snippet = failure_snippet(text, budget)
        assert _size(snippet) <= budget
        assert set(snippet) <= {"😀", MARKER}


def test_ansi_and_control_codes_are_stripped() -> None:
    text = "\x1b[1;31mfail [a.go:1]: boom\x1b[0m\r\n\x1b]0;title\x07\x1b[2Kprogress\x00 done\x1b(B"
    snippet = failure_snippet(text)
    assert "\x1b" not in snippet and "\x00" not in snippet and "\r" not in snippet
    assert snippet.startswith("fail [a.go:1]: boom\n")
    assert "progress done" in snippet


def test_repeated_lines_are_collapsed() -> None:
    text = "retrying\n" * 200 + "error: gave up\n" + "\n\n\n"
    assert failure_snippet(text) == "retrying\nerror: gave up"


def test_short_text_is_returned_whole() -> None:
    text = "line one\n  line two\nline three"
    assert failure_snippet(text) == text


def test_deterministic() -> None:
    text = _gomega_output() + "error: one\n" * 3 + "\n".join(f"error: {i}" for i in range(300))
    assert len({failure_snippet(text, 512) for _ in range(5)}) == 1


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        (None, 1024),
        (b"bytes \xff\xfe input error: x", 1024),
        ("lone \ud800 surrogate", 1024),
        ("", 1024),
        ("\n\n \t \n", 1024),
        ("text", 0),
        ("text", -5),
        ("text", True),
        ("text", "100"),
        (12345, 100),
    ],
)
def test_odd_input_never_raises(text, budget) -> None:
    snippet = failure_snippet(text, budget)
    assert isinstance(snippet, str)
    snippet.encode("utf-8")


def test_real_junit_failure_keeps_fail_line(realdata: Path) -> None:
    lxml = pytest.importorskip("lxml.etree")
    tree = lxml.parse(str(realdata / REAL_JUNIT))
    outputs = [
        el.text
        for el in tree.iter("system-out")
        if el.text and "fail [" in el.text and len(el.text) > 100_000
    ]
    assert outputs
    for text in outputs:
        snippet = failure_snippet(text)
        assert "fail [github.com/openshift/origin/test/e2e/upgrade/upgrade.go:187]" in snippet
        assert _size(snippet) <= 1024


# --- tail_256 ---------------------------------------------------------------------------------


def test_tail_256_is_last_256_bytes() -> None:
    text = "a" * 300 + "b" * 200
    assert tail_256(text) == "a" * 56 + "b" * 200
    assert tail_256("short") == "short"


def test_tail_256_splits_characters_like_sippy() -> None:
    text = "é" * 200 + "y"  # 401 bytes; the cut at byte 145 lands inside an "é"
    tail = tail_256(text)
    assert tail.startswith("\ufffd")
    assert tail.endswith("éy")
    assert tail.count("é") == 127


def test_tail_256_odd_input() -> None:
    assert tail_256(None) == ""  # type: ignore[arg-type]
    assert tail_256("\ud800") == "?"


# --- long decisive lines ----------------------------------------------------------------------

LONG_FAIL = (
    "fail [github.com/openshift/origin/test/extended/builds/new_app.go:67]: build"
    ' "a234567890123456789012345678901234567890123456789012345678-1" failed: error pushing image'
    " to image-registry.openshift-image-registry.svc:5000/e2e-test-lflplf-iodvz: unauthorized"
)


def test_a_decisive_line_longer_than_half_the_budget_arrives_whole() -> None:
    assert 250 < _size(LONG_FAIL) < 500  # the old cap was half the budget
    text = "STEP: building\n" + _noise(40) + LONG_FAIL + "\n" + _noise(40, 40)
    snippet = failure_snippet(text, 500)
    assert LONG_FAIL in snippet.split("\n")
    assert _size(snippet) <= 500


def test_a_decisive_line_too_long_for_the_budget_keeps_its_head_and_its_cause() -> None:
    line = LONG_FAIL.replace(" failed:", " failed: " + "retrying the push; " * 60 + "gave up:")
    assert _size(line) > 1000
    snippet = failure_snippet(_noise(20) + line + "\n" + _noise(20, 20), 500)
    assert "fail [github.com/openshift/origin/test/extended/builds/new_app.go:67]" in snippet
    assert snippet.count(": unauthorized") == 1 and "error pushing image" in snippet
    assert _size(snippet) <= 500


def test_a_line_the_build_log_scanner_ranks_is_decisive_here_too() -> None:
    """A ci-operator step failure matches none of the test-output patterns; it is still
    the line to keep whole (step texts and build-log findings come through here)."""
    step = (
        '* could not run steps: step [release:latest] failed: release "release-images-latest"'
        " failed: could not watch pod: the pod ci-op-c0yo1155/release-images-latest failed after"
        " 2m50s (failed containers: ): Evicted The node was low on resource: memory. Threshold"
        " quantity: 100Mi, available: 32964Ki."
    )
    text = (
        "INFO[2026-02-09T23:11:04Z] Importing release image latest.\n"
        "INFO[2026-02-09T23:28:13Z] Ran for 17m10s\n"
        "ERRO[2026-02-09T23:28:13Z] Some steps failed:\n"
        f"  {step}\n"
        "INFO[2026-02-09T23:28:13Z] Reporting job state 'failed' with reason"
        " 'executing_graph:step_failed:importing_release'\n"
    )
    snippet = failure_snippet(text, 500)
    assert step in snippet
    assert _size(snippet) <= 500


def test_colours_whose_escape_became_a_replacement_character_are_removed() -> None:
    # Go's JUnit writer turns ESC into U+FFFD, leaving "\ufffd[31m" in failure text
    text = "\ufffd[31mFAILED\ufffd[0m src/t.py::\ufffd[1mTestX::test_y\ufffd[0m - Timeout"
    assert failure_snippet(text) == "FAILED src/t.py::TestX::test_y - Timeout"
    assert failure_snippet("a \ufffd b [31m") == "a \ufffd b [31m"  # anything else stays
