"""The pages as plain HTTP sees them (no JavaScript): the same data as the API, escaped,
with stable URLs, and the paste box working as a plain form."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from sippy.web.pages import PAGE_HEADERS
from tests.web.conftest import (
    HOSTILE_ID,
    HOSTILE_OPERATOR,
    HOSTILE_OUTPUT,
    HOSTILE_TEST,
    HOSTILE_TEXTS,
    TAG,
    Site,
)


def get(base: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{base}{path}", params=params, timeout=30)


def api(base: str, path: str, **params: Any) -> Any:
    response = httpx.get(
        f"{base}{path}", params=params, headers={"Accept": "application/json"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def text_of(page: str) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def rows(page: str) -> list[str]:
    """Run ids of the home page's table rows, in order."""
    return re.findall(r'<tr data-run-id="(\d+)">', page)


def test_home_lists_the_same_runs_as_the_api(site: Site, base_url: str):
    page = get(base_url, "/")
    listing = api(base_url, "/api/runs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert listing["total"] == 25
    assert rows(page.text) == [str(r["id"]) for r in listing["runs"]]
    newest = listing["runs"][0]
    shown = text_of(page.text)
    assert newest["job"] in shown and newest["reason"] in shown
    assert f'href="/runs/{newest["id"]}"' in page.text


def test_home_filters_and_pages_like_the_api(site: Site, base_url: str):
    letter = site.runs[0].expected_result
    filtered = get(base_url, "/", result=letter)
    assert rows(filtered.text) == [
        str(r["id"]) for r in api(base_url, "/api/runs", result=letter)["runs"]
    ]
    assert f'<option value="{letter}" selected>' in filtered.text
    job_part = site.runs[1].job_name[-10:]
    by_job = get(base_url, "/", job=job_part, release="")
    assert rows(by_job.text) == [
        str(r["id"]) for r in api(base_url, "/api/runs", job=job_part)["runs"]
    ]
    # paging: the page's page 2 is the API's page 2, and its links keep the filters
    second = api(base_url, "/api/runs", job="periodic", page=2, per_page=5)
    page_two = get(base_url, "/", job="periodic", page=2, per_page=5)
    assert second["runs"] and rows(page_two.text) == [str(r["id"]) for r in second["runs"]]
    assert 'rel="prev" href="/?job=periodic&amp;per_page=5&amp;page=1"' in page_two.text
    assert 'rel="next" href="/?job=periodic&amp;per_page=5&amp;page=3"' in page_two.text
    last = get(base_url, "/", job="periodic", page=second["pages"], per_page=5)
    assert 'rel="next"' not in last.text


def test_run_page_shows_the_summary_the_api_gives(site: Site, base_url: str):
    sample = next(r for r in site.runs if r.scenario == "test-failure")
    page = get(base_url, f"/runs/{sample.build_id}")
    assert page.status_code == 200
    summary = api(base_url, "/api/job/run/summary", prow_job_run_id=sample.build_id)
    answer = httpx.get(
        f"{base_url}/api/ai/job_run",
        params={"prow_job_run_id": sample.build_id},
        headers={"Accept": "application/json"},
    ).json()
    shown = text_of(page.text)
    assert answer["summary"] in shown and "built-in summarizer" in shown
    assert answer["category"] in shown
    for item in answer["evidence"]:  # the evidence the model saw, escaped but whole
        assert html.escape(item["text"], quote=False) in page.text.replace("&#34;", '"').replace(
            "&#39;", "'"
        )
    for name in summary["testFailures"]:
        assert name in shown
    for name in summary["testFlakes"]:
        assert name in shown
    for snippet in summary["logSnippets"]:
        assert f"line {snippet['line']}" in " ".join(shown.split())
    for operator in summary["clusterOperators"]:
        assert operator["name"] in shown
    assert f'href="{summary["url"]}"' in page.text  # Prow
    assert summary["artifactsUrl"] in page.text
    assert page.text.count('<svg class="strip"') == len(summary["testFailures"]) + len(
        summary["testFlakes"]
    )
    assert "/bug?test=" in page.text  # one "draft a bug" per failed test
    assert page.text.count("Draft a bug") == len(summary["testFailures"])


def test_pages_send_a_policy_that_forbids_inline_script(base_url: str):
    page = get(base_url, "/")
    for name, value in PAGE_HEADERS.items():
        assert page.headers[name] == value
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    js = get(base_url, "/static/sippy.js")
    css = get(base_url, "/static/sippy.css")
    assert js.status_code == 200 and "streamSummary" in js.text
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "path",
    [
        f"/runs/{HOSTILE_ID}",
        "/",
        "/tests?name=" + httpx.QueryParams({"x": HOSTILE_TEST})["x"],
        f"/runs/{HOSTILE_ID}/bug?" + str(httpx.QueryParams({"test": HOSTILE_TEST})),
        "/tests?" + str(httpx.QueryParams({"q": "<script>"})),
    ],
    ids=["run", "home", "test", "bug", "search"],
)
def test_artifact_text_is_escaped(site: Site, base_url: str, path: str):
    page = httpx.get(f"{base_url}{path}", timeout=30)
    assert page.status_code == 200, page.text[:500]
    body = page.text
    assert "__pwned" in body or path == "/tests?q=%3Cscript%3E"  # the hostile run is shown
    # no artifact text survives as markup: every < from it arrives as &lt;
    for needle in ("<script>window", "<img src=x", "<svg onload", "<iframe", 'href="javascript:'):
        assert needle not in body
    assert "javascript:" not in "".join(re.findall(r'href="([^"]*)"', body))
    assert all(s == "/static/sippy.js" for s in re.findall(r"<script[^>]*src=\"([^\"]*)\"", body))
    assert body.count("<script") == 1  # ours only


