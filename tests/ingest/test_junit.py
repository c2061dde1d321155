"""JUnit parsing and flake merging, on every real JUnit file and on small crafted ones."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest

from sippy.ingest import junit
from sippy.ingest.junit import (
    IMPORTABLE_SUITE_PREFIXES,
    IMPORTABLE_SUITES,
    ignored_names,
    is_ignored_test,
    is_suite_importable,
    merge_test_cases,
    names_containing,
    parse_junit,
)
from sippy.ingest.records import (
    STATUS_FAILURE,
    STATUS_FLAKE,
    STATUS_SUCCESS,
    ArtifactError,
)
from sippy.ingest.records import TestCase as Case  # not collected by pytest

AWS_SERIAL = (
    "historical-payload-data/4.18.0-0.nightly-2026-05-14-085133/4.18/nightly/"
    "4.18.0-0.nightly-2026-05-14-085133/jobs/blocking/aws-ovn-serial/junit"
)
ORIGIN_UPGRADE = "origin/pkg/test/junit_upgrade_1674689374.xml"
KETTLE = "test-infra/kettle/testdata"
SOURCES_ROW = re.compile(
    r"^\| `([^`]+\.xml)` \|.*REAL JUnit from GCS: suite\(s\) \[.*?\]; (\d+) distinct testcases, "
    r"(\d+) failed, (\d+) flaked \(failure\+pass pair\), (\d+) skipped",
    re.MULTILINE,
)


def real_junit_files(realdata: Path) -> list[Path]:
    """Every JUnit file of the real data, as the brief and the loader select them."""
    return sorted(
        path
        for path in realdata.glob("**/*.xml")
        if "junit" in str(path.relative_to(realdata)) or "monitor-tests" in path.name
    )


def load(realdata: Path, rel: str, **kwargs) -> junit.JUnitFile:
    return parse_junit((realdata / rel).read_bytes(), rel, **kwargs)


def statuses(results) -> Counter:
    return Counter(r.status for r in results)


def suite_xml(cases: str, name: str = "openshift-tests") -> bytes:
    return f'<testsuite name="{name}">{cases}</testsuite>'.encode()


# --- real data -------------------------------------------------------------------------------


def test_every_real_junit_file_parses(realdata):
    files = real_junit_files(realdata)
    assert len(files) == 45
    kept = 0
    for path in files:
        rel = str(path.relative_to(realdata))
        result = parse_junit(path.read_bytes(), rel)
        kept += len(result.cases)
        for case in result.cases:
            assert case.source == rel
            assert case.name and not is_ignored_test(case.name)
            assert case.lifecycle in {"blocking", "informing"}
            assert case.duration >= 0
            assert (case.output is not None) == case.failed
    assert kept == 2973


def test_real_junit_counts_match_sources_md(realdata, monkeypatch):
    """With the ignore list off, each file gives exactly the counts SOURCES.md records."""
    rows = SOURCES_ROW.findall((realdata / "SOURCES.md").read_text())
    assert len(rows) == 37
    monkeypatch.setattr(junit, "ignored_names", lambda names: [False] * len(names))
    for rel, distinct, failed, flaked, skipped in rows:
        parsed = load(realdata, f"historical-payload-data/{rel}", suite_filter=None)
        results = merge_test_cases(parsed.cases)
        counts = statuses(results)
        got = (len(results) + parsed.skipped, counts[STATUS_FAILURE], counts[STATUS_FLAKE])
        assert got == (int(distinct), int(failed), int(flaked)), rel
        assert parsed.skipped == int(skipped), rel


def test_monitor_tests_flakes_and_the_one_failure(realdata):
    parsed = load(realdata, f"{AWS_SERIAL}/e2e-monitor-tests__20260514-132926.xml")
    assert len(parsed.cases) == 1886 and parsed.skipped == 0 and parsed.ignored == 0
    results = merge_test_cases(parsed.cases)
    assert len(results) == 1785
    assert statuses(results) == {STATUS_SUCCESS: 1683, STATUS_FLAKE: 101, STATUS_FAILURE: 1}
    (failure,) = [r for r in results if r.status == STATUS_FAILURE]
    assert failure.name == (
        "[bz-Insights Operator] clusteroperator/insights should not change condition/Available"
    )
    assert failure.suite == "openshift-tests"
    assert failure.output.startswith("2 unexpected clusteroperator state transitions")
    assert all(r.output for r in results if r.status == STATUS_FLAKE)  # first failure's text
    assert all(r.output is None for r in results if r.status == STATUS_SUCCESS)


def test_conformance_junit_drops_skips_and_keeps_two_flakes(realdata):
    parsed = load(realdata, f"{AWS_SERIAL}/junit_e2e__20260514-132926.xml")
    results = merge_test_cases(parsed.cases)
    assert parsed.skipped == 381
    assert len(results) + parsed.skipped == 563  # distinct names in the file
    assert statuses(results) == {STATUS_SUCCESS: 180, STATUS_FLAKE: 2}
    flakes = sorted(r.name for r in results if r.status == STATUS_FLAKE)
    assert flakes[0].startswith(
        '[sig-arch][Late][Jira:"kube-apiserver"] all registered tls artifacts must have no '
        "metadata violation regressions"
    )


def test_step_graph_keeps_only_non_step_results(realdata):
    parsed = load(realdata, f"{AWS_SERIAL}/junit_operator.xml")
    assert parsed.ignored == 28  # "Run multi-stage test ..." steps and the empty name
    assert len(parsed.cases) == 6 and not any(c.failed for c in parsed.cases)
    assert {c.suite for c in parsed.cases} == {"step graph"}


def test_all_three_aws_serial_files_merge_into_one_run(realdata):
    cases = []
    for name in ("e2e-monitor-tests__20260514-132926.xml", "junit_e2e__20260514-132926.xml"):
        cases += load(realdata, f"{AWS_SERIAL}/{name}").cases
    cases += load(realdata, f"{AWS_SERIAL}/junit_operator.xml").cases
    results = merge_test_cases(cases)
    assert len(results) == 1785 + 182 + 6
    assert statuses(results)[STATUS_FLAKE] == 103


def test_origin_upgrade_error_element_counts_as_failure(realdata):
    parsed = load(realdata, ORIGIN_UPGRADE)
    results = {r.name: r for r in merge_test_cases(parsed.cases)}
    assert parsed.skipped == 1 and len(results) == 55
    panic = results["[sig-instrumentation] Prometheus metrics should be available after an upgrade"]
    assert panic.status == STATUS_FAILURE  # Sippy reads only <failure>: it would be a pass
    # message attribute (ANSI escapes became U+FFFD upstream), then the element text
    assert panic.output.startswith("\ufffd[1m\ufffd[38;5;9mYour Test Panicked")
    assert "\nYour Test Panicked\ngithub.com/openshift/origin" in panic.output
    alerts = results["[sig-arch] Check if alerts are firing during or after upgrade success"]
    assert alerts.status == STATUS_FLAKE
    # message attribute and CDATA text are the same: kept once
    assert alerts.output.count("Unexpected alert behavior during upgrade") == 1
    assert statuses(results.values()) == {STATUS_SUCCESS: 53, STATUS_FAILURE: 1, STATUS_FLAKE: 1}


def test_kettle_unnamed_suites_are_not_importable(realdata):
    for name in ("failure_message.xml", "failure_text.xml", "junit_no_suite_name.xml"):
        parsed = load(realdata, f"{KETTLE}/{name}")
        assert parsed.cases == [] and parsed.dropped_suites == [""]


def test_kettle_failure_message_attribute_is_kept(realdata):
    parsed = load(realdata, f"{KETTLE}/failure_message.xml", suite_filter=None)
    (case,) = parsed.cases
    assert case.failed and case.output == "simple_test.go:186: Running tests in file plumbing"
    parsed = load(realdata, f"{KETTLE}/failure_text.xml", suite_filter=None)
    assert parsed.cases[0].output == "simple_test.go:186: Running tests in file plumbing"
    parsed = load(realdata, f"{KETTLE}/standard.xml", suite_filter=None)
    assert [c.name for c in parsed.cases if c.failed] == ["Node Tests"]
    assert parsed.cases[0].duration == pytest.approx(2.065e-05)


def test_unreadable_time_becomes_zero_with_a_warning(realdata):
    rel = "ci-tools/test/e2e/simple/artifacts/junit_operator.xml"  # time="whatever"
    parsed = load(realdata, rel)
    assert len(parsed.cases) == 5 and all(c.duration == 0 for c in parsed.cases)
    assert parsed.warnings == [f"{rel}: 5 test case(s) had an unreadable time attribute; used 0"]


def test_nested_suites_use_the_child_name_and_only_the_top_is_checked(realdata):
    rel = (
        "historical-payload-data/4.22.0-0.nightly-2026-03-26-231124/4.22/nightly/"
        "4.22.0-0.nightly-2026-03-26-231124/jobs/blocking/install-analysis-all/junit/"
        "junit-test-case-analysis.xml"
    )
    assert load(realdata, rel).dropped_suites == ["payload-cross-jobs"]
    (case,) = load(realdata, rel, suite_filter=None).cases
    assert case.suite == "cluster install"  # payload-cross-jobs > checker > cluster install


# --- crafted documents ------------------------------------------------------------------------


def test_testsuites_and_testsuite_roots():
    case = '<testcase name="t" time="1.5"/>'
    one = parse_junit(suite_xml(case), "a.xml").cases
    many = parse_junit(b"<testsuites>" + suite_xml(case) + b"</testsuites>", "b.xml").cases
    assert [(c.suite, c.name, c.duration, c.failed) for c in one + many] == [
        ("openshift-tests", "t", 1.5, False)
    ] * 2


def test_not_a_junit_document_is_an_artifact_error():
    with pytest.raises(ArtifactError, match=r"x\.xml: not a JUnit file \(root element <html>\)"):
        parse_junit(b"<html><body/></html>", "x.xml")
    with pytest.raises(ArtifactError, match="empty file"):
        parse_junit(b"", "x.xml")


def test_nested_suite_order_matches_sippy():
    data = (
        b'<testsuites><testsuite name="openshift-tests"><testcase name="a"/>'
        b'<testsuite name="inner"><testcase name="b"/><testsuite name="deeper">'
        b'<testcase name="c"/></testsuite></testsuite><testcase name="d"/>'
        b'<testsuite name="second"><testcase name="e"/></testsuite></testsuite>'
        b'<testsuite name="not-allowed"><testcase name="x"/></testsuite></testsuites>'
    )
    parsed = parse_junit(data, "n.xml")
    assert [(c.suite, c.name) for c in parsed.cases] == [
        ("openshift-tests", "a"),
        ("openshift-tests", "d"),
        ("inner", "b"),
        ("deeper", "c"),
        ("second", "e"),
    ]
    assert parsed.dropped_suites == ["not-allowed"]


def test_failures_of_suites_that_are_not_imported_are_kept_apart_as_evidence():
    data = (
        b'<testsuites><testsuite name="openshift-tests"><testcase name="counted">'
        b"<failure>fail [x.go:1]: counted</failure></testcase></testsuite>"
        b'<testsuite name="hypershift install">'
        b'<testcase name="hosted cluster version rollout succeeds">'
        b'<failure message="rollout never completed">error: rollout never completed</failure>'
        b'</testcase><testcase name="passes"/>'
        b'<testcase name="skipped"><failure>f</failure><skipped/></testcase>'
        b'<testcase name="Run multi-stage test e2e - e2e-x container test"><failure>f</failure>'
        b'</testcase><testsuite name="nested"><testcase name="deep"><error>boom</error>'
        b"</testcase></testsuite></testsuite></testsuites>"
    )
    parsed = parse_junit(data, "h.xml")
    assert [(c.name, c.failed) for c in parsed.cases] == [("counted", True)]  # Sippy's tests
    assert parsed.dropped_suites == ["hypershift install"]
    assert parsed.other_failures == [  # failing, not skipped, not on the ignore list
        (
            "hypershift install",
            "hosted cluster version rollout succeeds",
            "error: rollout never completed",  # the message is in the text: kept once
        ),
        ("hypershift install", "deep", "boom"),
    ]


def test_failures_kept_from_suites_that_are_not_imported_are_capped():
    cases = b"".join(b'<testcase name="t%d"><failure>x</failure></testcase>' % i for i in range(50))
    parsed = parse_junit(b'<testsuite name="other">' + cases + b"</testsuite>", "o.xml")
    assert [name for _, name, _ in parsed.other_failures] == [
        f"t{i}" for i in range(junit.MAX_OTHER_FAILURES)
    ]


def test_result_children():
    parsed = parse_junit(
        suite_xml(
            '<testcase name="skip+fail"><skipped/><failure>f</failure></testcase>'
            '<testcase name="err"><error message="boom" type="Panic">stack</error></testcase>'
            '<testcase name="err+fail"><error>e</error><failure>f</failure></testcase>'
            '<testcase name="empty-failure"><failure message=""/></testcase>'
            '<testcase name="out"><system-out>not a failure</system-out></testcase>'
            '<testcase name="nested"><properties><failure>deeper</failure></properties></testcase>'
        ),
        "r.xml",
    )
    got = {c.name: (c.failed, c.output) for c in parsed.cases}
    assert parsed.skipped == 1 and "skip+fail" not in got
    assert got == {
        "err": (True, "boom\nstack"),
        "err+fail": (True, "f"),
        "empty-failure": (True, ""),
        "out": (False, None),
        "nested": (False, None),  # only direct children count, as in Go's decoder
    }


@pytest.mark.parametrize(
    ("message", "text", "output"),
    [
        ("m", "t", "m\nt"),
        ("", "t", "t"),
        ("m", "", "m"),
        ("same", "same", "same"),
        (
            "fail [x.go:1]: boom",
            "fail [x.go:1]: boom\nmore detail",
            "fail [x.go:1]: boom\nmore detail",
        ),
        ("short message plus more", "short message", "short message plus more"),
    ],
)
def test_failure_message_and_text(message, text, output):
    data = suite_xml(f'<testcase name="t"><failure message="{message}">{text}</failure></testcase>')
    assert parse_junit(data, "f.xml").cases[0].output == output


def test_attributes_time_and_lifecycle():
    parsed = parse_junit(
        suite_xml(
            '<testcase name="a" time="1.67e-06" lifecycle="Informing"/>'
            '<testcase name="b" time=" 12 "/>'
            '<testcase name="c" time="NaN"/><testcase name="d" time="1m"/>'
            '<testcase name="e" time="inf"/><testcase name="f"/>'
        ),
        "t.xml",
    )
    got = {c.name: (c.duration, c.lifecycle) for c in parsed.cases}
    assert got == {
        "a": (pytest.approx(1.67e-06), "informing"),
        "b": (12.0, "blocking"),
        "c": (0.0, "blocking"),
        "d": (0.0, "blocking"),
        "e": (0.0, "blocking"),
        "f": (0.0, "blocking"),
    }
    assert parsed.warnings == ["t.xml: 3 test case(s) had an unreadable time attribute; used 0"]


def test_namespaces_and_comments_are_tolerated():
    data = (
        b'<j:testsuites xmlns:j="urn:junit"><!-- c --><j:testsuite name="openshift-tests">'
        b'<?pi?><j:testcase name="a"><j:failure>x</j:failure></j:testcase>'
        b"</j:testsuite></j:testsuites>"
    )
    (case,) = parse_junit(data, "ns.xml").cases
    assert (case.name, case.failed, case.output) == ("a", True, "x")


def test_invalid_utf8_in_failure_is_recovered_with_warning():
    data = suite_xml('<testcase name="a"><failure>pods X cannot talk</failure></testcase>')
    parsed = parse_junit(data.replace(b"X", b"\xff\xfe"), "u.xml")
    assert parsed.cases[0].output == "pods \ufffd\ufffd cannot talk"
    assert len(parsed.warnings) == 1 and "utf-8" in parsed.warnings[0].lower()


def test_ignore_patterns_are_unanchored_substrings():
    names = {
        "": True,
        "Run multi-stage test e2e - e2e-ipi-install-install container test": True,
        "operator.Import the release payload": True,
        "operator Import a release payload": True,  # "." is any character, as in Go
        "xoperator.Run template e2e - e2e container setup": True,
        "operator.Build image src": True,
        "[sig-arch] Monitor cluster while tests execute": True,
        "job.Overall": True,
        "OverallX": True,
        "jobXinitialize": True,
        "[sig-arch][Feature:ClusterUpgrade] Cluster should remain functional during upgrade "
        "[Disruptive] [Serial]": True,
        'Import the release payload "latest" from an external source': False,  # no "operator"
        "Run template": False,
        "overall": False,
        "[sig-network] pods should talk": False,
        "job.initialise": False,
        "\n": False,  # Go's ^$ only matches the empty name
    }
    for name, ignored in names.items():
        assert is_ignored_test(name) is ignored, name
    assert ignored_names(list(names)) == list(names.values())


def test_ignored_names_matches_the_regex_on_real_and_random_names(realdata):
    names = [
        c.name
        for path in real_junit_files(realdata)
        for c in parse_junit(path.read_bytes(), "x", suite_filter=None).cases
    ]
    rng = random.Random(7)
    pieces = ["Run multi-stage test", "operator.", "Overall", "job.", "initialize", "\n", "x", ""]
    names += ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 5))) for _ in range(2000)]
    assert ignored_names(names) == [is_ignored_test(n) for n in names]
    assert names_containing(["a\nb", "cab", "", "ab"], ["ab", "zz"]) == {1, 3}


def test_suite_allowlist():
    assert len(IMPORTABLE_SUITES) == 47
    for name in ("openshift-tests", "sippy", "step graph", "cluster install", "Cluster upgrade"):
        assert is_suite_importable(name)
    assert IMPORTABLE_SUITE_PREFIXES == ("lp-chaos--", "lp-interop--", "lp-ocp-compat--")
    assert is_suite_importable("lp-interop--cnv--x")
    for name in ("", "hypershift install", "payload-cross-jobs", "x-lp-interop--", "Step graph"):
        assert not is_suite_importable(name)


# --- merging ----------------------------------------------------------------------------------


def case(name: str, failed: bool, output: str | None = None, suite: str = "s") -> Case:
    return Case(suite=suite, name=name, failed=failed, output=output, source=f"{name}.xml")


def test_flake_rules():
    results = merge_test_cases(
        [
            case("fail-pass", True, "first"),
            case("pass-fail", False),
            case("fail-fail", True, "one"),
            case("pass-pass", False),
            case("fail-pass", False),
            case("pass-fail", True, "late failure"),
            case("fail-fail", True, "two"),
            case("pass-pass", False),
            case("fail-pass", True, "third"),
            case("same", False, suite="a"),
            case("same", True, "x", suite="b"),
        ]
    )
    got = [(r.suite, r.name, r.status, r.output) for r in results]
    assert got == [
        ("s", "fail-pass", STATUS_FLAKE, "first"),
        ("s", "pass-fail", STATUS_FLAKE, "late failure"),
        ("s", "fail-fail", STATUS_FAILURE, "one"),
        ("s", "pass-pass", STATUS_SUCCESS, None),
        ("a", "same", STATUS_SUCCESS, None),
        ("b", "same", STATUS_FAILURE, "x"),
    ]
    assert results[0].source == "fail-pass.xml"


def test_merge_accepts_any_iterable_and_empty():
    assert merge_test_cases(iter([])) == []
    assert len(merge_test_cases(case(str(i), False) for i in range(3))) == 3
