"""The AI job-run summary: evidence, prompt, cache, single-flight, model call, call log.

One object per process, shared by the HTTP API, the task workers and the CLI. A repeat for
the same run, evidence, prompt version and model is served from the database without
calling the model; concurrent requests for the same key share one model call: within a
process through one task per key, across processes and machines through a lease row in
`ai_inflight` (whoever inserts it asks the model, the others wait for the answer to be
stored). Every model call is recorded in `ai_calls`. With no endpoint the built-in
summarizer answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from sippy.ai.builtin import builtin_summary, category_for
from sippy.ai.client import OVERLOAD_RETRY_AFTER, CallRecord, ModelClient, ModelError
from sippy.ai.limits import ModelSlots
from sippy.ai.prompt import Prompt, job_run_prompt
from sippy.analysis.summary import job_run_summary
from sippy.db import models as m
from sippy.db.generation import MISSING, DerivedCache, bump_generation
from sippy.db.writes import insert_new
from sippy.settings import Settings

log = logging.getLogger(__name__)

BUILTIN = "builtin"
PURPOSE = "job_run"
LEASE_SLACK = 5.0  # seconds a lease outlives its holder's model deadline
Key = tuple[str, str, str, str, str]  # purpose, subject, evidence digest, prompt version, model


@dataclass(slots=True)
class RunAnswer:
    """What `/api/ai/job_run` answers as JSON."""

    id: int
    summary: str
    category: str
    model: str
    promptVersion: str  # noqa: N815 - the API's key
    cached: bool
    evidence: list[dict[str, Any]]
    usage: dict[str, int | None]
    durationSeconds: float  # noqa: N815
    omittedEvidence: dict[str, int] = field(default_factory=dict)  # noqa: N815
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def json_body(self) -> bytes:
        """The answer as JSON bytes; rendered once for a cached answer, which a server keeps
        and serves many times (the evidence makes it tens of kB)."""
        if self._json is not None:
            return self._json
        body = json.dumps(
            self.as_dict(), ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")
        if self.cached:
            self._json = body
        return body

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "summary": self.summary,
            "category": self.category,
            "model": self.model,
            "promptVersion": self.promptVersion,
            "cached": self.cached,
            "evidence": self.evidence,
            "omittedEvidence": self.omittedEvidence,
            "usage": self.usage,
            "durationSeconds": self.durationSeconds,
        }


@dataclass(slots=True)
class ModelText:
    """A model's raw answer, and whether it came from the cache."""

    text: str
    cached: bool
    usage: dict[str, int | None]
    duration: float


@dataclass(slots=True)
class _Prepared:
    run_id: int
    summary: dict[str, Any]
    prompt: Prompt
    model: str

    @property
    def key(self) -> Key:
        return (
            PURPOSE,
            str(self.run_id),
            self.prompt.evidence.digest,
            self.prompt.version,
            self.model,
        )