def test_hostile_run_reads_as_plain_text(site: Site, base_url: str):
    shown = text_of(get(base_url, f"/runs/{HOSTILE_ID}").text)
    for text in HOSTILE_TEXTS:
        assert " ".join(text.split()) in " ".join(shown.split()), text
    assert HOSTILE_OUTPUT in shown and HOSTILE_OPERATOR in shown
    assert "Other JUnit failures (1)" in shown and "hypershift install: rollout succeeds" in shown


def test_test_page_shows_history_jobs_and_excerpts(site: Site, base_url: str):
    sample = next(r for r in site.runs if r.scenario == "test-failure")
    name = sample.failed_tests[0]
    page = get(base_url, "/tests", name=name)
    history = api(base_url, "/api/tests/history", test_name=name)
    assert page.status_code == 200
    shown = " ".join(text_of(page.text).split())
    assert f"Ran in {history['runs']} loaded runs" in shown
    assert f"{history['failures']} failed" in shown and f"{history['flakes']} flaked" in shown
    # the chart has one cell per run that ran the test, with a title a screen reader reads
    assert page.text.count('<rect class="cell') == history["runs"]
    assert '<svg class="strip" role="img" aria-labelledby="timeline-chart"' in page.text
    failing = [j for j in history["byJob"] if j["failures"] or j["flakes"]]
    for job in failing:
        assert job["job"] in shown
    for run in history["failedRuns"][:10]:
        assert f'href="/runs/{run["id"]}"' in page.text
    assert "Recent failures" in shown
    filtered = get(base_url, "/tests", name=name, job=sample.job_name)
    assert filtered.status_code == 200 and f"job {sample.job_name}" in text_of(filtered.text)


def test_test_search_and_unknown_test(base_url: str):
    found = get(base_url, "/tests", q="sig-network")
    assert found.status_code == 200 and "/tests?name=" in found.text
    missing = get(base_url, "/tests", name="no such test")
    assert missing.status_code == 404 and "not found" in text_of(missing.text)


