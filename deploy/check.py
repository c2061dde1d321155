"""`make deploy-check`: run deploy/compose.yaml once, for real, and check what it does.

The images are built first (`make image`). A folder of generated runs is what `follow` watches;
the model is the project's fake OpenAI-compatible server on this machine (2 s a call, like
the follow benchmark's), reached from the containers at host.containers.internal. Checked:
every service starts (PostgreSQL first or not: the others retry), the runs are loaded through
the queue by the worker, each failed run's summary is stored before anyone asks (served
from the cache), a run copied in later appears, /readyz of serve and follow answer, and
`down` stops everything cleanly.

    python deploy/check.py [--keep]      # --keep: leave it running (stop: podman-compose down -v)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from tests.helpers import make_run  # noqa: E402

from sippy.samples.generator import SNOWFLAKE_EPOCH_MS, generate_samples  # noqa: E402

PROJECT = "sippycheck"
SERVE, STATUS, MODEL = 18080, 19090, 18081


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman-compose", "-p", PROJECT, *args],
        cwd=ROOT / "deploy",
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def wait_until(check: Callable[[], object], what: str, timeout: float = 180) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
            if found:
                return found
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"deploy check failed: timed out waiting for {what}")
        time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sippy-deploy-"))
    ci = work / "ci"
    runs = generate_samples(ci)
    ci.chmod(0o755)
    for path in ci.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    env_file = work / "sippy.env"
    env_file.write_text(
        f"SIPPY_AI_ENDPOINT=http://host.containers.internal:{MODEL}/v1\nSIPPY_LOG_LEVEL=info\n"
    )
    env = {
        "SIPPY_CI_DIR": str(ci),
        "SIPPY_ENV_FILE": str(env_file),
        "SIPPY_PORT": str(SERVE),
        "SIPPY_FOLLOW_STATUS_PORT": str(STATUS),
        "SIPPY_FOLLOW_INTERVAL": "2",
    }
    failed = [r for r in runs if r.expected_result != "S"]
    base = f"http://127.0.0.1:{SERVE}"
    with FakeOpenAI(delay=2.0, port=MODEL, host="0.0.0.0") as fake:
        up = compose("up", "-d", env=env)
        if up.returncode != 0:
            print(up.stdout, up.stderr, file=sys.stderr)
            return 1
        try:
            wait_until(lambda: httpx.get(f"{base}/readyz").status_code == 200, "serve /readyz")
            wait_until(
                lambda: httpx.get(f"http://127.0.0.1:{STATUS}/readyz").status_code == 200,
                "follow /readyz",
            )
            wait_until(
                lambda: len(httpx.get(f"{base}/api/runs").json()["runs"]) == len(runs),
                f"{len(runs)} runs loaded",
            )
            for run in failed:
                wait_until(
                    lambda run=run: httpx.get(
                        f"{base}/api/ai/job_run",
                        params={"prow_job_run_id": run.build_id},
                        headers={"Accept": "application/json"},
                    ).json()["cached"],
                    f"the stored summary of run {run.build_id}",
                )
            calls = len(fake.chat_requests)
            late_id = (int(time.time() * 1000) - SNOWFLAKE_EPOCH_MS) << 22  # made now
            late = make_run(ci, "periodic-ci-deploy-check", late_id, files={"finished.json": "{}"})
            for path in [late.parent, late, *late.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            wait_until(
                lambda: (
                    httpx.get(
                        f"{base}/api/job/run/summary", params={"prow_job_run_id": late_id}
                    ).status_code
                    == 200
                ),
                "a run copied in later",
            )
            health = httpx.get(f"http://127.0.0.1:{STATUS}/healthz").json()
            print(
                f"deploy check: {len(runs) + 1} runs loaded through the queue, "
                f"{len(failed)} summaries stored ahead by the worker ({calls} model calls), "
                f"follow status {health['status']}, last poll {health['lastPoll']}"
            )
        finally:
            if not args.keep:
                down = compose("down", "-v", env=env)
                if down.returncode != 0:
                    print(down.stderr, file=sys.stderr)
                shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
