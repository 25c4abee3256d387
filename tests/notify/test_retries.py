"""Failures: 5xx retried with growing delays, 429 honours Retry-After (read strictly, capped),
4xx dropped and logged, redirects not followed, refused connections retried, attempts limited.

No wall-clock bound: the delays the notifier chose are read from its log (jitter off), and a
measured wait is only checked to be no shorter than the one chosen."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from syndication.config import Settings
from syndication.metrics import Metrics
from syndication.notify import Notifier, delivery
from syndication.notify.delivery import RETRY_AFTER_MAX
from syndication.store import SQLiteStore
from tests.conftest import free_port
from tests.notify.helpers import (
    CLOCK_SLACK,
    NoJitter,
    Script,
    cursor_of,
    notify_settings,
    payload,
    put,
    requests_to,
    wait_for,
)

pytestmark = pytest.mark.anyio


async def _run(
    settings: Settings, store: SQLiteStore, server: HTTPServer, script: Script, **kw: Any
) -> tuple[Notifier, Metrics]:
    server.expect_request("/indexnow", method="POST").respond_with_handler(script)
    s = notify_settings(settings, server, hub=False, **kw)
    metrics = Metrics()
    notifier = Notifier(s, store, metrics, poll_seconds=0.05, rng=NoJitter())
    await notifier.start()
    await put(store, s, "r1", payload(["glavnoe"], []))
    notifier.wake()
    return notifier, metrics


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def _chosen_delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The retry delays the notifier decided on, from its "attempt failed … next in" lines."""
    return [
        float(r.args[-1])  # type: ignore[arg-type]
        for r in caplog.records
        if str(r.msg).startswith("%s: attempt") and isinstance(r.args, tuple)
    ]


async def test_500_twice_then_202(
    settings: Settings,
    store: SQLiteStore,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="syndication.notify")
    script = Script((500, {}), (500, {}), (202, {}))
    notifier, metrics = await _run(settings, store, httpserver, script)
    try:
        await wait_for(lambda: len(script.times) == 3)
        # backoff 0.2 s without jitter: the delays double, and each was waited out.
        assert _chosen_delays(caplog) == [0.1, 0.2]
        first, second = script.times[1] - script.times[0], script.times[2] - script.times[1]
        assert first >= 0.1 - CLOCK_SLACK
        assert second >= 0.2 - CLOCK_SLACK
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
    settings: Settings,
    store: SQLiteStore,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="syndication.notify")
    script = Script((429, {"Retry-After": "2"}), (200, {}))
    notifier, _ = await _run(settings, store, httpserver, script)
    try:
        await wait_for(lambda: len(script.times) == 2)
        assert _chosen_delays(caplog) == [2.0]  # not the 0.1 s of the backoff
        assert script.times[1] - script.times[0] >= 2.0 - CLOCK_SLACK
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
    assert cursor.next_attempt_at >= script.wall[0] + 3.0
    # A new notifier (a restarted server) waits out the endpoint's Retry-After, then delivers.
    s = notify_settings(settings, httpserver, hub=False)
    again = Notifier(s, store, Metrics(), poll_seconds=0.05)
    await again.start()
    try:
        await wait_for(lambda: len(script.times) == 2)
        assert script.wall[1] >= cursor.next_attempt_at - CLOCK_SLACK
    finally:
        await again.stop()


def _loop_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "delivery loop error" in r.getMessage()]


@pytest.mark.parametrize("value", ["²", "①", "٣", "1.5", "-1", "soon"])
async def test_unreadable_retry_after_is_no_hint_and_attempts_are_counted(
    settings: Settings,
    store: SQLiteStore,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
    value: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="syndication.notify")
    # Sent as UTF-8 bytes (werkzeug writes header strings as Latin-1), which httpx decodes.
    script = Script((503, {"Retry-After": value.encode().decode("latin-1")}))  # every attempt
    notifier, metrics = await _run(settings, store, httpserver, script, notify_max_attempts=3,
                                   notify_backoff_seconds=0.05)  # fmt: skip
    try:
        name = notifier.targets[0].name
        last = await store.last_change_id()
        await wait_for(lambda: cursor_of(store.path, name).change_id == last)
        assert cursor_of(store.path, name).last_error == "dropped: HTTP 503: nope"
        assert len(script.times) == 3
        assert _chosen_delays(caplog) == [0.025, 0.05]  # the normal backoff
        assert _sample(metrics, "syndication_notify_failures_total", target="indexnow",
                       reason="http-503") == 3  # fmt: skip
        assert _loop_errors(caplog) == []
    finally:
        await notifier.stop()


