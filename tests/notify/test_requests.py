"""The exact requests a hub and an IndexNow endpoint receive for a create, a move between
rubrics, and a delete."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from syndication.config import Settings
from syndication.metrics import Metrics
from syndication.notify import Notifier
from syndication.store import SQLiteStore
from tests.notify.helpers import (
    ALL,
    DECEMBER,
    KEY,
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


async def test_create_move_delete(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    httpserver.expect_request("/indexnow", method="POST").respond_with_data("", status=202)
    s = notify_settings(settings, httpserver)
    notifier = Notifier(s, store, Metrics(), poll_seconds=0.05)
    await notifier.start()
    try:

        async def step(n: int) -> None:
            notifier.wake()
            await wait_for(
                lambda: (
                    len(requests_to(httpserver, "/hub")) == n
                    and len(requests_to(httpserver, "/indexnow")) == n
                )
            )

        # create
        await put(store, s, "a1", payload(["politika"], ["Общество", "Выборы"]))
        await step(1)
        hub, indexnow = requests_to(httpserver, "/hub")[0], requests_to(httpserver, "/indexnow")[0]
        assert hub.method == "POST"
        assert hub.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert hub_urls(hub) == [
            *ALL, *feeds("rubric/politika"), *feeds("tag/obshchestvo"), *feeds("tag/vybory"),
            *DECEMBER,
        ]  # fmt: skip
        assert hub.get_data(as_text=True).startswith(
            "hub.mode=publish&hub.url=https%3A%2F%2Ffeeds.example.ru%2Ffeeds%2Fall.rss&hub.url="
        )
        assert indexnow.headers["Content-Type"] == "application/json; charset=utf-8"
        assert indexnow_body(indexnow) == {
            "host": "example.ru",
            "key": KEY,
            "keyLocation": f"https://feeds.example.ru/{KEY}.txt",
            "urlList": ["https://example.ru/news/a1/"],
        }

        # update: moves from «politika» to «ekonomika», keeps one tag, gets a new URL
        new_url = "https://example.ru/ekonomika/a1/"
        await put(store, s, "a1", payload(["ekonomika"], ["Общество"], url=new_url))
        await step(2)
        hub, indexnow = requests_to(httpserver, "/hub")[1], requests_to(httpserver, "/indexnow")[1]
        assert hub_urls(hub) == [
            *ALL,
            *feeds("rubric/politika"),  # before
            *feeds("rubric/ekonomika"),  # after
            *feeds("tag/obshchestvo"),
            *feeds("tag/vybory"),  # only before
            *DECEMBER,
        ]
        assert indexnow_body(indexnow)["urlList"] == ["https://example.ru/news/a1/", new_url]

        # delete
        assert await store.delete_article("a1") is not None
        await step(3)
        hub, indexnow = requests_to(httpserver, "/hub")[2], requests_to(httpserver, "/indexnow")[2]
        assert hub_urls(hub) == [
            *ALL, *feeds("rubric/ekonomika"), *feeds("tag/obshchestvo"), *DECEMBER
        ]  # fmt: skip
        assert indexnow_body(indexnow)["urlList"] == [new_url]
    finally:
        await notifier.stop()


async def test_drafts_announce_nothing_until_published(
    settings: Settings, store: SQLiteStore, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    httpserver.expect_request("/indexnow", method="POST").respond_with_data("", status=202)
    s = notify_settings(settings, httpserver)
    notifier = Notifier(s, store, Metrics(), poll_seconds=0.05)
    await notifier.start()
    try:
        await put(store, s, "d1", payload(["politika"], [], status="draft"))
        notifier.wake()
        last = await store.last_change_id()
        # Both cursors move past the draft's change without sending anything.
        await wait_for(
            lambda: all(cursor_of(store.path, t.name).change_id >= last for t in notifier.targets)
        )
        assert httpserver.log == []
        await put(store, s, "d1", payload(["politika"], []))  # draft -> published
        notifier.wake()
        await wait_for(lambda: len(httpserver.log) == 2)
        assert hub_urls(requests_to(httpserver, "/hub")[0]) == [
            *ALL, *feeds("rubric/politika"), *DECEMBER
        ]  # fmt: skip
    finally:
        await notifier.stop()
