"""A real OpenAI-compatible HTTP server for tests: uvicorn on a free loopback port.

It speaks `POST /v1/chat/completions` (JSON, and `stream: true` as server-sent events in
OpenAI's chunk format ending with `data: [DONE]`) and `GET /v1/models`, records every
request, and misbehaves on demand, so the model client is tested over real HTTP with the
real SDK rather than against mocks.

    with FakeOpenAI() as fake:
        fake.fail_with(500, times=2)
        settings = build_settings(ai_endpoint=fake.base_url)
        ...
        assert fake.requests[-1].body["max_tokens"] == 300
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from tests.helpers import running_server

DEFAULT_REPLY = (
    "The install failed because the bootstrap node never came up; "
    "this looks like an infrastructure problem."
)
Mode = Literal["ok", "garbage", "no_choices", "empty", "drop"]


def count_tokens(text: str) -> int:
    """Roughly one token per four characters, as real tokenizers average on English."""
    return max(1, math.ceil(len(text) / 4))


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Chat-template overhead (4 per message, 3 to prime the reply) plus the contents."""
    return 3 + sum(4 + count_tokens(str(m.get("content") or "")) for m in messages)


def pieces(text: str) -> list[str]:
    """How a streamed reply is split into deltas: one word with its trailing space each."""
    return re.findall(r"\S+\s*|\s+", text)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, or None


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: float | None
    message: str


