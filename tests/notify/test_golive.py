"""Month archive feeds are pinged with the others; a scheduled article is announced when it goes
live, not when it is written: after a restart too, by one deliverer of several, in batches."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from syndication.config import Settings
from syndication.ingest import validate_article
from syndication.metrics import Metrics
from syndication.notify import Notifier, targets
from syndication.store import SQLiteStore
from syndication.timeutil import from_epoch, month_key
from tests.notify.helpers import (
    ALL,
    Script,
    cursor_of,
    feeds,
    hub_urls,
    indexnow_body,
    notify_settings,
    payload,
    put,
    requests_to,
    wait_for,
)

pytestmark = pytest.mark.anyio


class Clock:
    """Real time plus a jump the test makes: the notifier's "now" for what readers can see."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift

    def reach(self, epoch: float) -> None:
        self.shift = max(self.shift, epoch - time.time())


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _archive(settings: Settings, epoch: float) -> list[str]:
    return feeds(f"archive/{month_key(from_epoch(int(epoch)), settings.zone)}")


def _notifier(s: Settings, store: SQLiteStore, clock: Clock, **kw: Any) -> Notifier:
    return Notifier(s, store, Metrics(), poll_seconds=0.05, clock=clock, **kw)


async def _judged(notifier: Notifier, store: SQLiteStore) -> None:
    """Every target's cursor is past every change: the notifier has looked at all of them."""
    notifier.wake()
    last = await store.last_change_id()
    await wait_for(
        lambda: all(cursor_of(store.path, t.name).change_id >= last for t in notifier.targets)
    )


