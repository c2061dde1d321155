"""The `sippy` command: a thin layer over the library (load, serve, show, db, samples)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from sippy.settings import Settings, build_settings

app = typer.Typer(
    help="Why did this OpenShift CI job run fail? Load Prow job-run artifacts and serve summaries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console()
err = Console(stderr=True)

DsnOpt = Annotated[
    str | None,
    typer.Option(
        "--database-dsn",
        help="Database DSN [env SIPPY_DATABASE_DSN; default sqlite:///sippy.db]",
        show_default=False,
    ),
]
LogOpt = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        help="debug, info, warning or error [env SIPPY_LOG_LEVEL; default info]",
        show_default=False,
    ),
]
AiEndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--ai-endpoint",
        help="OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1/; set OPENAI_API_KEY "
        "for a key. Unset: the built-in summarizer answers [env SIPPY_AI_ENDPOINT]",
        show_default=False,
    ),
]
AiModelOpt = Annotated[
    str | None,
    typer.Option(
        "--ai-model",
        help="Model name [env SIPPY_AI_MODEL; default meta-llama/Llama-3.1-8B-Instruct]",
        show_default=False,
    ),
]
BudgetOpt = Annotated[
    int | None,
    typer.Option(
        "--evidence-token-budget",
        help="Prompt tokens, estimated [env SIPPY_EVIDENCE_TOKEN_BUDGET; default 3000]",
        show_default=False,
    ),
]


RUN_HELP = (
    "A loaded run id, or a folder/gs:// path/Prow URL, loaded first (a job's folder or "
    "job-history URL: its newest run)"
)


def main() -> None:
    app()


def _settings(**overrides: Any) -> Settings:
    try:
        settings = build_settings(**overrides)
    except Exception as exc:
        _fail(f"invalid settings: {exc}")
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if settings.log_level != "debug":  # migration chatter is noise outside debugging
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return settings


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)  # one line
    raise typer.Exit(code)


def _engine(settings: Settings, *, migrate: bool = True) -> Engine:
    """Connect (and create the schema on an empty database), or exit with one clear line."""
    from sippy.db.engine import make_engine
    from sippy.db.migrate import SchemaOutOfDate, ensure_schema

    try:
        engine = make_engine(settings.database_dsn)
        if migrate:
            ensure_schema(engine)
        else:
            with engine.connect():
                pass
    except SchemaOutOfDate as exc:
        _fail(str(exc))
    except (SQLAlchemyError, OSError, ValueError) as exc:
        _fail(f"cannot use database {_safe_dsn(settings.database_dsn)}: {_cause(exc)}")
    return engine


def _cause(exc: Exception) -> str:
    """The first line of what the driver said, without SQLAlchemy's wrapping."""
    cause = getattr(exc, "orig", None) or exc  # DBAPIError: the driver's own exception
    text = str(cause).strip()
    return text.splitlines()[0].strip() if text else type(cause).__name__


