"""Run identity and outcome from prowjob.json, started.json, finished.json and the folder path.

prowjob.json (written by crier) is the richest source and is preferred. Older or partial
uploads lack it, so the parser falls back to started.json/finished.json and to what the GCS
layout (`logs/<job>/<id>`, `pr-logs/pull/<org>_<repo>/<pr>/<job>/<id>`) says. Every input
may be missing, truncated or of the wrong shape; the only exception raised is ArtifactError,
and only when no build id can be found at all, because a run without one has no identity.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from sippy.ingest.jsonpath import dig
from sippy.ingest.records import ArtifactError, PullRequest, RunMeta

PROW_VIEW = "https://prow.ci.openshift.org/view/gs"
KNOWN_BUCKETS = frozenset({"test-platform-results", "origin-ci-test"})
PROW_STATES = frozenset({"triggered", "pending", "success", "failure", "aborted", "error"})
FINISHED_RESULTS = {
    "success": "success",
    "failure": "failure",
    "aborted": "aborted",
    "error": "error",
    "unstable": "failure",  # Jenkins-era result
}
FROM_FILES = "started.json/finished.json"

_DIGITS = re.compile(r"^\d{1,19}$")
MAX_BIGINT = 2**63 - 1
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,221}$")
_GCS_IN_URL = re.compile(r"/(?:gs|gcs)/([^/]+)/(.+)$")


@dataclass(slots=True)
class _PathInfo:
    """What the run folder's own path says about the run."""

    job: str = ""
    build_id: int | None = None
    job_type: str = ""
    org: str = ""
    repo: str = ""
    pull: int | None = None
    gcs_path: str = ""
    bucket: str = ""


@dataclass(slots=True)
class _Refs:
    org: str = ""
    repo: str = ""
    base_ref: str = ""
    pulls: list[PullRequest] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# URLs


def prow_url_to_gcs(url: str) -> tuple[str, str] | None:
    """(bucket, path) for a Prow job URL, a gcsweb URL or `gs://bucket/path`; else None.

    Accepts `https://prow.ci.openshift.org/view/gs/<bucket>/<path>` (also `/view/gcs/`),
    `https://gcsweb-ci.apps.ci.l2s4.p1.openshiftapps.com/gcs/<bucket>/<path>` and
    `https://storage.googleapis.com/<bucket>/<path>`. A URL naming a whole bucket gives None,
    so a caller can never be led into listing an entire bucket.
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    try:
        if url.startswith("gs://"):
            bucket, _, path = url[5:].partition("/")
            return _gcs_pair(bucket, path)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return None
        path = unquote(parts.path)
        if parts.hostname == "storage.googleapis.com":
            bucket, _, rest = path.lstrip("/").partition("/")
            return _gcs_pair(bucket, rest)
        match = _GCS_IN_URL.search(path)
        return _gcs_pair(match.group(1), match.group(2)) if match else None
    except ValueError:  # malformed netloc, bad port
        return None


def _gcs_pair(bucket: str, path: str) -> tuple[str, str] | None:
    segments = [s for s in path.split("/") if s]
    if not _BUCKET.match(bucket) or not segments or any(s in (".", "..") for s in segments):
        return None
    return bucket, "/".join(segments)


# ---------------------------------------------------------------------------------------------
# Entry point


def parse_run_meta(
    run_path: str, *, prowjob: bytes | None, started: bytes | None, finished: bytes | None
) -> tuple[RunMeta, list[str]]:
    """The run's metadata plus warnings about anything missing, broken or inconsistent.

    `run_path` is the run folder (posix, relative to the source root, possibly with a leading
    bucket segment or an absolute local prefix). Raises ArtifactError only when no build id
    exists anywhere: not in prowjob.json and not as a numeric folder name.
    """
    warnings: list[str] = []
    path = _parse_path(run_path if isinstance(run_path, str) else "")
    pj = _prowjob_object(prowjob, warnings)
    start_doc = _json_object(started, "started.json", warnings)
    finish_doc = _json_object(finished, "finished.json", warnings)
    if pj is not None:
        meta = _meta_from_prowjob(run_path, pj, path, start_doc, finish_doc, warnings)
    else:
        meta = _meta_from_files(run_path, path, start_doc, finish_doc, warnings)
    return meta, warnings


# ---------------------------------------------------------------------------------------------
# JSON loading


def _loads(data: bytes, name: str) -> tuple[Any, str | None]:
    """Parsed JSON or an error text; never raises (bad UTF-8, deep nesting, huge numbers)."""
    if isinstance(data, str):
        text = data
    elif isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return None, f"{name} is not UTF-8 (bad byte at offset {exc.start})"
    else:
        return None, f"{name} was given as {type(data).__name__}, not bytes"
    if not text.strip():
        return None, f"{name} is empty"
    try:
        return json.loads(text), None
    except (ValueError, RecursionError) as exc:
        return None, f"{name} is not valid JSON ({_short(exc)})"


def _json_object(data: bytes | None, name: str, warnings: list[str]) -> dict[str, Any] | None:
    if data is None:
        return None
    value, error = _loads(data, name)
    if error is None and not isinstance(value, dict):
        error = f"{name} is a JSON {type(value).__name__}, not an object"
    if error is not None:
        warnings.append(f"{error}; ignored")
        return None
    return value


def _prowjob_object(data: bytes | None, warnings: list[str]) -> dict[str, Any] | None:
    fallback = "metadata taken from started.json/finished.json and the folder path"
    if data is None:
        warnings.append(f"prowjob.json missing; {fallback}")
        return None
    value, error = _loads(data, "prowjob.json")
    if error is None and not isinstance(value, dict):
        error = f"prowjob.json is a JSON {type(value).__name__}, not an object"
    if error is None and not any(isinstance(value.get(k), dict) for k in ("spec", "status")):
        error = "prowjob.json has neither spec nor status"
    if error is None and value.get("kind") not in (None, "ProwJob"):
        error = f"prowjob.json is a {_text(value.get('kind'))!r}, not a ProwJob"
    if error is not None:
        warnings.append(f"{error}; {fallback}")
        return None
    return value


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


# ---------------------------------------------------------------------------------------------
# Small typed accessors: every field may be missing, null or of the wrong type.


def _text(value: Any) -> str:
    """A string field; numbers are accepted (IDs are sometimes written unquoted)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _number(value: Any) -> int | None:
    """A non-negative decimal that fits the database's BIGINT columns."""
    text = _text(value)
    return int(text) if _DIGITS.match(text) and int(text) <= MAX_BIGINT else None


