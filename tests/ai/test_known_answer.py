"""`SummaryService.known_answer`: what a page can show at once, without calling the model."""

from __future__ import annotations

import asyncio

import pytest

from sippy.ai.service import SummaryService
from sippy.analysis.summary import RunNotFound
from sippy.db.engine import session_factory
from sippy.ingest.load import load_sources
from sippy.samples.generator import generate_samples
from sippy.settings import Settings, build_settings
from tests.fakes.openai_server import FakeOpenAI

REPLY = "The run failed because the scoped router test timed out."


@pytest.fixture
def run_id(tmp_path, engine) -> int:
    runs = generate_samples(tmp_path)
    assert load_sources([str(tmp_path)], Settings(), engine).ok
    return next(r for r in runs if r.scenario == "test-failure").build_id


def test_builtin_answer_is_known_at_once(engine, run_id):
    async def ask():
        service = SummaryService(build_settings(), session_factory(engine))
        try:
            return await service.known_answer(run_id), await service.job_run(run_id)
        finally:
            await service.aclose()

    known, full = asyncio.run(ask())
    assert known.model == "builtin" and known.summary == full.summary != ""
    assert known.evidence == full.evidence


def test_model_answer_is_known_only_once_cached(engine, run_id):
    async def ask(fake: FakeOpenAI):
        service = SummaryService(build_settings(ai_endpoint=fake.base_url), session_factory(engine))
        try:
            before = await service.known_answer(run_id)
            calls_before = len(fake.chat_requests)
            await service.job_run(run_id)
            after = await service.known_answer(run_id)
            with pytest.raises(RunNotFound):
                await service.known_answer(42)
            return before, calls_before, after
        finally:
            await service.aclose()

    with FakeOpenAI(reply=REPLY) as fake:
        before, calls_before, after = asyncio.run(ask(fake))
        calls = len(fake.chat_requests)
    assert calls_before == 0  # knowing asks nobody
    assert before.summary == "" and not before.cached and before.evidence
    assert before.category == "test failure"
    assert after.summary == REPLY and after.cached and calls == 1