def _safe_dsn(dsn: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(dsn).render_as_string(hide_password=True)
    except Exception:
        return "<invalid DSN>"


@app.command()
def load(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Folders, gs://bucket/prefix, Prow URLs, or release payloads: release-controller "
            "JSON files or .../api/v1/releasestream/<stream>/release/<tag> URLs"
        ),
    ],
    artifacts: Annotated[
        str | None,
        typer.Option(
            "--artifacts",
            help="Also load the failed runs of each payload from this bucket root: a folder in "
            "GCS layout or gs://test-platform-results",
            show_default=False,
        ),
    ] = None,
    database_dsn: DsnOpt = None,
    max_artifact_bytes: Annotated[
        int | None,
        typer.Option(help="Refuse artifacts larger than this [default 64 MiB]", show_default=False),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Parallel reads [default 8]", show_default=False)
    ] = None,
    latest: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Only the N newest runs of each job folder under a SOURCE (by build id), "
            "e.g. gs://test-platform-results/logs/<job> or a Prow job-history URL "
            "[default: every run]",
            show_default=False,
        ),
    ] = None,
    log_level: LogOpt = None,
) -> None:
    """Load job runs and release payloads: every run folder under each SOURCE, idempotently."""
    settings = _settings(
        database_dsn=database_dsn,
        max_artifact_bytes=max_artifact_bytes,
        load_workers=workers,
        log_level=log_level,
    )
    report = _run_load(sources, settings, _engine(settings), artifacts=artifacts, latest=latest)
    _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _run_load(  # type: ignore[no-untyped-def]
    sources: list[str],
    settings: Settings,
    engine: Engine,
    *,
    artifacts: str | None = None,
    latest: int | None = None,
):
    from sippy.ingest.load import load_sources

    columns = (TextColumn("[bold]loading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("runs", total=None)

        def progress(event: str, amount: int) -> None:
            if event == "total":
                bar.update(task, total=amount)
            else:
                bar.advance(task, amount)

        return load_sources(sources, settings, engine, progress, artifacts=artifacts, latest=latest)


MISSING_SHOWN = 10  # per payload: a payload with no artifacts at hand misses dozens


def _print_report(report) -> None:  # type: ignore[no-untyped-def]
    table = Table(title="sippy load", show_lines=False)
    table.add_column("outcome")
    table.add_column("runs", justify="right")
    if report.payloads:
        table.add_column("payloads", justify="right")
    for status in ("loaded", "unchanged", "failed"):
        counts = [str(report.count(status))]
        if report.payloads:
            counts.append(str(report.count_payloads(status)))
        table.add_row(status, *counts)
    out.print(table)
    for p in report.payloads:
        if p.status != "failed":
            gone = f", {len(p.missing)} without artifacts" if p.missing else ""
            out.print(
                f"payload {p.release_tag}: {p.phase}, {p.jobs} jobs, "
                f"{len(p.failed_runs)} failed{gone} ({p.status})",
                highlight=False,
            )
    for tag in report.phases_updated:
        out.print(f"payload {tag}: phase updated from the tags list", highlight=False)
    for error in report.source_errors:
        err.print(f"[red]source failed:[/] {error}", highlight=False)
    for p in report.payloads:
        if p.status == "failed":
            err.print(f"[red]payload failed:[/] {p.why}", highlight=False)
        for note in p.warnings:
            err.print(f"[yellow]payload note:[/] {p.release_tag}: {note}", highlight=False)
        for missing in p.missing[:MISSING_SHOWN]:
            err.print(f"[red]run artifacts missing:[/] {missing}", highlight=False)
        if len(p.missing) > MISSING_SHOWN:
            more = len(p.missing) - MISSING_SHOWN
            err.print(
                f"[red]run artifacts missing:[/] {p.release_tag}: {more} more", highlight=False
            )
    for o in report.outcomes:
        if o.status == "failed":
            err.print(f"[red]run failed:[/] {o.location}: {o.why}", highlight=False)
        for path, problem in o.problems:
            err.print(
                f"[yellow]artifact problem:[/] {o.location}/{path}: {problem}", highlight=False
            )


@app.command()
def serve(
    mode: Annotated[
        str | None, typer.Option(help="ocp or none [default ocp]", show_default=False)
    ] = None,
    listen: Annotated[
        str | None, typer.Option(help="[host]:port [default :8080]", show_default=False)
    ] = None,
    listen_metrics: Annotated[
        str | None,
        typer.Option(
            help='[host]:port for /metrics; "" disables [default :2112]', show_default=False
        ),
    ] = None,
    database_dsn: DsnOpt = None,
    log_level: LogOpt = None,
    ai_endpoint: AiEndpointOpt = None,
    ai_model: AiModelOpt = None,
    evidence_token_budget: BudgetOpt = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes; the AI limits (SIPPY_AI_CONCURRENCY, SIPPY_AI_QUEUE_LIMIT) "
            "hold per worker: up to workers x concurrency model calls at once "
            "[env SIPPY_SERVE_WORKERS; default 1]",
            show_default=False,
        ),
    ] = None,
    enable_write_endpoints: Annotated[
        bool | None,
        typer.Option(
            "--enable-write-endpoints",
            help="Serve the endpoints that write (POST /api/runs, refresh=true); they need "
            "Authorization: Bearer $SIPPY_WRITE_TOKEN, which must be set in the environment "
            "[env SIPPY_ENABLE_WRITE_ENDPOINTS; default off]",
            show_default=False,
        ),
    ] = None,
    load_root: Annotated[
        list[str] | None,
        typer.Option(
            "--load-root",
            help="A folder POST /api/runs may load local paths from (repeatable) "
            "[env SIPPY_LOAD_ROOTS, separated by ':'; default none: local paths refused]",
            show_default=False,
        ),
    ] = None,
    follow_sources: Annotated[
        list[str] | None,
        typer.Option(
            "--follow",
            help="Also follow this folder, gs:// prefix or job-history URL while serving, "
            "as `sippy follow` does (repeatable; not with --workers above 1)",
            show_default=False,
        ),
    ] = None,
    precompute: Annotated[
        str, typer.Option(help="With --follow: AI summaries made ahead: failed, all or none")
    ] = "failed",
) -> None:
    """Serve the HTTP API (and Prometheus metrics on a second port)."""
    from sippy.settings import parse_listen

    settings = _settings(
        mode=mode,
        listen=listen,
        listen_metrics=listen_metrics,
        database_dsn=database_dsn,
        log_level=log_level,
        ai_endpoint=ai_endpoint,
        ai_model=ai_model,
        evidence_token_budget=evidence_token_budget,
        serve_workers=workers,
        enable_write_endpoints=enable_write_endpoints,
        load_roots=load_root or None,
    )
    if settings.enable_write_endpoints and not (
        settings.write_token and settings.write_token.get_secret_value()
    ):
        _fail("--enable-write-endpoints needs SIPPY_WRITE_TOKEN set in the environment")
    try:
        host, port = parse_listen(settings.listen)
        metrics = parse_listen(settings.listen_metrics) if settings.listen_metrics else None
    except ValueError as exc:
        _fail(str(exc))
    if follow_sources and settings.serve_workers > 1:
        _fail("--follow runs in one server process: use --workers 1, or run `sippy follow`")
    if precompute not in ("failed", "all", "none"):
        _fail("--precompute must be one of failed, all, none", code=2)
    engine = _engine(settings)  # migrations run here, once, before any worker starts
    if settings.serve_workers > 1:
        from sippy.serving import run_workers

        _print_hints(engine, port)
        run_workers(settings, engine, host, port, metrics)
        return
    import uvicorn
    from prometheus_client import start_http_server

    from sippy.app import FollowPlan, create_app

    plan = None
    if follow_sources:
        plan = FollowPlan(_follow_sources(follow_sources), precompute)  # type: ignore[arg-type]
    if metrics:
        from prometheus_client import REGISTRY

        from sippy.metrics import DatabaseCollector

        REGISTRY.register(DatabaseCollector(engine))
        start_http_server(metrics[1], addr=metrics[0])
    _print_hints(engine, port)
    uvicorn.run(
        create_app(settings, engine, plan),
        host=host,
        port=port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=5,
    )


