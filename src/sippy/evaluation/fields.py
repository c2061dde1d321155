"""Field accuracy: does the stored summary say what the generator wrote?

Each field is right for a run when it equals the ground truth exactly (sets compared as
sets). Failed and flaked tests are compared under the summary's own key rule (a test name,
or `<suite>.<name>` when that name appears in several suites). Operators, nodes and machines
are compared for the latest gathered snapshot only (`SampleRun.cluster_state_source`): the
summary also keeps conditions that only an earlier snapshot had, by design, and those are
not part of the final cluster state the truth describes.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Iterable
from typing import Any

from sippy.samples.generator import SampleRun

FIELDS = (
    "overallResult",
    "failedTests",
    "flakedTests",
    "degradedOperators",
    "badNodes",
    "failedMachines",
)
MAX_MISSES = 5  # examples kept per field, to show what was wrong


def summary_keys(pairs: Iterable[tuple[str, str]]) -> set[str]:
    """The summary's keys for (suite, name) pairs: the name, or `suite.name` when repeated."""
    pairs = list(pairs)
    counts = Counter(name for _, name in pairs)
    return {f"{suite}.{name}" if counts[name] > 1 else name for suite, name in pairs}


def expected_fields(sample: SampleRun) -> dict[str, Any]:
    return {
        "overallResult": sample.expected_result,
        "failedTests": summary_keys(sample.failures),
        "flakedTests": summary_keys(sample.flakes),
        "degradedOperators": set(sample.degraded_operators),
        "badNodes": set(sample.bad_nodes),
        "failedMachines": set(sample.failed_machines),
    }


def summary_fields(summary: dict[str, Any], cluster_state_source: str) -> dict[str, Any]:
    """The same fields read from a `/api/job/run/summary` object."""
    folder = posixpath.dirname(cluster_state_source)

    def latest(entries: list[dict[str, Any]]) -> set[str]:
        return {e["name"] for e in entries if posixpath.dirname(e.get("source") or "") == folder}

    return {
        "overallResult": summary["overallResult"],
        "failedTests": set(summary["testFailures"]),
        "flakedTests": set(summary["testFlakes"]),
        "degradedOperators": latest(summary["clusterOperators"]),
        "badNodes": latest(summary["nodes"]),
        "failedMachines": latest(summary["machines"]),
    }


def field_checks(summary: dict[str, Any], sample: SampleRun) -> dict[str, bool]:
    """Field -> whether the summary has it right for this run."""
    want = expected_fields(sample)
    got = summary_fields(summary, sample.cluster_state_source)
    return {name: want[name] == got[name] for name in FIELDS}


class FieldTally:
    """Right/total per field over many runs, with a few examples of what was wrong."""

    def __init__(self) -> None:
        self.right: Counter[str] = Counter()
        self.runs = 0
        self.misses: dict[str, list[dict[str, Any]]] = {name: [] for name in FIELDS}

    def add(self, summary: dict[str, Any], sample: SampleRun) -> None:
        self.runs += 1
        want = expected_fields(sample)
        got = summary_fields(summary, sample.cluster_state_source)
        for name in FIELDS:
            if want[name] == got[name]:
                self.right[name] += 1
            elif len(self.misses[name]) < MAX_MISSES:
                self.misses[name].append(
                    {
                        "run": sample.build_id,
                        "expected": _plain(want[name]),
                        "got": _plain(got[name]),
                    }
                )

    def as_dict(self) -> dict[str, Any]:
        return {
            name: {
                "right": self.right[name],
                "runs": self.runs,
                "accuracy": round(self.right[name] / self.runs, 4) if self.runs else None,
                "misses": self.misses[name],
            }
            for name in FIELDS
        }


def _plain(value: Any) -> Any:
    return sorted(value) if isinstance(value, set) else value
