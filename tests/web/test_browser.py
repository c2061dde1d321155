"""The pages in a real browser (Debian's Chromium via Playwright): reading without
JavaScript, hostile artifact text that must never run, the paste-a-URL flow, the summary
streamed as the model writes it, regenerating it, and the copy button."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sippy.app import create_app
from sippy.db.engine import make_engine
from sippy.db.migrate import upgrade
from sippy.settings import build_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import running_server
from tests.web.conftest import (
    HOSTILE_ID,
    HOSTILE_JOB,
    HOSTILE_OPERATOR,
    HOSTILE_OUTPUT,
    HOSTILE_TEST,
    TAG,
    Site,
    Tab,
    open_tab,
)

TOKEN = "s3cret-write-token"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"  # the default --ai-model
REPLY = (
    "The run failed because the router could not admit the scoped route within three "
    "minutes, a new failure for this job."
)
SECOND_REPLY = "Asked again: the scoped router test timed out waiting for admission."

# Records every text the summary paragraph shows, from before the page's own script runs.
RECORD_SUMMARY = """
window.__texts = [];
new MutationObserver(() => {
  const el = document.querySelector("[data-summary-text]");
  const text = el ? el.textContent : null;
  const last = window.__texts[window.__texts.length - 1];
  if (text !== null && last !== text) window.__texts.push(text);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""

NO_INJECTION = """() => ({
  pwned: window.__pwned === undefined ? null : String(window.__pwned),
  inlineScripts: [...document.scripts].filter((s) => !s.src).length,
  foreignScripts: [...document.scripts]
    .filter((s) => s.src && !s.src.endsWith("/static/sippy.js")).length,
  handlers: [...document.querySelectorAll("*")].flatMap((e) => [...e.attributes]
    .filter((a) => a.name.startsWith("on")).map((a) => e.tagName + " " + a.name)),
  embeds: document.querySelectorAll("img, iframe, object, embed, svg[onload]").length,
  badLinks: [...document.querySelectorAll("a[href]")].map((a) => a.getAttribute("href"))
    .filter((h) => !/^(https?:\\/\\/|\\/|#)/.test(h)),
})"""


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(model: FakeOpenAI) -> FakeOpenAI:
    model.reset()
    model.reply = REPLY
    return model


def serve_with_model(engine: Any, fake: FakeOpenAI, **settings: Any):
    return running_server(
        create_app(
            build_settings(
                ai_endpoint=fake.base_url,
                enable_write_endpoints=True,
                write_token=TOKEN,
                **settings,
            ),
            engine,
        )
    )


def run_url(base: str, run_id: int) -> str:
    return f"{base}/runs/{run_id}"


# --- reading ---------------------------------------------------------------------------------


def test_every_page_reads_without_javascript(plain_tab: Tab, base_url: str, site: Site):
    page = plain_tab.page
    sample = next(r for r in site.runs if r.scenario == "test-failure")
    test_name = sample.failed_tests[0]
    builtin = httpx.get(
        f"{base_url}/api/ai/job_run", params={"prow_job_run_id": sample.build_id}
    ).text.strip()

    page.goto(f"{base_url}/")
    assert page.locator("h1").inner_text() == "Recent runs"
    assert page.locator("tr[data-run-id]").count() == 25
    plain_tab.shot("nojs-home")

    page.goto(run_url(base_url, sample.build_id))
    assert sample.job_name in page.locator("h1").inner_text()
    assert page.locator("[data-summary-text]").inner_text() == builtin
    assert page.locator("[data-summary-badge]").inner_text() == "built-in summarizer"
    assert page.locator("article.failed-test").count() >= len(set(sample.failed_tests))
    assert page.locator("[data-regenerate]").is_hidden()  # needs JavaScript and a model
    plain_tab.shot("nojs-run")

    page.get_by_role("link", name=test_name, exact=True).first.click()
    page.wait_for_url("**/tests?name=*")
    assert page.locator("h1").inner_text() == test_name
    chart = page.locator("svg#timeline-chart, svg[aria-labelledby='timeline-chart']")
    assert chart.locator("title").first.text_content().startswith(test_name)
    plain_tab.shot("nojs-test")

    page.goto(f"{base_url}/payloads/{TAG}")
    assert page.locator("h1").inner_text().startswith(TAG)
    assert page.locator("article.theme").count() >= 1
    plain_tab.shot("nojs-payload")

    page.goto(run_url(base_url, sample.build_id))
    page.get_by_role("link", name="Draft a bug").first.click()
    page.wait_for_url("**/bug?test=*")
    assert page.locator("#bug-title").inner_text()
    plain_tab.shot("nojs-bug")
    assert plain_tab.errors == [] and plain_tab.dialogs == []


@pytest.mark.parametrize(
    "path",
    [
        f"/runs/{HOSTILE_ID}",
        "/?" + str(httpx.QueryParams({"job": "onerror"})),
        "/tests?" + str(httpx.QueryParams({"name": HOSTILE_TEST})),
        f"/runs/{HOSTILE_ID}/bug?" + str(httpx.QueryParams({"test": HOSTILE_TEST})),
    ],
    ids=["run", "home", "test", "bug"],
)
def test_hostile_artifact_text_never_runs(tab: Tab, base_url: str, path: str):
    page = tab.page
    page.goto(f"{base_url}{path}")
    page.wait_for_load_state("networkidle")
    found = page.evaluate(NO_INJECTION)
    assert found == {
        "pwned": None,
        "inlineScripts": 0,
        "foreignScripts": 0,
        "handlers": [],
        "embeds": 0,
        "badLinks": [],
    }
    assert tab.dialogs == [] and tab.errors == []
    text = page.locator("main").inner_text()
    assert HOSTILE_JOB in text or HOSTILE_TEST in text


def test_hostile_run_page_shows_the_text_and_drops_the_links(tab: Tab, base_url: str):
    page = tab.page
    page.goto(run_url(base_url, HOSTILE_ID))
    main = page.locator("main")
    for text in (HOSTILE_JOB, HOSTILE_TEST, HOSTILE_OUTPUT, HOSTILE_OPERATOR):
        assert text in main.inner_text()
    links = page.locator("p.links")
    assert "Prow" in links.inner_text()
    assert links.get_by_role("link", name="Prow").count() == 0  # javascript: is no link
    assert page.get_by_role("link", name="openshift/origin#1").count() == 0
    assert "openshift/origin#1" in main.inner_text()
    assert page.evaluate("window.__pwned") is None


# --- the paste box -----------------------------------------------------------------------------


def test_paste_a_prow_url_opens_the_loaded_run(tab: Tab, base_url: str, site: Site):
    sample = site.runs[7]
    page = tab.page
    for source in (f"https://prow.ci.openshift.org/view/gs/{sample.path}", str(sample.build_id)):
        page.goto(f"{base_url}/")
        page.fill("#paste-source", source)
        page.click("form.paste button[type=submit]")
        page.wait_for_url(run_url(base_url, sample.build_id))
        assert sample.job_name in page.locator("h1").inner_text()


def test_paste_without_javascript_opens_the_run(plain_tab: Tab, base_url: str, site: Site):
    sample = site.runs[8]
    page = plain_tab.page
    page.goto(f"{base_url}/")
    page.fill("#paste-source", f"gs://{sample.path}/artifacts/e2e/build-log.txt")
    page.press("#paste-source", "Enter")
    page.wait_for_url(run_url(base_url, sample.build_id))
    assert sample.job_name in page.locator("h1").inner_text()


def test_paste_of_an_unloaded_run_says_how_to_load_it(tab: Tab, base_url: str):
    page = tab.page
    page.goto(f"{base_url}/")
    assert page.locator("[data-token]").count() == 0  # this server takes no writes
    source = "gs://test-platform-results/logs/some-job/1234567890"
    page.fill("#paste-source", source)
    page.click("form.paste button[type=submit]")
    page.wait_for_url("**/open?source=*")
    text = page.locator("main").inner_text()
    assert f"No loaded run matches {source}" in text
    assert "does not load runs from the web" in text
    assert f"sippy load {source}" in text


def test_paste_loads_a_new_source_with_progress(browser, request, fake, site: Site, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(engine)
    folder = Path(site.spare) / site.spare_run.path
    seen: list[str] = []
    try:
        with (
            serve_with_model(engine, fake, load_roots=[str(site.spare)]) as base,
            open_tab(browser, request) as tab,
        ):
            page = tab.page
            page.expose_function("recordStatus", lambda text: seen.append(text))
            page.goto(f"{base}/")
            page.evaluate(
                """() => { const el = document.querySelector("[data-paste-status]");
                new MutationObserver(() => window.recordStatus(el.textContent))
                  .observe(el, {childList: true, characterData: true, subtree: true}); }"""
            )
            page.fill("#paste-source", str(folder))
            page.click("form.paste button[type=submit]")
            status = page.locator("[data-paste-status]")
            status.filter(has_text="Loading failed (401)").wait_for()  # no token yet
            page.fill("[data-token]", TOKEN)
            page.click("form.paste button[type=submit]")
            page.wait_for_url(run_url(base, site.spare_run.build_id), timeout=30_000)
            assert site.spare_run.job_name in page.locator("h1").inner_text()
    finally:
        engine.dispose()
    assert any(s.startswith(f"Loading {folder}") for s in seen), seen  # the progress line
    assert any(s.startswith("Loaded; opening run") for s in seen), seen


def test_paste_a_job_history_url_opens_the_jobs_newest_run(browser, request, fake, tmp_path):
    from tests.helpers import make_run
    from tests.ingest.test_gcs import fake_gcs

    job = "periodic-ci-openshift-release-main-nightly-4.20-e2e-gcp-ovn"
    for build_id in (7100000000000000002, 7100000000000000009, 7100000000000000005):
        make_run(tmp_path / "bucket", job, build_id)
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(engine)
    url = f"https://prow.ci.openshift.org/job-history/gs/test-platform-results/logs/{job}"
    try:
        with (
            fake_gcs(tmp_path / "bucket") as gcs,
            serve_with_model(engine, fake, gcs_endpoint=gcs) as base,
            open_tab(browser, request) as tab,
        ):
            page = tab.page
            page.goto(f"{base}/")
            page.fill("[data-token]", TOKEN)
            page.fill("#paste-source", url)
            page.click("form.paste button[type=submit]")
            page.wait_for_url(run_url(base, 7100000000000000009), timeout=30_000)
            assert job in page.locator("h1").inner_text()
            listed = httpx.get(f"{base}/api/runs", headers={"Accept": "application/json"})
        assert [r["id"] for r in listed.json()["runs"]] == [7100000000000000009]  # only it
    finally:
        engine.dispose()


# --- the AI summary ----------------------------------------------------------------------------


def test_summary_streams_as_the_model_writes_it(tab: Tab, fake: FakeOpenAI, site: Site):
    fake.chunk_delay = 0.08
    sample = site.runs[2]
    page = tab.page
    with serve_with_model(site.engine, fake) as base:
        page.add_init_script(RECORD_SUMMARY)
        page.goto(run_url(base, sample.build_id))  # nothing cached: the page asks at once
        page.wait_for_selector("[data-ai-summary][data-state=done]", timeout=20_000)
        texts = page.evaluate("window.__texts")
        assert page.locator("[data-summary-text]").inner_text() == REPLY
        assert page.locator("[data-summary-badge]").inner_text() == MODEL
        assert page.locator("[data-summary-status]").inner_text() == ""
        reread = httpx.get(run_url(base, sample.build_id)).text  # now cached, server-rendered
    partial = [t for t in texts if t and t != REPLY]
    assert len(partial) >= 5, texts  # the text grew word by word, not all at once
    assert all(REPLY.startswith(t) for t in partial)
    assert [len(t) for t in partial] == sorted({len(t) for t in partial})
    assert texts[-1] == REPLY
    chats = fake.chat_requests
    assert len(chats) == 1 and chats[0].body["stream"] is True
    assert REPLY in reread and f"cached answer from {MODEL}" in reread


def test_regenerate_needs_the_token_and_streams_a_new_answer(
    tab: Tab, fake: FakeOpenAI, site: Site
):
    sample = site.runs[3]
    page = tab.page
    with serve_with_model(site.engine, fake) as base:
        first = httpx.get(
            f"{base}/api/ai/job_run", params={"prow_job_run_id": sample.build_id}, timeout=30
        )
        assert first.text.strip() == REPLY
        page.goto(run_url(base, sample.build_id))
        assert page.locator("[data-summary-text]").inner_text() == REPLY
        assert page.locator("[data-summary-badge]").inner_text() == f"cached answer from {MODEL}"
        page.click("[data-regenerate]")
        status = page.locator("[data-summary-status]")
        status.filter(has_text="(401)").wait_for()
        assert len(fake.chat_requests) == 1  # refused before the model was asked
        fake.reply = SECOND_REPLY
        page.fill("[data-token]", TOKEN)
        page.click("[data-regenerate]")
        page.wait_for_selector("[data-ai-summary][data-state=done]")
        assert page.locator("[data-summary-text]").inner_text() == SECOND_REPLY
        assert page.locator("[data-summary-badge]").inner_text() == MODEL
        again = httpx.get(
            f"{base}/api/ai/job_run", params={"prow_job_run_id": sample.build_id}, timeout=30
        )
    assert len(fake.chat_requests) == 2
    assert fake.chat_requests[-1].body["stream"] is True
    assert again.text.strip() == SECOND_REPLY  # the cache holds the new answer


# --- copying a bug draft -----------------------------------------------------------------------


def test_copy_button_copies_the_bug_draft(browser, request, base_url: str, site: Site):
    sample = next(r for r in site.runs if r.scenario == "test-failure")
    name = sample.failed_tests[0]
    bug = httpx.get(
        f"{base_url}/api/ai/bug",
        params={"prow_job_run_id": sample.build_id, "test_name": name},
        headers={"Accept": "application/json"},
    ).json()
    with open_tab(browser, request, permissions=["clipboard-read", "clipboard-write"]) as tab:
        page = tab.page
        page.goto(run_url(base_url, sample.build_id))
        page.get_by_role("link", name="Draft a bug").first.click()
        page.wait_for_url("**/bug?test=*")
        page.click("button[data-copy]")
        page.locator("[data-copy-status]").filter(has_text="Copied").wait_for()
        copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{bug['title']}\n\n{bug['description']}"