def _expect_ok(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    httpserver.expect_request("/indexnow", method="POST").respond_with_data("", status=202)


async def test_a_write_pings_its_month_archive(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    _expect_ok(httpserver)
    s = notify_settings(settings, httpserver, indexnow=False)
    notifier = Notifier(s, store, Metrics(), poll_seconds=0.05)
    await notifier.start()
    try:
        now = time.time()  # the current month, in the site's zone
        await put(store, s, "m1", payload(["politika"], [], published_at=_iso(now)))
        notifier.wake()
        await wait_for(lambda: len(requests_to(httpserver, "/hub")) == 1)
        [hub] = requests_to(httpserver, "/hub")
        assert hub_urls(hub) == [*ALL, *feeds("rubric/politika"), *_archive(s, now)]
    finally:
        await notifier.stop()


async def test_scheduled_article_is_announced_when_it_goes_live(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    _expect_ok(httpserver)
    s = notify_settings(settings, httpserver)
    clock = Clock()
    notifier = _notifier(s, store, clock)
    await notifier.start()
    try:
        at = int(time.time()) + 3600
        await put(store, s, "s1", payload(["politika"], ["Выборы"], published_at=_iso(at)))
        await _judged(notifier, store)
        # Edited before it goes live: moves to another rubric. Still nothing to announce.
        await put(store, s, "s1", payload(["ekonomika"], ["Выборы"], published_at=_iso(at)))
        await _judged(notifier, store)
        assert httpserver.log == []

        clock.reach(at + 1)
        await wait_for(lambda: len(httpserver.log) == 2)
        [hub], [indexnow] = requests_to(httpserver, "/hub"), requests_to(httpserver, "/indexnow")
        # Where it is now, not where it was first written.
        assert hub_urls(hub) == [
            *ALL, *feeds("rubric/ekonomika"), *feeds("tag/vybory"), *_archive(s, at)
        ]  # fmt: skip
        assert indexnow_body(indexnow)["urlList"] == ["https://example.ru/news/s1/"]
        await asyncio.sleep(0.5)
        assert len(httpserver.log) == 2  # announced once

        # Once live, an edit is announced when it is made, as any other.
        await put(store, s, "s1", payload(["ekonomika"], [], published_at=_iso(at)))
        notifier.wake()
        await wait_for(lambda: len(httpserver.log) == 4)
    finally:
        await notifier.stop()


async def test_go_live_survives_a_restart(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    _expect_ok(httpserver)
    s = notify_settings(settings, httpserver)
    clock = Clock()
    at = int(time.time()) + 3600
    first = _notifier(s, store, clock)
    await first.start()
    try:
        await put(store, s, "r1", payload(["sport"], [], published_at=_iso(at)))
        await _judged(first, store)
    finally:
        await first.stop()
    assert httpserver.log == []

    clock.reach(at + 120)  # it went live while no server ran
    second = _notifier(s, store, clock)
    await second.start()
    try:
        await wait_for(lambda: len(httpserver.log) == 2)
        [hub] = requests_to(httpserver, "/hub")
        assert hub_urls(hub) == [*ALL, *feeds("rubric/sport"), *_archive(s, at)]
    finally:
        await second.stop()

    third = _notifier(s, store, clock)
    await third.start()
    try:
        await asyncio.sleep(1.0)
        assert len(httpserver.log) == 2  # acknowledged: not sent again
    finally:
        await third.stop()


async def test_failed_go_live_is_retried_after_a_restart(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    script = Script((503, {"Retry-After": "1"}), (202, {}))
    httpserver.expect_request("/indexnow", method="POST").respond_with_handler(script)
    s = notify_settings(settings, httpserver, hub=False)
    clock = Clock()
    at = int(time.time()) + 3600
    first = _notifier(s, store, clock)
    await first.start()
    name = first.targets[0].name
    try:
        await put(store, s, "f1", payload(["sport"], [], published_at=_iso(at)))
        await _judged(first, store)
        clock.reach(at + 1)
        await wait_for(lambda: cursor_of(store.path, name).attempts == 1)
    finally:
        await first.stop()
    again = _notifier(s, store, clock)
    await again.start()
    try:
        await wait_for(lambda: len(script.times) == 2)
        await wait_for(lambda: cursor_of(store.path, name).attempts == 0)
        lists = [indexnow_body(r)["urlList"] for r in requests_to(httpserver, "/indexnow")]
        assert lists == [["https://example.ru/news/f1/"]] * 2
        await asyncio.sleep(0.5)
        assert len(script.times) == 2
    finally:
        await again.stop()


async def test_one_of_two_workers_announces_the_go_live(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    _expect_ok(httpserver)
    s = notify_settings(settings, httpserver, indexnow=False)
    other_store = SQLiteStore(s.db, s.zone)  # a second worker's connections, as in test_leader
    await other_store.open()
    clock = Clock()
    first = _notifier(s, store, clock, leader_retry_seconds=0.1)
    second = _notifier(s, other_store, clock, leader_retry_seconds=0.1)
    await first.start()
    await wait_for(lambda: first.delivering)
    await second.start()
    try:
        at = int(time.time()) + 3600
        await put(other_store, s, "w1", payload(["glavnoe"], [], published_at=_iso(at)))
        await _judged(first, store)
        clock.reach(at + 1)
        await wait_for(lambda: len(httpserver.log) == 1)
        await first.stop()
        await wait_for(lambda: second.delivering)  # takes over from the stored live mark
        await asyncio.sleep(0.5)
        assert len(httpserver.log) == 1
    finally:
        await first.stop()
        await second.stop()
        await other_store.close()


async def test_many_going_live_in_one_second_split_into_requests(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(targets.IndexNowTarget, "max_urls", 7)
    httpserver.expect_request("/indexnow", method="POST").respond_with_data("", status=200)
    s = notify_settings(settings, httpserver, hub=False)
    clock = Clock()
    notifier = _notifier(s, store, clock)
    await notifier.start()
    try:
        at = int(time.time()) + 3600
        await store.put_articles(
            validate_article(payload(["glavnoe"], [], published_at=_iso(at)), s, article_id=i)
            for i in (f"c{n:02d}" for n in range(20))
        )
        # and one a second later, which must wait for its own second
        await put(store, s, "d00", payload(["glavnoe"], [], published_at=_iso(at + 1)))
        await _judged(notifier, store)
        clock.reach(at + 0.5)  # inside second `at`
        await wait_for(lambda: len(httpserver.log) == 3)
        lists = [indexnow_body(r)["urlList"] for r in requests_to(httpserver, "/indexnow")]
        assert [len(x) for x in lists] == [7, 7, 6]
        assert [u for x in lists for u in x] == [
            f"https://example.ru/news/c{n:02d}/" for n in range(20)
        ]
        clock.reach(at + 1)
        await wait_for(lambda: len(httpserver.log) == 4)
        assert indexnow_body(httpserver.log[3][0])["urlList"] == ["https://example.ru/news/d00/"]
    finally:
        await notifier.stop()
