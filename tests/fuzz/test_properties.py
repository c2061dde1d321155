"""Property tests: the text-handling core never raises on any input and stays bounded.

Parsers, snippets, normalisation, the build-log scanner, the token estimate and the
evidence budget all face arbitrary artifact bytes; hypothesis generates them.
"""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sippy.evidence.buildlog import excerpt_line, scan_build_log
from sippy.evidence.bundle import build_evidence
from sippy.evidence.normalize import normalize_line
from sippy.evidence.snippets import failure_snippet
from sippy.evidence.tokens import estimate_tokens
from sippy.ingest.junit import parse_junit
from sippy.ingest.records import ArtifactError

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LOGGY = st.lists(
    st.sampled_from(
        list("abcXYZ019 :/[]{}<>\"'=-_.\n\t\r\x1b\x00é✓日\u2028")
        + ["error: ", "fail [a.go:1]: ", "level=error ", "panic: ", "could not run steps", "\n"]
    ),
    max_size=600,
).map("".join)


@FAST
@given(text=st.one_of(st.text(max_size=5000), LOGGY), budget=st.integers(-5, 3000))
def test_failure_snippet_is_bounded_valid_utf8(text, budget):
    snippet = failure_snippet(text, budget)
    encoded = snippet.encode("utf-8")  # raises on lone surrogates: there must be none
    assert len(encoded) <= max(budget, 0)


@FAST
@given(line=st.one_of(st.text(max_size=3000), LOGGY), budget=st.integers(-5, 1200))
def test_excerpt_line_is_bounded_valid_utf8_and_whole_when_it_fits(line, budget):
    line = line.encode("utf-8", "replace").decode("utf-8")  # artifact text has no surrogates
    excerpt = excerpt_line(line, budget)
    assert len(excerpt.encode("utf-8")) <= max(budget, 0)
    if len(line.encode("utf-8")) <= budget:
        assert excerpt == line


@FAST
@given(data=st.binary(max_size=5000))
def test_failure_snippet_accepts_bytes(data):
    assert len(failure_snippet(data, 512).encode("utf-8")) <= 512


@FAST
@given(text=st.one_of(st.text(max_size=6000), LOGGY))
def test_normalize_line_never_raises_and_is_bounded(text):
    key = normalize_line(text)
    assert isinstance(key, str) and len(key) <= 4000
    key.encode("utf-8", "surrogatepass")


@FAST
@given(
    data=st.one_of(st.binary(max_size=4000), LOGGY.map(lambda s: s.encode("utf-8", "replace"))),
    chunk=st.integers(1, 600),
)
def test_build_log_scanner_never_raises_and_is_bounded(data, chunk):
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    findings = scan_build_log(pieces)
    assert findings == scan_build_log(io.BytesIO(data))  # chunking never matters
    lines = data.count(b"\n") + 1
    for finding in findings:
        assert 1 <= finding.line <= lines
        assert len(finding.text.encode("utf-8")) <= 1024
        assert finding.count >= 1


JUNIT_PIECES = st.sampled_from(
    [
        "<testsuite name='openshift-tests'>",
        "</testsuite>",
        "<testsuites>",
        "</testsuites>",
        "<testcase name='t1'>",
        "<testcase name=\"[sig-x] t2\" time='1.5'>",
        "</testcase>",
        "<failure message='m'>",
        "</failure>",
        "<error>",
        "</error>",
        "<skipped/>",
        "text",
        "&amp;",
        "&bogus;",
        "<!DOCTYPE x [<!ENTITY e 'x'>]>",
        "<![CDATA[fail [a.go:1]: x]]>",
        "\x00",
        "é",
        "<testsuite name='openshift-tests'><testsuite name='nested'>",
        "'",
        "<",
    ]
)


@FAST
@given(parts=st.lists(JUNIT_PIECES, max_size=30), noise=st.binary(max_size=50))
def test_junit_parser_raises_only_artifact_errors(parts, noise):
    data = "".join(parts).encode("utf-8") + noise
    try:
        result = parse_junit(data, "artifacts/junit/x.xml")
    except ArtifactError as exc:
        assert "artifacts/junit/x.xml" in str(exc)
        return
    for case in result.cases:
        case.name.encode("utf-8")
        (case.output or "").encode("utf-8")


@FAST
@given(text=st.text(max_size=3000))
def test_token_estimate_is_non_negative_and_additive_enough(text):
    half = len(text) // 2
    whole = estimate_tokens(text)
    assert whole >= 0
    assert whole <= estimate_tokens(text[:half]) + estimate_tokens(text[half:]) + 2


@settings(max_examples=60, deadline=None)
@given(
    failures=st.dictionaries(st.text(min_size=1, max_size=300), LOGGY, max_size=40),
    flakes=st.lists(st.text(min_size=1, max_size=200), max_size=40),
    budget=st.integers(0, 4000),
)
def test_evidence_never_exceeds_its_budget(failures, flakes, budget):
    summary = {
        "id": 1,
        "name": "job",
        "release": "4.20",
        "overallResult": "F",
        "reason": "Test failures",
        "testCount": 10,
        "testFailureCount": len(failures),
        "testFailures": failures,
        "testFlakes": dict.fromkeys(flakes, ""),
        "logSnippets": [
            {"source": "build-log.txt", "line": 3, "text": t, "count": 1}
            for t in list(failures.values())[:5]
        ],
    }
    evidence = build_evidence(summary, budget)
    assert evidence.tokens <= budget
    evidence.text.encode("utf-8")