@dataclass
class FakeOpenAI:
    """The server and its behaviour; change the attributes between (or during) calls.

    `reply` is the answer text, or a function of the request's JSON body; `delay` is how
    long to wait before answering; `mode` makes the reply malformed: "garbage" (200 with
    a non-JSON body), "no_choices", "empty" (null content), "drop" (close the connection
    mid-reply). `drop_stream_after=N` closes a stream after N deltas; `chunk_delay` is the
    pause before each streamed delta, so a reader sees the text arrive piece by piece.
    """

    reply: str | Callable[[dict[str, Any]], str] = DEFAULT_REPLY
    delay: float = 0.0
    mode: Mode = "ok"
    drop_stream_after: int | None = None
    chunk_delay: float = 0.0
    model: str = "fake-model"
    _requests: list[RecordedRequest] = field(default_factory=list, repr=False)
    _failures: list[_Failure] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _active: int = 0
    _max_active: int = 0
    _closing: bool = False
    _base: str | None = None
    port: int = 0  # 0: a free port
    host: str = "127.0.0.1"  # 0.0.0.0: reachable from containers too
    _stack: ExitStack | None = field(default=None, repr=False)

    # --- life cycle --------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._stack = ExitStack()
        self._closing = False
        self._base = self._stack.enter_context(
            running_server(self._app(), port=self.port, host=self.host)
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing = True  # slow handlers give up at once so shutdown is quick
        if self._stack is not None:
            self._stack.close()
        self._stack = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>/v1`, what an OpenAI client takes as its base URL."""
        if self._base is None:
            raise RuntimeError("FakeOpenAI is not running; use it as a context manager")
        return f"{self._base}/v1"

    # --- what tests set and read -------------------------------------------------------

    def fail_with(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next `times` chat requests with this HTTP error (queued after others)."""
        with self._lock:
            self._failures.append(
                _Failure(status, times, retry_after, message or f"fake failure {status}")
            )

    def reset(self) -> None:
        """Back to a well-behaved server with no history, for a shared instance.

        Waits (briefly) for handlers of abandoned requests to notice, so one test's slow
        replies do not count towards the next test's concurrency.
        """
        self._closing = True
        deadline = time.monotonic() + 2
        while self._active and time.monotonic() < deadline:
            time.sleep(0.01)
        self._closing = False
        with self._lock:
            self._requests.clear()
            self._failures.clear()
            self._max_active = 0
        self.reply = DEFAULT_REPLY
        self.delay = 0.0
        self.mode = "ok"
        self.drop_stream_after = None
        self.chunk_delay = 0.0

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def max_concurrent(self) -> int:
        """The most chat requests this server was handling at one moment."""
        with self._lock:
            return self._max_active

    def reply_for(self, body: dict[str, Any]) -> str:
        return self.reply(body) if callable(self.reply) else self.reply

    # --- the application ---------------------------------------------------------------

    def _app(self) -> Callable[[Scope, Receive, Send], Any]:
        api = FastAPI()

        @api.get("/v1/models")
        async def models(request: Request) -> dict[str, Any]:
            self._record(request, None)
            return {
                "object": "list",
                "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}],
            }

        @api.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            self._record(request, body)
            with self._lock:
                self._active += 1
                self._max_active = max(self._max_active, self._active)
            try:
                return await self._answer(request, body)
            finally:
                with self._lock:
                    self._active -= 1

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if (
                scope["type"] == "http"
                and self.mode == "drop"
                and scope["path"].endswith("/chat/completions")
            ):
                await _drop(scope, receive, send, self)
                return
            await api(scope, receive, send)

        return app

    def _record(self, request: Request, body: Any) -> None:
        entry = RecordedRequest(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        with self._lock:
            self._requests.append(entry)

    def _next_failure(self) -> _Failure | None:
        with self._lock:
            if not self._failures:
                return None
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.pop(0)
            return failure

    async def _sleep(self, seconds: float, request: Request) -> bool:
        """Wait, but stop early if the client went away or the server is closing."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self._closing or await request.is_disconnected():
                return False
            await asyncio.sleep(min(0.02, left))
        return True

    async def _answer(self, request: Request, body: Any) -> Response:
        if self.delay and not await self._sleep(self.delay, request):
            return Response(status_code=499)
        failure = self._next_failure()
        if failure is not None:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = f"{failure.retry_after:g}"
            return JSONResponse(
                {
                    "error": {
                        "message": failure.message,
                        "type": "server_error" if failure.status >= 500 else "invalid_request",
                        "code": failure.status,
                    }
                },
                status_code=failure.status,
                headers=headers,
            )
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return JSONResponse({"error": {"message": "messages required"}}, status_code=400)
        if self.mode == "garbage":
            media = "text/event-stream" if body.get("stream") else "application/json"
            return Response(b"<html>502 from a confused proxy</html>", media_type=media)
        text = self.reply_for(body)
        usage = {
            "prompt_tokens": prompt_tokens(body["messages"]),
            "completion_tokens": count_tokens(text) if self.mode == "ok" else 0,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if body.get("stream"):
            return StreamingResponse(
                self._chunks(body, text, usage), media_type="text/event-stream"
            )
        return JSONResponse(self._completion(text, usage))

    def _completion(self, text: str, usage: dict[str, int]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if self.mode == "empty" else text,
        }
        choices = (
            []
            if self.mode == "no_choices"
            else [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}]
        )
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": choices,
            "usage": usage,
        }

    async def _chunks(
        self, body: dict[str, Any], text: str, usage: dict[str, int]
    ) -> AsyncIterator[bytes]:
        def chunk(choices: list[dict[str, Any]], with_usage: bool = False) -> bytes:
            doc: dict[str, Any] = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": self.model,
                "choices": choices,
            }
            if with_usage:
                doc["usage"] = usage
            return f"data: {json.dumps(doc)}\n\n".encode()

        def delta(content: str | None, finish: str | None = None) -> dict[str, Any]:
            return {"index": 0, "delta": {"content": content}, "finish_reason": finish}

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if self.mode != "no_choices":
            yield chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
            if self.mode != "empty":
                for n, piece in enumerate(pieces(text)):
                    if self.drop_stream_after is not None and n >= self.drop_stream_after:
                        raise _Dropped  # uvicorn closes the connection mid-stream
                    if self.chunk_delay and not self._closing:
                        await asyncio.sleep(self.chunk_delay)
                    yield chunk([delta(piece)])
            # llama.cpp style: usage rides on the last chunk unless asked for separately
            yield chunk([delta(None, "stop")], with_usage=not include_usage)
        if include_usage or self.mode == "no_choices":
            yield chunk([], with_usage=True)
        yield b"data: [DONE]\n\n"


class _Dropped(Exception):
    """Raised inside a response to make uvicorn drop the connection."""


async def _drop(scope: Scope, receive: Receive, send: Send, fake: FakeOpenAI) -> None:
    """Promise a body, send part of it, then hang up: the client sees a broken connection."""
    while (await receive()).get("more_body"):
        pass
    with fake._lock:
        fake._requests.append(
            RecordedRequest(
                "POST",
                scope["path"],
                {k.decode().lower(): v.decode() for k, v in scope["headers"]},
                None,
            )
        )
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"id": "chatcmpl-', "more_body": True})
    raise _Dropped


def fake_openai() -> Iterator[FakeOpenAI]:
    """Generator body for a pytest fixture: `fake = pytest.fixture(fake_openai)`."""
    with FakeOpenAI() as fake:
        yield fake


def main() -> None:
    """`python -m tests.fakes.openai_server [--port 8081] [--delay 2]`: serve until Ctrl-C,
    for trying `sippy serve --ai-endpoint` (and the benchmarks) without a real model."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--reply", default=DEFAULT_REPLY)
    args = parser.parse_args()
    with FakeOpenAI(reply=args.reply, delay=args.delay, port=args.port, host=args.host) as fake:
        print(f"fake OpenAI-compatible server at {fake.base_url}", flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
