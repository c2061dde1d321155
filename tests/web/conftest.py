"""Web page fixtures: one loaded database (generated runs, a payload, a run full of hostile
text), real servers over it, and Debian's Chromium driven by Playwright.

Playwright's own browser download does not work here: the browser is `chromium` from
apt, found on PATH. Without it the browser tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import pytest

from sippy.app import create_app
from sippy.db.engine import make_engine
from sippy.db.migrate import upgrade
from sippy.ingest.load import load_sources
from sippy.samples.generator import SampleRun, generate_samples
from sippy.settings import Settings, build_settings
from tests.helpers import make_run, running_server

TAG = "4.20.0-0.nightly-2026-05-14-120000"
ARTIFACTS = Path(os.environ.get("SIPPY_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))

# Hostile text in every place a run's artifacts reach a page. Each payload, if it ran, would
# set window.__pwned; none may, and each must show as the plain text it is.
HOSTILE_ID = 7000000000000000001
HOSTILE_JOB = "periodic-ci-openshift-release-main-nightly-4.20-e2e-" + (
    '"><img src=x onerror=window.__pwned=1>'
)
HOSTILE_TEST = (
    '[sig-x] <script>window.__pwned=3</script> it\'s "quoted" '
    "[Suite:openshift/conformance/parallel]"
)
HOSTILE_OUTPUT = (
    'fail [x.go:1]: </pre><img src=x onerror="window.__pwned=4">'
    '<a href="javascript:window.__pwned=5">click me</a>'
)
HOSTILE_OPERATOR = "<svg onload=window.__pwned=6>"
HOSTILE_MESSAGE = "\"'><script>window.__pwned=7</script>"
HOSTILE_LOG = 'level=error msg="<iframe src=javascript:window.__pwned=8>"'
HOSTILE_PR_TITLE = "<script>window.__pwned=9</script>"
HOSTILE_URL = "javascript:window.__pwned=2"
HOSTILE_OTHER_JUNIT = "error: rollout <img src=x onerror=window.__pwned=10> never completed"
HOSTILE_TEXTS = (
    HOSTILE_JOB,
    HOSTILE_TEST,
    HOSTILE_OUTPUT,
    HOSTILE_OPERATOR,
    HOSTILE_MESSAGE,
    HOSTILE_LOG,
    HOSTILE_PR_TITLE,
    HOSTILE_OTHER_JUNIT,
)


def _escape_xml(text: str) -> str:
    return xml_escape(text, {'"': "&quot;"})


def write_hostile_run(root: Path) -> Path:
    junit = (
        '<?xml version="1.0"?>\n<testsuite name="openshift-tests" tests="2" failures="1">\n'
        f'<testcase name="{_escape_xml(HOSTILE_TEST)}"><failure message="">'
        f"{_escape_xml(HOSTILE_OUTPUT)}</failure></testcase>\n"
        '<testcase name="[sig-y] plain passes [Suite:openshift/conformance/parallel]"/>\n'
        "</testsuite>\n"
    )
    operators = {
        "kind": "ClusterOperatorList",
        "items": [
            {
                "metadata": {"name": HOSTILE_OPERATOR},
                "status": {
                    "conditions": [
                        {"type": "Degraded", "status": "True", "reason": "Evil"}
                        | {"message": HOSTILE_MESSAGE},
                        {"type": "Available", "status": "True", "reason": "AsExpected"},
                    ]
                },
            }
        ],
    }
    log = "\n".join(["INFO starting", HOSTILE_LOG, "INFO done"]) + "\n"
    run = make_run(
        root,
        HOSTILE_JOB,
        HOSTILE_ID,
        files={
            "artifacts/e2e/junit/junit_e2e.xml": junit,
            "artifacts/e2e/gather-extra/artifacts/clusteroperators.json": json.dumps(operators),
            "artifacts/e2e/hypershift/artifacts/junit_hosted_cluster.xml": (
                '<testsuite name="hypershift install"><testcase name="rollout succeeds">'
                f"<failure>{_escape_xml(HOSTILE_OTHER_JUNIT)}</failure></testcase></testsuite>"
            ),
            "build-log.txt": log,
        },
    )
    doc = json.loads((run / "prowjob.json").read_text())
    doc["status"]["url"] = HOSTILE_URL
    doc["spec"]["refs"] = {
        "org": "openshift",
        "repo": "origin",
        "base_ref": "main",
        "pulls": [
            {
                "number": 1,
                "author": "mallory",
                "sha": "abc123",
                "title": HOSTILE_PR_TITLE,
                "link": "javascript:window.__pwned=10",
            }
        ],
    }
    (run / "prowjob.json").write_text(json.dumps(doc))
    return run


def payload_doc(runs: list[SampleRun]) -> dict[str, Any]:
    half = len(runs) // 2
    jobs = {
        kind: {
            f"{kind[:-4]}-{index}": {
                "state": "Succeeded" if run.prow_state == "success" else "Failed",
                "url": f"https://prow.ci.openshift.org/view/gs/{run.path}",
            }
            for index, run in enumerate(part)
        }
        for kind, part in (("blockingJobs", runs[:half]), ("informingJobs", runs[half:]))
    }
    return {"name": TAG, "phase": "Rejected", "results": jobs}


@dataclass
class Site:
    """The loaded data every web test reads."""

    engine: Any
    runs: list[SampleRun]
    payload_runs: list[SampleRun]
    root: Path  # where the loaded runs live
    spare: Path  # a run written but not loaded (for the load-a-new-source flow)
    spare_run: SampleRun


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("web")
    root, spare = base / "runs", base / "spare"
    runs = generate_samples(root, count=24, seed=7)
    write_hostile_run(root)
    (spare_run,) = generate_samples(spare, count=1, seed=99)
    payload_runs = runs[:10]
    (base / "release.json").write_text(json.dumps(payload_doc(payload_runs)))
    engine = make_engine(f"sqlite:///{base / 'sippy.db'}")
    upgrade(engine)
    report = load_sources([str(root)], Settings(), engine)
    assert not report.source_errors and report.count("loaded") == 25, report
    assert load_sources([str(base / "release.json")], Settings(), engine, artifacts=str(root)).ok
    yield Site(engine, runs, payload_runs, root, spare, spare_run)
    engine.dispose()


@pytest.fixture(scope="session")
def base_url(site: Site) -> Iterator[str]:
    """A server with the built-in summarizer and no write endpoints (the default set-up)."""
    with running_server(create_app(build_settings(), site.engine)) as base:
        yield base


# --- the browser ----------------------------------------------------------------------------


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail("Debian's chromium is required under CI=true (apt-get install -y chromium)")
    pytest.skip("chromium not found on PATH: apt-get install -y chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=path, headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A page with what it did that a test should see: dialogs and script errors."""

    page: Any
    dialogs: list[str]
    errors: list[str]

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def open_tab(browser: Any, request: pytest.FixtureRequest, **context: Any) -> Iterator[Tab]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    tab = Tab(page, [], [])

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    try:
        yield tab
    finally:
        try:
            tab.shot(request.node.name)  # every browser test leaves a screenshot, failed too
        finally:
            ctx.close()


@pytest.fixture
def tab(browser, request) -> Iterator[Tab]:
    """A JavaScript-enabled tab."""
    with open_tab(browser, request) as opened:
        yield opened


@pytest.fixture
def plain_tab(browser, request) -> Iterator[Tab]:
    """A tab with JavaScript off: what a reader without scripts sees."""
    with open_tab(browser, request, java_script_enabled=False) as opened:
        yield opened
