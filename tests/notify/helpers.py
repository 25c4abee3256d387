"""Shared pieces of the notify tests: settings pointing at a pytest-httpserver, articles, waits."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from syndication.config import Settings
from syndication.ingest import validate_article
from syndication.store import Store
from syndication.store.base import DeliveryCursor

KEY = "0123456789abcdef"
FEEDS = "https://feeds.example.ru"  # public_url of the `settings` fixture


def notify_settings(
    settings: Settings, server: HTTPServer, *, hub: bool = True, indexnow: bool = True, **kw: Any
) -> Settings:
    values: dict[str, Any] = {
        "notify_debounce_seconds": 0.1,
        "notify_backoff_seconds": 0.2,
        "notify_timeout": 2.0,
    }
    if hub:
        values["websub_hub"] = server.url_for("/hub")
    if indexnow:
        values["indexnow_endpoint"] = server.url_for("/indexnow")
        values["indexnow_key"] = KEY
    values.update(kw)
    return replace(settings, **values)


def payload(
    rubrics: list[str],
    tags: list[str],
    *,
    url: str | None = None,
    status: str = "published",
    published_at: str = "2025-12-10T18:08:00+03:00",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Новость",
        "published_at": published_at,
        "rubrics": rubrics,
        "tags": tags,
        "status": status,
    }
    if url:
        body["url"] = url
    return body


async def put(store: Store, settings: Settings, article_id: str, body: dict[str, Any]) -> int:
    result = await store.put_articles([validate_article(body, settings, article_id=article_id)])
    return result.change_id


class Script:
    """Answers the requests in turn with the given (status, headers); records arrival times
    (`times` monotonic, `wall` as time.time(), the clock the notifier schedules retries on)."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.times: list[float] = []
        self.wall: list[float] = []

    def __call__(self, request: Request) -> Response:
        self.wall.append(time.time())
        self.times.append(time.monotonic())
        status, headers = self.answers[min(len(self.times), len(self.answers)) - 1]
        return Response("nope" if status >= 400 else "", status=status, headers=headers)


def hub_urls(request: Request) -> list[str]:
    assert request.form.getlist("hub.mode") == ["publish"]
    return request.form.getlist("hub.url")


def indexnow_body(request: Request) -> dict[str, Any]:
    body = orjson.loads(request.get_data())
    assert isinstance(body, dict)
    return body


def requests_to(server: HTTPServer, path: str) -> list[Request]:
    return [request for request, _ in server.log if request.path == path]


async def wait_for(condition: Callable[[], bool], within: float = 60.0) -> None:
    # A hang guard, not a speed bound: a loaded 2-core machine can take seconds.
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class NoJitter(random.Random):
    """Backoff's random factor always 0.5: each retry delay is exactly base·2^(n-1)/2."""

    def random(self) -> float:
        return 0.0


# Clocks differ by a hair: time.time() schedules a retry, the event loop's monotonic clock
# sleeps until it. A wait shorter than the one chosen by more than this is a bug.
CLOCK_SLACK = 0.01


def feeds(scope: str) -> list[str]:
    return [f"{FEEDS}/feeds/{scope}.{fmt}" for fmt in ("rss", "atom", "json")]


ALL = [*feeds("all"), f"{FEEDS}/feeds/yandex.rss"]
# The month archive of `payload`'s articles (site zone).
DECEMBER = feeds("archive/2025-12")


def cursor_of(db: Path, target: str) -> DeliveryCursor:
    """The target's cursor read straight from the file: a sync predicate for `wait_for`."""
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT target, change_id, attempts, next_attempt_at, last_error, updated_at"
            " FROM delivery_cursors WHERE target = ?",
            (target,),
        ).fetchone()
    finally:
        conn.close()
    assert row is not None, f"no cursor for {target}"
    return DeliveryCursor(*row)
