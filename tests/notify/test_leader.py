"""With several worker processes (or replicas), exactly one delivers; another takes over when it
stops or loses its lock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from pytest_httpserver import HTTPServer

from syndication.config import Settings
from syndication.metrics import Metrics
from syndication.notify import Notifier
from syndication.store import SQLiteStore, Store
from syndication.store.postgres.leader import AdvisoryLeader
from tests.conftest import open_store_at
from tests.notify.helpers import notify_settings, payload, put, requests_to, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.backends]


@contextlib.asynccontextmanager
async def two_workers(
    s: Settings, store: Store, httpserver: HTTPServer
) -> AsyncIterator[tuple[Store, Notifier, Notifier]]:
    """Two "workers": each its own store connections and notifier on the same store, the first
    delivering. flock locks belong to open file descriptions, so two in one process exclude
    each other as two processes would; PostgreSQL's advisory locks belong to sessions."""
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    other_store = open_store_at(s.db, s.zone)
    await other_store.open()
    first = Notifier(s, store, Metrics(), poll_seconds=0.05, leader_retry_seconds=0.1)
    second = Notifier(s, other_store, Metrics(), poll_seconds=0.05, leader_retry_seconds=0.1)
    await first.start()
    await wait_for(lambda: first.delivering)
    await second.start()
    try:
        yield other_store, first, second
    finally:
        await first.stop()
        await second.stop()
        await other_store.close()


async def test_one_deliverer_and_takeover(
    settings: Settings, store: Store, httpserver: HTTPServer
) -> None:
    s = notify_settings(settings, httpserver, indexnow=False)
    async with two_workers(s, store, httpserver) as (other_store, first, second):
        await asyncio.sleep(0.3)
        assert not second.delivering
        # A write in the non-delivering worker: it wakes nobody there, the deliverer sees the
        # shared change counter move.
        await put(other_store, s, "l1", payload(["glavnoe"], []))
        second.wake()
        await wait_for(lambda: len(requests_to(httpserver, "/hub")) == 1)
        await first.stop()
        await wait_for(lambda: second.delivering)
        await put(store, s, "l2", payload(["sport"], []))
        await wait_for(lambda: len(requests_to(httpserver, "/hub")) == 2)
        await asyncio.sleep(0.3)
        assert len(requests_to(httpserver, "/hub")) == 2  # each change announced once


async def test_start_does_nothing_without_targets(settings: Settings, store: SQLiteStore) -> None:
    notifier = Notifier(settings, store, Metrics())
    await notifier.start()
    notifier.wake()
    assert not notifier.delivering
    assert await store.delivery_cursors() == []
    await notifier.stop()


@pytest.mark.backends("postgres")
async def test_a_replica_that_loses_its_lock_stops_and_another_takes_over(
    settings: Settings, store: Store, httpserver: HTTPServer
) -> None:
    import asyncpg

    s = notify_settings(settings, httpserver, indexnow=False)
    async with two_workers(s, store, httpserver) as (other_store, first, second):
        admin = await asyncpg.connect(s.db)
        lock = first._lock
        assert isinstance(lock, AdvisoryLeader)
        held_on = lock._conn
        try:
            # The leader's lock connection is terminated (a network cut, an administrator).
            holders = await admin.fetch(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND objid <> 0"
            )
            assert holders
            for row in holders:
                await admin.execute("SELECT pg_terminate_backend($1)", row["pid"])
            # The first notices (its lock's connection is gone), and one of the two leads again.
            await wait_for(lambda: lock._conn is not held_on)
            await wait_for(lambda: first.delivering != second.delivering)
            # Whoever leads now, a write in either store is announced once.
            await put(other_store, s, "k1", payload(["glavnoe"], []))
            first.wake()
            second.wake()
            await wait_for(lambda: len(requests_to(httpserver, "/hub")) == 1)
            await asyncio.sleep(0.5)
            assert len(requests_to(httpserver, "/hub")) == 1
            assert first.delivering != second.delivering
        finally:
            await admin.close()
