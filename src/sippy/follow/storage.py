"""What `sippy follow` asks of storage, with each request counted.

A poll must cost what is new, not what is stored: a job folder with years of runs is asked
only for the build folders after the last one seen (GCS `startOffset`), and a local folder
whose modification time has not changed is not listed at all (a new build folder changes
its parent's mtime). Whether a run has finished is one look at its `finished.json`.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sippy.ingest.sources import Source, SourceError, open_source

BUILD_ID = re.compile(r"^\d{1,19}$")
PAGE = 1000  # GCS listing page size


@dataclass(slots=True)
class Listing:
    """A folder's subfolder names (only build ids after `after`, when asked so)."""

    names: list[str] = field(default_factory=list)
    mtime_ns: int | None = None  # local folders: their mtime, to skip an unchanged one next time
    unchanged: bool = False  # not listed: the mtime is the one given


class WatchedStorage(Protocol):
    ops: Counter[str]  # "list" (requests for a listing or a page of one) and "stat"

    def subfolders(self, folder: str, *, after: int = 0, since: int | None = None) -> Listing:
        """Subfolder names of `folder`; with `after`, only build ids above it; with `since`
        (a local mtime_ns), `unchanged` and nothing listed when the folder has not changed."""
        ...

    def finished_at(self, run_folder: str) -> datetime | None:
        """When the run's finished.json appeared, or None while it has not."""
        ...

    def location(self, path: str) -> str:
        """The path as `sippy load` takes it (a local path or a gs:// URL)."""
        ...

    def join(self, folder: str, name: str) -> str: ...


def open_watched(
    source: str, gcs_endpoint: str | None, gcs_timeout: float
) -> tuple[WatchedStorage, str]:
    """The storage holding `source` and the source's root path in it; SourceError if absent."""
    src = open_source(source, gcs_endpoint=gcs_endpoint, gcs_timeout=gcs_timeout)
    storage: WatchedStorage = GcsStorage(src) if src.remote else LocalStorage()
    root = src.root
    if not src.remote and not Path(root).is_dir():
        raise SourceError(f"{source}: not a folder (follow watches folders of runs)")
    return storage, root


class LocalStorage:
    """A local folder in GCS layout: os.scandir and os.stat, nothing in between."""

    def __init__(self) -> None:
        self.ops: Counter[str] = Counter()

    def subfolders(self, folder: str, *, after: int = 0, since: int | None = None) -> Listing:
        self.ops["stat"] += 1
        try:
            mtime = os.stat(folder).st_mtime_ns
        except OSError as exc:
            raise SourceError(f"{folder}: cannot read: {exc.strerror or exc}") from exc
        if since is not None and mtime == since:
            return Listing(mtime_ns=mtime, unchanged=True)
        self.ops["list"] += 1
        names = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                if after and not (BUILD_ID.match(entry.name) and int(entry.name) > after):
                    continue
                names.append(entry.name)
        return Listing(sorted(names), mtime_ns=mtime)

    def finished_at(self, run_folder: str) -> datetime | None:
        self.ops["stat"] += 1
        try:
            stat = os.stat(os.path.join(run_folder, "finished.json"))
        except OSError:
            return None
        return datetime.fromtimestamp(stat.st_mtime, UTC)

    def location(self, path: str) -> str:
        return path

    def join(self, folder: str, name: str) -> str:
        return os.path.join(folder, name)


class GcsStorage:
    """A bucket through the GCS JSON API (gcsfs), listing from a start offset."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.ops: Counter[str] = Counter()

    def subfolders(self, folder: str, *, after: int = 0, since: int | None = None) -> Listing:
        bucket, _, prefix = folder.partition("/")
        prefix = f"{prefix}/" if prefix else ""
        # Build folders are equal-length numbers, so name order is number order: start at
        # the cursor itself (the first page then holds only what is new, and the cursor).
        start = f"{prefix}{after}" if after else None
        names: list[str] = []
        token = None
        while True:
            self.ops["list"] += 1
            page = self._list(bucket, prefix, start, token)
            for sub in page.get("prefixes", []):
                name = sub[len(prefix) :].rstrip("/")
                if after and not (BUILD_ID.match(name) and int(name) > after):
                    continue
                names.append(name)
            token = page.get("nextPageToken")
            if not token:
                return Listing(sorted(names))

    def _list(
        self, bucket: str, prefix: str, start: str | None, token: str | None
    ) -> dict[str, Any]:
        params: dict[str, object] = {"prefix": prefix, "delimiter": "/", "maxResults": PAGE}
        if start:
            params["startOffset"] = start
        if token:
            params["pageToken"] = token
        try:
            return self.src.fs._call("call", "GET", "b/{}/o", bucket, json_out=True, **params)
        except SourceError:
            raise
        except Exception as exc:  # network, permissions, timeouts
            raise SourceError(f"gs://{bucket}/{prefix}: cannot list: {exc}") from exc

    def finished_at(self, run_folder: str) -> datetime | None:
        self.ops["stat"] += 1
        try:
            info = self.src.fs._call("info", f"{run_folder}/finished.json")
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise SourceError(f"gs://{run_folder}: cannot read finished.json: {exc}") from exc
        when = info.get("timeCreated") or info.get("updated")
        if isinstance(when, str):
            return datetime.fromisoformat(when.replace("Z", "+00:00"))
        return when if isinstance(when, datetime) else datetime.now(UTC)

    def location(self, path: str) -> str:
        return f"gs://{path}"

    def join(self, folder: str, name: str) -> str:
        return f"{folder}/{name}"
