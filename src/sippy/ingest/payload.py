"""Release payloads: the release controller's release JSON, parsed into plain records.

`GET /api/v1/releasestream/<stream>/release/<tag>` says which Prow runs verified a payload
and how each ended. Sippy stores exactly that (`release_tags`, `release_job_runs`) and links
it to runs only by build id, so these records carry the build id, the full Prow job name and
the GCS path taken from each run's URL: enough to fetch the artifacts of the failed ones.
Every input may be malformed; the only exception raised is ArtifactError, naming the source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from sippy.ingest.prowjob import MAX_BIGINT, prow_url_to_gcs
from sippy.ingest.records import ArtifactError
from sippy.ingest.sources import RUN_MARKERS

FETCH_TIMEOUT = 60.0  # seconds, as Sippy's release loader
BLOCKING = "Blocking"
INFORMING = "Informing"
ACCEPTED = "Accepted"
REJECTED = "Rejected"
UNKNOWN_PHASE = "Unknown"
FAILED = "Failed"
ARCHITECTURES = ("amd64", "arm64", "ppc64le", "s390x", "multi")
_ARCH_ALIASES = {"aarch64": "arm64", "x86_64": "amd64"}
_KINDS = (("blockingJobs", BLOCKING), ("informingJobs", INFORMING))

# `<X.Y>.<Z>-0.<stream>[-<arch>]-<YYYY-MM-DD-HHMMSS>`; stable tags (`4.12.1`, `4.12.0-rc.3`)
# have no `-0.<stream>` part.
_TAG = re.compile(
    r"^(?P<release>\d+\.\d+)\.\d+"
    r"(?:-0\.(?P<stream>[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*?)"
    r"(?:-(?P<arch>amd64|arm64|aarch64|ppc64le|s390x|multi))?"
    r"(?:-(?P<time>\d{4}-\d{2}-\d{2}-\d{6}))?$)?"
)
_RC_HOST = re.compile(r"^(?P<arch>[a-z0-9_]+)\.(?:ocp|origin)\.releases\.ci\.openshift\.org$")
_RELEASE_PATH = re.compile(
    r"^(?P<prefix>.*?)/(?:api/v1/)?releasestream/(?P<stream>[^/]+)/release/(?P<tag>[^/]+)/?$"
)
_ANY_RELEASE_PATH = re.compile(r"/release/[^/]+/?$")


@dataclass(slots=True)
class PayloadJob:
    """One verification job of a payload: a row of Sippy's `release_job_runs`."""

    name: str  # the release controller's short key, e.g. "aws-ovn-serial-1of2"
    kind: str  # Blocking | Informing
    state: str  # Succeeded | Failed | Pending ...
    url: str
    prow_job_run_id: int
    prow_job_name: str
    gcs_bucket: str = ""
    gcs_path: str = ""  # e.g. logs/<job>/<id>; "" when the URL is not a GCS-backed Prow URL
    retries: int = 0
    transition_time: datetime | None = None
    upgrade: bool = False
    upgrades_from: str | None = None
    upgrades_to: str | None = None


@dataclass(slots=True)
class Payload:
    """One release payload tag and its verification jobs, blocking first."""

    release_tag: str
    release: str  # X.Y
    stream: str  # nightly, ci, okd-scos, ... or "stable" for X.Y.Z tags
    architecture: str
    phase: str
    forced: bool
    release_time: datetime | None
    source: str
    jobs: list[PayloadJob] = field(default_factory=list)
    previous_release_tag: str | None = None
    warnings: list[str] = field(default_factory=list)  # jobs skipped, with why

    def failed_jobs(self) -> list[PayloadJob]:
        return [j for j in self.jobs if j.state == FAILED]


# ---------------------------------------------------------------------------------------------
# Sources


def is_payload_source(source: str) -> bool:
    """True for a release-controller URL or a local `.json` file that is not a run's metadata.

    A `.json` file is then read as a release (or a tags list): one that turns out to be
    neither is reported as such, instead of being listed as a folder with no runs.
    """
    if source.startswith(("http://", "https://")):
        try:
            url_path = urlsplit(source).path
        except ValueError:  # malformed; the run loader reports it
            return False
        return prow_url_to_gcs(source) is None and bool(_ANY_RELEASE_PATH.search(url_path))
    if not source.lower().endswith(".json"):
        return False
    path = Path(source).expanduser()
    return path.is_file() and path.name not in RUN_MARKERS


def api_urls(url: str) -> tuple[str, str | None]:
    """(release JSON URL, tags-list URL or None) for a release URL, API or web page form.

    The web page (`/releasestream/<stream>/release/<tag>`, what snapshots record as
    `_release_url`) serves HTML; its JSON lives under `/api/v1/`.
    """
    parts = urlsplit(url)
    match = _RELEASE_PATH.match(parts.path)
    if match is None:
        return url, None
    base = (
        f"{parts.scheme}://{parts.netloc}{match['prefix']}/api/v1/releasestream/{match['stream']}"
    )
    return f"{base}/release/{match['tag']}", f"{base}/tags"


