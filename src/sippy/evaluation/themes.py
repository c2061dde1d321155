"""Theme F1: do the found themes group a payload's failed runs as the planted causes do?

Pairwise co-membership, the usual score for comparing two clusterings: every unordered pair
of a payload's failed runs is "together" in the truth when both runs belong to one planted
theme, and "together" in the prediction when both appear in one found theme (a run may be
in several found themes; a run in none, `unexplained`, is together with nobody). Then
precision = pairs together in both / pairs together in the prediction, recall = pairs
together in both / pairs together in the truth, F1 their harmonic mean; counts are summed
over payloads before dividing (micro). One-off failures are alone in the truth, so joining
one to a theme costs precision, and splitting a theme costs recall. With no pair on a side
the ratio is vacuous and reported as 1.0 (nothing claimed, nothing missed).

Also reported: planted themes found exactly (a found theme with exactly its runs), and a
baseline that groups runs sharing a failed test name, as grouping by test alone would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sippy.analysis.payload import failed_payload_runs
from sippy.analysis.themes import GENERIC_TESTS, find_themes
from sippy.db import models as m
from sippy.ingest.records import STATUS_FAILURE
from sippy.samples.payloads import SamplePayload

Pair = tuple[int, int]


def together(groups: Iterable[Iterable[int]], universe: set[int] | None = None) -> set[Pair]:
    """Unordered pairs of runs that share a group (runs outside `universe` ignored)."""
    pairs: set[Pair] = set()
    for group in groups:
        members = sorted({r for r in group if universe is None or r in universe})
        pairs.update(combinations(members, 2))
    return pairs


@dataclass(slots=True)
class PairCounts:
    both: int = 0  # together in truth and prediction
    predicted: int = 0
    truth: int = 0

    def add(self, truth: set[Pair], predicted: set[Pair]) -> None:
        self.both += len(truth & predicted)
        self.predicted += len(predicted)
        self.truth += len(truth)

    @property
    def precision(self) -> float:
        return self.both / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.both / self.truth if self.truth else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "pairsTogetherInBoth": self.both,
            "pairsTogetherPredicted": self.predicted,
            "pairsTogetherPlanted": self.truth,
        }


def pairwise_scores(
    truth: Iterable[Iterable[int]], predicted: Iterable[Iterable[int]], universe: set[int]
) -> PairCounts:
    counts = PairCounts()
    counts.add(together(truth, universe), together(predicted, universe))
    return counts


def exact_matches(truth: Iterable[Iterable[int]], predicted: Iterable[Iterable[int]]) -> int:
    found = {frozenset(group) for group in predicted}
    return sum(frozenset(group) in found for group in truth)


def same_test_groups(session: Session, run_ids: list[int]) -> list[list[int]]:
    """Baseline: runs grouped by each failed (non-generic) test name they share."""
    if not run_ids:
        return []
    rows = session.execute(
        select(m.Test.name, m.ProwJobRunTest.prow_job_run_id)
        .join(m.Test, m.Test.id == m.ProwJobRunTest.test_id)
        .outerjoin(m.Suite, m.Suite.id == m.ProwJobRunTest.suite_id)
        .where(
            m.ProwJobRunTest.prow_job_run_id.in_(run_ids),
            m.ProwJobRunTest.status == STATUS_FAILURE,
            (m.Suite.name.is_(None)) | (m.Suite.name != "sippy"),
        )
    )
    by_name: dict[str, set[int]] = {}
    for name, run_id in rows:
        if not name.startswith(GENERIC_TESTS):
            by_name.setdefault(name, set()).add(run_id)
    return [sorted(runs) for runs in by_name.values() if len(runs) > 1]


def theme_report(session: Session, payloads: list[SamplePayload]) -> dict[str, Any]:
    """Ours and the baseline against the planted themes of each generated payload."""
    ours, baseline = PairCounts(), PairCounts()
    per_payload = []
    planted = exact = found_total = 0
    for payload in payloads:
        failed = failed_payload_runs(session, payload.release_tag)
        universe = set(failed)
        truth = [theme.runs for theme in payload.themes]
        found = find_themes(session, failed)
        predicted = [theme["runs"] for theme in found["themes"]]
        truth_pairs = together(truth, universe)
        mine, naive = PairCounts(), PairCounts()
        mine.add(truth_pairs, together(predicted, universe))
        naive.add(truth_pairs, together(same_test_groups(session, failed), universe))
        for total, one in ((ours, mine), (baseline, naive)):
            total.both += one.both
            total.predicted += one.predicted
            total.truth += one.truth
        matched = exact_matches(truth, predicted)
        planted += len(truth)
        exact += matched
        found_total += len(predicted)
        per_payload.append(
            {
                "releaseTag": payload.release_tag,
                "failedRuns": len(failed),
                "plantedThemes": len(truth),
                "oneOffRuns": len(payload.one_off_runs),
                "foundThemes": len(predicted),
                "exactMatches": matched,
                "unexplained": len(found["unexplained"]),
                "f1": round(mine.f1, 4),
                "baselineF1": round(naive.f1, 4),
            }
        )
    return {
        "definition": "pairwise co-membership over each payload's failed runs, micro-averaged",
        **ours.as_dict(),
        "plantedThemes": planted,
        "foundThemes": found_total,
        "exactMatches": exact,
        "baselineSameTestName": baseline.as_dict(),
        "payloads": per_payload,
    }
