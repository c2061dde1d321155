"""Evidence recall: do the lines a summary must rest on reach the prompt?

A thin caller of `sippy.evaluation.recall` (the same code `sippy eval` runs): generated runs
carry their root-cause lines (at the start of long failure outputs, in the middle of large
build logs, across multi-byte characters); for each failed run our prompt at the budget and
Sippy's original input (256-byte failure tails, the operators) are built from the same loaded
data and the root-cause lines each contains are counted. Also reports prompt sizes.

    python bench/evidence_bench.py [--runs 120] [--budget 3000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from sippy.analysis.summary import job_run_summary
from sippy.db.engine import make_engine, session_factory
from sippy.db.migrate import upgrade
from sippy.evaluation.recall import measure_run, recall_report, size_report
from sippy.ingest.load import load_sources
from sippy.samples.generator import generate_samples
from sippy.settings import Settings


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
        with session_factory(engine)() as session:
            rows = [
                measure_run(
                    session,
                    job_run_summary(session, s.build_id),
                    s.root_cause_lines,
                    args.budget,
                    s.scenario,
                )
                for s in samples
                if s.root_cause_lines
            ]
        elapsed = time.perf_counter() - started
        engine.dispose()
    recall = recall_report(rows)
    sizes = size_report([r.tokens for r in rows], args.budget, [r.original_tokens for r in rows])
    print(f"{'scenario':<22} {'runs':>5} {'lines':>6} {'ours':>6} {'original':>9}")
    for group, item in recall["byGroup"].items():
        print(
            f"{group:<22} {item['runs']:>5} {item['lines']:>6} {item['ours']:>6.2f}"
            f" {item['original256ByteTail']:>9.2f}"
        )
    print(json.dumps({**recall, "byGroup": None, **sizes, "seconds": round(elapsed, 2)}))
    print(
        f"evidence: recall {recall['ours']:.2f} (original 256-byte tail "
        f"{recall['original256ByteTail']:.2f}); prompts {sizes['withinBudget']}/"
        f"{sizes['prompts']} within {args.budget} tokens (median {sizes['median']}, "
        f"max {sizes['max']})"
    )
    ok = (recall["ours"] or 0) >= 0.95 and sizes["withinBudget"] == sizes["prompts"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
