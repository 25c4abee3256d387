"""An article keeps its guid / Atom id / JSON id whatever is edited about it."""

from __future__ import annotations

import feedparser
import orjson
import pytest

from feeds import build_feed
from syndication.config import Settings
from syndication.model import ALL_NEWS
from syndication.store import SQLiteStore
from tests.feeds.helpers import context, load, payload

pytestmark = [pytest.mark.anyio, pytest.mark.backends]


async def _ids(store: SQLiteStore, settings: Settings) -> tuple[str, str, str]:
    ctx = context(store, settings)
    rss = feedparser.parse((await build_feed(ctx, ALL_NEWS, "rss")).body).entries[0].id
    atom = feedparser.parse((await build_feed(ctx, ALL_NEWS, "atom")).body).entries[0].id
    json = orjson.loads((await build_feed(ctx, ALL_NEWS, "json")).body)["items"][0]["id"]
    return rss, atom, json


async def test_ids_survive_every_edit(store: SQLiteStore, settings: Settings) -> None:
    await load(store, settings, [payload(1)])
    before = await _ids(store, settings)
    assert before == ("tag:example.ru,2025:article:a-0001",) * 3
    edited = payload(
        1,
        title="Совсем другой заголовок",
        content_html="<p>Новый текст</p>",
        rubrics=["obshchestvo"],
        tags=["Другое"],
        url="https://example.ru/moved/1/",
        updated_at="2025-12-20T15:30:00+03:00",
    )
    await load(store, settings, [edited])
    assert await _ids(store, settings) == before
