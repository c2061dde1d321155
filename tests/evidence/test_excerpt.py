"""Shortening one long line: the head, the words that name the cause and the end survive."""

from __future__ import annotations

import pytest

from sippy.evidence.buildlog import excerpt_line
from sippy.evidence.excerpt import MARKER, compact_identifiers, drop_segments, shorten_line

# Shapes of real failure lines: a Go error chain with the error code in the middle and a long
# message after it; a chain whose innermost cause is its last word; a Python exception.
INSTALL = (
    'time="2026-04-04T16:55:43Z" level=error msg="failed to fetch Cluster: failed to generate'
    ' asset \\"Cluster\\": failed to create cluster: failed to provision control-plane machines:'
    " machine ci-op-xaqdib8k-f97d2-xpmvq-master-0 failed: VcpuLimitExceeded: You have requested"
    " more vCPU capacity than your current vCPU limit of 1152 allows for the instance bucket"
    ' that the specified instance type belongs to."'
)
PUSH = (
    "fail [github.com/openshift/origin/test/extended/builds/new_app.go:67]: build"
    ' "a234567890123456789012345678901234567890123456789012345678-1" failed: error pushing image'
    " to image-registry.openshift-image-registry.svc:5000/e2e-test-axujja-6rinx: unauthorized"
)
UPGRADE = (
    "fail [github.com/openshift/origin/test/e2e/upgrade/upgrade.go:187]: during upgrade to"
    " registry.build04.ci.openshift.org/ci-op-216dg47g/release@sha256:"
    + "6a241176dd3e6ba78e986756056c61705eb295fb04ae8ed3a81e4f33c3a1790e"
    + ": Cluster did not complete upgrade: timed out waiting for the condition: Cluster operator"
    " machine-config is degraded (RequiredPoolsFailed)"
)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


@pytest.mark.parametrize(
    ("line", "budgets", "cause"),
    [
        (INSTALL, (120, 160, 200, 240), "VcpuLimitExceeded: You have requested"),
        (PUSH, (120, 160), "error pushing image to image-re"),
        (PUSH, (100, 160, 240), ": unauthorized"),
        (UPGRADE, (160, 200, 240), "degraded (RequiredPoolsFailed)"),
        (UPGRADE, (240,), "Cluster did not complete upgrade: timed out waiting"),
    ],
)
def test_a_long_line_keeps_its_head_and_the_words_that_name_the_cause(line, budgets, cause):
    for budget in budgets:
        assert cause not in line[: budget - 1]  # where a head-only cut would lose it
        short = excerpt_line(line, budget)
        assert _size(short) <= budget
        assert short[:6] == line[:6] and cause in short, short
        assert _size(short) >= budget - 40  # the room is used, not wasted


def test_a_line_that_fits_is_returned_unchanged():
    for line in (INSTALL, PUSH, UPGRADE, "", "é" * 10):
        assert excerpt_line(line, _size(line)) == line
        assert shorten_line(line, _size(line)) == line
        assert compact_identifiers(line, _size(line)) == line
        assert drop_segments(line, _size(line)) == line


def test_shorten_line_keeps_head_anchor_window_and_tail():
    line = "head words " + "x" * 400 + " QuotaExceeded: the reason " + "y" * 400 + " the end"
    anchor = line.index("QuotaExceeded")
    short = shorten_line(line, 120, (anchor, anchor + len("QuotaExceeded")))
    assert short.startswith("head words") and short.endswith("the end")
    assert "QuotaExceeded: the reason" in short
    assert short.count(MARKER) == 2 and _size(short) <= 120


def test_without_an_anchor_the_head_and_the_tail_are_kept():
    line = "begin " + "m" * 1000 + " finish"
    short = shorten_line(line, 60)
    assert short.startswith("begin ") and short.endswith(" finish") and MARKER in short
    assert _size(short) <= 60


def test_identifiers_are_compacted_longest_first_and_only_as_far_as_needed():
    line = "pod ci-op-x2k4j9zq-abcde-master-0 on node ip-10-0-248-214.ec2.internal is crashlooping"
    short = compact_identifiers(line, _size(line) - 10)
    assert _size(short) <= _size(line) - 10
    assert "ci-op-x2k4j9zq-abcde-master-0" not in short  # the longest token went first
    assert short.endswith("on node ip-10-0-248-214.ec2.internal is crashlooping")
    path = "see /var/log/pods/openshift-etcd/etcd-member/etcd/0.log for the error"
    assert "…/0.log" in compact_identifiers(path, 40)  # a path keeps its last part


def test_protected_spans_and_plain_words_are_never_compacted():
    line = "error code QuotaExceeded-1234567890abcdef for project-1234567890abcdef, words"
    protected = [(line.index("Quota"), line.index("Quota") + 5)]
    short = compact_identifiers(line, 40, protected)
    assert "QuotaExceeded-1234567890abcdef" in short and "project-12" in short
    assert "project-1234567890abcdef" not in short
    assert compact_identifiers("plainwordsonlyhere " * 5, 20) == "plainwordsonlyhere " * 5


def test_drop_segments_leaves_out_wrappers_and_identifier_links_but_not_the_cause():
    line = (
        "level=error msg=failed to fetch Cluster: failed to generate asset: failed to create"
        " cluster: during upgrade to quay.io/openshift/release@sha256:0123456789ab: Cluster did"
        " not complete: VcpuLimitExceeded: the limit"
    )
    cause = line.index("VcpuLimitExceeded")
    short = drop_segments(line, 150, [(cause, cause + 17)])
    assert _size(short) <= 150
    assert short == (
        "level=error msg=failed to fetch Cluster: …: failed to create cluster: …: Cluster did"
        " not complete: VcpuLimitExceeded: the limit"
    )  # the identifiers first, then the outer wrapper; the head, the cause and the end stay


@pytest.mark.parametrize("budget", [1, 2, 3, 5, 10, 23, 24, 25, 40, 64, 100, 239, 240])
def test_budget_is_respected_in_bytes_and_characters_are_never_split(budget):
    for line in (INSTALL, PUSH, UPGRADE, "日本語のログ行です: " * 60, "😀" * 300, "a: " * 500):
        short = excerpt_line(line, budget)
        assert _size(short) <= budget
        assert "\ufffd" not in short
        short.encode("utf-8")
