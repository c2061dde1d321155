"""Following release-controller streams: new payload tags, and tags whose phase changed.

A stream is named by its tags URL, `https://<arch>.ocp.releases.ci.openshift.org/api/v1/
releasestream/<stream>/tags` (the `/releasestream/<stream>` page form is taken too). Each poll
reads that one list; a tag not stored yet, or stored with another phase (Ready, then Accepted
or Rejected), has its release JSON queued for loading. The list is bounded by what the
release controller keeps, so a poll costs one request plus one per changed tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from sippy.db import models as m
from sippy.ingest.payload import FETCH_TIMEOUT, tag_phases
from sippy.ingest.sources import SourceError

_STREAM_PATH = re.compile(
    r"^(?P<prefix>.*?)/(?:api/v1/)?releasestream/(?P<stream>[^/]+)(?:/tags)?/?$"
)


@dataclass(frozen=True, slots=True)
class Stream:
    tags_url: str
    release_base: str  # + "/<tag>" is a tag's release JSON

    def release_url(self, tag: str) -> str:
        return f"{self.release_base}/{tag}"


def stream_of(source: str) -> Stream | None:
    """The stream a source names, or None when it names no release stream."""
    if not source.startswith(("http://", "https://")):
        return None
    try:
        parts = urlsplit(source)
    except ValueError:
        return None
    match = _STREAM_PATH.match(parts.path)
    if match is None:
        return None
    base = f"{match['prefix']}/api/v1/releasestream/{match['stream']}"
    url = lambda path: urlunsplit((parts.scheme, parts.netloc, path, "", ""))  # noqa: E731
    return Stream(url(f"{base}/tags"), url(f"{base}/release"))


def stream_tags(stream: Stream) -> dict[str, str]:
    """Tag -> phase from the stream's tags list; SourceError when it cannot be read."""
    try:
        with httpx.Client(timeout=FETCH_TIMEOUT, follow_redirects=True) as client:
            response = client.get(stream.tags_url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise SourceError(f"{stream.tags_url}: cannot fetch: {exc}") from exc
    if response.status_code != 200:
        raise SourceError(f"{stream.tags_url}: HTTP {response.status_code}")
    try:
        return tag_phases(response.json())
    except ValueError as exc:
        raise SourceError(f"{stream.tags_url}: not a tags list ({exc})") from exc


def changed_tags(session: Session, phases: dict[str, str]) -> list[str]:
    """Tags not stored yet, or stored with another phase."""
    if not phases:
        return []
    stored = dict(
        session.execute(
            select(m.ReleaseTag.release_tag, m.ReleaseTag.phase).where(
                m.ReleaseTag.release_tag.in_(list(phases))
            )
        ).all()
    )
    return sorted(tag for tag, phase in phases.items() if stored.get(tag) != phase)
