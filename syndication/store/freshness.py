"""How a process on one database server learns of writes made by other processes, anywhere.

On one host the SQLite store's shared counter answers "has the change log grown?" without I/O,
because every writer bumps it before it answers its client. Replicas on several hosts share no
memory, so two mechanisms work together:

- `HeadCheck` asks the database for the newest change id, at most one query at a time, and
  gives each caller the answer of a query that *began after the caller asked*. A write
  acknowledged before a request arrived is therefore always seen by that request: the change log
  stays the truth, and the guarantee rests on nothing that can silently drop. Callers that arrive
  while a query runs share the next one, so under load one query serves many requests.
- `ChangeListener` holds a LISTEN connection: the news of a write arrives without a request (it
  wakes push delivery, and keeps `hint` current for gauges). When the connection drops it says
  so (`connected` is false), reconnects with backoff and catches up from the change log: nothing
  is missed, and nothing relies on it for exactness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("syndication.store")

CHANNEL = "syndication_changes"


class HeadCheck:
    """The newest change id, as read by a query that began after the call."""

    def __init__(self, query: Callable[[], Awaitable[int]]) -> None:
        self._query = query
        self._pending: asyncio.Future[int] | None = None  # callers waiting for the next query
        self._running: asyncio.Task[None] | None = None
        self.queries = 0  # how many ran (tests, benchmarks: how much coalescing saved)
        self.latest = 0  # the largest id any query returned

    async def current(self) -> int:
        future = self._pending
        if future is None:
            future = self._pending = asyncio.get_running_loop().create_future()
            if self._running is None:
                self._start()
        # shield: a client that hangs up must not cancel the query the others wait for.
        return await asyncio.shield(future)

    def _start(self) -> None:
        future, self._pending = self._pending, None
        assert future is not None
        self._running = asyncio.create_task(self._run(future))

    async def _run(self, future: asyncio.Future[int]) -> None:
        try:
            self.queries += 1
            value = await self._query()
        except Exception as exc:
            # Every waiter hears of it (a 503 upstream): a head that cannot be read is never
            # guessed.
            future.set_exception(exc)
            # Retrieved here so that asyncio does not report it when no waiter is left.
            future.exception()
        except asyncio.CancelledError:
            future.cancel()
            raise
        else:
            self.latest = max(self.latest, value)
            future.set_result(value)
        finally:
            self._running = None
            if self._pending is not None:
                self._start()


class ChangeListener:
    """LISTEN on `CHANNEL`: `on_change(change_id)` for every write committed anywhere, and
    `on_change(last_change_id())` after every (re)connection, which covers what was committed
    while the connection was down."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Any]],
        last_change_id: Callable[[], Awaitable[int]],
        on_change: Callable[[int], None],
        *,
        backoff: tuple[float, float] = (0.1, 5.0),
    ) -> None:
        self._connect = connect
        self._last_change_id = last_change_id
        self._on_change = on_change
        self._backoff = backoff
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._conn: Any = None
        self.connected = False
        self.connections = 0  # how many times it (re)connected (tests: proof of a catch-up)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        self.connected = False
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(conn.close(timeout=5))

    def _notified(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self._on_change(int(payload))

    def _terminated(self, conn: Any) -> None:
        self._lost.set()

    async def _run(self) -> None:
        delay = self._backoff[0]
        while True:
            try:
                self._lost.clear()
                self._conn = await self._connect()
                self._conn.add_termination_listener(self._terminated)
                await self._conn.add_listener(CHANNEL, self._notified)
                # Listening first, then reading the head: a write committed in between is
                # reported twice, never missed.
                self._on_change(await self._last_change_id())
                self.connected = True
                self.connections += 1
                delay = self._backoff[0]
                log.info("listening for changes (connection %d)", self.connections)
                await self._lost.wait()
                log.warning("the change listener's connection was lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("change listener: %s; retrying in %.1f s", exc, delay)
            await self._close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])
