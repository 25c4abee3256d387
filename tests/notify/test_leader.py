"""With several worker processes, exactly one delivers; another takes over when it stops."""

from __future__ import annotations

import asyncio

import pytest
from pytest_httpserver import HTTPServer

from syndication.config import Settings
from syndication.metrics import Metrics
from syndication.notify import Notifier
from syndication.store import SQLiteStore
from tests.notify.helpers import notify_settings, payload, put, requests_to, wait_for

pytestmark = pytest.mark.anyio


async def test_one_deliverer_and_takeover(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    s = notify_settings(settings, httpserver, indexnow=False)
    # Two "workers": each its own store connections and notifier on the same file. flock locks
    # belong to open file descriptions, so two in one process exclude each other as two
    # processes would.
    other_store = SQLiteStore(s.db, s.zone)
    await other_store.open()
    first = Notifier(s, store, Metrics(), poll_seconds=0.05, leader_retry_seconds=0.1)
    second = Notifier(s, other_store, Metrics(), poll_seconds=0.05, leader_retry_seconds=0.1)
    await first.start()
    await wait_for(lambda: first.delivering)
    await second.start()
    try:
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
    finally:
        await first.stop()
        await second.stop()
        await other_store.close()


async def test_start_does_nothing_without_targets(settings: Settings, store: SQLiteStore) -> None:
    notifier = Notifier(settings, store, Metrics())
    await notifier.start()
    notifier.wake()
    assert not notifier.delivering
    assert await store.delivery_cursors() == []
    await notifier.stop()
