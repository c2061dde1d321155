"""Field accuracy: each field is judged on its own, under the summary's key rule."""

from __future__ import annotations

import copy

from sippy.analysis.summary import job_run_summary
from sippy.db.engine import session_factory
from sippy.evaluation.fields import FIELDS, FieldTally, field_checks, summary_keys
from sippy.ingest.load import load_sources
from sippy.samples.generator import SampleRun, generate_samples
from sippy.settings import Settings

STATE = "artifacts/e2e/gather-extra/artifacts/clusteroperators.json"


def _sample() -> SampleRun:
    return SampleRun(
        build_id=1,
        job_name="job",
        path="p",
        bucket="b",
        scenario="install-failure",
        prow_state="failure",
        expected_result="N",
        failures=[("cluster install", "install should succeed: overall"), ("a", "t"), ("b", "t")],
        flakes=[("openshift-tests", "flaky")],
        degraded_operators=["etcd"],
        bad_nodes=["node-1"],
        failed_machines=["machine-1"],
        cluster_state_source=STATE,
    )


def _summary() -> dict:
    folder = STATE.rsplit("/", 1)[0]
    return {
        "overallResult": "N",
        "testFailures": {"install should succeed: overall": "", "a.t": "", "b.t": ""},
        "testFlakes": {"flaky": ""},
        "clusterOperators": [
            {"name": "etcd", "source": STATE},
            # an earlier snapshot's condition: kept by design, not part of the final state
            {"name": "kube-apiserver", "source": "artifacts/e2e/gather-must-gather/x.json"},
        ],
        "nodes": [{"name": "node-1", "source": f"{folder}/nodes.json"}],
        "machines": [{"name": "machine-1", "source": f"{folder}/machines.json"}],
    }


def test_summary_keys_follow_the_summary_rule():
    assert summary_keys([("s1", "x"), ("s2", "x"), ("s1", "y")]) == {"s1.x", "s2.x", "y"}


def test_every_field_right_then_each_wrong_on_its_own():
    assert field_checks(_summary(), _sample()) == dict.fromkeys(FIELDS, True)
    breakages = {
        "overallResult": lambda s: s.update(overallResult="n"),
        "failedTests": lambda s: s["testFailures"].pop("a.t"),
        "flakedTests": lambda s: s["testFlakes"].update(other=""),
        "degradedOperators": lambda s: s["clusterOperators"].pop(0),
        "badNodes": lambda s: s["nodes"].append({"name": "node-2", "source": STATE}),
        "failedMachines": lambda s: s["machines"].clear(),
    }
    for field, breaks in breakages.items():
        summary = copy.deepcopy(_summary())
        breaks(summary)
        checks = field_checks(summary, _sample())
        assert [name for name, ok in checks.items() if not ok] == [field]


def test_tally_reports_accuracy_and_what_was_wrong():
    tally = FieldTally()
    tally.add(_summary(), _sample())
    wrong = copy.deepcopy(_summary())
    wrong["overallResult"] = "F"
    tally.add(wrong, _sample())
    report = tally.as_dict()
    assert report["overallResult"]["accuracy"] == 0.5 and report["failedTests"]["accuracy"] == 1
    assert report["overallResult"]["misses"] == [{"run": 1, "expected": "N", "got": "F"}]


def test_generated_runs_load_with_every_field_right(tmp_path, engine):
    samples = generate_samples(tmp_path, count=7, seed=5)  # one run of each kind
    assert load_sources([str(tmp_path)], Settings(), engine).ok
    tally = FieldTally()
    with session_factory(engine)() as session:
        for sample in samples:
            tally.add(job_run_summary(session, sample.build_id), sample)
    assert {name: item["right"] for name, item in tally.as_dict().items()} == dict.fromkeys(
        FIELDS, 7
    )
