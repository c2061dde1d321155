"""The one way sippy talks to a model: any OpenAI-compatible endpoint, through the openai SDK.

Our API promises a bounded answer time and a small, stable set of errors (502/503/504)
whatever the model server does, and a model server (often one GPU) must not be flooded.
So the deadline, retries, concurrency limit, metrics and the one log line per call live
here; the SDK's own retries are off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from sippy.ai.limits import ModelSlots, SlotTimeout
from sippy.metrics import AI
from sippy.settings import Settings

log = logging.getLogger("sippy.ai")

T = TypeVar("T")

#: Seconds a caller turned away by the queue limit is told to wait.
OVERLOAD_RETRY_AFTER = 5.0
# The SDK refuses to start without a key. Keyless clients get this placeholder and every
# request omits the Authorization header, so it never leaves the process.
_NO_KEY = "sippy-no-key"
_DETAIL_CHARS = 200


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None
    completion_tokens: int | None


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    usage: Usage
    duration: float
    attempts: int


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One per complete()/stream() call, for whoever keeps per-request accounting."""

    model: str
    purpose: str
    # ok | http_error | timeout | unreachable | bad_reply | client_error | overloaded |
    # unavailable (no slot: the database is down) | cancelled
    outcome: str
    prompt_tokens: int | None
    completion_tokens: int | None
    duration: float
    attempts: int
    error: str | None
    upstream_status: int | None
    subject: str = ""  # what the call was about, e.g. a run id
    prompt_version: str = ""


