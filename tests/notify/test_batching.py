"""A burst of writes goes out as one request per target, each URL once."""

from __future__ import annotations

import asyncio
import itertools
import time

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


async def test_hundred_writes_in_a_second_make_one_request_per_target(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    httpserver.expect_request("/indexnow", method="POST").respond_with_data("", status=202)
    s = notify_settings(settings, httpserver, notify_debounce_seconds=1.5)
    metrics = Metrics()
    notifier = Notifier(s, store, metrics, poll_seconds=0.05)
    await notifier.start()
    try:
        started = time.monotonic()
        # 100 writes of 60 articles: 40 of them are written twice.
        for n in range(100):
            i = n % 60
            body = payload([RUBRICS[i % 5]], [TAGS[i % 8], TAGS[(i + 3) % 8]])
            await put(store, s, f"b{i}", body)
            notifier.wake()
        assert time.monotonic() - started < 1.0
        await wait_for(lambda: len(httpserver.log) >= 2)
        await asyncio.sleep(s.notify_debounce_seconds + 0.5)  # nothing else follows
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
        depth = metrics.registry.get_sample_value(
            "syndication_notify_outbox_depth", {"target": "indexnow"}
        )
        assert depth == 0
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
