"""Load benchmark: `sippy load` of generated runs against merely parsing their JUnit with lxml.

Both are measured in the same run on the same files; the figure that matters is the ratio
(target: load time at most 2x the raw parse), for SQLite and for PostgreSQL.

    python bench/load_bench.py [--runs 300] [--pg-dsn postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from lxml import etree

from sippy.db.engine import make_engine
from sippy.db.migrate import upgrade
from sippy.ingest.load import load_sources
from sippy.samples.generator import generate_samples
from sippy.settings import Settings


def raw_parse_seconds(root: Path) -> tuple[float, int, int]:
    """Read and parse every JUnit file with lxml, touching each testcase: the reference."""
    files = sorted(p for p in root.rglob("*.xml") if "junit" in p.as_posix().lower())
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    started = time.perf_counter()
    cases = 0
    for path in files:
        root_el = etree.fromstring(path.read_bytes(), parser)
        cases += sum(1 for _ in root_el.iter("testcase"))
    return time.perf_counter() - started, len(files), cases


def extract_seconds(root: Path) -> float:
    """Parse and read each testcase's name, time and failure text: any loader's minimum."""
    files = sorted(p for p in root.rglob("*.xml") if "junit" in p.as_posix().lower())
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    started = time.perf_counter()
    rows = []
    for path in files:
        for case in etree.fromstring(path.read_bytes(), parser).iter("testcase"):
            failure = case.find("failure")
            rows.append(
                (case.get("name"), case.get("time"), None if failure is None else failure.text)
            )
    return time.perf_counter() - started


def load_seconds(root: Path, dsn: str) -> float:
    engine = make_engine(dsn)
    upgrade(engine)
    started = time.perf_counter()
    report = load_sources([str(root)], Settings(database_dsn=dsn, load_workers=4), engine)
    elapsed = time.perf_counter() - started
    engine.dispose()
    if report.count("failed") or report.source_errors:
        raise SystemExit(
            f"load failed: {report.source_errors} {[o.why for o in report.outcomes if o.why]}"
        )
    return elapsed


def postgres_dsn(admin: str) -> tuple[str, str] | None:
    import psycopg

    name = f"sippy_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return None
    return f"{admin.rsplit('/', 1)[0]}/{name}", name


def drop_postgres(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--runs", type=int, default=300)
    args.add_argument("--repeat", type=int, default=3, help="raw-parse repetitions (median)")
    args.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args.add_argument("--json", type=Path, help="also write the figures here")
    opts = args.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        generate_samples(root, count=opts.runs, seed=1)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        parses = [raw_parse_seconds(root) for _ in range(opts.repeat)]
        reference = statistics.median(p[0] for p in parses)
        _, files, cases = parses[0]
        extract = statistics.median(extract_seconds(root) for _ in range(opts.repeat))
        results = {
            "runs": opts.runs,
            "junit_files": files,
            "testcases": cases,
            "bytes": size,
            "raw_parse_seconds": round(reference, 3),
            "extract_seconds": round(extract, 3),
        }
        sqlite_s = load_seconds(root, f"sqlite:///{Path(tmp) / 'bench.db'}")
        results["sqlite_load_seconds"] = round(sqlite_s, 3)
        results["sqlite_ratio"] = round(sqlite_s / reference, 2)
        results["sqlite_ratio_to_extract"] = round(sqlite_s / extract, 2)
        pg = postgres_dsn(opts.pg_dsn)
        if pg:
            try:
                pg_s = load_seconds(root, pg[0])
            finally:
                drop_postgres(opts.pg_dsn, pg[1])
            results["postgres_load_seconds"] = round(pg_s, 3)
            results["postgres_ratio"] = round(pg_s / reference, 2)
            results["postgres_ratio_to_extract"] = round(pg_s / extract, 2)
    _print(results)
    if opts.json:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps(results, indent=2) + "\n")


def _print(results: dict[str, float | int]) -> None:
    print(
        f"{results['runs']} runs, {results['junit_files']} JUnit files, "
        f"{results['testcases']:,} testcases, {results['bytes'] / 1e6:.1f} MB"
    )
    print(f"reference A, bare lxml parse:             {results['raw_parse_seconds']:.2f} s")
    print(f"reference B, lxml parse + testcase fields: {results['extract_seconds']:.2f} s")
    for db in ("sqlite", "postgres"):
        if f"{db}_ratio" in results:
            print(
                f"sippy load into {db:8}: {results[f'{db}_load_seconds']:.2f} s = "
                f"{results[f'{db}_ratio']:.2f}x A (target <= 2x), "
                f"{results[f'{db}_ratio_to_extract']:.2f}x B"
            )


if __name__ == "__main__":
    main()
