"""Plain records that flow from artifact parsers to the database writer.

Parsers never touch the database: each turns the bytes of one artifact into these
records, so they can be tested on real files alone and reused by every front end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Test status codes, as Sippy (inherited from TestGrid).
STATUS_SUCCESS = 1
STATUS_FAILURE = 12
STATUS_FLAKE = 13


class ArtifactError(Exception):
    """An artifact could not be used; the message says why, for the user."""


@dataclass(slots=True)
class TestCase:
    """One `<testcase>` as read from one JUnit file, before flakes are merged."""

    suite: str
    name: str
    failed: bool
    duration: float = 0.0
    output: str | None = None  # failure/error text (message attribute + body)
    lifecycle: str = "blocking"
    source: str = ""  # artifact path, relative to the run folder


@dataclass(slots=True)
class TestResult:
    """One test of a run after merging: status 1, 12 or 13."""

    suite: str
    name: str
    status: int
    duration: float = 0.0
    output: str | None = None
    lifecycle: str = "blocking"
    source: str = ""


@dataclass(slots=True)
class OperatorCondition:
    """A cluster operator condition that is wrong (Degraded=True or Available=False)."""

    name: str
    condition: str  # "Degraded" | "Available"
    status: str  # "True" | "False" | "Unknown"
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None
    source: str = ""


@dataclass(slots=True)
class NodeProblem:
    """A node that is NotReady or under pressure."""

    name: str
    condition: str  # Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable
    status: str
    reason: str = ""
    message: str = ""
    roles: list[str] = field(default_factory=list)
    source: str = ""


@dataclass(slots=True)
class MachineProblem:
    """A machine in the Failed phase or carrying an error."""

    name: str
    phase: str = ""
    error_reason: str = ""
    error_message: str = ""
    node: str = ""
    source: str = ""


@dataclass(slots=True)
class LogSnippet:
    """A ranked excerpt of the run's logs: a build-log finding or a failed ci-operator step."""

    origin: str  # "build-log" | "step" | "junit" (a failure of a suite Sippy does not import)
    text: str
    kind: str = "error"
    score: int = 0
    count: int = 1
    line: int | None = None  # 1-based, in the build log
    title: str = ""  # the step's name for "step"
    source: str = ""  # artifact path, relative to the run folder


@dataclass(slots=True)
class PullRequest:
    org: str
    repo: str
    number: int
    author: str = ""
    sha: str = ""
    title: str = ""
    link: str = ""


@dataclass(slots=True)
class RunMeta:
    """What a run folder says about the run itself (prowjob/started/finished/path)."""

    build_id: int
    job_name: str
    job_type: str = "periodic"  # periodic | presubmit | postsubmit | batch
    state: str = ""  # prow state: success|failure|aborted|error|pending|triggered
    cluster: str = ""
    url: str = ""
    bucket: str = ""
    gcs_path: str = ""  # e.g. logs/<job>/<id>
    start: datetime | None = None
    completion: datetime | None = None
    org: str = ""
    repo: str = ""
    base_ref: str = ""
    pulls: list[PullRequest] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    metadata_source: str = "prowjob.json"  # or "started.json/finished.json" or "path"


@dataclass(slots=True)
class ArtifactInfo:
    """One artifact of the run that we read (or failed to read)."""

    path: str  # relative to the run folder
    kind: str  # prowjob, started, finished, junit, clusteroperators, nodes, machines, build-log
    size: int = 0
    error: str | None = None


@dataclass(slots=True)
class ParsedRun:
    """Everything one run folder yields; written to the database in one transaction."""

    meta: RunMeta
    tests: list[TestResult] = field(default_factory=list)
    overall_result: str = "n"
    operators: list[OperatorCondition] = field(default_factory=list)
    nodes: list[NodeProblem] = field(default_factory=list)
    machines: list[MachineProblem] = field(default_factory=list)
    artifacts: list[ArtifactInfo] = field(default_factory=list)
    log_snippets: list[LogSnippet] = field(default_factory=list)
    fingerprint: str = ""  # changes whenever the run's artifacts change

    @property
    def problems(self) -> list[ArtifactInfo]:
        return [a for a in self.artifacts if a.error]