class ModelError(Exception):
    """What went wrong, mapped to the status our API answers.

    Upstream HTTP error -> 502 (the message names the upstream status); timeout -> 504;
    unreachable -> 503; no choices / not JSON / empty -> 502; too many callers waiting ->
    503 with `retry_after`; anything else the SDK raises (a bug or an incompatible
    release of it or of its transport) -> 502 `client_error`, so no caller ever sees a 500.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        outcome: str,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.outcome = outcome
        self.upstream_status = upstream_status
        self.retry_after = retry_after
        self.retryable = retryable

    def __repr__(self) -> str:
        return f"ModelError({self.status}, {self.message!r}, outcome={self.outcome!r})"


@dataclass(slots=True)
class _Call:
    """What one call has learnt so far; becomes its CallRecord."""

    purpose: str
    started: float
    deadline: float
    subject: str = ""
    prompt_version: str = ""
    attempts: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def note_usage(self, usage: Any) -> None:
        if usage is not None:
            self.prompt_tokens = getattr(usage, "prompt_tokens", None)
            self.completion_tokens = getattr(usage, "completion_tokens", None)


class ModelClient:
    """Calls one OpenAI-compatible chat endpoint; safe to share by all requests of a process.

    Construction neither connects nor needs a running loop; the SDK client and the
    concurrency semaphore are made on first use, inside the loop that uses them.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        on_call: Callable[[CallRecord], None] | None = None,
        slots: ModelSlots | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
    ) -> None:
        if not settings.ai_endpoint:
            raise ValueError("no model endpoint configured (ai_endpoint)")
        self._settings = settings
        self._endpoint: str = settings.ai_endpoint
        self._on_call = on_call
        self._slots = slots  # shared with the deployment's other processes, or None
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sdk: AsyncOpenAI | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight = 0
        self._waiting = 0
        self._has_key = bool(settings.ai_api_key and settings.ai_api_key.get_secret_value())
        if not self._has_key:
            log.info(
                "model endpoint %s: no API key set, requests are unauthenticated",
                _safe_url(self._endpoint),
            )

    def __repr__(self) -> str:
        return f"ModelClient(endpoint={_safe_url(self._endpoint)!r}, model={self.model!r})"

    @property
    def model(self) -> str:
        return self._settings.ai_model

    @property
    def in_flight(self) -> int:
        """Calls holding a slot (talking to the model) right now."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Calls queued for a slot right now."""
        return self._waiting

    async def aclose(self) -> None:
        if self._slots is not None:
            await self._slots.aclose()
        if self._sdk is not None:
            sdk, self._sdk = self._sdk, None
            try:
                await sdk.close()
            except Exception:  # shutting down: a failing close must not stop the rest
                log.warning("closing the model client failed", exc_info=True)

    async def __aenter__(self) -> ModelClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- the two calls -------------------------------------------------------------------

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        purpose: str = "job_run",
        subject: str = "",
        prompt_version: str = "",
        deadline: float | None = None,
    ) -> Completion:
        """The whole answer, or ModelError; bounded by settings.ai_timeout, retries included
        (or by `deadline`, a time.monotonic() the caller's own bound ends at, if sooner)."""
        call = self._start(messages, purpose, subject, prompt_version, deadline)
        try:
            async with self._slot(call):
                text, model = await self._retrying(
                    call, lambda remaining: self._create(messages, remaining, call)
                )
        except ModelError as err:
            self._finish(call, err.outcome, err)
            raise
        except asyncio.CancelledError:
            self._finish(call, "cancelled", None)
            raise
        duration = self._finish(call, "ok", None)
        return Completion(
            text=text,
            model=model,
            usage=Usage(call.prompt_tokens, call.completion_tokens),
            duration=duration,
            attempts=call.attempts,
        )

    async def stream(
        self,
        messages: list[dict[str, str]],
        *,
        purpose: str = "job_run",
        subject: str = "",
        prompt_version: str = "",
        deadline: float | None = None,
    ) -> AsyncIterator[str]:
        """Text deltas as the model writes them.

        Failures before the first delta are retried and raised as ModelError, like
        complete(); a failure after it ends the stream with ModelError. The slot is held,
        and the deadline applies, for the stream's whole life.
        """
        call = self._start(messages, purpose, subject, prompt_version, deadline)
        outcome, error = "cancelled", None
        try:
            async with self._slot(call):
                sdk_stream, first = await self._retrying(
                    call, lambda remaining: self._open_stream(messages, remaining, call)
                )
                try:
                    yield first
                    while (text := await self._next_delta(sdk_stream, call)) is not None:
                        if text:
                            yield text
                finally:
                    with contextlib.suppress(Exception):
                        await sdk_stream.close()
            outcome = "ok"
        except ModelError as err:
            outcome, error = err.outcome, err
            raise
        finally:
            self._finish(call, outcome, error)

    # --- one attempt ---------------------------------------------------------------------

    def _params(self, messages: list[dict[str, str]], remaining: float) -> dict[str, Any]:
        settings = self._settings
        params: dict[str, Any] = {
            "model": settings.ai_model,
            "messages": messages,
            # max_tokens, not max_completion_tokens: llama.cpp ignores the latter.
            "max_tokens": settings.ai_max_tokens,
            "temperature": settings.ai_temperature,
            # The SDK's own Timeout type: its transport library is its business (openai 3.x
            # moved from httpx to httpx2 and refuses an httpx.Timeout).
            "timeout": openai.Timeout(
                remaining, connect=min(settings.ai_connect_timeout, remaining)
            ),
        }
        if not self._has_key:
            params["extra_headers"] = {"Authorization": openai.Omit()}
        return params

    async def _create(
        self, messages: list[dict[str, str]], remaining: float, call: _Call
    ) -> tuple[str, str]:
        try:
            reply = await self._client().chat.completions.create(
                **self._params(messages, remaining)
            )
        except Exception as exc:  # every SDK failure becomes a ModelError
            raise self._translate(exc) from exc
        if not isinstance(reply, ChatCompletion):
            raise _bad_reply("the model endpoint's reply is not a JSON chat completion")
        call.note_usage(reply.usage)
        if not reply.choices:
            raise _bad_reply("the model's reply has no choices")
        text = (reply.choices[0].message.content or "").strip()
        if not text:
            raise _bad_reply("the model's reply is empty")
        return text, reply.model or self._settings.ai_model

    async def _open_stream(
        self, messages: list[dict[str, str]], remaining: float, call: _Call
    ) -> tuple[openai.AsyncStream[Any], str]:
        """Start a stream and read up to its first text, so early failures can be retried."""
        try:
            sdk_stream = await self._client().chat.completions.create(
                **self._params(messages, remaining),
                stream=True,
                stream_options={"include_usage": True},
            )
        except Exception as exc:  # every SDK failure becomes a ModelError
            raise self._translate(exc) from exc
        try:
            while (text := await self._next_delta(sdk_stream, call)) is not None:
                if text:
                    return sdk_stream, text
        except BaseException:
            with contextlib.suppress(Exception):
                await sdk_stream.close()
            raise
        await sdk_stream.close()
        raise _bad_reply("the model's streamed reply is empty")

    async def _next_delta(self, sdk_stream: openai.AsyncStream[Any], call: _Call) -> str | None:
        """The next chunk's text ("" for chunks without any), or None at the end."""
        remaining = call.deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out()
        try:
            async with asyncio.timeout(remaining):
                chunk = await anext(sdk_stream)
        except StopAsyncIteration:
            return None
        except TimeoutError:
            raise self._timed_out() from None
        except Exception as exc:  # every SDK failure becomes a ModelError
            raise self._translate(exc) from exc
        call.note_usage(getattr(chunk, "usage", None))
        choices = getattr(chunk, "choices", None) or []
        delta = getattr(choices[0], "delta", None) if choices else None
        return getattr(delta, "content", None) or ""

    # --- policy: deadline, retries, slots ------------------------------------------------

    async def _retrying(self, call: _Call, attempt: Callable[[float], Awaitable[T]]) -> T:
        """Run attempts until one succeeds, a failure is final, or the deadline comes."""
        while True:
            remaining = call.deadline - time.monotonic()
            if remaining <= 0:
                raise self._timed_out()
            call.attempts += 1
            try:
                async with asyncio.timeout(remaining):
                    return await attempt(remaining)
            except TimeoutError:
                raise self._timed_out() from None
            except ModelError as err:
                if not err.retryable or call.attempts > self._settings.ai_retries:
                    raise
                delay = self._backoff(call.attempts, err.retry_after)
                if delay >= call.deadline - time.monotonic():
                    raise  # no time left to wait it out: the real reason beats a 504
                log.debug(
                    "model call attempt %d failed (%s); retrying in %.2fs",
                    call.attempts,
                    err.message,
                    delay,
                )
            await asyncio.sleep(delay)

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        exponential = min(self._backoff_cap, self._backoff_base * 2 ** (attempts - 1))
        return exponential * random.uniform(0.8, 1.0)

    @contextlib.asynccontextmanager
    async def _slot(self, call: _Call) -> AsyncIterator[None]:
        """Hold one of settings.ai_concurrency slots; refuse at once when the queue is full."""
        semaphore = self._ensure_loop_state()
        if semaphore.locked():
            if self._waiting >= self._settings.ai_queue_limit:
                raise ModelError(
                    503,
                    f"the model is busy: {self._in_flight} calls running, "
                    f"{self._waiting} waiting; try again shortly",
                    outcome="overloaded",
                    retry_after=OVERLOAD_RETRY_AFTER,
                )
            self._waiting += 1
            try:
                async with asyncio.timeout(max(0.0, call.deadline - time.monotonic())):
                    await semaphore.acquire()
            except TimeoutError:
                raise ModelError(
                    503,
                    f"the model is busy: no free slot within {self._settings.ai_timeout:g}s",
                    outcome="overloaded",
                    retry_after=OVERLOAD_RETRY_AFTER,
                ) from None
            finally:
                self._waiting -= 1
        else:
            await semaphore.acquire()
        try:
            async with self._deployment_slot(call):
                self._in_flight += 1
                AI.in_flight.inc()
                try:
                    yield
                finally:
                    self._in_flight -= 1
                    AI.in_flight.dec()
        finally:
            semaphore.release()

    @contextlib.asynccontextmanager
    async def _deployment_slot(self, call: _Call) -> AsyncIterator[None]:
        """One of the deployment's `ai_concurrency` slots, shared by every process on the
        same database (see ai.limits); without shared slots, this process's semaphore is
        the whole limit."""
        if self._slots is None:
            yield
            return
        holding = False
        try:
            async with self._slots.hold(self._settings.ai_concurrency, call.deadline):
                holding = True
                yield
        except SlotTimeout:  # only hold() raises it: the body never held a slot
            raise ModelError(
                503,
                f"the model is busy: every one of the deployment's {self._settings.ai_concurrency}"
                f" model slots stayed taken for {self._settings.ai_timeout:g}s",
                outcome="overloaded",
                retry_after=OVERLOAD_RETRY_AFTER,
            ) from None
        except Exception as exc:
            if holding:
                raise
            raise ModelError(  # the database that keeps the slots is out of reach
                503,
                f"no model slot: the database is unavailable ({type(exc).__name__})",
                outcome="unavailable",
                retry_after=OVERLOAD_RETRY_AFTER,
            ) from exc

    def _ensure_loop_state(self) -> asyncio.Semaphore:
        """The semaphore and SDK client belong to one event loop; start afresh in a new one."""
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._loop = loop
            self._semaphore = asyncio.Semaphore(self._settings.ai_concurrency)
            self._sdk = None  # its pooled connections belong to the old loop
        return self._semaphore

    def _client(self) -> AsyncOpenAI:
        if self._sdk is None:
            settings = self._settings
            key = settings.ai_api_key.get_secret_value() if settings.ai_api_key else ""
            self._sdk = AsyncOpenAI(
                base_url=self._endpoint,
                api_key=key or _NO_KEY,
                max_retries=0,  # we retry, within our deadline
                timeout=openai.Timeout(settings.ai_timeout, connect=settings.ai_connect_timeout),
            )
        return self._sdk

    # --- errors and accounting ------------------------------------------------------------

    def _timed_out(self) -> ModelError:
        return ModelError(
            504,
            f"the model did not answer within {self._settings.ai_timeout:g}s",
            outcome="timeout",
        )

    def _translate(self, exc: Exception) -> ModelError:
        """An SDK failure as a ModelError; retryable when another try may well succeed."""
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = _error_detail(exc.body, self._scrub)
            return ModelError(
                502,
                self._scrub(
                    f"the model endpoint answered HTTP {status}" + (f": {detail}" if detail else "")
                ),
                outcome="http_error",
                upstream_status=status,
                retry_after=_retry_after(exc.response.headers.get("retry-after")),
                retryable=status == 429 or status >= 500,
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__
            connect = _is_connect_failure(cause)
            if isinstance(exc, openai.APITimeoutError) and not connect:
                return self._timed_out()
            where = _safe_url(self._endpoint)
            what = f"could not connect to {where}" if connect else f"lost the connection to {where}"
            reason = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
            return ModelError(
                503,
                self._scrub(f"the model endpoint is unreachable: {what}{reason}"),
                outcome="unreachable",
                retryable=True,
            )
        if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError):
            name = type(exc).__name__
            return _bad_reply(f"the model endpoint's reply is not valid JSON ({name})")
        return self._client_error(exc)

    def _client_error(self, exc: Exception) -> ModelError:
        """A failure the SDK should not have raised: a bug, or an incompatible release of the
        SDK or its transport. Never retried; the traceback goes to the DEBUG log only."""
        log.debug("unexpected exception from the model client", exc_info=exc)
        detail = self._scrub(" ".join(str(exc).split()))[:_DETAIL_CHARS]  # scrub, then cut
        return ModelError(
            502,
            f"the model client failed unexpectedly: {type(exc).__name__}: {detail}",
            outcome="client_error",
        )

    def _scrub(self, text: str) -> str:
        key = self._settings.ai_api_key.get_secret_value() if self._settings.ai_api_key else ""
        return text.replace(key, "<redacted>") if key else text

    def _start(
        self,
        messages: list[dict[str, str]],
        purpose: str,
        subject: str,
        prompt_version: str,
        deadline: float | None = None,
    ) -> _Call:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "model prompt purpose=%s messages=%s",
                purpose,
                self._scrub(json.dumps(messages, ensure_ascii=False)),
            )
        now = time.monotonic()
        return _Call(
            purpose=purpose,
            started=now,
            deadline=min(now + self._settings.ai_timeout, deadline or float("inf")),
            subject=subject,
            prompt_version=prompt_version,
        )

    def _finish(self, call: _Call, outcome: str, error: ModelError | None) -> float:
        """Metrics, the log line and the hook: exactly once per call."""
        duration = time.monotonic() - call.started
        record = CallRecord(
            model=self._settings.ai_model,
            purpose=call.purpose,
            outcome=outcome,
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
            duration=duration,
            attempts=call.attempts,
            error=error.message if error else None,
            upstream_status=error.upstream_status if error else None,
            subject=call.subject,
            prompt_version=call.prompt_version,
        )
        AI.requests.labels(outcome=outcome).inc()
        if outcome != "overloaded":  # never reached the model; would drag the histogram to 0
            AI.duration.observe(duration)
        if call.prompt_tokens:
            AI.tokens.labels(kind="prompt").inc(call.prompt_tokens)
        if call.completion_tokens:
            AI.tokens.labels(kind="completion").inc(call.completion_tokens)
        log.info(
            "model call model=%s purpose=%s subject=%s outcome=%s prompt_tokens=%s "
            "completion_tokens=%s duration=%.2fs attempts=%d%s",
            record.model,
            record.purpose,
            record.subject,
            outcome,
            record.prompt_tokens,
            record.completion_tokens,
            duration,
            record.attempts,
            f" error={record.error!r}" if record.error else "",
        )
        if self._on_call is not None:
            try:
                self._on_call(record)
            except Exception:
                log.exception("the on_call hook failed; the model call itself is unaffected")
        return duration


def _bad_reply(message: str) -> ModelError:
    return ModelError(502, message, outcome="bad_reply")


def _is_connect_failure(cause: BaseException | None) -> bool:
    """Did the request never reach the server? (httpx and httpx2 share these class names.)"""
    names = {cls.__name__ for cls in type(cause).__mro__} if cause is not None else set()
    return bool(names & {"ConnectError", "ConnectTimeout"})


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds; it may be a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_detail(body: object, scrub: Callable[[str], str]) -> str:
    """The upstream's own error message, short, when it sent one; scrubbed before it is
    shortened, so a key the upstream echoed cannot survive in part."""
    message: object = body
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
    if not isinstance(message, str):
        return ""
    message = scrub(" ".join(message.split()))
    return message[:_DETAIL_CHARS] + ("…" if len(message) > _DETAIL_CHARS else "")


def _safe_url(url: str) -> str:
    """The endpoint without any user:password part, for logs and messages."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid endpoint URL>"
    return str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else url
