"""The web pages: server-rendered HTML over the same library functions as the HTTP API.

Every page reads without JavaScript and has a stable URL; `static/sippy.js` only adds
the streamed summary, the paste-a-URL loader and the copy buttons. All artifact text goes
through Jinja2's autoescape (never `|safe`), links from artifacts are kept only when they
are http(s), and a Content-Security-Policy forbids inline script as a second line of defence.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy.orm import Session

from sippy.ai.bug import FORMATS, draft_bug
from sippy.ai.client import ModelError
from sippy.ai.service import BUILTIN, SummaryService
from sippy.ai.themes import payload_themes
from sippy.analysis.payload import payload_summary, payloads_of_run, recent_payloads
from sippy.analysis.runs import (
    PER_PAGE,
    find_run,
    recent_runs,
    run_artifacts,
    run_filter_choices,
)
from sippy.analysis.summary import job_run_summary
from sippy.analysis.test_history import history_of_test
from sippy.analysis.test_timeline import (
    TIMELINE_RUNS,
    failure_excerpts,
    find_tests,
    names_of_keys,
    outcome_strips,
    timeline_of_test,
)
from sippy.api.auth import writes_enabled
from sippy.api.errors import NOT_FOUND, model_api_error
from sippy.api.params import refuse_nul
from sippy.ingest.classify import RESULT_REASONS
from sippy.ingest.payload import BLOCKING
from sippy.web.charts import outcome_strip

router = APIRouter(include_in_schema=False, dependencies=[Depends(refuse_nul)])
T = TypeVar("T")

MAX_BUILD_ID = 2**63 - 1
URL_SAFE = ":/?#@!$&'()*+,;=%~"  # RFC 3986 reserved characters (less brackets) and "%"
# No inline script or style anywhere: an injected <script> or on* attribute would not run.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def install_pages(app: FastAPI) -> None:
    """Serve the pages and their static files from `app`."""
    app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("sippy.web", "static")]), name="static")


# --- rendering ------------------------------------------------------------------------------


@cache
def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("sippy.web", "templates"),
        autoescape=True,  # every template is HTML: all text is escaped unless marked safe
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        duration=format_duration,
        when=format_time,
        size=format_size,
        http_url=http_url,
        shell_quote=shlex.quote,
    )
    env.globals.update(
        test_url=url_for_test,
        artifact_url=artifact_url,
        query_url=query_url,
        strip=outcome_strip,
        reasons=RESULT_REASONS,
    )
    return env


def render(request: Request, template: str, /, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates().get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)


def http_url(value: Any) -> str | None:
    """`value` if it is an absolute http(s) URL, else None: `javascript:` and friends from
    artifacts never become links."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(value.strip(), safe=URL_SAFE)  # spaces, quotes and brackets percent-encoded


def artifact_url(summary: dict[str, Any], path: str | None) -> str | None:
    """The gcsweb link of one of the run's files, when the run has a bucket and path."""
    base = http_url(summary.get("artifactsUrl"))
    if not base or not path:
        return None
    return base.rstrip("/") + "/" + quote(path.lstrip("/"), safe="/")


def url_for_test(name: str, **filters: str | None) -> str:
    return query_url("/tests", name=name, **filters)


def query_url(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def format_time(value: str | None) -> str:
    """An RFC 3339 time as `2026-05-14 10:00 UTC`."""
    if not value:
        return "—"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


# --- helpers --------------------------------------------------------------------------------


async def in_session(request: Request, work: Callable[[Session], T]) -> T:
    """Run blocking database reads off the event loop, in one session."""

    def run() -> T:
        with request.app.state.sessions() as session:
            return work(session)

    return await asyncio.to_thread(run)


def page_number(value: str | None) -> int:
    return int(value) if value and value.isascii() and value.isdigit() and int(value) > 0 else 1


def run_id_from(value: str) -> int | None:
    if not value.isascii() or not value.isdigit() or int(value) > MAX_BUILD_ID:
        return None
    return int(value)


def can_load(request: Request) -> bool:
    """Can this page load a new source? Only when the server takes writes (`POST /api/runs`
    with the bearer token); the page then asks for the token."""
    return writes_enabled(request.app.state.settings)


def answer_label(answer: dict[str, Any]) -> str:
    """How the summary was written: by the built-in summarizer, from the cache, or fresh."""
    if answer["model"] == BUILTIN:
        return "built-in summarizer"
    return f"cached answer from {answer['model']}" if answer["cached"] else answer["model"]


# --- pages ----------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    release: str | None = None,
    job: str | None = None,
    result: str | None = None,
    page: str | None = None,
    per_page: str | None = None,
) -> Response:
    def load(session: Session) -> tuple[Any, ...]:
        listing = recent_runs(
            session,
            release=release or None,
            job=job or None,
            result=result or None,
            page=page_number(page),
            per_page=page_number(per_page) if per_page else PER_PAGE,
        )
        return listing, run_filter_choices(session), recent_payloads(session, limit=5)

    listing, choices, payloads = await in_session(request, load)
    return render(
        request,
        "home.html",
        listing=listing,
        default_per_page=PER_PAGE,
        choices=choices,
        payloads=payloads,
        writes=can_load(request),
    )