def _rfc3339(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if stamp.year <= 1:  # Go's zero time
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC)


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float) or not value > 0:
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# The folder path


def _parse_path(run_path: str) -> _PathInfo:
    """Job, build id, type, PR and GCS path from the folder's own path."""
    posix = run_path.replace("\\", "/")
    segments = [s for s in posix.split("/") if s not in ("", ".")]
    info = _PathInfo()
    for index in range(len(segments) - 1, -1, -1):
        if segments[index] in ("logs", "pr-logs") and _layout(segments[index:], info):
            info.gcs_path = "/".join(segments[index:])
            before = segments[index - 1] if index else ""
            relative_bucket = index == 1 and not posix.startswith("/")
            if before and (relative_bucket or before in KNOWN_BUCKETS):
                info.bucket = before
            return info
    if segments:
        info.build_id = _number(segments[-1])
        if info.build_id is not None and len(segments) >= 2:
            info.job = segments[-2]
    info.job_type = _type_from_name(info.job)
    return info


def _layout(tail: list[str], info: _PathInfo) -> bool:
    """Fill `info` when `tail` is `logs/<job>/<id>` or `pr-logs/pull/...`; else False."""
    if tail[0] == "logs" and len(tail) == 3:
        info.job, info.build_id = tail[1], _number(tail[2])
        info.job_type = _type_from_name(info.job)
        return info.build_id is not None
    if tail[0] != "pr-logs" or len(tail) not in (5, 6) or tail[1] != "pull":
        return False
    if len(tail) == 6:  # pr-logs/pull/<org>_<repo>/<pr>/<job>/<id>
        org, sep, repo = tail[2].partition("_")
        if not sep:
            return False
        info.org, info.repo = org, repo
    # The 5-segment form pr-logs/pull/<pr>/<job>/<id> is the default org/repo of the bucket.
    pr, info.job, info.build_id = tail[-3], tail[-2], _number(tail[-1])
    info.pull = _number(pr)
    info.job_type = "batch" if pr == "batch" else "presubmit"
    return info.build_id is not None and (info.pull is not None or pr == "batch")


def _type_from_name(job: str) -> str:
    if job.startswith(("pull-ci-", "rehearse-")):
        return "presubmit"
    if job.startswith("branch-ci-"):
        return "postsubmit"
    return "periodic" if job else ""


# ---------------------------------------------------------------------------------------------
# Building RunMeta


