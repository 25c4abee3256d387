"""Failures: 5xx retried with growing delays, 429 honours Retry-After, 4xx dropped and logged,
refused connections retried, attempts limited."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from syndication.config import Settings
from syndication.metrics import Metrics
from syndication.notify import Notifier
from syndication.store import SQLiteStore
from tests.conftest import free_port
from tests.notify.helpers import Script, cursor_of, notify_settings, payload, put, wait_for

pytestmark = pytest.mark.anyio


async def _run(
    settings: Settings, store: SQLiteStore, server: HTTPServer, script: Script, **kw: Any
) -> tuple[Notifier, Metrics]:
    server.expect_request("/indexnow", method="POST").respond_with_handler(script)
    s = notify_settings(settings, server, hub=False, **kw)
    metrics = Metrics()
    notifier = Notifier(s, store, metrics, poll_seconds=0.05)
    await notifier.start()
    await put(store, s, "r1", payload(["glavnoe"], []))
    notifier.wake()
    return notifier, metrics


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_500_twice_then_202(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    script = Script((500, {}), (500, {}), (202, {}))
    notifier, metrics = await _run(settings, store, httpserver, script)
    try:
        await wait_for(lambda: len(script.times) == 3)
        first, second = script.times[1] - script.times[0], script.times[2] - script.times[1]
        # backoff 0.2 s: the first delay is in [0.1, 0.2), the second in [0.2, 0.4)
        assert 0.1 <= first < second
        assert second >= 0.2
        name = notifier.targets[0].name
        last = await store.last_change_id()
        await wait_for(lambda: cursor_of(store.path, name).change_id == last)
        cursor = cursor_of(store.path, name)
        assert (cursor.attempts, cursor.next_attempt_at, cursor.last_error) == (0, None, None)
        assert _sample(metrics, "syndication_notify_retries_total", target="indexnow") == 2
        assert _sample(metrics, "syndication_notify_failures_total", target="indexnow",
                       reason="http-500") == 2  # fmt: skip
        assert _sample(metrics, "syndication_notify_deliveries_total", target="indexnow") == 1
    finally:
        await notifier.stop()


async def test_429_retry_after_is_honoured(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    script = Script((429, {"Retry-After": "2"}), (200, {}))
    notifier, _ = await _run(settings, store, httpserver, script)
    try:
        await wait_for(lambda: len(script.times) == 2)
        assert script.times[1] - script.times[0] >= 2.0
    finally:
        await notifier.stop()


async def test_400_is_dropped_and_logged(
    settings: Settings,
    store: SQLiteStore,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="syndication.notify")
    script = Script((400, {}), (200, {}))
    notifier, metrics = await _run(settings, store, httpserver, script)
    try:
        name = notifier.targets[0].name
        last = await store.last_change_id()
        await wait_for(lambda: cursor_of(store.path, name).change_id == last)
        await asyncio.sleep(0.5)
        assert len(script.times) == 1  # never retried
        assert cursor_of(store.path, name).last_error == "dropped: HTTP 400: nope"
        [record] = [r for r in caplog.records if "dropped" in r.getMessage()]
        assert record.levelno == logging.ERROR
        assert "HTTP 400" in record.getMessage()
        assert "https://example.ru" not in record.getMessage()  # counts, not the URL list
        assert _sample(metrics, "syndication_notify_dropped_total", target="indexnow") == 1
    finally:
        await notifier.stop()


async def test_refused_connection_retries_until_the_limit(
    settings: Settings, store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="syndication.notify")
    s = replace(
        settings,
        indexnow_endpoint=f"http://127.0.0.1:{free_port()}/indexnow",  # nothing listens
        indexnow_key="0123456789abcdef",
        notify_debounce_seconds=0.05,
        notify_backoff_seconds=0.05,
        notify_max_attempts=3,
    )
    metrics = Metrics()
    notifier = Notifier(s, store, metrics, poll_seconds=0.05)
    await notifier.start()
    try:
        await put(store, s, "r1", payload(["glavnoe"], []))
        notifier.wake()
        name = notifier.targets[0].name
        last = await store.last_change_id()
        await wait_for(lambda: cursor_of(store.path, name).change_id == last)
        assert (cursor_of(store.path, name).last_error or "").startswith("dropped: ConnectError")
        assert _sample(metrics, "syndication_notify_failures_total", target="indexnow",
                       reason="transport") == 3  # fmt: skip
        assert _sample(metrics, "syndication_notify_retries_total", target="indexnow") == 2
        assert any("after 3 attempts" in r.getMessage() for r in caplog.records)
    finally:
        await notifier.stop()


async def test_retry_state_survives_a_restart(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    script = Script((503, {"Retry-After": "3"}), (202, {}))
    notifier, _ = await _run(settings, store, httpserver, script)
    name = notifier.targets[0].name
    try:
        await wait_for(lambda: cursor_of(store.path, name).attempts == 1)
    finally:
        await notifier.stop()
    cursor = cursor_of(store.path, name)
    assert cursor.last_error == "HTTP 503: nope"
    assert cursor.next_attempt_at is not None
    assert cursor.next_attempt_at >= time.time() + 2
    # A new notifier (a restarted server) waits out the endpoint's Retry-After, then delivers.
    s = notify_settings(settings, httpserver, hub=False)
    again = Notifier(s, store, Metrics(), poll_seconds=0.05)
    await again.start()
    try:
        await wait_for(lambda: len(script.times) == 2)
        assert script.times[1] - script.times[0] >= 3.0
    finally:
        await again.stop()