@app.command("mcp")
def mcp_stdio(
    database_dsn: DsnOpt = None,
    log_level: LogOpt = None,
    ai_endpoint: AiEndpointOpt = None,
    ai_model: AiModelOpt = None,
    evidence_token_budget: BudgetOpt = None,
) -> None:
    """Serve the MCP tools on stdin/stdout, for an assistant that starts this command.

    The same tools are served over HTTP by `sippy serve` at /mcp/v1/. Logs go to stderr.
    """
    import asyncio

    from sippy.app import ai_service
    from sippy.mcp.server import serve_stdio

    settings = _settings(
        database_dsn=database_dsn,
        log_level=log_level,
        ai_endpoint=ai_endpoint,
        ai_model=ai_model,
        evidence_token_budget=evidence_token_budget,
    )
    engine = _engine(settings)
    try:
        asyncio.run(serve_stdio(ai_service(settings, engine)))
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


def _print_hints(engine: Engine, port: int) -> None:
    from sippy.analysis.summary import recent_run_ids
    from sippy.db.engine import session_factory

    with session_factory(engine)() as session:
        runs = recent_run_ids(session, limit=6)
    if not runs:
        err.print("No job runs loaded yet: try `sippy load <folder|gs://…|prow URL>`.")
        return
    err.print("Try:")
    for run_id, job, result in runs:
        err.print(
            f"  curl 'localhost:{port}/api/job/run/summary?prow_job_run_id={run_id}'"
            f"   # {result} {job}",
            highlight=False,
            soft_wrap=True,
        )
    err.print("Why did it fail? (JSON with -H 'Accept: application/json'; add &stream=true)")
    for run_id, _job, result in runs:
        if result != "S":
            err.print(
                f"  curl 'localhost:{port}/api/ai/job_run?prow_job_run_id={run_id}'",
                highlight=False,
                soft_wrap=True,
            )


