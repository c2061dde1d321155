"""Schemathesis fuzzes the real server from its own OpenAPI schema, on SQLite and PostgreSQL.

The server has loaded the generated sample runs, the model is the fake OpenAI server
(healthy, so no 5xx is excusable), and writes are enabled with a token so the write
endpoint and `refresh=true` are fuzzed too. Every response must: not be a 5xx, carry a
documented status and content type, match its documented schema, and, for errors, be the
one JSON shape `{"code": <the status>, "message": "..."}`. Generated data includes
negative cases (wrong types, missing parameters) and NUL characters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sippy.app import create_app
from sippy.ingest.load import load_sources
from sippy.samples.generator import generate_samples
from sippy.settings import Settings, build_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import running_server

TOKEN = "fuzz-write-token-7f3a"
EXAMPLES = 15  # per operation and mode: ~14 operations, a few seconds per database
CONFIG = {"generation": {"allow-x00": True}}


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        fake.reply = "The job failed because a test failed."
        yield fake


@pytest.fixture
def api_schema(engine, tmp_path, model):  # type: ignore[no-untyped-def]
    runs_root = tmp_path / "runs"
    generate_samples(runs_root)
    assert load_sources([str(runs_root)], Settings(), engine).ok
    settings = build_settings(
        ai_endpoint=model.base_url,
        ai_retries=0,
        enable_write_endpoints=True,
        write_token=TOKEN,
        load_roots=[str(runs_root)],
    )
    # gs:// sources are listed on a loopback server that knows no object: offline and fast
    with (
        running_server(FastAPI()) as gcs,
        running_server(
            create_app(settings.model_copy(update={"gcs_endpoint": gcs}), engine)
        ) as base,
    ):
        yield schemathesis.openapi.from_url(
            f"{base}/openapi.json", config=schemathesis.Config.from_dict(CONFIG)
        )


def one_error_shape(ctx, response, case) -> None:  # type: ignore[no-untyped-def]
    """Every 4xx/5xx is `{"code": <status>, "message": <non-empty text>}`, nothing else."""
    if response.status_code < 400:
        return
    body = json.loads(response.content)
    assert set(body) == {"code", "message"}, body
    assert body["code"] == response.status_code, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    assert "Traceback" not in body["message"]


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    one_error_shape,
]


def fuzz(schema, mode: GenerationMode, examples: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Run every operation's generated cases through the checks; the failures, described."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,  # the same cases each run: a failure reproduces
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case):  # type: ignore[no-untyped-def]
            response = case.call(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
            case.validate_response(response, checks=CHECKS)

        try:
            exercise()
        except hypothesis.errors.Unsatisfiable:  # no parameters: nothing to make invalid
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as exc:  # a FailureGroup listing the failed checks, with a curl line
            failures.append(f"{operation.label} ({mode.value}): {exc}")
    return failures


def test_every_response_keeps_the_schema_and_the_error_shape(api_schema):
    operations = [r.ok().label for r in api_schema.get_all_operations()]
    assert "POST /api/runs" in operations and "GET /api/ai/job_run" in operations
    failures = [
        failure
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for failure in fuzz(api_schema, mode, EXAMPLES)
    ]
    assert not failures, "\n\n".join(failures)