def _meta_from_prowjob(
    run_path: str,
    pj: dict[str, Any],
    path: _PathInfo,
    start_doc: dict[str, Any] | None,
    finish_doc: dict[str, Any] | None,
    warnings: list[str],
) -> RunMeta:
    spec, status = dig(pj, "spec"), dig(pj, "status")
    labels = _str_map(dig(pj, "metadata", "labels"))
    annotations = _str_map(dig(pj, "metadata", "annotations"))
    url = _text(dig(status, "url"))
    mapped = prow_url_to_gcs(url)
    build_id = _build_id_from_prowjob(run_path, status, labels, path, warnings)
    job_type = (
        _text(dig(spec, "type")).lower()
        or labels.get("prow.k8s.io/type", "").lower()
        or path.job_type
        or "periodic"
    )
    bucket = _text(dig(spec, "decoration_config", "gcs_configuration", "bucket"))
    bucket = bucket.removeprefix("gs://").strip("/") or (mapped[0] if mapped else path.bucket)
    gcs_path = mapped[1] if mapped else path.gcs_path
    refs = _refs_from_prowjob(spec, labels, warnings)
    if not refs.org and not refs.pulls:
        refs = _refs_from_files(path, start_doc, finish_doc)
    meta = RunMeta(
        build_id=build_id,
        job_name=_job_name_from_prowjob(spec, labels, annotations, path, warnings),
        job_type=job_type,
        state=_state_from_prowjob(status, finish_doc, warnings),
        cluster=_text(dig(spec, "cluster")),
        url=url or _view_url(bucket, gcs_path),
        bucket=bucket,
        gcs_path=gcs_path,
        start=_rfc3339(dig(status, "startTime")) or _epoch(dig(start_doc, "timestamp")),
        completion=_rfc3339(dig(status, "completionTime")),
        org=refs.org,
        repo=refs.repo,
        base_ref=refs.base_ref,
        pulls=refs.pulls,
        labels=labels,
        annotations=annotations,
        metadata_source="prowjob.json",
    )
    if meta.completion is None and meta.state not in ("", "pending", "triggered"):
        meta.completion = _epoch(dig(finish_doc, "timestamp"))
    return meta


def _build_id_from_prowjob(
    run_path: str,
    status: Any,
    labels: dict[str, str],
    path: _PathInfo,
    warnings: list[str],
) -> int:
    build_id = _number(dig(status, "build_id")) or _number(labels.get("prow.k8s.io/build-id"))
    if build_id is None:
        return _require_path_build_id(run_path, path, "prowjob.json has no build id")
    if path.build_id is not None and path.build_id != build_id:
        warnings.append(
            f"prowjob.json build id {build_id} differs from the folder name {path.build_id}; "
            "using prowjob.json"
        )
    return build_id


def _require_path_build_id(run_path: str, path: _PathInfo, why: str) -> int:
    if path.build_id is None:
        raise ArtifactError(
            f"{run_path or '(no path)'}: cannot identify the run: {why} and the folder name "
            "is not a numeric build id"
        )
    return path.build_id


def _job_name_from_prowjob(
    spec: Any,
    labels: dict[str, str],
    annotations: dict[str, str],
    path: _PathInfo,
    warnings: list[str],
) -> str:
    name = _text(dig(spec, "job")) or annotations.get("prow.k8s.io/job", "").strip()
    if name:
        return name
    label = labels.get("prow.k8s.io/job", "").strip()
    # Label values are cut to 63 characters: the folder name is the full name when it matches.
    if path.job and (not label or path.job.startswith(label)):
        return path.job
    if label:
        return label
    warnings.append("prowjob.json names no job and the folder path has none; job is 'unknown'")
    return "unknown"


def _state_from_prowjob(status: Any, finish_doc: dict[str, Any] | None, warnings: list[str]) -> str:
    state = _text(dig(status, "state")).lower()
    if state and state not in PROW_STATES:
        warnings.append(f"prowjob.json has unknown state {state!r}")
        state = ""
    finished_state = _finished_state(finish_doc)
    if state in ("", "pending", "triggered") and finished_state:
        if state:
            warnings.append(
                f"prowjob.json says {state!r} but finished.json says {finished_state!r}; "
                "using finished.json"
            )
        return finished_state
    return state


def _view_url(bucket: str, gcs_path: str) -> str:
    return f"{PROW_VIEW}/{bucket}/{gcs_path}" if bucket and gcs_path else ""


def _refs_from_prowjob(spec: Any, labels: dict[str, str], warnings: list[str]) -> _Refs:
    refs = dig(spec, "refs")
    if not isinstance(refs, dict):
        extra = dig(spec, "extra_refs")
        refs = extra[0] if isinstance(extra, list) and extra and isinstance(extra[0], dict) else {}
    result = _Refs(_text(refs.get("org")), _text(refs.get("repo")), _text(refs.get("base_ref")))
    pulls = refs.get("pulls")
    for raw in pulls if isinstance(pulls, list) else []:
        pull = _pull_from_prowjob(raw, result.org, result.repo)
        if pull is None:
            warnings.append("prowjob.json has a pull request without a valid number; skipped")
        else:
            result.pulls.append(pull)
    if not result.org:
        result.org = labels.get("prow.k8s.io/refs.org", "")
        result.repo = labels.get("prow.k8s.io/refs.repo", "")
        result.base_ref = labels.get("prow.k8s.io/refs.base_ref", "")
        number = _number(labels.get("prow.k8s.io/refs.pull"))
        if number is not None and not result.pulls:
            result.pulls.append(_pull(result.org, result.repo, number))
    return result