@app.command()
def show(
    run: Annotated[str, typer.Argument(help=RUN_HELP)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON summary")] = False,
    database_dsn: DsnOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Print the summary of one run, loading it first when given a path or URL."""
    from sippy.analysis.summary import RunNotFound, job_run_summary
    from sippy.db.engine import session_factory

    settings = _settings(database_dsn=database_dsn, log_level=log_level)
    engine = _engine(settings)
    run_ids = _run_ids(run, settings, engine)
    summaries = []
    with session_factory(engine)() as session:
        for run_id in run_ids:
            try:
                summaries.append(job_run_summary(session, run_id))
            except RunNotFound as exc:
                _fail(f"{exc}; load it first with `sippy load <path|gs://…|prow URL>`")
    if as_json:
        out.print_json(json.dumps(summaries[0] if len(summaries) == 1 else summaries))
        return
    from sippy.render import render_summary

    for summary in summaries:
        render_summary(out, summary)


@app.command()
def summarize(
    run: Annotated[str, typer.Argument(help=RUN_HELP)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON answer")] = False,
    refresh: Annotated[bool, typer.Option(help="Ask the model again, not the cache")] = False,
    database_dsn: DsnOpt = None,
    log_level: LogOpt = None,
    ai_endpoint: AiEndpointOpt = None,
    ai_model: AiModelOpt = None,
    evidence_token_budget: BudgetOpt = None,
) -> None:
    """Why did this run fail? 1-3 sentences from the model (or the built-in summarizer)."""
    settings = _settings(
        database_dsn=database_dsn,
        log_level=log_level,
        ai_endpoint=ai_endpoint,
        ai_model=ai_model,
        evidence_token_budget=evidence_token_budget,
    )
    engine = _engine(settings)
    run_ids = _run_ids(run, settings, engine)

    async def answer_all(service) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
        return [(await service.job_run(i, refresh=refresh)).as_dict() for i in run_ids]

    answers = _ai_call(settings, engine, answer_all)
    if as_json:
        out.print_json(json.dumps(answers[0] if len(answers) == 1 else answers))
        return
    for answer in answers:
        if len(answers) > 1:
            out.print(f"[bold]{answer['id']}[/] ({answer['category']}):", highlight=False)
        out.print(answer["summary"], markup=False, highlight=False, soft_wrap=True)


def _ai_call(settings: Settings, engine: Engine, call):  # type: ignore[no-untyped-def]
    """Run one AI library call with a service, mapping its errors to one clear line."""
    import asyncio

    from sippy.ai.client import ModelError
    from sippy.analysis.summary import RunNotFound
    from sippy.analysis.test_failure import NotInRun
    from sippy.app import ai_service

    async def run() -> Any:
        service = ai_service(settings, engine)
        try:
            return await call(service)
        finally:
            await service.aclose()

    try:
        return asyncio.run(run())
    except RunNotFound as exc:
        _fail(f"{exc}; load it first with `sippy load <path|gs://…|prow URL>`")
    except NotInRun as exc:
        _fail(f"{exc}; see `sippy show RUN_ID` for its failed tests")
    except ModelError as exc:
        _fail(f"the model failed ({exc.status}): {exc.message}")


@app.command()
def explain(
    run: Annotated[str, typer.Argument(help=RUN_HELP)],
    test_name: Annotated[str, typer.Argument(help="The failed test's exact name")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON answer")] = False,
    refresh: Annotated[bool, typer.Option(help="Ask the model again, not the cache")] = False,
    database_dsn: DsnOpt = None,
    log_level: LogOpt = None,
    ai_endpoint: AiEndpointOpt = None,
    ai_model: AiModelOpt = None,
) -> None:
    """What went wrong in one failed test, and ordered debugging steps with links."""
    from sippy.ai.test_failure import explain as explain_failure

    settings = _settings(
        database_dsn=database_dsn, log_level=log_level, ai_endpoint=ai_endpoint, ai_model=ai_model
    )
    engine = _engine(settings)
    run_id = _run_ids(run, settings, engine)[0]
    answer = _ai_call(
        settings, engine, lambda s: explain_failure(s, run_id, test_name, refresh=refresh)
    )
    if as_json:
        out.print_json(json.dumps(answer))
        return
    out.print(answer["summary"], markup=False, highlight=False, soft_wrap=True)
    out.print()
    for number, step in enumerate(answer["steps"], 1):
        out.print(f"{number}. {step}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def bug(
    run: Annotated[str, typer.Argument(help=RUN_HELP)],
    test_name: Annotated[str, typer.Argument(help="The failed test's exact name")],
    fmt: Annotated[str, typer.Option("--format", help="jira or markdown")] = "jira",
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON answer")] = False,
    refresh: Annotated[bool, typer.Option(help="Ask the model again, not the cache")] = False,
    database_dsn: DsnOpt = None,
    log_level: LogOpt = None,
    ai_endpoint: AiEndpointOpt = None,
    ai_model: AiModelOpt = None,
) -> None:
    """A bug title and description for one failed test (Jira wiki markup or Markdown)."""
    from sippy.ai.bug import FORMATS, draft_bug

    if fmt not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}")
    settings = _settings(
        database_dsn=database_dsn, log_level=log_level, ai_endpoint=ai_endpoint, ai_model=ai_model
    )
    engine = _engine(settings)
    run_id = _run_ids(run, settings, engine)[0]
    draft = _ai_call(
        settings, engine, lambda s: draft_bug(s, run_id, test_name, fmt=fmt, refresh=refresh)
    )
    if as_json:
        out.print_json(json.dumps(draft))
        return
    out.print(draft["title"], markup=False, highlight=False, soft_wrap=True)
    out.print()
    out.print(draft["description"], markup=False, highlight=False, soft_wrap=True)


@app.command()
def history(
    test_name: Annotated[str, typer.Argument(help="The test's exact name")],
    job: Annotated[str | None, typer.Option(help="Only this job")] = None,
    release: Annotated[str | None, typer.Option(help="Only this release")] = None,
    database_dsn: DsnOpt = None,
    log_level: LogOpt = None,
) -> None:
    """A test's record across the loaded runs (JSON, as /api/tests/history)."""
    from sippy.analysis.test_history import UnknownTest, history_of_test
    from sippy.db.engine import session_factory

    settings = _settings(database_dsn=database_dsn, log_level=log_level)
    engine = _engine(settings)
    with session_factory(engine)() as session:
        try:
            record = history_of_test(session, test_name, job=job, release=release)
        except UnknownTest as exc:
            _fail(str(exc))
    out.print_json(json.dumps(record))


@app.command()
def themes(
    release_tag: Annotated[
        str | None, typer.Argument(help="A loaded payload's tag; omit to use the filters")
    ] = None,
    release: Annotated[str | None, typer.Option(help="Only this release, e.g. 4.20")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Only runs started since (ISO date)")
    ] = None,
    job: Annotated[str | None, typer.Option(help="Only jobs whose name contains this")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON answer")] = False,
    refresh: Annotated[bool, typer.Option(help="Ask the model again, not the cache")] = False,
    database_dsn: DsnOpt = None,
    log_level: LogOpt = None,
    ai_endpoint: AiEndpointOpt = None,
    ai_model: AiModelOpt = None,
) -> None:
    """The failed runs of a payload (or of the loaded runs) grouped by shared cause."""
    from sippy.ai.themes import payload_themes, run_themes
    from sippy.analysis.payload import PayloadNotFound

    settings = _settings(
        database_dsn=database_dsn, log_level=log_level, ai_endpoint=ai_endpoint, ai_model=ai_model
    )
    engine = _engine(settings)
    if release_tag:
        call = lambda s: payload_themes(s, release_tag, refresh=refresh)  # noqa: E731
    else:
        call = lambda s: run_themes(  # noqa: E731
            s, release=release, since=since, job=job, refresh=refresh
        )
    try:
        result = _ai_call(settings, engine, call)
    except PayloadNotFound as exc:
        _fail(f"{exc}; load its release JSON first with `sippy load <file|URL>`")
    if as_json:
        out.print_json(json.dumps(result, default=str))
        return
    head = f"{release_tag} ({result.get('phase')})" if release_tag else "loaded runs"
    out.print(
        f"{head}: {result['runs']} failed runs, {len(result['themes'])} themes, "
        f"{len(result['unexplained'])} unexplained",
        markup=False,
        highlight=False,
    )
    for number, theme in enumerate(result["themes"], 1):
        out.print(
            f"{number}. [{len(theme['runs'])} runs, {len(theme['jobs'])} jobs] {theme['title']}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        out.print(f"   {theme['summary']}", markup=False, highlight=False, soft_wrap=True)


def _run_ids(run: str, settings: Settings, engine: Engine) -> list[int]:
    """A run id as given, or the runs of a path or URL, loaded first (of a job folder, its
    newest run: "why did the last run of this job fail?")."""
    return [int(run)] if run.isdigit() else _load_for_show(run, settings, engine)


def _load_for_show(source: str, settings: Settings, engine: Engine) -> list[int]:
    report = _run_load([source], settings, engine, latest=1)
    for error in report.source_errors:
        _fail(error)
    ids = [o.run_id for o in report.outcomes if o.run_id is not None]
    if not ids:
        failed = "; ".join(o.why for o in report.outcomes if o.why) or "no runs found"
        _fail(f"{source}: {failed}")
    return ids  # type: ignore[return-value]


@db_app.command("upgrade")
def db_upgrade(database_dsn: DsnOpt = None, log_level: LogOpt = None) -> None:
    """Apply all database migrations."""
    from sippy.db.migrate import upgrade

    settings = _settings(database_dsn=database_dsn, log_level=log_level)
    engine = _engine(settings, migrate=False)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        _fail(f"cannot upgrade database {_safe_dsn(settings.database_dsn)}: {_cause(exc)}")
    out.print(f"database {_safe_dsn(settings.database_dsn)} is up to date")


@app.command()
def samples(
    folder: Annotated[Path, typer.Argument(help="Where to write the sample runs (GCS layout)")],
    count: Annotated[
        int | None,
        typer.Option(
            help="Write N varied runs instead of the canonical scenarios", show_default=False
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes")] = 0,
) -> None:
    """Generate realistic sample job runs, as the project's own test and demo data."""
    from sippy.samples.generator import generate_samples

    runs = generate_samples(folder, count=count, seed=seed)
    out.print(f"wrote {len(runs)} sample runs under {folder}")


@app.command("eval")
def evaluate(
    runs: Annotated[int, typer.Option(min=0, help="Generated runs to score")] = 120,
    seed: Annotated[int, typer.Option(help="Seed of the generated corpus")] = 7,
    payloads: Annotated[
        int, typer.Option(min=0, help="Generated release payloads with planted themes")
    ] = 2,
    themes: Annotated[int, typer.Option(min=0, help="Planted themes per payload (0-6)")] = 4,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            "--realdata",
            help="Check real runs instead (unlabelled): a folder, gs:// path or Prow URL; a "
            "folder of payload snapshots (../shared/realdata) is put back into GCS layout",
            show_default=False,
        ),
    ] = None,
    keep_corpus: Annotated[
        Path | None,
        typer.Option(help="Write the generated corpus and truth.json here and keep them"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    database_dsn: Annotated[
        str | None,
        typer.Option(help="Load into this database (default: a scratch SQLite file)"),
    ] = None,
    log_level: LogOpt = None,
    ai_endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            "--ai-endpoint",
            help="Score a model's answers (OpenAI-compatible URL; OPENAI_API_KEY optional); "
            "unset: the built-in summarizer's",
            show_default=False,
        ),
    ] = None,
    ai_model: Annotated[
        str | None, typer.Option("--model", "--ai-model", help="Model name", show_default=False)
    ] = None,
    evidence_token_budget: BudgetOpt = None,
) -> None:
    """How right is it? Score the pipeline on a generated labelled corpus, or check real runs."""
    import tempfile

    from sippy.evaluation.report import RichSteps, render
    from sippy.evaluation.runner import EvaluationError, evaluate_generated, evaluate_sources

    with tempfile.TemporaryDirectory(prefix="sippy-eval-db-") as scratch:
        settings = _settings(
            database_dsn=database_dsn or f"sqlite:///{scratch}/eval.db",
            log_level=log_level,
            ai_endpoint=ai_endpoint,
            ai_model=ai_model,
            evidence_token_budget=evidence_token_budget,
        )
        engine = _engine(settings)
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn())
        try:
            with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
                if source:
                    report = evaluate_sources(settings, engine, source, steps=RichSteps(bar))
                else:
                    report = evaluate_generated(
                        settings,
                        engine,
                        runs=runs,
                        seed=seed,
                        payloads=payloads,
                        themes=themes,
                        keep=keep_corpus,
                        steps=RichSteps(bar),
                    )
        except (EvaluationError, ValueError) as exc:
            _fail(str(exc))
        finally:
            engine.dispose()
    if as_json:
        out.print_json(json.dumps(report))
    else:
        render(out, report)


if __name__ == "__main__":  # pragma: no cover
    main()


ConcurrencyOpt = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        help="Tasks (loads, summaries) this process runs at once [env SIPPY_TASK_CONCURRENCY; "
        "default 4]",
        show_default=False,
    ),
]
StatusOpt = Annotated[
    str | None,
    typer.Option(
        "--listen-status",
        help="[host]:port for /livez, /readyz, /healthz and /metrics [env SIPPY_LISTEN_STATUS; "
        "default: none]",
        show_default=False,
    ),
]


@app.command()
def follow(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Folders in GCS layout, gs:// prefixes, Prow job-history URLs or release "
            "streams (https://<arch>.ocp.releases.ci.openshift.org/api/v1/releasestream/"
            "<stream>/tags) to watch"
        ),
    ],
    interval: Annotated[
        float | None,
        typer.Option(
            help="Seconds between polls [env SIPPY_FOLLOW_INTERVAL; default 30]",
            show_default=False,
        ),
    ] = None,
    precompute: Annotated[
        str,
        typer.Option(help="AI summaries made before anyone asks: failed, all or none"),
    ] = "failed",
    jobs: Annotated[
        str | None, typer.Option(help="Only job folders whose name matches this regex")
    ] = None,
    latest: Annotated[
        int | None,
        typer.Option(
            help="Of a job folder seen for the first time, only its N newest runs [default: all]",
            show_default=False,
            min=1,
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Poll once, finish that work, then exit")
    ] = False,
    concurrency: ConcurrencyOpt = None,
    listen_status: StatusOpt = None,
    database_dsn: DsnOpt = None,
    log_level: LogOpt = None,
    ai_endpoint: AiEndpointOpt = None,
    ai_model: AiModelOpt = None,
) -> None:
    """Watch job folders; load each new run once it has finished, and queue the AI summary
    of each failed one. On PostgreSQL the work goes to a queue that `sippy worker` processes
    (and this one, with --concurrency above 0) share; on SQLite it runs here."""
    import re

    if precompute not in ("failed", "all", "none"):
        _fail("--precompute must be one of failed, all, none", code=2)
    try:
        pattern = re.compile(jobs) if jobs else None
    except re.error as exc:
        _fail(f"--jobs is not a valid regex: {exc}", code=2)
    settings = _settings(
        database_dsn=database_dsn,
        log_level=log_level,
        ai_endpoint=ai_endpoint,
        ai_model=ai_model,
        follow_interval=interval,
        task_concurrency=concurrency,
        listen_status=listen_status,
    )
    _run_background(
        settings,
        sources=_follow_sources(sources),
        precompute=precompute,
        jobs=pattern,
        latest=latest,
        once=once,
    )


