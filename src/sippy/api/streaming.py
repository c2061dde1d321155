"""Server-sent events for a summary as it is written.

Events: `meta` (model, category, prompt version, cached), then `delta` events with the
text as it arrives, then `done` with the whole answer, the same object the JSON form
gives. A failure after the stream began ends it with an `error` event in the one error
shape, since the status line has already gone out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from sippy.ai.client import ModelError
from sippy.ai.service import RunAnswer

log = logging.getLogger(__name__)
META_KEYS = ("id", "model", "category", "promptVersion", "cached")


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def sse_events(answer: RunAnswer, first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    meta = answer.as_dict()
    yield event("meta", {k: meta[k] for k in META_KEYS})
    try:
        if first:
            yield event("delta", {"text": first})
        async for delta in rest:
            yield event("delta", {"text": delta})
    except ModelError as exc:
        yield event("error", {"code": exc.status, "message": exc.message})
        return
    except Exception:  # never a stack trace on the wire
        log.exception("streaming the summary of run %s failed", answer.id)
        yield event("error", {"code": 500, "message": "internal error; the server log has details"})
        return
    yield event("done", answer.as_dict())
