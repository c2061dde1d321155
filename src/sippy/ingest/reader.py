"""Read one run folder and parse every artifact that matters into a `ParsedRun`.

Each artifact is read and parsed on its own: a broken one is recorded with its error and
the rest of the run still loads.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sippy.evidence.buildlog import scan_build_log
from sippy.ingest import gather
from sippy.ingest.classify import classify_run
from sippy.ingest.junit import merge_test_cases, parse_junit
from sippy.ingest.prowjob import parse_run_meta
from sippy.ingest.records import (
    ArtifactError,
    ArtifactInfo,
    LogSnippet,
    OperatorCondition,
    ParsedRun,
    TestCase,
)
from sippy.ingest.sources import RunFolder, Source
from sippy.ingest.steps import other_junit_failures, step_failures

log = logging.getLogger(__name__)
T = TypeVar("T")

GATHER_FILES = {
    "clusteroperators.json": "clusteroperators",
    "nodes.json": "nodes",
    "machines.json": "machines",
}
META_FILES = {"prowjob.json": "prowjob", "started.json": "started", "finished.json": "finished"}
STEP_GRAPH = "junit_operator.xml"
# Part of every fingerprint: a reader that extracts more makes earlier loads stale.
READER_VERSION = "3"  # 3: failures of suites Sippy does not import kept as evidence


@dataclass(slots=True)
class ReadLimits:
    max_artifact_bytes: int


def fingerprint(run: RunFolder) -> str:
    """A digest of the run's file listing: it changes whenever an artifact we read changes."""
    digest = hashlib.sha256(f"reader {READER_VERSION}\n".encode())
    for rel in sorted(run.files):
        if artifact_kind(rel):
            digest.update(f"{rel}\0{run.files[rel]}\n".encode())
    return digest.hexdigest()[:32]


def artifact_kind(rel: str) -> str | None:
    """What a file under the run folder is to us, or None when we do not read it."""
    if rel in META_FILES:
        return META_FILES[rel]
    if rel == "build-log.txt":
        return "build-log"
    lower = rel.lower()
    if lower.endswith(".xml") and "junit" in lower:
        return "junit"
    folder, _, name = rel.rpartition("/")
    if name in GATHER_FILES and "/artifacts" in f"/{folder}" and "gather" in folder:
        return GATHER_FILES[name]
    return None


def read_run(src: Source, run: RunFolder, limits: ReadLimits) -> ParsedRun:
    """Read and parse one run folder. Raises ArtifactError only when the run has no identity."""
    reader = _ArtifactReader(src, run, limits)
    meta_bytes = {kind: reader.read(rel, kind) for rel, kind in META_FILES.items()}
    meta, warnings = parse_run_meta(
        run.path,
        prowjob=meta_bytes["prowjob"],
        started=meta_bytes["started"],
        finished=meta_bytes["finished"],
    )
    parsed = ParsedRun(meta=meta, fingerprint=fingerprint(run))
    for warning in warnings:
        reader.note(
            "prowjob.json" if run.files.get("prowjob.json") is not None else ".", "prowjob", warning
        )
    cases: list[TestCase] = []
    snapshots: list[tuple[str, list[OperatorCondition], float | None]] = []
    for rel in sorted(run.files):
        kind = artifact_kind(rel)
        if kind == "junit":
            parser = _step_graph if rel.rpartition("/")[2] == STEP_GRAPH else _junit_file
            for file_cases, snippets in reader.parse(rel, kind, parser):
                cases.extend(file_cases)
                parsed.log_snippets.extend(snippets)
        elif kind == "clusteroperators":
            conditions = reader.parse(rel, kind, _plain(gather.parse_cluster_operators))
            snapshots.append((rel, conditions, reader.step_finished(rel)))
        elif kind == "nodes":
            parsed.nodes.extend(reader.parse(rel, kind, _plain(gather.parse_nodes)))
        elif kind == "machines":
            parsed.machines.extend(reader.parse(rel, kind, _plain(gather.parse_machines)))
        elif kind == "build-log":
            parsed.log_snippets.extend(reader.scan(rel, kind))
    for rel, why in sorted(run.refused.items()):
        reader.note(rel, "refused", why)
    parsed.operators = gather.choose_operator_snapshots(snapshots)
    real_tests = merge_test_cases(cases)
    classification = classify_run(meta.state, real_tests)
    parsed.tests = real_tests + classification.synthetic
    parsed.overall_result = classification.overall_result
    parsed.artifacts = reader.artifacts
    return parsed