@app.command()
def worker(
    concurrency: ConcurrencyOpt = None,
    listen_status: StatusOpt = None,
    database_dsn: DsnOpt = None,
    log_level: LogOpt = None,
    ai_endpoint: AiEndpointOpt = None,
    ai_model: AiModelOpt = None,
) -> None:
    """Run queued tasks (loads, AI summaries) until stopped; any number of workers on any
    number of machines share one PostgreSQL database. SIGTERM lets running tasks finish;
    the tasks of a worker that is killed are given to another."""
    settings = _settings(
        database_dsn=database_dsn,
        log_level=log_level,
        ai_endpoint=ai_endpoint,
        ai_model=ai_model,
        task_concurrency=concurrency,
        listen_status=listen_status,
    )
    from sippy.tasks.queue import is_shared

    if not is_shared(settings.database_dsn):
        _fail(
            "sippy worker needs PostgreSQL (--database-dsn postgresql://…): with SQLite, "
            "`sippy follow` (or `serve --follow`) runs the tasks itself"
        )
    if settings.task_concurrency < 1:
        _fail("--concurrency must be at least 1 for a worker", code=2)
    _run_background(settings, sources=[])


def _follow_sources(sources: list[str]) -> list[str]:
    """Job-history URLs become the job folder they show; release streams and the rest are
    taken as given."""
    from sippy.follow.streams import stream_of
    from sippy.ingest.prowjob import prow_url_to_gcs

    mapped = []
    for source in sources:
        if source.startswith(("http://", "https://")) and stream_of(source) is None:
            found = prow_url_to_gcs(source)
            if found is None:
                _fail(
                    f"{source}: neither a Prow job-history URL nor a release stream "
                    "(…/api/v1/releasestream/<stream>/tags)",
                    code=2,
                )
            source = f"gs://{found[0]}/{found[1]}"
        mapped.append(source)
    return mapped


def _run_background(settings: Settings, **options: Any) -> None:
    import asyncio

    from sippy.app import run_background
    from sippy.settings import parse_listen

    try:
        status = parse_listen(settings.listen_status) if settings.listen_status else None
    except ValueError as exc:
        _fail(str(exc), code=2)
    engine = _engine(settings)
    try:
        asyncio.run(
            run_background(
                settings,
                engine,
                concurrency=settings.task_concurrency,
                status=status,
                **options,
            )
        )
    except ValueError as exc:  # a combination the queue refuses (SQLite without concurrency)
        _fail(str(exc), code=2)
    finally:
        engine.dispose()
