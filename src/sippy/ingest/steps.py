"""Failed ci-operator steps, from `junit_operator.xml` (the step graph), and the failures
of JUnit suites that Sippy does not import.

Sippy drops these testcases (`Run multi-stage test ...` is on its ignore list), yet for a
run that failed in installation or set-up they are the first thing an engineer opens: the
failure text is the tail of the failed step's container log. They are kept here as
evidence, ranked so the step that broke the run comes before the gather steps that merely
failed after it.
"""

from __future__ import annotations

import re

from lxml import etree

from sippy.evidence.snippets import failure_snippet
from sippy.ingest.junit import JUnitFile
from sippy.ingest.records import LogSnippet
from sippy.ingest.xmlsafe import parse_xml

SNIPPET_BYTES = 800  # of a failed step's or other JUnit failure's text
MAX_STEPS = 10
_STEP = re.compile(r"^Run multi-stage test (?P<test>\S+) - (?P<pod>\S+) container test$")
_PHASE = re.compile(r"^Run multi-stage test (?P<phase>pre|test|post) phase$")
_FAILED_POD = re.compile(r'pod "([^"]+)" failed')
_AFTERMATH = re.compile(r"gather|observers?-|must-gather|audit-logs|log-gather")

SCORE_SETUP = 95  # lease, payload import, image builds: the run never got to its steps
SCORE_NAMED_BY_PHASE = 90  # the pod a failed pre/test phase names
SCORE_PHASE = 70
SCORE_STEP = 60
SCORE_POST_PHASE = 40
SCORE_AFTERMATH = 30  # gather and observer steps fail when the cluster is already gone


def step_failures(data: bytes, source: str) -> list[LogSnippet]:
    """The failed testcases of a step-graph JUnit file, most decisive first."""
    root = parse_xml(data, source).root
    failed = [(case.get("name") or "", _failure_text(case)) for case in _failed_cases(root)]
    blamed = {
        pod
        for name, text in failed
        if (phase := _PHASE.match(name)) and phase["phase"] != "post"
        for pod in _FAILED_POD.findall(text)
    }
    snippets = [
        LogSnippet(
            origin="step",
            title=_title(name),
            text=failure_snippet(text, SNIPPET_BYTES),
            kind="step-failed",
            score=_score(name, blamed),
            source=source,
        )
        for name, text in failed
    ]
    snippets.sort(key=lambda s: -s.score)  # stable: file order within a score
    return snippets[:MAX_STEPS]


def other_junit_failures(result: JUnitFile, source: str) -> list[LogSnippet]:
    """The failures of a JUnit file's suites that Sippy does not import, as evidence.

    They are not tests to Sippy (its suite allowlist), so they are not counted or listed as
    test failures; but `hypershift install: hosted cluster version rollout succeeds` failing
    with "Cluster operators console, dns, … are not available" is why a hypershift job failed.
    """
    return [
        LogSnippet(
            origin="junit",
            title=f"{suite}: {name}" if suite else name,
            text=failure_snippet(output, SNIPPET_BYTES),
            kind="test-failed",
            source=source,
        )
        for suite, name, output in result.other_failures
    ]


def _failed_cases(root: etree._Element) -> list[etree._Element]:
    return [
        case
        for case in root.iter("{*}testcase", "testcase")
        if any(_local(child.tag) in ("failure", "error") for child in case)
    ]


def _failure_text(case: etree._Element) -> str:
    for child in case:
        if _local(child.tag) in ("failure", "error"):
            message = child.get("message") or ""
            text = child.text or ""
            return f"{message}\n{text}".strip() if message and message not in text else text
    return ""


def _title(name: str) -> str:
    step = _STEP.match(name)
    return step["pod"] if step else name


def _score(name: str, blamed: set[str]) -> int:
    if phase := _PHASE.match(name):
        return SCORE_POST_PHASE if phase["phase"] == "post" else SCORE_PHASE
    step = _STEP.match(name)
    if step is None:
        return SCORE_SETUP
    if step["pod"] in blamed:
        return SCORE_NAMED_BY_PHASE
    return SCORE_AFTERMATH if _AFTERMATH.search(step["pod"]) else SCORE_STEP


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""
