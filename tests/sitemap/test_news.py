"""The news sitemap: the 48 hours before ctx.now, at most 1,000, newest first, and its expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sitemap import build_index, build_news
from syndication.config import Settings
from syndication.rendering import DocumentNotFound
from syndication.store import SQLiteStore
from tests.sitemap.helpers import article, bulk_insert, ctx, epoch, index_lastmods, locs

pytestmark = [pytest.mark.anyio, pytest.mark.backends]
NOW = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


async def test_window_edges(store: SQLiteStore, settings: Settings) -> None:
    await store.put_articles(
        [
            article(1, NOW - 47 * H - 59 * M),
            article(2, NOW - 48 * H),  # the window is open at its old end
            article(3, NOW - 48 * H - 1 * M),
            article(4, NOW),
            article(5, NOW + 1 * M),  # not yet published
        ]
    )
    news = await build_news(ctx(store, settings, NOW))
    assert locs(news.body) == ["https://example.ru/news/4/", "https://example.ru/news/1/"]
    # Article 1 leaves the window one minute from now; nothing else changes sooner (5 goes live
    # then too).
    assert news.expires == NOW + 1 * M
    later = await build_news(ctx(store, settings, NOW + 1 * M))
    assert locs(later.body) == ["https://example.ru/news/5/", "https://example.ru/news/4/"]
    assert later.expires == NOW + 48 * H


async def test_expiry_is_the_oldest_leaving(store: SQLiteStore, settings: Settings) -> None:
    await store.put_articles([article(1, NOW - 40 * H), article(2, NOW - 1 * H)])
    news = await build_news(ctx(store, settings, NOW))
    assert news.expires == NOW + 8 * H
    assert locs((await build_news(ctx(store, settings, NOW + 8 * H - M))).body)[-1].endswith("/1/")
    assert len(locs((await build_news(ctx(store, settings, NOW + 8 * H))).body)) == 1


async def test_cap_keeps_the_1000_newest(store: SQLiteStore, settings: Settings) -> None:
    bulk_insert(
        settings.db,
        ((f"n{i}", f"https://example.ru/news/n{i}/", epoch(NOW) - 60 * i) for i in range(1001)),
    )
    news = await build_news(ctx(store, settings, NOW))
    urls = locs(news.body)
    assert len(urls) == 1000
    assert urls[0] == "https://example.ru/news/n0/"
    assert urls[-1] == "https://example.ru/news/n999/"
    assert "https://example.ru/news/n1000/" not in urls
    # Once the 1,000th newest ages out the set changes with no write.
    assert news.expires == NOW - 999 * M + 48 * H


async def test_empty_window_is_not_found_and_not_indexed(
    store: SQLiteStore, settings: Settings
) -> None:
    await store.put_articles([article(1, NOW - 3 * 24 * H)])
    c = ctx(store, settings, NOW)
    with pytest.raises(DocumentNotFound):
        await build_news(c)
    index = await build_index(c)
    assert list(index_lastmods(index.body)) == [
        "https://feeds.example.ru/sitemaps/articles-2025-12.xml"
    ]
    assert index.expires is None
