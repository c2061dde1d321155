"""JUnit XML → test cases → per-run test results, following Sippy's prow loader.

Sippy (openshift/sippy HEAD, 2026: ``pkg/dataloader/prowloader/prow.go`` ``extractTestCases``,
``pkg/db/suites.go``, ``pkg/testidentification``) keeps a test case when:

* its top-level ``<testsuite>`` name is in the importable-suite allowlist (nested suites are
  recursed under their own name without being checked again);
* its name does not match the ignore pattern (unanchored; the empty name is ignored too);
* it has no ``<skipped>`` child.

Deliberate fixes over Sippy, because they lose failure information:

* an ``<error>`` child is a failure too (Sippy only reads ``<failure>``, so a Go panic
  reported as ``<error type="Panic">`` counted as a pass);
* the failure ``message`` attribute is kept with the element text (Sippy keeps the text only,
  so failures carried in ``message=`` had empty output): output is ``message + "\n" + text``,
  or just one of them when the other is empty or already contains it;
* an unreadable ``time`` becomes 0 with a warning (Go's decoder rejects the whole file).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

from lxml import etree

from sippy.ingest.records import (
    STATUS_FAILURE,
    STATUS_FLAKE,
    STATUS_SUCCESS,
    ArtifactError,
    TestCase,
    TestResult,
)
from sippy.ingest.xmlsafe import parse_xml

# pkg/db/suites.go testSuites (47 names). Tests of other top-level suites are not imported.
IMPORTABLE_SUITES: frozenset[str] = frozenset(
    {
        "openshift-tests",
        "openshift-tests-upgrade",
        "sippy",
        "rp-api-compat-all/parallel",
        "integration/parallel",
        "stage/parallel",
        "prod/parallel",
        "aro-hcp-tests",
        "github.com/stolostron/capi-tests/test",
        "OSD e2e suite",
        "ROSA Regional Platform API E2E Suite",
        "olmv1-GCP nightly compare",
        "BackendDisruption",
        "Cluster upgrade",
        "E2E Suite",
        "Kubernetes e2e suite",
        "Log Metrics",
        "Operator results",
        "Symptom Detection",
        "Tests Suite",
        "cluster install",
        "cluster nodes ready",
        "cluster nodes",
        "gather core dump",
        "hypershift-e2e",
        "metal infra",
        "step graph",
        "telco-verification",
        "github.com/openshift/console-operator/test/e2e",
        "github.com/openshift/cluster-monitoring-operator/test/e2e",
        "prowjob-junit",
        "mcpchecker",
        "OLM-Catalog-Validation",
        "insights-operator-tests",
        "CNV-lp-interop",
        "ODF-lp-interop",
        "OADP-lp-interop",
        "ACS-lp-interop",
        "ACSLatest-lp-interop",
        "Fusion-access-lp-interop",
        "MTA-lp-interop",
        "Gitops-lp-interop",
        "Quay-lp-interop",
        "Serverless-lp-interop",
        "ServiceMesh-lp-interop",
        "OpenshiftPipelines-lp-interop",
        "tracing-uiplugin",
    }
)
# pkg/db/suites.go testSuitePatterns (all ^prefix regexes).
IMPORTABLE_SUITE_PREFIXES: tuple[str, ...] = ("lp-chaos--", "lp-interop--", "lp-ocp-compat--")

# pkg/testidentification ignoreTestRegex (unescaped dots kept, as in Go). Go's `^$` is written
# `\A\Z`: Python's `$` also matches before a final newline, which would drop the name "\n".
IGNORED_TEST = re.compile(
    r"\A\Z|Run multi-stage test|operator.Import the release payload"
    r"|operator.Import a release payload|operator.Run template|operator.Build image"
    r"|Monitor cluster while tests execute|Overall"
    r"|job.initialize|\[sig-arch\]\[Feature:ClusterUpgrade\] Cluster should remain functional "
    r"during upgrade"
)

# Literals every non-empty IGNORED_TEST match contains (see `ignored_names`).
_IGNORED_NEEDLES = (
    "Run multi-stage test",
    "Import the release payload",
    "Import a release payload",
    "Run template",
    "Build image",
    "Monitor cluster while tests execute",
    "Overall",
    "initialize",
    "Cluster should remain functional during upgrade",
)

MAX_OTHER_FAILURES = 20  # per file: failures of suites that are not imported, kept as evidence
_TESTSUITE = "{*}testsuite"
_TESTCASE = "{*}testcase"
_RESULT_CHILDREN = ("{*}skipped", "{*}failure", "{*}error")


@dataclass(slots=True)
class JUnitFile:
    """The kept test cases of one JUnit file, plus what was dropped and why."""

    cases: list[TestCase] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0  # test cases dropped for a <skipped> child
    ignored: int = 0  # test cases dropped by IGNORED_TEST
    dropped_suites: list[str] = field(default_factory=list)  # top-level, not importable
    # failing test cases of the dropped suites, as (suite, test, output): not tests to Sippy,
    # but evidence (a hypershift job's `hypershift install` suite says why it failed)
    other_failures: list[tuple[str, str, str]] = field(default_factory=list)


def is_suite_importable(name: str) -> bool:
    """Sippy's `db.IsSuiteImportable`: allowlisted name or an LP-interop prefix."""
    return name in IMPORTABLE_SUITES or name.startswith(IMPORTABLE_SUITE_PREFIXES)