async def test_a_retry_after_of_millennia_is_capped(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    script = Script((503, {"Retry-After": "99999999999"}))
    notifier, _ = await _run(settings, store, httpserver, script)
    name = notifier.targets[0].name
    try:
        await wait_for(lambda: cursor_of(store.path, name).attempts == 1)
    finally:
        await notifier.stop()
    at = cursor_of(store.path, name).next_attempt_at
    assert at is not None
    # One day from the answer (a minute of leeway for a slow machine), not the year 5195.
    assert script.wall[0] + RETRY_AFTER_MAX <= at <= script.wall[0] + RETRY_AFTER_MAX + 60


async def test_a_far_retry_time_stored_earlier_is_pulled_in(
    settings: Settings,
    store: SQLiteStore,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What an older version stored for `Retry-After: 99999999999`; a short cap stands in for
    # the day so that the test need not wait one.
    monkeypatch.setattr(delivery, "RETRY_AFTER_MAX", 0.3)
    httpserver.expect_request("/indexnow", method="POST").respond_with_data("", status=202)
    s = notify_settings(settings, httpserver, hub=False, notify_backoff_max_seconds=0.3)
    first = Notifier(s, store, Metrics(), poll_seconds=0.05)
    await first.start()  # creates the cursor
    await first.stop()
    name = first.targets[0].name
    stuck = replace(cursor_of(store.path, name), attempts=1, next_attempt_at=99999999999.0 + 1e9)
    await store.save_delivery_cursor(stuck)
    await put(store, s, "r1", payload(["glavnoe"], []))
    again = Notifier(s, store, Metrics(), poll_seconds=0.05)
    await again.start()
    try:
        last = await store.last_change_id()
        await wait_for(lambda: cursor_of(store.path, name).change_id == last)
        assert len(requests_to(httpserver, "/indexnow")) == 1
    finally:
        await again.stop()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_not_followed_but_reported(
    settings: Settings,
    store: SQLiteStore,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    caplog.set_level(logging.WARNING, logger="syndication.notify")
    elsewhere = httpserver.url_for("/elsewhere")
    httpserver.expect_request("/elsewhere").respond_with_data("", status=200)
    script = Script((status, {"Location": elsewhere}))
    notifier, metrics = await _run(settings, store, httpserver, script, notify_max_attempts=2,
                                   notify_backoff_seconds=0.05)  # fmt: skip
    try:
        name = notifier.targets[0].name
        last = await store.last_change_id()
        await wait_for(lambda: cursor_of(store.path, name).change_id == last)
        assert requests_to(httpserver, "/elsewhere") == []  # the body went nowhere else
        detail = f"HTTP {status}: redirect to {elsewhere} not followed"
        assert cursor_of(store.path, name).last_error == f"dropped: {detail}"
        assert len(script.times) == 2  # each a counted attempt
        assert _sample(metrics, "syndication_notify_failures_total", target="indexnow",
                       reason=f"http-{status}") == 2  # fmt: skip
        [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert detail in warning.getMessage()
        [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert detail in error.getMessage()
    finally:
        await notifier.stop()


async def test_a_body_that_does_not_decode_is_a_counted_failure(
    settings: Settings,
    store: SQLiteStore,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="syndication.notify")

    def garbage(request: Request) -> Response:
        return Response(b"not gzip at all", status=200, headers={"Content-Encoding": "gzip"})

    httpserver.expect_request("/indexnow", method="POST").respond_with_handler(garbage)
    s = notify_settings(settings, httpserver, hub=False, notify_max_attempts=2,
                        notify_backoff_seconds=0.05)  # fmt: skip
    metrics = Metrics()
    notifier = Notifier(s, store, metrics, poll_seconds=0.05)
    await notifier.start()
    try:
        await put(store, s, "r1", payload(["glavnoe"], []))
        notifier.wake()
        name = notifier.targets[0].name
        last = await store.last_change_id()
        await wait_for(lambda: cursor_of(store.path, name).change_id == last)
        assert (cursor_of(store.path, name).last_error or "").startswith("dropped: DecodingError")
        assert _sample(metrics, "syndication_notify_failures_total", target="indexnow",
                       reason="protocol") == 2  # fmt: skip
        assert _loop_errors(caplog) == []
    finally:
        await notifier.stop()