def _pull_from_prowjob(raw: Any, org: str, repo: str) -> PullRequest | None:
    if not isinstance(raw, dict):
        return None
    number = _number(raw.get("number"))
    if number is None:
        return None
    pull = _pull(org, repo, number)
    pull.author = _text(raw.get("author"))
    pull.sha = _text(raw.get("sha"))
    pull.title = _text(raw.get("title"))
    pull.link = _text(raw.get("link")) or pull.link
    return pull


def _pull(org: str, repo: str, number: int, sha: str = "") -> PullRequest:
    link = f"https://github.com/{org}/{repo}/pull/{number}" if org and repo else ""
    return PullRequest(org=org, repo=repo, number=number, sha=sha, link=link)


# ---------------------------------------------------------------------------------------------
# Fallback: started.json / finished.json / path


def _meta_from_files(
    run_path: str,
    path: _PathInfo,
    start_doc: dict[str, Any] | None,
    finish_doc: dict[str, Any] | None,
    warnings: list[str],
) -> RunMeta:
    build_id = _require_path_build_id(run_path, path, "there is no usable prowjob.json")
    job = path.job
    if not job:
        warnings.append("the folder path names no job; job is 'unknown'")
        job = "unknown"
    if finish_doc is not None:
        state = _finished_state(finish_doc)
        if not state:
            warnings.append("finished.json has neither a known result nor passed; state unknown")
    elif start_doc is not None:
        state = "pending"  # started but not finished: still running (or the pod vanished)
    else:
        state = ""
        warnings.append("no prowjob.json, started.json or finished.json; state unknown")
    refs = _refs_from_files(path, start_doc, finish_doc)
    return RunMeta(
        build_id=build_id,
        job_name=job,
        job_type=path.job_type or _type_from_name(job) or "periodic",
        state=state,
        url=_view_url(path.bucket, path.gcs_path),
        bucket=path.bucket,
        gcs_path=path.gcs_path,
        start=_epoch(dig(start_doc, "timestamp")),
        completion=_epoch(dig(finish_doc, "timestamp")),
        org=refs.org,
        repo=refs.repo,
        base_ref=refs.base_ref,
        pulls=refs.pulls,
        metadata_source=FROM_FILES if start_doc or finish_doc else "path",
    )


def _finished_state(finish_doc: dict[str, Any] | None) -> str:
    """Prow state from finished.json: `result` (sidecar upper case, crier lower), else `passed`."""
    if finish_doc is None:
        return ""
    result = _text(finish_doc.get("result")).lower()
    if result in FINISHED_RESULTS:
        return FINISHED_RESULTS[result]
    passed = finish_doc.get("passed")
    if isinstance(passed, bool):
        return "success" if passed else "failure"
    return ""


def _refs_from_files(
    path: _PathInfo, start_doc: dict[str, Any] | None, finish_doc: dict[str, Any] | None
) -> _Refs:
    """Refs from started.json `pull`/`repos` (or finished.json metadata) and the pr-logs path."""
    pull_number = _number(dig(start_doc, "pull")) or path.pull
    repos = dig(start_doc, "repos")
    if not isinstance(repos, dict):
        repos = dig(finish_doc, "metadata", "repos")
    key, value = _main_repo(repos if isinstance(repos, dict) else {}, pull_number)
    org, _, repo = key.partition("/")
    refs = _Refs(path.org or org, path.repo or repo)
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if parts:  # Refs.String(): "<base_ref>[:<sha>][,<pr>:<sha>...]"
        refs.base_ref = parts.pop(0).split(":")[0]
    for part in parts:
        number, _, sha = part.partition(":")
        if _DIGITS.match(number):
            refs.pulls.append(_pull(refs.org, refs.repo, int(number), sha))
    if pull_number is not None and all(p.number != pull_number for p in refs.pulls):
        refs.pulls.insert(0, _pull(refs.org, refs.repo, pull_number))
    return refs


def _main_repo(repos: dict[str, Any], pull_number: int | None) -> tuple[str, str]:
    """The repo entry under test: the one carrying the PR, else the first real `org/repo`."""
    entries = [
        (k, v) for k, v in repos.items() if isinstance(k, str) and isinstance(v, str) and "/" in k
    ]
    entries = [(k, v) for k, v in entries if all(k.split("/", 1))]  # drops the bogus "/" key
    if pull_number is not None:
        for key, value in entries:
            if re.search(rf"(?:^|,)\s*{pull_number}:", value):
                return key, value
    return entries[0] if entries else ("", "")