@router.get("/open", response_class=HTMLResponse)
async def open_source(request: Request, source: str = "") -> Response:
    """The paste box: a loaded run opens at once; anything else says how it can be loaded."""
    source = source.strip()
    if not source:
        return RedirectResponse("/", status_code=303)
    run_id = await in_session(request, lambda s: find_run(s, source))
    if run_id is not None:
        return RedirectResponse(f"/runs/{run_id}", status_code=303)
    return render(request, "open.html", status=404, source=source, writes=can_load(request))


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: str) -> Response:
    number = run_id_from(run_id)
    if number is None:
        return error_page(request, 400, f"{run_id[:64]!r} is not a run id (a Prow build id)")

    def load(session: Session) -> tuple[Any, ...]:
        summary = job_run_summary(session, number)
        names = names_of_keys(session, number, [*summary["testFailures"], *summary["testFlakes"]])
        return (
            summary,
            names,
            outcome_strips(session, number, names.values()),
            run_artifacts(session, number),
            payloads_of_run(session, number),
        )

    service: SummaryService = request.app.state.ai
    try:
        summary, names, strips, artifacts, payloads = await in_session(request, load)
        answer = (await service.known_answer(number)).as_dict()
    except NOT_FOUND as exc:
        return error_page(request, 404, str(exc))
    return render(
        request,
        "run.html",
        run=summary,
        names=names,
        strips=strips,
        artifacts=artifacts,
        payloads=payloads,
        answer=answer,
        answer_label=answer_label(answer),
        has_model=service.client is not None,
        can_regenerate=service.client is not None and writes_enabled(request.app.state.settings),
    )


@router.post("/runs/{run_id}/summary", response_class=HTMLResponse)
async def ask_model(request: Request, run_id: str) -> Response:
    """Without JavaScript: ask the model (the cache first, as the API's GET does), then show
    the run with the answer. Asking again (refresh) is a write: only the API does it."""
    number = run_id_from(run_id)
    if number is None:
        return error_page(request, 400, f"{run_id[:64]!r} is not a run id (a Prow build id)")
    try:
        await request.app.state.ai.job_run(number)
    except NOT_FOUND as exc:
        return error_page(request, 404, str(exc))
    except ModelError as exc:
        error = model_api_error(exc)
        return error_page(request, error.code, error.message)
    return RedirectResponse(f"/runs/{number}#summary", status_code=303)


@router.get("/runs/{run_id}/bug", response_class=HTMLResponse)
async def bug_page(request: Request, run_id: str, test: str = "", format: str = "jira") -> Response:  # noqa: A002
    number = run_id_from(run_id)
    if number is None:
        return error_page(request, 400, f"{run_id[:64]!r} is not a run id (a Prow build id)")
    if not test:
        return error_page(request, 400, "say which failed test: ?test=NAME")
    fmt = format if format in FORMATS else "jira"
    try:
        bug = await draft_bug(request.app.state.ai, number, test, fmt=fmt)
    except NOT_FOUND as exc:
        return error_page(request, 404, str(exc))
    except ModelError as exc:
        error = model_api_error(exc)
        return error_page(request, error.code, error.message)
    return render(request, "bug.html", run_id=number, test=test, bug=bug, formats=FORMATS)


@router.get("/tests", response_class=HTMLResponse)
async def tests_page(
    request: Request,
    name: str = "",
    q: str = "",
    job: str | None = None,
    release: str | None = None,
) -> Response:
    if not name:
        found = await in_session(request, lambda s: find_tests(s, q)) if q else []
        return render(request, "tests.html", q=q, found=found)
    filters = {"job": job or None, "release": release or None}

    def load(session: Session) -> tuple[Any, ...]:
        return (
            history_of_test(session, name, **filters),
            timeline_of_test(session, name, **filters),
            failure_excerpts(session, name, **filters),
        )

    try:
        history, timeline, excerpts = await in_session(request, load)
    except NOT_FOUND as exc:
        return error_page(request, 404, str(exc))
    return render(
        request,
        "test.html",
        name=name,
        filters=filters,
        history=history,
        timeline=timeline,
        timeline_limit=TIMELINE_RUNS,
        excerpts=excerpts,
    )


@router.get("/payloads", response_class=HTMLResponse)
async def payloads_page(request: Request) -> Response:
    payloads = await in_session(request, lambda s: recent_payloads(s, limit=100))
    return render(request, "payloads.html", payloads=payloads)


@router.get("/payloads/{tag}", response_class=HTMLResponse)
async def payload_page(request: Request, tag: str) -> Response:
    try:
        payload = await in_session(request, lambda s: payload_summary(s, tag))
        themes = await payload_themes(request.app.state.ai, tag)
    except NOT_FOUND as exc:
        return error_page(request, 404, str(exc))
    except ModelError as exc:
        error = model_api_error(exc)
        return error_page(request, error.code, error.message)
    jobs = payload["jobs"]
    return render(
        request,
        "payload.html",
        payload=payload,
        blocking=[j for j in jobs if j["kind"] == BLOCKING],
        informing=[j for j in jobs if j["kind"] != BLOCKING],
        themes=themes,
    )
