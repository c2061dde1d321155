"""Evidence recall: a line counts only when it reaches the input, so losing one must show."""

from __future__ import annotations

from sippy.analysis.summary import job_run_summary
from sippy.db.engine import session_factory
from sippy.evaluation.recall import (
    PREFIX_CHARS,
    Inputs,
    inputs_for,
    reached,
    recall,
    recall_report,
    size_report,
)
from sippy.ingest.load import load_sources
from sippy.settings import Settings
from tests.helpers import make_run

CAUSE = "fail [github.com/openshift/origin/test/extended/router/scoped.go:123]: route not admitted"
OTHER = 'level=error msg="Error: creating EC2 Instance: InsufficientInstanceCapacity"'


def test_reached_needs_the_line_or_its_start():
    assert reached(CAUSE, f"header\n{CAUSE}\nmore")
    long = "x" * PREFIX_CHARS + " and a tail the prompt shortened"
    assert reached(long, "…\n" + "x" * PREFIX_CHARS + " and a ta…")
    assert not reached(CAUSE, CAUSE[: PREFIX_CHARS // 2])  # half a line is not the line
    assert not reached("   ", "anything")  # a blank line proves nothing


def test_recall_drops_when_the_evidence_loses_a_cause_line():
    both = Inputs(1, ours=f"{CAUSE}\n{OTHER}", tokens=10, original="tail", original_tokens=1)
    one = Inputs(2, ours=f"{CAUSE}\nnoise", tokens=10, original=OTHER, original_tokens=1)
    full = [both.row([CAUSE, OTHER], "g")]
    lossy = [one.row([CAUSE, OTHER], "g")]
    assert recall(full, "ours") == 1.0
    assert recall(lossy, "ours") == 0.5
    assert recall(full, "original") == 0.0 and recall(lossy, "original") == 0.5
    report = recall_report(full + lossy)
    assert (report["lines"], report["ours"], report["original256ByteTail"]) == (4, 0.75, 0.25)
    assert recall([], "ours") is None  # no lines, no claim


def test_a_line_cut_short_counts_only_for_the_prefix_recall():
    long = CAUSE + ": pushing the image to the registry was unauthorized"
    assert len(long) > PREFIX_CHARS + 5
    cut = Inputs(1, ours=long[: PREFIX_CHARS + 5] + "…", tokens=1, original="", original_tokens=1)
    row = cut.row([long], "g")
    assert (row.ours, row.ours_whole) == (1, 0)
    report = recall_report([row])
    assert (report["ours"], report["oursWholeLine"]) == (1.0, 0.0)


def test_size_report_counts_prompts_over_the_budget():
    sizes = size_report([100, 2999, 3000, 3001], 3000, [10, 20])
    assert (sizes["withinBudget"], sizes["prompts"], sizes["max"]) == (3, 4, 3001)
    assert sizes["median"] == 2999.5 and sizes["originalMax"] == 20


def test_a_decisive_head_line_reaches_our_prompt_but_not_the_256_byte_tail(tmp_path, engine):
    noise = "\n".join(f"  STEP: step {i} of a long failure output" for i in range(40))
    junit = (
        '<testsuite name="openshift-tests" tests="1" failures="1">'
        '<testcase name="[sig-network] routes work [Suite:openshift/conformance/parallel]">'
        f'<failure message="">{CAUSE}\n{noise}</failure></testcase></testsuite>'
    )
    job = "periodic-ci-openshift-release-main-nightly-4.20-e2e-aws-ovn"
    make_run(tmp_path, job, 2054903419998572544, files={"artifacts/junit/junit_e2e.xml": junit})
    assert load_sources([str(tmp_path)], Settings(), engine).ok
    with session_factory(engine)() as session:
        summary = job_run_summary(session, 2054903419998572544)
        inputs = inputs_for(session, summary, 3000)
    row = inputs.row([CAUSE], "test")
    assert (row.ours, row.original) == (1, 0)
    assert "STEP: step 39 of a long failure output" in inputs.original  # the tail is there
    assert 0 < inputs.original_tokens < inputs.tokens <= 3000
