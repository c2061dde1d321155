"""The built-in summarizer on every sample scenario: short, factual, names the cause."""

from __future__ import annotations

import pytest

from sippy.ai.builtin import builtin_summary, category_for
from sippy.analysis.summary import job_run_summary
from sippy.db.engine import make_engine, session_factory
from sippy.db.migrate import upgrade
from sippy.ingest.load import load_sources
from sippy.samples.generator import generate_samples
from sippy.settings import Settings


@pytest.fixture(scope="module")
def summaries(tmp_path_factory):
    root = tmp_path_factory.mktemp("builtin")
    runs = generate_samples(root / "runs")
    engine = make_engine(f"sqlite:///{root / 'x.db'}")
    upgrade(engine)
    load_sources([str(root / "runs")], Settings(), engine)
    with session_factory(engine)() as session:
        yield {r.scenario: job_run_summary(session, r.build_id) for r in runs}
    engine.dispose()


def _sentences(text: str) -> int:
    return sum(text.count(mark + " ") for mark in ".!?") + 1


def test_success_is_summarised_as_a_success(summaries):
    text = builtin_summary(summaries["success"])
    assert "succeeded" in text and "failed" not in text
    assert str(summaries["success"]["testCount"]) in text


def test_test_failure_names_tests_and_the_decisive_line(summaries):
    text = builtin_summary(summaries["test-failure"])
    assert "failed because tests failed" in text
    assert "fail [github.com/openshift/origin/" in text


def test_install_failure_names_stage_and_cluster_state(summaries):
    summary = summaries["install-failure"]
    text = builtin_summary(summary)
    assert "during installation" in text and "cluster bootstrap" in text
    assert "etcd (degraded)" in text and "NotReady" in text


def test_upgrade_failure_quotes_the_upgrade_assertion(summaries):
    text = builtin_summary(summaries["upgrade-failure"])
    assert "during the upgrade" in text and "Cluster did not complete upgrade" in text


@pytest.mark.parametrize(
    "scenario",
    [
        "success",
        "test-failure",
        "install-failure",
        "infra-failure",
        "upgrade-failure",
        "presubmit-failure",
    ],
)
def test_every_answer_is_short(summaries, scenario):
    text = builtin_summary(summaries[scenario])
    assert summaries[scenario]["name"] in text
    assert _sentences(text) <= 3
    assert len(text) < 1200


def test_categories():
    assert [category_for(r) for r in "SFIUNnAR"] == [
        "success",
        "test failure",
        "install",
        "upgrade",
        "infrastructure",
        "infrastructure",
        "aborted",
        "running",
    ]
    assert category_for("f") == "unknown"


# --- long lines: the cause at the end is quoted ----------------------------------------------


def _failed_run(**overrides):
    base = {
        "name": "periodic-ci-openshift-release-main-nightly-4.20-e2e-aws-ovn",
        "overallResult": "F",
        "testCount": 900,
        "testFailureCount": 1,
        "testFlakeCount": 0,
        "testFailures": {},
        "failedSteps": [],
        "logSnippets": [],
        "clusterOperators": [],
        "nodes": [],
        "machines": [],
    }
    base.update(overrides)
    return base


def _quote(answer: str) -> str:
    """The quoted line: what follows "says:" or "failed with:"."""
    for lead in (" says: ", " failed with: "):
        if lead in answer:
            return answer.split(lead, 1)[1]
    raise AssertionError(answer)


INSTALL_LINE = (
    'time="2026-04-04T16:55:43Z" level=error msg="failed to fetch Cluster: failed to generate'
    ' asset \\"Cluster\\": failed to create cluster: failed to provision control-plane machines:'
    " machine ci-op-xaqdib8k-f97d2-xpmvq-master-0 failed: VcpuLimitExceeded: You have requested"
    " more vCPU capacity than your current vCPU limit of 1152 allows for the instance bucket"
    ' that the specified instance type belongs to."'
)
PULL_LINE = (
    "fail [github.com/openshift/origin/test/extended/images/pull.go:112]: pod"
    ' "image-pull-test-x9z2k" in namespace "e2e-test-images-7hq2m" failed: error pulling'
    " quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:"
    + "0f" * 32
    + " onto node ip-10-0-211-17.us-west-2.compute.internal: manifest unknown"
)


@pytest.mark.parametrize(
    ("summary", "cause"),
    [
        (
            _failed_run(
                overallResult="I",
                failedSteps=[{"name": "e2e-aws-ovn-ipi-install-install", "text": INSTALL_LINE}],
            ),
            "VcpuLimitExceeded",
        ),
        (
            _failed_run(
                overallResult="I",
                logSnippets=[{"text": "Installer exit with code 4\n" + INSTALL_LINE}],
            ),
            "VcpuLimitExceeded",
        ),
        (_failed_run(testFailures={"[sig-imageregistry] pulls": PULL_LINE}), "manifest unknown"),
    ],
)
def test_a_cause_at_the_end_of_a_long_line_is_quoted(summary, cause):
    line = INSTALL_LINE if cause == "VcpuLimitExceeded" else PULL_LINE
    assert cause not in line[:239]  # past what a head-only quote of 240 characters keeps
    answer = builtin_summary(summary)
    quote = _quote(answer)
    assert cause in quote
    assert quote[:4] == line[:4] or quote.startswith("level=error")  # the head is kept
    assert len(quote.encode()) <= 241  # the line, at most 240 bytes, and a full stop
    assert _sentences(answer) <= 3


ENTRYPOINT = (
    '{"component":"entrypoint","error":"wrapped process failed: exit status 6",'
    '"file":"sigs.k8s.io/prow/pkg/entrypoint/run.go:84","level":"error",'
    '"msg":"Error executing test process","severity":"error"}'
)


def test_a_step_that_only_exited_non_zero_is_said_plainly_not_quoted():
    step = {
        "name": "e2e-aws-ipi-install-install",
        "text": f"Copying required artifacts to shared dir\n{ENTRYPOINT}\n"
        "error: failed to execute wrapped command: exit status 6",
    }
    answer = builtin_summary(_failed_run(overallResult="n", failedSteps=[step]))
    assert "Step e2e-aws-ipi-install-install exited with status 6" in answer
    assert "entrypoint" not in answer and "wrapped" not in answer


def test_a_short_line_is_quoted_whole():
    line = "fail [github.com/openshift/origin/test/extended/router/idle.go:88]: route not admitted"
    answer = builtin_summary(_failed_run(testFailures={"[sig-network] idle": line}))
    assert _quote(answer) == line + "."
