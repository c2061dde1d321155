"""Model slots for a whole deployment: every process of every machine sharing one database.

At most `ai_concurrency` model calls may run at once across `serve --workers N`, `sippy worker`
processes and replicas alike (a model server is often one GPU). Within a process a semaphore
does this; across processes, slot `i` of N is a lock that the operating system or the
database drops by itself when its holder dies, so a killed process never keeps a slot:

- PostgreSQL: the session advisory lock (SLOTS, i), held on a connection of a small pool
  for as long as the call runs.
- SQLite: a POSIX record lock on byte `i` of one file beside the database (`<db>.locks`),
  shared by every process of the machine (SQLite has no other machines).
- Anything else (an in-memory database, a library caller): this process only.

Waiting is polling with a short back-off up to the caller's deadline: a database cannot wait
for "any one of N locks", and a few queries a second cost nothing beside a model call. (One
call per question across processes is kept by a lease row instead: see `ai.service`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

SLOTS = 0x5199A1  # PostgreSQL advisory lock class of model slots
POLL_FIRST, POLL_MAX = 0.02, 0.25  # seconds between tries


class SlotTimeout(Exception):
    """The deadline came before a slot was free."""


class ModelSlots(Protocol):
    """Model slots shared by every process of a deployment."""

    def hold(self, count: int, deadline: float) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold one of `count` slots while the block runs; SlotTimeout at `deadline`
        (time.monotonic())."""
        ...

    async def aclose(self) -> None: ...


TrySlot = Callable[[int], Awaitable[bool]]


async def _first_free(try_slot: TrySlot, count: int, deadline: float) -> int:
    """Try each slot (from a random one, to spread the tries) until one is taken."""
    wait = POLL_FIRST
    while True:
        start = random.randrange(count)
        for step in range(count):
            index = (start + step) % count
            if await try_slot(index):
                return index
        left = deadline - time.monotonic()
        if left <= 0:
            raise SlotTimeout
        await asyncio.sleep(min(left, wait * random.uniform(0.5, 1.0)))
        wait = min(POLL_MAX, wait * 2)


class ProcessSlots:
    """This process only: for one process on its own (an in-memory database, a library)."""

    def __init__(self) -> None:
        self._taken: set[int] = set()

    async def _try(self, index: int) -> bool:
        if index in self._taken:
            return False
        self._taken.add(index)
        return True

    def _release(self, index: int) -> None:
        self._taken.discard(index)

    @contextlib.asynccontextmanager
    async def hold(self, count: int, deadline: float) -> AsyncIterator[None]:
        index = await _first_free(self._try, count, deadline)
        try:
            yield
        finally:
            self._release(index)

    async def aclose(self) -> None:
        self._taken.clear()


class FileSlots(ProcessSlots):
    """Record locks on bytes of one file: shared by the processes of one machine (SQLite).

    POSIX record locks belong to a process, so the bookkeeping inherited from ProcessSlots
    keeps two tasks of one process apart and the file keeps processes apart. The file stays
    open for the life of the process: closing any descriptor of it would drop every lock.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._fd: int | None = None

    async def _try(self, index: int) -> bool:
        if index in self._taken:
            return False
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, index)
        except OSError:  # EAGAIN/EACCES: another process holds it
            return False
        self._taken.add(index)
        return True

    def _release(self, index: int) -> None:
        if self._fd is not None:
            fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, index)
        super()._release(index)

    async def aclose(self) -> None:
        await super().aclose()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


class PostgresSlots:
    """Advisory locks, each held on its own pooled connection while the call runs.

    The process's own semaphore lets at most `count` callers seek a slot at once, so the
    pool never needs more connections than that.
    """

    def __init__(self, conninfo: str, max_held: int) -> None:
        self._conninfo = conninfo
        self._max_held = max_held
        self._pool = None  # made on first use, in the loop that uses it
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _connections(self):  # type: ignore[no-untyped-def]
        from psycopg_pool import AsyncConnectionPool

        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            self._loop = loop
            self._pool = AsyncConnectionPool(
                self._conninfo,
                min_size=0,
                max_size=self._max_held,
                kwargs={"autocommit": True},
                open=False,
                check=AsyncConnectionPool.check_connection,
                name="sippy-model-slots",
            )
            await self._pool.open()
        return self._pool

    @contextlib.asynccontextmanager
    async def hold(self, count: int, deadline: float) -> AsyncIterator[None]:
        pool = await self._connections()
        async with pool.connection(timeout=max(0.1, deadline - time.monotonic())) as conn:

            async def try_slot(index: int) -> bool:
                cursor = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (SLOTS, index))
                row = await cursor.fetchone()
                return bool(row and row[0])

            index = await _first_free(try_slot, count, deadline)
            try:
                yield
            finally:
                with contextlib.suppress(Exception):  # a lost connection dropped it already
                    await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (SLOTS, index))

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            with contextlib.suppress(Exception):
                await pool.close()


def slots_for(database_dsn: str, count: int) -> ModelSlots:
    """The slots a deployment on `database_dsn` shares (see the module docstring)."""
    url = make_url(database_dsn.replace("postgres://", "postgresql://", 1))
    backend = url.get_backend_name()
    if backend == "postgresql":
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresSlots(conninfo, max_held=count)
    if backend == "sqlite" and url.database and url.database != ":memory:":
        return FileSlots(Path(f"{url.database}.locks"))
    return ProcessSlots()
