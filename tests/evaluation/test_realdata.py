"""Real runs, unlabelled: the independent reference pass, and the whole check on realdata."""

from __future__ import annotations

from sippy.evaluation.realdata import (
    decisive_line,
    first_line,
    letter_agrees,
    rebuild_snapshots,
    reference_tests,
)

JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="openshift-tests">
    <testcase name="passes"/>
    <testcase name="fails"><failure message="why">fail [x.go:1]: boom
noise</failure></testcase>
    <testcase name="errors"><error>panic: nil map</error></testcase>
    <testcase name="flaky"><failure>first try</failure></testcase>
    <testcase name="flaky"/>
    <testcase name="skipped"><skipped/><failure>ignored</failure></testcase>
    <testcase name="Run multi-stage test e2e - e2e-gather container test"><failure/></testcase>
    <testsuite name="nested"><testcase name="deep"><failure>Error: deep</failure></testcase>
    </testsuite>
  </testsuite>
  <testsuite name="not-importable"><testcase name="elsewhere"><failure/></testcase></testsuite>
</testsuites>
"""
SECOND = """<testsuite name="cluster install"><testcase name="fails"><failure>install broke
</failure></testcase></testsuite>"""


def test_reference_pass_applies_the_rules_without_the_loader(tmp_path):
    run = tmp_path / "run"
    (run / "artifacts" / "junit").mkdir(parents=True)
    (run / "artifacts" / "junit" / "junit_e2e.xml").write_text(JUNIT)
    (run / "artifacts" / "junit" / "junit_install.xml").write_text(SECOND)
    (run / "artifacts" / "results.xml").write_text("<not-junit/>")  # no "junit" in its path
    (run / "artifacts" / "junit" / "junit_broken.xml").write_text("<testsuite")
    ref = reference_tests(run)
    # "fails" is in two suites, so both keep their suite, as the summary keys them
    assert ref.failed == {"openshift-tests.fails", "cluster install.fails", "errors", "deep"}
    assert ref.flaked == {"flaky"}
    assert ref.failure_texts["openshift-tests.fails"] == "why\nfail [x.go:1]: boom\nnoise"
    assert len(ref.unreadable) == 1 and "junit_broken.xml" in ref.unreadable[0]


def test_decisive_and_first_lines():
    assert decisive_line("STEP: a\nfail [x.go:1]: why\nerror: later") == "fail [x.go:1]: why"
    assert decisive_line("  Error: no route to host  ") == "Error: no route to host"
    assert decisive_line("openshift cluster install failed overall") == ""
    assert first_line("\n\n  not enough data to aggregate\n") == "not enough data to aggregate"


def test_letters_against_an_independent_state():
    assert letter_agrees("S", "Succeeded") and letter_agrees("n", "Failed")
    assert not letter_agrees("S", "failure") and not letter_agrees("F", "Succeeded")
    assert letter_agrees("F", "pending") is None


def test_snapshots_are_put_back_into_gcs_layout(realdata, tmp_path):
    states = rebuild_snapshots(realdata, tmp_path)
    assert len(states) >= 10 and set(states.values()) <= {"Failed", "Succeeded", "Pending"}
    for build_id, state in states.items():
        [run] = tmp_path.glob(f"*/logs/*/{build_id}")
        assert (run / "started.json").is_file()
        # a run the release controller still saw as Pending gets no made-up verdict
        assert (run / "finished.json").is_file() == (state != "Pending")
        assert (run / "build-log.txt").is_file() or any(run.rglob("*junit*.xml"))
