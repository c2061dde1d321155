"""Theme F1 on known partitions, and on generated payloads against the same-test baseline."""

from __future__ import annotations

import pytest

from sippy.db.engine import session_factory
from sippy.evaluation.themes import exact_matches, pairwise_scores, theme_report, together
from sippy.ingest.load import load_sources
from sippy.samples.generator import BUCKET
from sippy.samples.payloads import generate_payloads
from sippy.settings import Settings

TRUTH = [[1, 2, 3], [4, 5]]  # run 6 is a one-off
UNIVERSE = {1, 2, 3, 4, 5, 6}


def test_together_lists_each_pair_once_within_the_universe():
    assert together([[3, 1, 2], [2, 1], [7, 1]], {1, 2, 3}) == {(1, 2), (1, 3), (2, 3)}


def test_a_perfect_grouping_scores_one():
    scores = pairwise_scores(TRUTH, [[2, 1, 3], [5, 4]], UNIVERSE)
    assert (scores.precision, scores.recall, scores.f1) == (1.0, 1.0, 1.0)
    assert exact_matches(TRUTH, [[2, 1, 3], [5, 4]]) == 2


def test_merging_everything_costs_precision_only():
    scores = pairwise_scores(TRUTH, [list(UNIVERSE)], UNIVERSE)
    assert (scores.both, scores.predicted, scores.truth) == (4, 15, 4)
    assert scores.recall == 1.0 and scores.precision == pytest.approx(4 / 15)
    assert scores.f1 == pytest.approx(2 * (4 / 15) / (4 / 15 + 1))


def test_splitting_a_theme_costs_recall_and_a_one_off_joined_costs_precision():
    split = pairwise_scores(TRUTH, [[1, 2], [3], [4, 5]], UNIVERSE)
    assert (split.precision, split.recall) == (1.0, pytest.approx(2 / 4))
    joined = pairwise_scores(TRUTH, [[1, 2, 3], [4, 5, 6]], UNIVERSE)
    assert (joined.precision, joined.recall) == (pytest.approx(4 / 6), 1.0)
    assert exact_matches(TRUTH, [[1, 2, 3], [4, 5, 6]]) == 1


def test_no_groups_found_is_recall_zero_and_nothing_planted_is_vacuous():
    nothing = pairwise_scores(TRUTH, [], UNIVERSE)
    assert (nothing.precision, nothing.recall, nothing.f1) == (1.0, 0.0, 0.0)
    assert pairwise_scores([], [], UNIVERSE).f1 == 1.0


def test_generated_payload_themes_are_found_and_beat_grouping_by_test_name(tmp_path, engine):
    payloads = generate_payloads(tmp_path, tags=1, themes=4, seed=3)
    sources = [str(tmp_path / BUCKET), payloads[0].release_json]
    assert load_sources(sources, Settings(), engine).ok
    with session_factory(engine)() as session:
        report = theme_report(session, payloads)
    assert report["plantedThemes"] == 4 and report["exactMatches"] == 4
    assert report["f1"] == 1.0
    # the traps (a theme's test failing for another reason) fool a grouping by test name
    baseline = report["baselineSameTestName"]
    assert baseline["precision"] < 1.0 and baseline["f1"] < report["f1"]
    [payload] = report["payloads"]
    assert payload["failedRuns"] == len(payloads[0].failed_runs)
    assert payload["unexplained"] == len(payloads[0].one_off_runs)
