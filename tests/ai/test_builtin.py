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
