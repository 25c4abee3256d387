"""HeadCheck: a caller always gets the answer of a query that began after it asked, and callers
that arrive together share one query. ChangeListener: LISTEN on a real PostgreSQL, reconnecting
and catching up after its connection is killed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from syndication.store.freshness import CHANNEL, ChangeListener, HeadCheck
from tests.conftest import PG_ADMIN_URL, _postgres_unreachable

pytestmark = pytest.mark.anyio


class HeldQuery:
    """A head query that the test releases by hand, recording when each one started."""

    def __init__(self) -> None:
        self.head = 0
        self.started: list[int] = []  # the head as it was when each query began
        self.release: list[asyncio.Event] = []

    async def __call__(self) -> int:
        seen = self.head
        self.started.append(seen)
        gate = asyncio.Event()
        self.release.append(gate)
        await gate.wait()
        return seen


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_caller_never_gets_a_query_that_began_before_it_asked() -> None:
    query = HeldQuery()
    check = HeadCheck(query)
    first = asyncio.create_task(check.current())
    await _settle()
    assert query.started == [0]
    # A write is acknowledged while the first query runs; whoever asks now must see it.
    query.head = 7
    late = [asyncio.create_task(check.current()) for _ in range(50)]
    await _settle()
    assert query.started == [0]  # one query at a time
    query.release[0].set()
    assert await first == 0
    await _settle()
    assert query.started == [0, 7]  # the 50 share one query, begun after they asked
    query.release[1].set()
    assert await asyncio.gather(*late) == [7] * 50
    assert check.queries == 2
    assert check.latest == 7


async def test_a_failed_query_reaches_its_waiters_and_the_next_one_runs() -> None:
    calls = 0

    async def query() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("server gone")
        return 3

    check = HeadCheck(query)
    with pytest.raises(ConnectionError):
        await check.current()
    assert await check.current() == 3


async def test_a_caller_that_hangs_up_does_not_cancel_the_query_for_the_others() -> None:
    query = HeldQuery()
    check = HeadCheck(query)
    running = asyncio.create_task(check.current())
    await _settle()
    # These two wait for the next query, which the first of them leaves before it ends.
    leaving = asyncio.create_task(check.current())
    staying = asyncio.create_task(check.current())
    await _settle()
    query.release[0].set()
    await running
    await _settle()
    assert len(query.started) == 2
    leaving.cancel()
    await _settle()
    query.head = 5
    query.release[1].set()
    assert await staying == 0
    assert leaving.cancelled()


# --- ChangeListener on a real PostgreSQL ---------------------------------------------------------


async def _pg() -> Callable[[], Awaitable[Any]]:
    # NOTIFY is per database: the test server's own (other tests' databases hear nothing).
    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        _postgres_unreachable(exc)
    await conn.close()

    async def connect() -> Any:
        return await asyncpg.connect(PG_ADMIN_URL, timeout=10)

    return connect


async def _until(predicate: Callable[[], bool]) -> None:
    # Only a hang misses this deadline. Polled: the state is set by asyncpg's callbacks.
    async with asyncio.timeout(60):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_the_listener_hears_writes_and_catches_up_after_its_connection_is_killed() -> None:
    connect = await _pg()
    head = 10
    seen: list[int] = []

    async def last_change_id() -> int:
        return head

    listener = ChangeListener(connect, last_change_id, seen.append, backoff=(0.01, 0.1))
    listener.start()
    other = await connect()
    try:
        await _until(lambda: listener.connected)
        assert seen == [10]  # the catch-up read on connecting
        await other.execute("SELECT pg_notify($1, '11')", CHANNEL)
        await _until(lambda: 11 in seen)

        # The listening backend is killed; meanwhile change 12 is committed with its news lost.
        pids = await other.fetch(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
        )
        assert pids, "no listening backend found"
        head = 12
        for row in pids:
            await other.execute("SELECT pg_terminate_backend($1)", row["pid"])
        await _until(lambda: listener.connections >= 2 and listener.connected)
        assert seen[-1] == 12  # caught up from the change log on reconnecting
        await other.execute("SELECT pg_notify($1, '13')", CHANNEL)
        await _until(lambda: 13 in seen)
    finally:
        await other.close()
        await listener.stop()
    assert not listener.connected
