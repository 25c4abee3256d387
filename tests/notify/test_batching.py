"""A burst of writes goes out as one request per target, each URL once."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from syndication.config import Settings
from syndication.ingest import validate_article
from syndication.metrics import Metrics
from syndication.notify import Notifier, targets
from syndication.store import SQLiteStore
from tests.notify.helpers import (
    ALL,
    DECEMBER,
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

RUBRICS = ["politika", "ekonomika", "sport", "kultura", "glavnoe"]
TAGS = ["Общество", "Выборы", "Спорт", "Театр", "Дороги", "ЖКХ", "Погода", "Школы"]
SLUGS = ["obshchestvo", "vybory", "sport", "teatr", "dorogi", "zhkkh", "pogoda", "shkoly"]


def _sample(metrics: Metrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"target": "indexnow"})


class HeldDebounce(Notifier):
    """A notifier whose debounce window stays open until the test releases it: the burst is
    written inside the window however slow the machine, with no clock involved."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.entered = 0
        self.release = asyncio.Event()

    async def debounce(self) -> bool:
        self.entered += 1
        await self.interruptible(self.release.wait())  # stop() ends it too
        return self.stopping or await super().debounce()


async def test_a_burst_of_writes_makes_one_request_per_target(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    httpserver.expect_request("/indexnow", method="POST").respond_with_data("", status=202)
    s = notify_settings(settings, httpserver)
    metrics = Metrics()
    notifier = HeldDebounce(s, store, metrics, poll_seconds=0.05)
    await notifier.start()
    try:
        # 100 writes of 60 articles: 40 of them are written twice. The first opens the window
        # of both targets; the other 99 are made while it is open.
        for n in range(100):
            i = n % 60
            body = payload([RUBRICS[i % 5]], [TAGS[i % 8], TAGS[(i + 3) % 8]])
            await put(store, s, f"b{i}", body)
            notifier.wake()
            if n == 0:
                await wait_for(lambda: notifier.entered == 2)
        assert httpserver.log == []  # the window holds everything back
        notifier.release.set()
        last = await store.last_change_id()
        names = [target.name for target in notifier.targets]
        await wait_for(lambda: all(cursor_of(store.path, n).change_id == last for n in names))
        # Everything acknowledged: nothing else can follow.
        hubs, indexnows = requests_to(httpserver, "/hub"), requests_to(httpserver, "/indexnow")
        assert len(hubs) == 1
        assert len(indexnows) == 1
        urls = hub_urls(hubs[0])
        assert len(urls) == len(set(urls))
        expected = {*ALL, *DECEMBER}
        for r in RUBRICS:
            expected |= set(feeds(f"rubric/{r}"))
        for t in SLUGS:
            expected |= set(feeds(f"tag/{t}"))
        assert set(urls) == expected
        listed = indexnow_body(indexnows[0])["urlList"]
        assert listed == [f"https://example.ru/news/b{i}/" for i in range(60)]
        # The depth is set once the deliverer finds nothing more to send.
        await wait_for(lambda: _sample(metrics, "syndication_notify_outbox_depth") == 0)
        delivered = metrics.registry.get_sample_value(
            "syndication_notify_deliveries_total", {"target": "websub"}
        )
        assert delivered == 1
    finally:
        await notifier.stop()


async def test_large_backlog_splits_at_the_indexnow_limit(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small limit stands in for IndexNow's 10,000 URLs a request.
    monkeypatch.setattr(targets.IndexNowTarget, "max_urls", 7)
    httpserver.expect_request("/indexnow", method="POST").respond_with_data("", status=200)
    s = notify_settings(settings, httpserver, hub=False)
    notifier = Notifier(s, store, Metrics(), poll_seconds=0.05)
    await notifier.start()
    try:
        # One transaction: twenty change rows that are pending together.
        await store.put_articles(
            [
                validate_article(payload(["glavnoe"], []), s, article_id=f"c{i:02d}")
                for i in range(20)
            ]
        )
        notifier.wake()
        await wait_for(lambda: len(httpserver.log) == 3)
        lists = [indexnow_body(r)["urlList"] for r in requests_to(httpserver, "/indexnow")]
        assert [len(x) for x in lists] == [7, 7, 6]
        assert list(itertools.chain(*lists)) == [
            f"https://example.ru/news/c{i:02d}/" for i in range(20)
        ]
    finally:
        await notifier.stop()
