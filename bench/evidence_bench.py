"""Evidence recall: do the lines a summary must rest on reach the prompt?

Generated runs carry their root-cause lines (ground truth: at the start of long failure
outputs, in the middle of large build logs, across multi-byte characters). For each run we
build our prompt at the default budget and Sippy's original input (the 256-byte tail of
each failure, the operators, as JSON) from the same loaded data, and count the root-cause
lines each contains. Also reports prompt sizes against the budget.

    python bench/evidence_bench.py [--runs 120] [--budget 3000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sippy.ai.prompt import job_run_prompt
from sippy.analysis.summary import job_run_summary
from sippy.db.engine import make_engine, session_factory
from sippy.db.migrate import upgrade
from sippy.evidence.tokens import estimate_tokens
from sippy.ingest.load import load_sources
from sippy.samples.generator import SampleRun, generate_samples
from sippy.settings import Settings

PREFIX_CHARS = 100  # a line counts as reached when its first 100 characters are there


def reached(line: str, text: str) -> bool:
    line = line.strip()
    return bool(line) and (line in text or line[:PREFIX_CHARS] in text)


def original_input(session: Any, run_id: int) -> str:
    """Sippy's v3 input (§1.3): the summary with 256-byte failure tails, as the model saw it."""
    from sippy.evidence.snippets import tail_256

    summary = job_run_summary(session, run_id)
    outputs = _raw_outputs(session, run_id)
    data = {
        "name": summary["name"],
        "reason": summary["reason"],
        "testFailures": {name: tail_256(text) for name, text in outputs.items()},
        "clusterOperators": [
            {k: o[k] for k in ("name", "status", "reason", "message")}
            for o in summary["clusterOperators"]
        ],
    }
    # What the model reads is the decoded text, so compare against values, not JSON escapes.
    return "\n".join(_strings(data))


def _raw_outputs(session: Any, run_id: int) -> dict[str, str]:
    from sqlalchemy import select

    from sippy.db import models as m

    rows = session.execute(
        select(m.Test.name, m.ProwJobRunTestOutput.output)
        .select_from(m.ProwJobRunTest)
        .join(m.Test, m.Test.id == m.ProwJobRunTest.test_id)
        .join(
            m.ProwJobRunTestOutput,
            m.ProwJobRunTestOutput.prow_job_run_test_id == m.ProwJobRunTest.id,
        )
        .where(m.ProwJobRunTest.prow_job_run_id == run_id, m.ProwJobRunTest.status == 12)
    )
    return {name: output or "" for name, output in rows if "sig-sippy" not in name}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=120)
    parser.add_argument("--budget", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        samples = generate_samples(root, count=args.runs, seed=7)
        dsn = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(dsn)
        upgrade(engine)
        load_sources([str(root)], Settings(database_dsn=dsn), engine)
        started = time.perf_counter()
        rows = measure(engine, samples, args.budget)
        elapsed = time.perf_counter() - started
    report(rows, args.budget, elapsed)
    ours = _recall(rows, "ours")
    return 0 if ours >= 0.95 and all(r["tokens"] <= args.budget for r in rows) else 1


def measure(engine: Any, samples: list[SampleRun], budget: int) -> list[dict[str, Any]]:
    rows = []
    with session_factory(engine)() as session:
        for sample in samples:
            if not sample.root_cause_lines:
                continue
            summary = job_run_summary(session, sample.build_id)
            prompt = job_run_prompt(summary, budget)
            text = "\n".join(m["content"] for m in prompt.messages)
            original = original_input(session, sample.build_id)
            rows.append(
                {
                    "scenario": sample.scenario,
                    "lines": len(sample.root_cause_lines),
                    "ours": sum(reached(line, text) for line in sample.root_cause_lines),
                    "original": sum(reached(line, original) for line in sample.root_cause_lines),
                    "tokens": prompt.estimated_tokens,
                    "original_tokens": estimate_tokens(original),
                }
            )
    return rows


def _recall(rows: list[dict[str, Any]], key: str) -> float:
    total = sum(r["lines"] for r in rows)
    return sum(r[key] for r in rows) / total if total else 1.0


def report(rows: list[dict[str, Any]], budget: int, elapsed: float) -> None:
    print(f"{'scenario':<20} {'runs':>5} {'lines':>6} {'ours':>7} {'original':>9}")
    for scenario in sorted({r["scenario"] for r in rows}):
        group = [r for r in rows if r["scenario"] == scenario]
        print(
            f"{scenario:<20} {len(group):>5} {sum(r['lines'] for r in group):>6} "
            f"{_recall(group, 'ours'):>7.2f} {_recall(group, 'original'):>9.2f}"
        )
    tokens = [r["tokens"] for r in rows]
    summary = {
        "runs": len(rows),
        "recall_ours": round(_recall(rows, "ours"), 3),
        "recall_original_256_byte_tail": round(_recall(rows, "original"), 3),
        "prompt_tokens_median": statistics.median(tokens),
        "prompt_tokens_max": max(tokens),
        "budget": budget,
        "within_budget": sum(t <= budget for t in tokens),
        "original_tokens_max": max(r["original_tokens"] for r in rows),
        "seconds": round(elapsed, 2),
    }
    print(json.dumps(summary))
    print(
        f"evidence: recall {summary['recall_ours']:.2f} (original 256-byte tail "
        f"{summary['recall_original_256_byte_tail']:.2f}); prompts {summary['within_budget']}/"
        f"{len(rows)} within {budget} tokens (median {summary['prompt_tokens_median']}, "
        f"max {summary['prompt_tokens_max']})"
    )


if __name__ == "__main__":
    sys.exit(main())
