"""Where runs come from: local folders, `gs://` prefixes and Prow URLs, over one fsspec path.

A source is listed once (one recursive listing, no per-folder round trips), and its files
are grouped into run folders. A run folder is a folder holding `prowjob.json`, or a folder
named by a numeric build id holding `started.json`, `finished.json` or `build-log.txt`.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from sippy.ingest.prowjob import prow_url_to_gcs

RUN_MARKERS = ("prowjob.json", "started.json", "finished.json", "build-log.txt")
BUILD_ID = re.compile(r"^\d+$")


class SourceError(Exception):
    """A source that cannot be opened or listed; the message is for the user."""


@dataclass(slots=True)
class Source:
    """An opened source: a filesystem, the root path inside it and how to show it."""

    fs: Any  # an fsspec filesystem (remote ones wrapped in DeadlineFileSystem)
    root: str
    display: str
    remote: bool

    def url_for(self, path: str) -> str:
        """The user-facing location of `path` (a `gs://` URL or a local path)."""
        return f"gs://{path}" if self.remote else path


@dataclass(slots=True)
class RunFolder:
    """One run folder and every file under it (relative path -> size in bytes)."""

    path: str  # full path inside the filesystem (posix)
    files: dict[str, int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # entries not read -> why


def open_source(
    source: str, *, gcs_endpoint: str | None = None, gcs_timeout: float = 30.0
) -> Source:
    """Open a local folder, a `gs://bucket/prefix` or a Prow/gcsweb URL."""
    if source.startswith(("http://", "https://")):
        mapped = prow_url_to_gcs(source)
        if mapped is None:
            raise SourceError(
                f"{source}: not a Prow job URL (expected https://prow.ci.openshift.org/view/gs/"
                "<bucket>/<path>)"
            )
        source = f"gs://{mapped[0]}/{mapped[1]}"
    if source.startswith("gs://"):
        return _open_gcs(source, gcs_endpoint, gcs_timeout)
    path = Path(source).expanduser()
    if not path.exists():
        raise SourceError(f"{source}: no such file or folder")
    return Source(LocalFileSystem(), path.resolve().as_posix(), str(path), remote=False)


def _open_gcs(source: str, gcs_endpoint: str | None, timeout: float) -> Source:
    # The core class, not gcsfs' experimental one that probes every bucket over gRPC.
    import aiohttp
    from gcsfs.core import GCSFileSystem

    endpoint = gcs_endpoint or os.environ.get("STORAGE_EMULATOR_HOST")
    credentials = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    token = credentials if credentials else "anon"
    fs = GCSFileSystem(
        token=token,
        endpoint_url=endpoint,
        skip_instance_cache=True,
        # each request: no answer to connect, or no next bytes, within the timeout
        requests_timeout=aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout),
    )
    root = source.removeprefix("gs://").rstrip("/")
    return Source(DeadlineFileSystem(fs, timeout), root, source, remote=True)


GCS_NO_ANSWER = "no answer from GCS within"


class DeadlineFileSystem:
    """A remote filesystem whose blocking calls give up after `seconds`, retries included.

    gcsfs retries a failing request six times over about 30 s, and a server that accepts
    connections but never answers would hold each attempt for minutes: a user pasting a URL
    must get an answer instead. The calls the loader makes are bounded by fsspec's own
    `timeout` (FSTimeoutError, reported as `GcsTimeout`); streamed reads (`open`) by the
    per-request socket timeouts set on the filesystem.
    """

    def __init__(self, fs: Any, seconds: float) -> None:
        self.fs = fs
        self.seconds = seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fs, name)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        from fsspec.exceptions import FSTimeoutError

        try:
            return getattr(self.fs, name)(*args, timeout=self.seconds, **kwargs)
        except FSTimeoutError:
            raise GcsTimeout(f"{GCS_NO_ANSWER} {self.seconds:g} s (SIPPY_GCS_TIMEOUT)") from None

    def exists(self, path: str) -> bool:
        return self._call("exists", path)

    def isfile(self, path: str) -> bool:
        return self._call("isfile", path)

    def size(self, path: str) -> int | None:
        return self._call("size", path)

    def find(self, path: str, **kwargs: Any) -> Any:
        return self._call("find", path, **kwargs)

    def ls(self, path: str, **kwargs: Any) -> Any:
        return self._call("ls", path, **kwargs)

    def cat_file(self, path: str, **kwargs: Any) -> bytes:
        return self._call("cat_file", path, **kwargs)


class GcsTimeout(OSError):
    """A GCS operation took longer than `gcs_timeout`."""


def list_files(src: Source, latest: int | None = None) -> dict[str, int]:
    """Every file under the source root, with its size: one recursive listing.

    With `latest`, only the files of the `latest` newest runs of each job folder (the
    folder holding numbered build folders; the newest has the largest build id), found by
    listing one level at a time, so a job with years of history costs a few listings.
    """
    try:
        if not src.fs.exists(src.root):
            raise SourceError(f"{src.display}: no such file or folder")
        if src.fs.isfile(src.root):
            return {src.root: int(src.fs.size(src.root) or 0)}
        if latest is not None:
            return _list_latest(src, latest)
        found = src.fs.find(src.root, detail=True)
    except SourceError:
        raise
    except Exception as exc:  # network, permissions, bad bucket names
        raise SourceError(f"{src.display}: cannot list: {exc}") from exc
    return _sizes(found)


# <folder>/<bucket>/pr-logs/pull/<org_repo>/<pr>/<job>/<build>: job folders lie no deeper
MAX_JOB_DEPTH = 8


def _list_latest(src: Source, latest: int) -> dict[str, int]:
    files: dict[str, int] = {}
    folders = [src.root]
    for _ in range(MAX_JOB_DEPTH + 1):
        below: list[str] = []
        for folder in folders:
            entries = {_posix(e["name"]).rstrip("/"): e for e in src.fs.ls(folder, detail=True)}
            if any(PurePosixPath(name).name in RUN_MARKERS for name in entries):
                files.update(_sizes(src.fs.find(folder, detail=True)))  # a run folder itself
                continue
            subfolders = [
                name
                for name, entry in entries.items()
                if entry.get("type") == "directory" and not entry.get("islink")
            ]
            builds = _build_folders(folder, subfolders)
            below.extend(subfolders if not builds else [])
            for build in sorted(builds, key=lambda name: int(PurePosixPath(name).name))[-latest:]:
                files.update(_sizes(src.fs.find(build, detail=True)))
        folders = below
    return files


def _build_folders(folder: str, subfolders: list[str]) -> list[str]:
    """The numbered subfolders of a job folder; none elsewhere (`pull/<org_repo>/<PR number>`)."""
    if PurePosixPath(folder).parent.name == "pull":
        return []
    return [name for name in subfolders if BUILD_ID.match(PurePosixPath(name).name)]


def _sizes(found: dict[str, dict]) -> dict[str, int]:  # type: ignore[type-arg]
    return {_posix(path): int(info.get("size") or 0) for path, info in found.items()}


UNSAFE_NAME = "name has '..', '.' or empty path segments"


def group_runs(src: Source, files: dict[str, int]) -> list[RunFolder]:
    """Group listed files into run folders; a nested run never splits its parent.

    Files that must not be read stay listed in their run's `refused`, with the reason: object
    names with `..`, `.` or empty segments (possible in a bucket), and, in a local folder,
    links that leave it, broken links and anything that is not a regular file (a FIFO would
    block the reader forever).
    """
    roots = sorted(
        {d for d in map(_dirname, files) if _is_run_root(d, files) and _safe_name(src, d)},
        key=len,
    )
    chosen: set[str] = set()
    for root in roots:
        if _owner(root, chosen) is None:
            chosen.add(root)
    runs = {root: RunFolder(root) for root in chosen}
    local = _LocalCheck(src.root) if not src.remote else None
    for path, size in files.items():
        owner = _owner(path, chosen)
        if owner is None:
            continue
        rel = path[len(owner) + 1 :]
        why = f"{UNSAFE_NAME}; not read" if not _safe_name(src, path) else None
        why = why or (local and local.refusal(path))
        if why:
            runs[owner].refused[rel] = why
        else:
            runs[owner].files[rel] = size
    return sorted(runs.values(), key=lambda r: r.path)


def stray_unsafe_names(src: Source, files: dict[str, int], runs: list[RunFolder]) -> list[str]:
    """Listed names with unsafe segments that no run holds (each run reports its own)."""
    chosen = {run.path for run in runs}
    return sorted(p for p in files if not _safe_name(src, p) and _owner(p, chosen) is None)


def _safe_name(src: Source, path: str) -> bool:
    """No `..`, `.` or empty segment below the source root (a bucket allows such names)."""
    if path == src.root:
        return True
    rel = path[len(src.root) + 1 :] if path.startswith(src.root + "/") else path
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def _owner(path: str, roots: set[str]) -> str | None:
    """The outermost run folder that holds `path` (walks up the parents)."""
    found = None
    folder = _dirname(path)
    while folder:
        if folder in roots:
            found = folder
        folder = _dirname(folder)
    return found


class _LocalCheck:
    """Why a listed local file must not be read, or None; each folder is resolved once."""

    def __init__(self, root: str) -> None:
        self.real_root = os.path.realpath(root).rstrip("/") + "/"
        self.folders: dict[str, str] = {}

    def refusal(self, path: str) -> str | None:
        try:
            mode = os.lstat(path).st_mode
        except OSError as exc:  # vanished since the listing
            return f"cannot read: {exc.strerror or exc}"
        if stat.S_ISLNK(mode):
            real = os.path.realpath(path) + "/"  # the root itself is inside
            if not real.startswith(self.real_root):
                return "link leaves the source folder; not read"
            try:
                mode = os.stat(path).st_mode
            except OSError as exc:  # dangling, or a loop (ELOOP)
                return f"broken link ({exc.strerror or exc}); not read"
        else:
            folder, _, name = path.rpartition("/")
            real_folder = self.folders.get(folder)
            if real_folder is None:
                real_folder = self.folders[folder] = os.path.realpath(folder)
            if not f"{real_folder}/{name}".startswith(self.real_root):
                return "link leaves the source folder; not read"
        if not stat.S_ISREG(mode):
            return "not a regular file (a folder, FIFO, socket or device); not read"
        return None


def _is_run_root(folder: str, files: dict[str, int]) -> bool:
    if f"{folder}/prowjob.json" in files:
        return True
    name = PurePosixPath(folder).name
    return bool(BUILD_ID.match(name)) and any(f"{folder}/{m}" in files for m in RUN_MARKERS)


def _dirname(path: str) -> str:
    return path.rpartition("/")[0]


def _posix(path: str) -> str:
    return path.replace("\\", "/")
