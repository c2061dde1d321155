"""Following a bucket over the GCS JSON API (fake-gcs-server on loopback): job folders are
listed from their cursor (startOffset), so a poll's listings do not grow with history."""

from __future__ import annotations

import httpx
import pytest

from sippy.follow.storage import GcsStorage
from sippy.ingest.sources import open_source
from sippy.settings import Settings
from tests.follow.conftest import FIRST_BUILD, JOB, Ci, following
from tests.ingest.test_gcs import fake_gcs

BUCKET = "test-platform-results"


def upload(url: str, name: str, content: str) -> None:
    response = httpx.post(
        f"{url}/upload/storage/v1/b/{BUCKET}/o",
        params={"uploadType": "media", "name": name},
        content=content.encode(),
        timeout=10,
    )
    response.raise_for_status()


def upload_run(url: str, ci: Ci, build_id: int) -> None:
    """A finished run made locally, then uploaded object by object, finished.json last."""
    folder = ci.run(build_id)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.name == "finished.json")
    for path in files:
        upload(url, path.relative_to(ci.root / BUCKET).as_posix(), path.read_text())


@pytest.fixture
def bucket(tmp_path):
    history = Ci(tmp_path / "data")
    for n in range(30):  # history already in the bucket when the server starts
        history.run(FIRST_BUILD + n)
    with fake_gcs(tmp_path / "data") as url:
        yield url, Ci(tmp_path / "uploads")


def test_a_bucket_is_followed_from_its_cursor(bucket, engine):
    url, uploads = bucket
    follow = following([f"gs://{BUCKET}/logs"], engine, settings=Settings(gcs_endpoint=url))
    first = follow.poll()
    assert (first.discovered, first.queued) == (30, 30)
    assert follow.stored_runs() == 30
    idle = follow.poll()
    upload_run(url, uploads, FIRST_BUILD + 30)
    upload_run(url, uploads, FIRST_BUILD + 31)
    new = follow.poll()
    assert (idle.discovered, new.discovered, new.queued) == (0, 2, 2)
    assert follow.stored_runs() == 32
    # one page for the job folder from its cursor, whatever its history; GCS parents are
    # listed again only every few polls
    assert idle.ops["list"] == new.ops["list"] == 1
    assert new.ops["stat"] == 2  # finished.json of each new run


def test_listing_after_a_cursor_returns_only_newer_builds(bucket):
    url, uploads = bucket
    storage = GcsStorage(open_source(f"gs://{BUCKET}/logs", gcs_endpoint=url))
    folder = f"{BUCKET}/logs/{JOB}"
    everything = storage.subfolders(folder)
    assert len(everything.names) == 30
    after = storage.subfolders(folder, after=FIRST_BUILD + 27)
    assert after.names == [str(FIRST_BUILD + 28), str(FIRST_BUILD + 29)]
    assert storage.finished_at(f"{folder}/{FIRST_BUILD + 29}") is not None
    upload(url, f"logs/{JOB}/{FIRST_BUILD + 40}/started.json", "{}")
    assert storage.finished_at(f"{folder}/{FIRST_BUILD + 40}") is None