class SummaryService:
    """Answers "why did this run fail?" for one loaded run."""

    def __init__(
        self,
        settings: Settings,
        sessions: Callable[[], Session],
        derived: DerivedCache | None = None,
        slots: ModelSlots | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        # evidence and prompts per run, kept while the stored runs are unchanged: a cached
        # answer is then found with two primary-key reads instead of ~20 ms of work
        self.derived = derived if derived is not None else DerivedCache()
        self.client: ModelClient | None = None
        if settings.ai_endpoint:
            self.client = ModelClient(settings, on_call=self._record_call, slots=slots)
        self._inflight: dict[tuple[str, ...], asyncio.Task[Any]] = {}
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._pending_writes: set[asyncio.Future[None]] = set()

    async def aclose(self) -> None:
        """At shutdown: stop model calls still under way, finish the call log, close."""
        pending = list(self._inflight.values())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.drain()
        if self.client is not None:
            await self.client.aclose()

    @property
    def model(self) -> str:
        return self.settings.ai_model if self.client is not None else BUILTIN

    async def job_run(self, run_id: int, *, refresh: bool = False) -> RunAnswer:
        """The answer for one run; raises RunNotFound or ModelError."""
        started = time.perf_counter()
        kept = None if refresh else self._kept_answer(run_id)
        if kept is not None:
            return kept
        prepared, cached = await asyncio.to_thread(self._prepare_and_look_up, run_id, refresh)
        if self.client is None:
            return self._builtin(prepared, started)
        if cached is not None:
            return cached
        reply = await self.model_text(
            purpose=PURPOSE, subject=str(run_id), prompt=prepared.prompt, refresh=refresh
        )
        duration = 0.0 if reply.cached else time.perf_counter() - started
        return self._answer(
            prepared, reply.text, cached=reply.cached, usage=reply.usage, duration=duration
        )

    def _settled(self, key: tuple[str, ...], task: asyncio.Task[Any]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter may have gone

    async def job_run_stream(
        self, run_id: int, *, refresh: bool = False
    ) -> tuple[RunAnswer, AsyncIterator[str]]:
        """(the answer's metadata, the text as it is written). A cached or built-in answer
        arrives as one piece; a model's answer is cached once the stream completes."""
        started = time.perf_counter()
        kept = None if refresh else self._kept_answer(run_id)
        if kept is not None:
            return kept, _once(kept.summary)
        prepared, cached = await asyncio.to_thread(self._prepare_and_look_up, run_id, refresh)
        if self.client is None:
            answer = self._builtin(prepared, started)
            return answer, _once(answer.summary)
        if cached is not None:
            return cached, _once(cached.summary)
        answer = self._answer(prepared, "", cached=False, usage={}, duration=0.0)
        return answer, self._stream(prepared, answer, started, refresh)

    async def known_answer(self, run_id: int) -> RunAnswer:
        """The answer as far as it is known without calling the model (for pages that must
        render at once): the built-in one, or the cached one; else `summary` is "" and only
        the evidence, category and model are filled. Raises RunNotFound."""
        started = time.perf_counter()
        prepared = await asyncio.to_thread(self._prepare, run_id)
        if self.client is None:
            return self._builtin(prepared, started)
        cached = await asyncio.to_thread(self._cached, prepared)
        if cached is not None:
            return cached
        return self._answer(prepared, "", cached=False, usage={}, duration=0.0)

    # Steps ----------------------------------------------------------------------------

    def _prepare(self, run_id: int) -> _Prepared:
        with self.sessions() as session:
            return self._prepared(session, run_id)

    def _prepare_and_look_up(
        self, run_id: int, refresh: bool
    ) -> tuple[_Prepared, RunAnswer | None]:
        """The prepared prompt and, unless refreshing, the cached answer: one session, one
        thread hop (the cache-hit path is a few hundred microseconds of work)."""
        with self.sessions() as session:
            prepared = self._prepared(session, run_id)
            if self.client is None or refresh:
                return prepared, None
            kept = self.derived.peek(("ai_answer", *prepared.key))  # generation just confirmed
            if kept is not MISSING:
                return prepared, kept  # type: ignore[return-value]
            cached = self._cached(prepared, session)
        if cached is not None:
            self.derived.remember(("ai_answer", *prepared.key), cached)
        return prepared, cached

    def _kept_answer(self, run_id: int) -> RunAnswer | None:
        """A cached model answer straight from memory (no thread hop, no query) while the
        stored runs are known unchanged; read-only for callers."""
        if self.client is None:
            return None
        prepared = self.derived.peek(self._prepared_key(run_id))
        if prepared is MISSING:
            return None
        kept = self.derived.peek(("ai_answer", *prepared.key))  # type: ignore[attr-defined]
        return None if kept is MISSING else kept  # type: ignore[return-value]

    def _prepared_key(self, run_id: int) -> tuple[object, ...]:
        return ("job_run_prompt", run_id, self.model, self.settings.evidence_token_budget)

    def _prepared(self, session: Session, run_id: int) -> _Prepared:
        return self.derived.get(
            session, self._prepared_key(run_id), lambda: self._prepare_now(session, run_id)
        )

    def _prepare_now(self, session: Session, run_id: int) -> _Prepared:
        summary = job_run_summary(session, run_id)
        prompt = job_run_prompt(summary, self.settings.evidence_token_budget)
        return _Prepared(run_id, summary, prompt, self.model)

    def _builtin(self, prepared: _Prepared, started: float) -> RunAnswer:
        text = builtin_summary(prepared.summary)
        return self._answer(
            prepared,
            text,
            cached=False,
            usage={"estimatedPromptTokens": 0},
            duration=time.perf_counter() - started,
        )

    async def _stream(
        self, prepared: _Prepared, answer: RunAnswer, started: float, refresh: bool = False
    ) -> AsyncIterator[str]:
        """The model's text as it comes; or, when another request (of any process) is asking
        the same question, its stored answer as one piece once it is done."""
        assert self.client is not None
        estimated = prepared.prompt.estimated_tokens
        deadline = time.monotonic() + self.settings.ai_timeout
        answered = await self._lead_or_wait(
            prepared.key, estimated, deadline, use_cache=not refresh
        )
        if answered is not None:
            answer.summary, answer.cached, answer.usage = answered.text, True, answered.usage
            yield answered.text
            return
        try:
            parts: list[str] = []
            async for delta in self.client.stream(
                prepared.prompt.messages, **self._call_labels(prepared), deadline=deadline
            ):
                parts.append(delta)
                yield delta
            answer.summary = "".join(parts).strip()
            answer.durationSeconds = time.perf_counter() - started
            answer.usage = {"estimatedPromptTokens": estimated}
            if answer.summary:
                await asyncio.to_thread(self._store, prepared, answer, answer.durationSeconds)
        finally:
            await asyncio.to_thread(self._release_lease, prepared.key)

    @staticmethod
    def _call_labels(prepared: _Prepared) -> dict[str, str]:
        return {
            "purpose": PURPOSE,
            "subject": str(prepared.run_id),
            "prompt_version": prepared.prompt.version,
        }

    def _answer(
        self,
        prepared: _Prepared,
        text: str,
        *,
        cached: bool,
        usage: dict[str, int | None],
        duration: float,
    ) -> RunAnswer:
        evidence = prepared.prompt.evidence
        return RunAnswer(
            id=prepared.run_id,
            summary=text,
            category=category_for(prepared.summary["overallResult"]),
            model=prepared.model,
            promptVersion=prepared.prompt.version,
            cached=cached,
            evidence=evidence.as_list(),
            omittedEvidence=evidence.omitted,
            usage=usage,
            durationSeconds=round(duration, 6),
        )

    # Cache and call log ---------------------------------------------------------------

    def _cached(self, prepared: _Prepared, session: Session | None = None) -> RunAnswer | None:
        row = self._lookup(prepared.key, session)
        if row is None:
            return None
        return self._answer(
            prepared,
            row.result["text"],
            cached=True,
            usage={
                "promptTokens": row.prompt_tokens,
                "completionTokens": row.completion_tokens,
                "estimatedPromptTokens": prepared.prompt.estimated_tokens,
            },
            duration=0.0,
        )

    def _store(self, prepared: _Prepared, answer: RunAnswer, duration: float) -> None:
        result = {"text": answer.summary, "category": answer.category}
        self._save(prepared.key, result, answer.usage, duration)

    def _lookup(
        self, key: Key, session: Session | None = None
    ) -> Row[tuple[dict[str, Any], int | None, int | None]] | None:
        """The cached answer's (result, prompt_tokens, completion_tokens), or None."""
        if session is None:
            with self.sessions() as own:
                return self._lookup(key, own)
        purpose, subject, digest, version, model = key
        params = {"p": purpose, "s": subject, "d": digest, "v": version, "m": model}
        return session.execute(_LOOKUP, params).first()

    def _save(
        self,
        key: Key,
        result: dict[str, Any],
        usage: dict[str, int | None],
        duration: float,
    ) -> None:
        purpose, subject, digest, version, model = key
        row = {
            "purpose": purpose,
            "subject": subject,
            "evidence_hash": digest,
            "prompt_version": version,
            "model": model,
            "result": result,
            "prompt_tokens": usage.get("promptTokens"),
            "completion_tokens": usage.get("completionTokens"),
            "duration": duration,
            "created_at": datetime.now(UTC),
        }
        try:
            with self.sessions() as session, session.begin():
                # a refresh replaces the answer it recomputed; servers drop what they keep
                replaced = session.execute(delete(m.AiResultRow).where(*_key_filter(key)))
                if replaced.rowcount:
                    bump_generation(session)
                session.execute(insert(m.AiResultRow), [row])
            self.derived.forget(("ai_answer", *key))
        except IntegrityError:
            pass  # another process stored the same answer first
        except SQLAlchemyError as exc:  # the answer is still good; only the cache missed it
            log.warning("could not cache the AI answer for %s %s: %s", purpose, subject, exc)

    # Any other question to the model (test failures, bugs, themes) --------------------

    async def model_text(
        self, *, purpose: str, subject: str, prompt: Prompt, refresh: bool = False
    ) -> ModelText:
        """The model's raw answer to `prompt`: cached by key, one call per key at a time."""
        if self.client is None:
            raise RuntimeError("no model endpoint configured")
        key = (purpose, subject, prompt.evidence.digest, prompt.version, self.model)
        if not refresh:
            row = await asyncio.to_thread(self._lookup, key)
            if row is not None:
                usage = {
                    "promptTokens": row.prompt_tokens,
                    "completionTokens": row.completion_tokens,
                    "estimatedPromptTokens": prompt.estimated_tokens,
                }
                return ModelText(row.result["text"], True, usage, 0.0)
        task = self._inflight.get(key)
        if task is None:
            deadline = time.monotonic() + self.settings.ai_timeout  # the answer's time bound
            task = asyncio.create_task(self._ask_text(key, prompt, refresh, deadline))
            self._inflight[key] = task
            task.add_done_callback(partial(self._settled, key))
        return await asyncio.shield(task)

    async def _ask_text(
        self, key: Key, prompt: Prompt, refresh: bool, deadline: float
    ) -> ModelText:
        assert self.client is not None
        started = time.perf_counter()
        estimated = prompt.estimated_tokens
        answered = await self._lead_or_wait(key, estimated, deadline, use_cache=not refresh)
        if answered is not None:  # another process asked the model meanwhile
            return answered
        try:
            completion = await self.client.complete(
                prompt.messages,
                purpose=key[0],
                subject=key[1],
                prompt_version=key[3],
                deadline=deadline,
            )
            usage = {
                "promptTokens": completion.usage.prompt_tokens,
                "completionTokens": completion.usage.completion_tokens,
                "estimatedPromptTokens": prompt.estimated_tokens,
            }
            await asyncio.to_thread(
                self._save, key, {"text": completion.text}, usage, completion.duration
            )
        finally:
            await asyncio.to_thread(self._release_lease, key)
        return ModelText(completion.text, False, usage, time.perf_counter() - started)

    # One model call per question across processes --------------------------------------

    async def _lead_or_wait(
        self, key: Key, estimated_tokens: int, deadline: float, *, use_cache: bool = True
    ) -> ModelText | None:
        """None once this process holds the question's lease (it must ask the model, then
        release it); or the answer another process stored while this one waited (unless
        `use_cache` is off: a refresh waits for the lease, then asks again).

        Waiting counts against the caller's `deadline` (the model call that may follow gets
        only what is left), so an answer never takes longer than `ai_timeout`: when the
        holder has not finished by then, 503 (a dead holder's lease lapses at its own
        deadline plus LEASE_SLACK).
        """
        pause = 0.05
        while True:
            row = await asyncio.to_thread(self._lookup_or_lease, key, use_cache)
            if row is True:
                return None
            if row is not None:
                usage = {
                    "promptTokens": row.prompt_tokens,
                    "completionTokens": row.completion_tokens,
                    "estimatedPromptTokens": estimated_tokens,
                }
                return ModelText(row.result["text"], True, usage, 0.0)
            if time.monotonic() + pause > deadline:
                raise ModelError(
                    503,
                    "another process is still asking the model this question; try again shortly",
                    outcome="overloaded",
                    retry_after=OVERLOAD_RETRY_AFTER,
                )
            await asyncio.sleep(pause)
            pause = min(0.5, pause * 1.5)

    def _lookup_or_lease(self, key: Key, use_cache: bool = True) -> Row[Any] | bool | None:
        """The stored answer; else True if this process now holds the lease; else None."""
        lease = _lease_key(key)
        now = datetime.now(UTC)
        with self.sessions() as session, session.begin():
            row = self._lookup(key, session) if use_cache else None
            if row is not None:
                return row
            session.execute(
                delete(m.AiInflight).where(m.AiInflight.key == lease, m.AiInflight.expires_at < now)
            )
            expires = now + timedelta(seconds=self.settings.ai_timeout + LEASE_SLACK)
            row = {"key": lease, "owner": self._owner, "expires_at": expires}
            taken = insert_new(session, m.AiInflight, row, ["key"])
        return True if taken else None

    def _release_lease(self, key: Key) -> None:
        try:
            with self.sessions() as session, session.begin():
                session.execute(
                    delete(m.AiInflight).where(
                        m.AiInflight.key == _lease_key(key), m.AiInflight.owner == self._owner
                    )
                )
        except SQLAlchemyError as exc:  # it expires by itself
            log.warning("could not release the model lease for %s %s: %s", key[0], key[1], exc)

    def _record_call(self, record: CallRecord) -> None:
        """Client hook, on the event loop: write the call log row off the loop."""
        row = {
            "purpose": record.purpose,
            "subject": record.subject,
            "model": record.model,
            "prompt_version": record.prompt_version,
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "duration": record.duration,
            "attempts": record.attempts,
            "outcome": record.outcome,
            "upstream_status": record.upstream_status,
            "error": record.error,
            "created_at": datetime.now(UTC),
        }
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write_call(row)
            return
        task = loop.run_in_executor(None, self._write_call, row)
        self._pending_writes.add(task)
        task.add_done_callback(self._pending_writes.discard)

    def _write_call(self, row: dict[str, Any]) -> None:
        try:
            with self.sessions() as session, session.begin():
                session.execute(insert(m.AiCallRow), [row])
        except SQLAlchemyError as exc:
            log.warning("could not record a model call: %s", exc)

    async def drain(self) -> None:
        """Wait for call-log writes still under way (at shutdown, and in tests)."""
        if self._pending_writes:
            await asyncio.gather(*self._pending_writes, return_exceptions=True)


# Built once: composing the statement per request cost as much as running it.
_LOOKUP = (
    select(m.AiResultRow.result, m.AiResultRow.prompt_tokens, m.AiResultRow.completion_tokens)
    .where(
        m.AiResultRow.purpose == bindparam("p"),
        m.AiResultRow.subject == bindparam("s"),
        m.AiResultRow.evidence_hash == bindparam("d"),
        m.AiResultRow.prompt_version == bindparam("v"),
        m.AiResultRow.model == bindparam("m"),
    )
    .limit(1)
)


def _key_filter(key: Key) -> list[Any]:
    purpose, subject, digest, version, model = key
    return [
        m.AiResultRow.purpose == purpose,
        m.AiResultRow.subject == subject,
        m.AiResultRow.evidence_hash == digest,
        m.AiResultRow.prompt_version == version,
        m.AiResultRow.model == model,
    ]


def _lease_key(key: Key) -> str:
    return hashlib.sha256("\x00".join(key).encode()).hexdigest()


async def _once(text: str) -> AsyncIterator[str]:
    yield text