def test_payload_page_shows_jobs_states_and_themes(site: Site, base_url: str):
    page = get(base_url, f"/payloads/{TAG}")
    payload = api(base_url, "/api/ai/payload", release_tag=TAG)
    assert page.status_code == 200
    shown = " ".join(text_of(page.text).split())
    assert "Rejected" in shown
    assert f"Blocking jobs ({len(site.payload_runs) // 2})" in shown
    assert f"Informing jobs ({len(site.payload_runs) - len(site.payload_runs) // 2})" in shown
    for job in payload["jobs"]:
        assert job["name"] in shown and job["state"] in shown
        if job["loaded"]:
            assert f'href="/runs/{job["prowJobRunId"]}"' in page.text
    assert payload["themes"], "the generated payload has shared causes"
    for theme in payload["themes"]:
        assert " ".join(theme["title"].split()) in shown
        for run_id in theme["runs"]:
            assert f'href="/runs/{run_id}"' in page.text
    listing = get(base_url, "/payloads")
    assert listing.status_code == 200 and f'href="/payloads/{TAG}"' in listing.text


def test_bug_page_drafts_for_a_failed_test(site: Site, base_url: str):
    sample = next(r for r in site.runs if r.scenario == "test-failure")
    name = sample.failed_tests[0]
    page = get(base_url, f"/runs/{sample.build_id}/bug", test=name, format="markdown")
    bug = api(
        base_url, "/api/ai/bug", prow_job_run_id=sample.build_id, test_name=name, format="markdown"
    )
    assert page.status_code == 200
    shown = text_of(page.text)
    assert bug["title"] in shown and bug["description"] in shown
    assert 'data-copy="#bug-text"' in page.text
    not_failed = get(base_url, f"/runs/{sample.build_id}/bug", test="[sig-none] passes")
    assert not_failed.status_code == 404


def test_paste_box_without_javascript(site: Site, base_url: str):
    sample = site.runs[5]
    prow = f"https://prow.ci.openshift.org/view/gs/{sample.path}"
    for source in (prow, f"gs://{sample.path}", f" {sample.build_id} "):
        hop = httpx.get(f"{base_url}/open", params={"source": source})
        assert hop.status_code == 303 and hop.headers["location"] == f"/runs/{sample.build_id}"
    landed = httpx.get(f"{base_url}/open", params={"source": prow}, follow_redirects=True)
    assert landed.status_code == 200 and sample.job_name in text_of(landed.text)
    unknown = get(base_url, "/open", source="gs://test-platform-results/logs/job/123")
    shown = " ".join(text_of(unknown.text).split())
    assert unknown.status_code == 404
    assert "does not load runs from the web" in shown
    assert "sippy load gs://test-platform-results/logs/job/123" in shown
    history = "https://prow.ci.openshift.org/job-history/gs/test-platform-results/logs/some-job"
    job_page = " ".join(text_of(get(base_url, "/open", source=history).text).split())
    assert f"sippy load --latest 1 {history}" in job_page  # a whole job: its newest run
    assert get(base_url, "/api/runs/resolve", source=prow).json()["url"] == (
        f"/runs/{sample.build_id}"
    )
    assert get(base_url, "/api/runs/resolve", source="gs://b/logs/j/1").status_code == 404
    assert get(base_url, "/api/runs/resolve").status_code == 400


def test_bad_and_unknown_ids_get_html_errors(base_url: str):
    bad = get(base_url, "/runs/12ab")
    missing = get(base_url, "/runs/123")
    assert bad.status_code == 400 and "not a run id" in text_of(bad.text)
    assert missing.status_code == 404 and "job run 123 not found" in text_of(missing.text)
    assert get(base_url, "/payloads/4.1.0-nope").status_code == 404


def test_runs_api_is_listed_and_validates_paging(base_url: str):
    listed = {(e["path"], tuple(e["methods"])) for e in api(base_url, "/api")}
    assert ("/api/runs", ("GET",)) in listed and ("/api/runs/resolve", ("GET",)) in listed
    for params in ({"page": 0}, {"per_page": 500}, {"page": "x"}):
        bad = get(base_url, "/api/runs", **params)
        assert bad.status_code == 400 and set(bad.json()) == {"code", "message"}
    assert api(base_url, "/api/runs", per_page=200)["perPage"] == 200


def test_nul_in_a_parameter_is_a_client_error(base_url: str):
    for path, params in (("/tests", {"name": "a\x00b"}), ("/", {"job": "\x00"})):
        response = get(base_url, path, **params)
        assert response.status_code == 400 and "NUL" in response.json()["message"]