Parser = Callable[[bytes, str], tuple[list[T], list[str]]]


JUnitRead = tuple[list[tuple[list[TestCase], list[LogSnippet]]], list[str]]


def _junit_file(data: bytes, source: str) -> JUnitRead:
    """A JUnit file: its tests (by Sippy's rules), and as evidence the failures of its
    suites that Sippy does not import."""
    result = parse_junit(data, source)
    return [(result.cases, other_junit_failures(result, source))], result.warnings


def _step_graph(data: bytes, source: str) -> JUnitRead:
    """junit_operator.xml: its tests (by Sippy's rules) and its failed steps as evidence."""
    result = parse_junit(data, source)
    return [(result.cases, step_failures(data, source))], result.warnings


def _plain(parser: Callable[[bytes, str], list[T]]) -> Parser[T]:
    """Adapt a parser without warnings to the (value, warnings) shape."""
    return lambda data, source: (parser(data, source), [])


class _ArtifactReader:
    """Reads artifacts of one run under a size cap and records what happened to each."""

    def __init__(self, src: Source, run: RunFolder, limits: ReadLimits) -> None:
        self.src, self.run, self.limits = src, run, limits
        self.artifacts: list[ArtifactInfo] = []

    def read(self, rel: str, kind: str) -> bytes | None:
        """The bytes of `rel`, or None (recorded) when it is absent, too big or unreadable."""
        size = self.run.files.get(rel)
        if size is None:
            return None
        info = ArtifactInfo(rel, kind, size)
        self.artifacts.append(info)
        if size > self.limits.max_artifact_bytes:
            info.error = (
                f"file is {size:,} bytes, over the {self.limits.max_artifact_bytes:,}"
                "-byte cap (--max-artifact-bytes); not read"
            )
            return None
        try:
            data = self.src.fs.cat_file(f"{self.run.path}/{rel}")
        except Exception as exc:  # network, permissions, vanished objects
            info.error = f"cannot read: {exc}"
            return None
        if not data:
            info.error = "empty file"
            return None
        return data

    def parse(self, rel: str, kind: str, parser: Parser[T]) -> list[T]:
        """Parse `rel`; its error or warnings are recorded on the artifact, never raised."""
        data = self.read(rel, kind)
        if data is None:
            return []
        try:
            value, warnings = parser(data, rel)
            if warnings:
                self.artifacts[-1].error = "warning: " + "; ".join(warnings)
            return value
        except ArtifactError as exc:
            self.artifacts[-1].error = str(exc).removeprefix(f"{rel}: ")  # path is stored
        except Exception as exc:  # a parser bug must not stop the load
            log.exception("unexpected error parsing %s", rel)
            self.artifacts[-1].error = f"internal error parsing: {exc!r}"
        return []

    def scan(self, rel: str, kind: str) -> list[LogSnippet]:
        """Stream a log through the scanner: memory stays bounded, so no size cap applies."""
        info = ArtifactInfo(rel, kind, self.run.files[rel])
        self.artifacts.append(info)
        if info.size == 0:
            info.error = "empty file"
            return []
        try:
            with self.src.fs.open(f"{self.run.path}/{rel}", "rb") as stream:
                findings = scan_build_log(stream)
        except Exception as exc:  # network, permissions, vanished objects
            info.error = f"cannot read: {exc}"
            return []
        return [
            LogSnippet(
                origin="build-log",
                text=f.text,
                kind=f.kind,
                score=f.score,
                count=f.count,
                line=f.line,
                source=rel,
            )
            for f in findings
        ]

    def note(self, rel: str, kind: str, message: str) -> None:
        existing = next((a for a in self.artifacts if a.path == rel), None)
        if existing is None:
            self.artifacts.append(ArtifactInfo(rel, kind, self.run.files.get(rel, 0), message))
        else:
            existing.error = f"{existing.error}; {message}" if existing.error else message

    def step_finished(self, rel: str) -> float | None:
        """When the step that gathered `rel` finished, from its step finished.json."""
        step = rel.rpartition("/artifacts/")[0]
        candidate = f"{step}/finished.json"
        if candidate not in self.run.files or self.run.files[candidate] > 1_000_000:
            return None
        try:
            stamp = json.loads(self.src.fs.cat_file(f"{self.run.path}/{candidate}"))["timestamp"]
            return float(stamp)
        except Exception:
            return None