def is_ignored_test(name: str) -> bool:
    """Sippy's `IsIgnoredTest`: step/pipeline noise with no diagnostic value."""
    return IGNORED_TEST.search(name) is not None


def parse_junit(
    data: bytes,
    source: str,
    *,
    suite_filter: Callable[[str], bool] | None = is_suite_importable,
) -> JUnitFile:
    """Parse one JUnit file (``<testsuites>`` or ``<testsuite>`` root) into test cases.

    `suite_filter` decides which top-level suites are kept (Sippy's allowlist by default;
    None keeps every suite, for JUnit from outside OpenShift CI).
    """
    parsed = parse_xml(data, source)
    root = parsed.root
    kind = _local_name(root.tag)
    if kind == "testsuites":
        top_suites: Iterable[etree._Element] = root.iterchildren(_TESTSUITE)
    elif kind == "testsuite":
        top_suites = (root,)
    else:
        raise ArtifactError(f"{source}: not a JUnit file (root element <{kind}>)")
    collector = _Collector(source, JUnitFile(warnings=parsed.warnings))
    try:
        collector.outcomes = _outcomes(root)
        for suite in top_suites:
            name = suite.get("name") or ""
            if suite_filter is None or suite_filter(name):
                collector.collect(suite)
            else:
                collector.out.dropped_suites.append(name)
                collector.dropped_failures(suite, name)
    except ArtifactError:
        raise
    except Exception as exc:  # never let odd documents escape as other exceptions
        raise ArtifactError(f"{source}: cannot read JUnit: {type(exc).__name__}: {exc}") from exc
    if collector.bad_times:
        collector.out.warnings.append(
            f"{source}: {collector.bad_times} test case(s) had an unreadable time attribute; used 0"
        )
    return collector.out


_SKIPPED = etree.Element("skipped")  # sentinel outcome of a skipped test case


def _outcomes(root: etree._Element) -> dict[etree._Element, etree._Element]:
    """Test case → its failure element, or `_SKIPPED`; passing test cases are absent.

    One C-level sweep for the rare result elements is much cheaper than visiting the
    children of every test case. A skip wins (as in Sippy); <failure> beats <error>.
    """
    found: dict[etree._Element, etree._Element] = {}
    for element in root.iter(*_RESULT_CHILDREN):
        case = element.getparent()
        if case is None or _local_name(case.tag) != "testcase":
            continue
        kind = _local_name(element.tag)
        current = found.get(case)
        if kind == "skipped":
            found[case] = _SKIPPED
        elif current is None or (_is_error(current) and kind == "failure"):
            found[case] = element
    return found


def _is_error(outcome: etree._Element) -> bool:
    return outcome is not _SKIPPED and _local_name(outcome.tag) == "error"


