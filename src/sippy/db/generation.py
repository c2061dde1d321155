"""The data generation, and values derived from the runs kept while it stays the same.

A job-run summary takes about 10 database queries and milliseconds of Python, and the AI
answer's cache key needs the evidence built from it (as much again), so serving either
from scratch on every request costs 10-20 ms of CPU. The results only change when runs are
stored or removed, and every such transaction bumps one counter row (`bump_generation`).
A server reads that row (one primary-key lookup) and reuses what it computed while the
generation is the one it computed under, whoever changed the data: a loader, another
worker, another host.

Kept values may also be read with no database access at all (`peek`) for `FRESH_FOR`
seconds after the generation was last confirmed, so a hot answer is served on the event
loop without a thread hop: a change is seen within that time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from sippy.db import models as m

T = TypeVar("T")

GENERATION_ROW = 1
DERIVED_ENTRIES = 1024  # per process; a summary is tens of kB
FRESH_FOR = 1.0  # seconds a confirmed generation is trusted without reading it again
MISSING = object()  # `peek` found nothing usable


# Built once: it is read on every request that may use kept values.
_READ = select(m.DataGeneration.generation).where(m.DataGeneration.id == GENERATION_ROW)


def current_generation(session: Session) -> int | None:
    """The counter, or None when its row is missing (nothing is then kept)."""
    return session.scalar(_READ)


def bump_generation(session: Session) -> None:
    """Mark the stored runs as changed, inside the caller's transaction."""
    bumped = session.execute(
        update(m.DataGeneration)
        .where(m.DataGeneration.id == GENERATION_ROW)
        .values(generation=m.DataGeneration.generation + 1)
    )
    if bumped.rowcount == 0:  # the row was deleted (tables truncated): start again
        session.execute(insert(m.DataGeneration), [{"id": GENERATION_ROW, "generation": 1}])


class DerivedCache:
    """Values computed from the stored runs, kept while the data generation is unchanged.

    Thread-safe and bounded (least recently used first out). A value is computed outside
    the lock, so two threads may both compute it once; the results are equal. Callers must
    treat the values as read-only.
    """

    def __init__(self, entries: int = DERIVED_ENTRIES, fresh_for: float = FRESH_FOR) -> None:
        self._entries = entries
        self._fresh_for = fresh_for
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._confirmed_at = float("-inf")
        self._items: OrderedDict[Hashable, object] = OrderedDict()

    def get(self, session: Session, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for `key` under the current generation, computed (with `session`,
        after reading the generation, so never older than it) when not kept yet."""
        generation = current_generation(session)
        if generation is None:
            return compute()
        with self._lock:
            if self._generation is None or generation > self._generation:
                self._items.clear()
                self._generation = generation
            if generation == self._generation:
                self._confirmed_at = time.monotonic()
            if generation == self._generation and key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[return-value]
        value = compute()
        self._keep(generation, key, value)
        return value

    def peek(self, key: Hashable) -> object:
        """The kept value for `key` without reading the database, or `MISSING` when there
        is none or the generation was last confirmed more than `fresh_for` seconds ago."""
        with self._lock:
            if time.monotonic() - self._confirmed_at > self._fresh_for:
                return MISSING
            if key not in self._items:
                return MISSING
            self._items.move_to_end(key)
            return self._items[key]

    def remember(self, key: Hashable, value: object) -> None:
        """Keep a value that does not depend on the generation's data alone (its key says
        what it was computed from), under the current generation."""
        with self._lock:
            generation = self._generation
        if generation is not None:
            self._keep(generation, key, value)

    def forget(self, key: Hashable) -> None:
        """Drop one kept value (this process changed what it was computed from)."""
        with self._lock:
            self._items.pop(key, None)

    def _keep(self, generation: int, key: Hashable, value: object) -> None:
        with self._lock:
            if generation == self._generation:
                self._items[key] = value
                while len(self._items) > self._entries:
                    self._items.popitem(last=False)
