"""Naming the cause: every term group of a labelled cause, in any case; not just the test."""

from __future__ import annotations

from sippy.evaluation.answers import Answer, LabelledRun, answer_report, names_cause
from sippy.samples.causes import SAMPLE_CAUSES, PlantedCause, causes_of

VPC = next(c for c in SAMPLE_CAUSES if c.marker == "VpcLimitExceeded")
DRAIN = next(c for c in SAMPLE_CAUSES if c.marker == "Pools did not complete upgrade")


def test_a_cause_is_named_by_all_its_term_groups_in_any_case():
    assert VPC.named_in("Provisioning hit VPCLIMITEXCEEDED in us-east-2.")
    assert VPC.named_in("The account reached the maximum number of VPCs.")
    assert not VPC.named_in("The aws-provision-vpc-shared step failed.")
    assert DRAIN.named_in("machine-config could not drain a worker, so the upgrade stalled")
    assert not DRAIN.named_in("machine-config is unhappy")  # the component alone is not why


def test_causes_are_found_by_their_marker():
    line = "An error occurred (VpcLimitExceeded) when calling the CreateVpc operation"
    assert causes_of([line, "unrelated"]) == [VPC]
    assert causes_of(["nothing here"]) == []


def test_the_report_counts_named_answers_and_keeps_errors_apart():
    cause = PlantedCause("quota", "q", (("quota",),))
    runs = [LabelledRun(i, "samples", "g", [cause]) for i in (1, 2, 3, 4)]
    answers = {
        1: Answer(1, "It ran out of quota."),
        2: Answer(2, "The job failed."),
        3: Answer(3, "Quota exceeded", cached=True),
        4: Answer(4, error="model error 502: bad gateway"),
    }
    report = answer_report(runs, answers, "m")
    assert (report["scored"], report["namesCause"], report["errors"]) == (3, 2, 1)
    assert report["rate"] == round(2 / 3, 4) and report["cached"] == 1
    assert report["misses"] == [{"run": 2, "cause": "quota", "answer": "The job failed."}]
    assert report["errorExamples"] == ["model error 502: bad gateway"]
    assert names_cause("no", []) is False