class _Collector:
    """Turns the test cases of importable suites into `TestCase` records."""

    def __init__(self, source: str, out: JUnitFile) -> None:
        self.source = source
        self.out = out
        self.outcomes: dict[etree._Element, etree._Element] = {}
        self.bad_times = 0

    def dropped_failures(self, top: etree._Element, suite_name: str) -> None:
        """The failing, not ignored test cases of a suite that is not imported (a few)."""
        kept = self.out.other_failures
        for case in top.iter(_TESTCASE):
            if len(kept) >= MAX_OTHER_FAILURES:
                return
            failure = self.outcomes.get(case)
            name = case.get("name") or ""
            if failure is None or failure is _SKIPPED or is_ignored_test(name):
                continue
            kept.append((suite_name, name, _failure_output(failure)))

    def collect(self, top: etree._Element) -> None:
        """Depth-first like Sippy: a suite's own test cases, then each child suite in order."""
        stack = [top]
        while stack:
            suite = stack.pop()
            self._cases(suite, suite.get("name") or "")
            stack.extend(reversed(list(suite.iterchildren(_TESTSUITE))))

    def _cases(self, suite: etree._Element, suite_name: str) -> None:
        # Hot loop: locals and positional construction keep it within 2x of lxml parsing.
        out, source, outcomes, isfinite = self.out, self.source, self.outcomes, math.isfinite
        append = out.cases.append
        cases = list(suite.iterchildren(_TESTCASE))
        names = [tc.get("name") or "" for tc in cases]
        for tc, name, ignored in zip(cases, names, ignored_names(names), strict=True):
            if ignored:
                out.ignored += 1
                continue
            failure = outcomes.get(tc)
            if failure is _SKIPPED:
                out.skipped += 1
                continue
            raw_time = tc.get("time")
            try:
                duration = float(raw_time) if raw_time else 0.0
            except ValueError:
                duration = math.nan
            if not isfinite(duration):
                self.bad_times += 1
                duration = 0.0
            lifecycle = tc.get("lifecycle")
            append(
                TestCase(
                    suite_name,
                    name,
                    failure is not None,
                    duration,
                    None if failure is None else _failure_output(failure),
                    lifecycle.lower() if lifecycle else "blocking",
                    source,
                )
            )


def ignored_names(names: Sequence[str]) -> list[bool]:
    """`is_ignored_test` for many names at once, exactly, at a fraction of the cost.

    The regex costs about 0.7 us per long test name; only names holding one of the literals
    every match must contain are checked with it.
    """
    flags = [not name for name in names]
    for index in names_containing(names, _IGNORED_NEEDLES):
        if not flags[index]:
            flags[index] = IGNORED_TEST.search(names[index]) is not None
    return flags


def names_containing(names: Sequence[str], needles: Iterable[str]) -> set[int]:
    """Indexes of the names that contain any of `needles` (which must not hold a newline).

    One C-level search per needle over all names joined beats one Python-level check per
    name, which matters on the load's hot path (thousands of tests per run).
    """
    joined = "\n".join(names)
    found: set[int] = set()
    ends: list[int] | None = None
    for needle in needles:
        pos = joined.find(needle)
        while pos != -1:
            if ends is None:
                ends = list(accumulate(len(name) + 1 for name in names))
            index = bisect_right(ends, pos)
            found.add(index)
            pos = joined.find(needle, ends[index])
    return found


def _failure_output(element: etree._Element) -> str:
    """The message attribute and the element's own text, without repeating one in the other."""
    text = element.text or ""
    if len(element):  # Go's chardata: direct text only, not the text of child elements
        text += "".join(child.tail or "" for child in element)
    message = element.get("message") or ""
    if not message or message.strip() in text:
        return text
    if not text.strip() or text.strip() in message:
        return message
    return f"{message}\n{text}"


def _local_name(tag: object) -> str:
    text = tag if isinstance(tag, str) else ""
    return text.rpartition("}")[2]


def merge_test_cases(cases: Iterable[TestCase]) -> list[TestResult]:
    """Merge the cases of all JUnit files of one run, keyed by (suite, name), as Sippy does.

    A later case with the opposite result makes a flake (13) that keeps the first failure's
    output; repeated failures stay 12 and repeated passes 1. First-seen order is kept.
    """
    merged: dict[tuple[str, str], TestResult] = {}
    get = merged.get
    for case in cases:
        status = STATUS_FAILURE if case.failed else STATUS_SUCCESS
        key = (case.suite, case.name)
        existing = get(key)
        if existing is None:
            merged[key] = TestResult(
                case.suite,
                case.name,
                status,
                case.duration,
                case.output if case.failed else None,
                case.lifecycle,
                case.source,
            )
        elif existing.status != STATUS_FLAKE and existing.status != status:
            existing.status = STATUS_FLAKE
            if existing.output is None:
                existing.output = case.output
    return list(merged.values())