def read_release_json(source: str, *, max_bytes: int) -> Any:
    """The decoded JSON of a local file or a URL; ArtifactError naming the source otherwise."""
    if source.startswith(("http://", "https://")):
        data = _fetch(api_urls(source)[0], source, max_bytes)
    else:
        path = Path(source).expanduser()
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise ArtifactError(f"{source}: {size} bytes, over the {max_bytes}-byte limit")
            data = path.read_bytes()
        except OSError as exc:
            raise ArtifactError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise ArtifactError(f"{source}: not UTF-8 text, not release JSON") from exc
    except json.JSONDecodeError as exc:
        raise ArtifactError(
            f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc


def _fetch(url: str, source: str, max_bytes: int) -> bytes:
    try:
        with httpx.Client(timeout=FETCH_TIMEOUT, follow_redirects=True) as client:
            response = client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ArtifactError(f"{source}: cannot fetch: {exc}") from exc
    if response.status_code != 200:
        raise ArtifactError(f"{source}: HTTP {response.status_code} from {url}")
    if len(response.content) > max_bytes:
        raise ArtifactError(f"{source}: over the {max_bytes}-byte limit")
    return response.content


def fetch_tag_phases(url: str) -> dict[str, str]:
    """Phases of a stream's tags, from the tags list beside a release URL; {} on any failure.

    The release JSON may lack `phase` (Sippy takes it from the tags list); a failure here
    only costs the phase, so it is not an error.
    """
    tags_url = api_urls(url)[1]
    if tags_url is None:
        return {}
    try:
        with httpx.Client(timeout=FETCH_TIMEOUT, follow_redirects=True) as client:
            response = client.get(tags_url, headers={"Accept": "application/json"})
        return tag_phases(response.json()) if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return {}


# ---------------------------------------------------------------------------------------------
# Documents


def is_release_doc(doc: Any) -> bool:
    """A release JSON: an object with `results`, or with `name` and `phase`."""
    return isinstance(doc, dict) and ("results" in doc or ("name" in doc and "phase" in doc))


def is_tags_doc(doc: Any) -> bool:
    """A stream's tags list: `{name, tags: [{name, phase, ...}]}`."""
    return isinstance(doc, dict) and isinstance(doc.get("tags"), list) and "results" not in doc


def tag_phases(doc: Any) -> dict[str, str]:
    """Tag name -> phase from a tags list; entries of the wrong shape are ignored."""
    if not is_tags_doc(doc):
        return {}
    return {
        t["name"]: t["phase"]
        for t in doc["tags"]
        if isinstance(t, dict)
        and isinstance(t.get("name"), str)
        and isinstance(t.get("phase"), str)
    }


def parse_payload(doc: Any, *, source: str, phases: Mapping[str, str] | None = None) -> Payload:
    """A Payload from a decoded release JSON; ArtifactError when the shape is wrong.

    Jobs without a usable run URL are skipped with a warning, as Sippy does. Async jobs
    (`asyncJobs`) are not verification jobs and are left out, as Sippy does.
    """
    if not isinstance(doc, dict):
        raise ArtifactError(f"{source}: not a release JSON object (got {type(doc).__name__})")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ArtifactError(f'{source}: release JSON without a "name" (the payload tag)')
    name = name.strip()
    tag = _TAG.match(name)
    if tag is None:
        raise ArtifactError(f"{source}: name {name!r} is not a release tag (expected X.Y.Z...)")
    results = doc.get("results", {})
    if results is None:
        results = {}
    if not isinstance(results, dict):
        raise ArtifactError(f'{source}: "results" is {type(results).__name__}, not an object')
    phase = doc.get("phase")
    if not isinstance(phase, str) or not phase:
        phase = (phases or {}).get(name, UNKNOWN_PHASE)
    payload = Payload(
        release_tag=name,
        release=tag["release"],
        stream=tag["stream"] or "stable",
        architecture=_architecture(tag["arch"], doc.get("_release_url"), source),
        phase=phase,
        forced=False,
        release_time=_tag_time(tag["time"]),
        source=source,
        previous_release_tag=_previous_tag(doc.get("changeLogJson")),
    )
    seen: set[int] = set()
    for key, kind in _KINDS:
        jobs = results.get(key) or {}
        if not isinstance(jobs, dict):
            raise ArtifactError(f"{source}: results.{key} is {type(jobs).__name__}, not an object")
        for short, entry in sorted(jobs.items()):
            job = _job(source, key, short, entry, kind, payload.warnings)
            if job is None:
                continue
            if job.prow_job_run_id in seen:  # one row per run, the blocking one first
                payload.warnings.append(f"{key}.{short}: run {job.prow_job_run_id} listed twice")
                continue
            seen.add(job.prow_job_run_id)
            payload.jobs.append(job)
    _mark_upgrades(source, doc, payload)
    payload.forced = forced_by_rule(payload.phase, has_failed_blocking(payload.jobs))
    return payload


def forced_by_rule(phase: str, failed_blocking: bool) -> bool:
    """Sippy's rule: Accepted despite a failed blocking job, or Rejected without one."""
    if phase == ACCEPTED:
        return failed_blocking
    if phase == REJECTED:
        return not failed_blocking
    return False


def has_failed_blocking(jobs: Iterable[PayloadJob]) -> bool:
    return any(j.kind == BLOCKING and j.state == FAILED for j in jobs)


def prow_run_of(url: str) -> tuple[int, str, str, str] | None:
    """(build id, Prow job name, bucket, GCS path) of a Prow run URL; None without a build id.

    The build id is the last path segment and the job name the one before it, for both
    `logs/<job>/<id>` and `pr-logs/pull/<org>_<repo>/<pr>/<job>/<id>`.
    """
    mapped = prow_url_to_gcs(url)
    if mapped is not None:
        bucket, path = mapped
        segments = path.split("/")
    else:
        bucket, path = "", ""
        try:
            segments = [s for s in urlsplit(url).path.split("/") if s]
        except ValueError:
            return None
    if len(segments) < 2 or not segments[-1].isdigit() or len(segments[-1]) > 19:
        return None
    build_id = int(segments[-1])
    if not 0 < build_id <= MAX_BIGINT:
        return None
    return build_id, segments[-2], bucket, path


def _job(
    source: str, key: str, short: str, entry: Any, kind: str, warnings: list[str]
) -> PayloadJob | None:
    if not isinstance(entry, dict):
        raise ArtifactError(f"{source}: results.{key}.{short} is not an object")
    url = entry.get("url")
    run = prow_run_of(url) if isinstance(url, str) and url else None
    if run is None:
        warnings.append(f"{key}.{short}: no Prow run URL with a build id ({url!r}), skipped")
        return None
    build_id, prow_job, bucket, path = run
    state = entry.get("state")
    retries = entry.get("retries")
    return PayloadJob(
        name=short,
        kind=kind,
        state=state if isinstance(state, str) and state else "Unknown",
        url=str(url),
        prow_job_run_id=build_id,
        prow_job_name=prow_job,
        gcs_bucket=bucket,
        gcs_path=path,
        retries=retries if isinstance(retries, int) and not isinstance(retries, bool) else 0,
        transition_time=_rfc3339(entry.get("transitionTime")),
    )


def _mark_upgrades(source: str, doc: dict[str, Any], payload: Payload) -> None:
    """Flag the runs that appear in an upgrade History, as Sippy (no rows are added)."""
    by_id = {j.prow_job_run_id: j for j in payload.jobs}
    for key in ("upgradesTo", "upgradesFrom"):
        upgrades = doc.get(key) or []
        if not isinstance(upgrades, list):
            raise ArtifactError(f"{source}: {key} is {type(upgrades).__name__}, not a list")
        for upgrade in upgrades:
            if not isinstance(upgrade, dict) or not isinstance(upgrade.get("History") or {}, dict):
                raise ArtifactError(f"{source}: an entry of {key} has the wrong shape")
            for run in (upgrade.get("History") or {}).values():
                url = run.get("url") if isinstance(run, dict) else None
                found = prow_run_of(url) if isinstance(url, str) else None
                job = by_id.get(found[0]) if found else None
                if job is not None:
                    job.upgrade = True
                    job.upgrades_from = _str_or_none(upgrade.get("From"))
                    job.upgrades_to = _str_or_none(upgrade.get("To"))


def _architecture(from_tag: str | None, release_url: Any, source: str) -> str:
    """From the tag (`-arm64`), else the release controller's host name, else amd64."""
    if from_tag:
        return _ARCH_ALIASES.get(from_tag, from_tag)
    for url in (release_url, source):
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            host = _RC_HOST.match(urlsplit(url).hostname or "")
            arch = _ARCH_ALIASES.get(host["arch"], host["arch"]) if host else None
            if arch in ARCHITECTURES:
                return arch
    return "amd64"


def _tag_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d-%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _rfc3339(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.year < 1900:  # Go's zero time, "0001-01-01T00:00:00Z"
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _previous_tag(changelog: Any) -> str | None:
    previous = changelog.get("from") if isinstance(changelog, dict) else None
    return _str_or_none(previous.get("name")) if isinstance(previous, dict) else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
