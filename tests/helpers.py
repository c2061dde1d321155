"""Test helpers: a real uvicorn server on a free loopback port, run folders on disk."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(  # type: ignore[no-untyped-def]
    app, log_level: str = "warning", port: int = 0, host: str = "127.0.0.1"
) -> Iterator[str]:
    """Serve `app` with uvicorn on host:<port> (0: a free one) in a thread; yield its base
    URL (on 127.0.0.1)."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)


def wait_for_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def make_run(
    root: Path,
    job: str,
    build_id: int,
    *,
    state: str = "failure",
    files: dict[str, bytes | str] | None = None,
    prowjob: bool = True,
) -> Path:
    """A minimal periodic run folder in GCS layout, plus any extra files."""
    run = root / "test-platform-results" / "logs" / job / str(build_id)
    run.mkdir(parents=True, exist_ok=True)
    url = f"https://prow.ci.openshift.org/view/gs/test-platform-results/logs/{job}/{build_id}"
    if prowjob:
        doc = {
            "kind": "ProwJob",
            "apiVersion": "prow.k8s.io/v1",
            "metadata": {"labels": {"prow.k8s.io/build-id": str(build_id)}},
            "spec": {
                "type": "periodic",
                "job": job,
                "cluster": "build05",
                "decoration_config": {"gcs_configuration": {"bucket": "test-platform-results"}},
            },
            "status": {
                "state": state,
                "url": url,
                "build_id": str(build_id),
                "startTime": "2026-05-14T10:00:00Z",
                "completionTime": "2026-05-14T12:30:00Z",
            },
        }
        (run / "prowjob.json").write_text(json.dumps(doc, indent="\t"))
    for rel, content in (files or {}).items():
        path = run / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return run


JUNIT_ONE_FAILURE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="openshift-tests" tests="2" failures="1">
  <testcase name="[sig-network] pods should talk [Suite:openshift/conformance/parallel]" time="3.5">
    <failure message="">fail [github.com/openshift/origin/test/extended/net.go:42]: pods cannot talk
more noise</failure>
  </testcase>
  <testcase name="[sig-apps] deployments work [Suite:openshift/conformance/parallel]" time="1"/>
</testsuite>
"""


def database_text(engine) -> str:  # type: ignore[no-untyped-def]
    """Every value of every row of every table, as one string: to search for what must
    never be stored (a secret file's content, an API key)."""
    from sqlalchemy import select

    from sippy.db.models import Base

    parts: list[str] = []
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                parts.extend(repr(value) for value in row)
    return "\n".join(parts)
