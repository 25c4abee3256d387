"""Months past either limit continue in -2, -3…; no file passes a limit; the index names each part."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sitemap import build_index, build_month
from sitemap.partition import frame_bytes, urls_per_part
from sitemap.urlwriter import ROW_OVERHEAD
from syndication.config import Settings
from syndication.model import Image
from syndication.rendering import DocumentNotFound
from syndication.store import SQLiteStore
from tests.sitemap.helpers import article, bulk_insert, ctx, epoch, index_lastmods, locs, parse

pytestmark = [pytest.mark.anyio, pytest.mark.backends]
NOW = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)
NOV = datetime(2025, 11, 1, tzinfo=UTC)  # 03:00 on the 1st in Moscow: inside November


async def parts_of(store: SQLiteStore, settings: Settings, month: str) -> list[bytes]:
    c = ctx(store, settings, NOW)
    bodies = []
    for part in range(1, 1000):
        try:
            bodies.append((await build_month(c, month, part)).body)
        except DocumentNotFound:
            return bodies
    raise AssertionError("endless parts")


async def test_split_by_count(store: SQLiteStore, settings: Settings) -> None:
    await store.put_articles(
        [article(n, NOV + timedelta(hours=n), updated_at=NOV + timedelta(days=20 - n % 7))
         for n in range(30)]
    )  # fmt: skip
    small = replace(settings, sitemap_max_urls=7)
    bodies = await parts_of(store, small, "2025-11")
    assert [len(locs(b)) for b in bodies] == [7, 7, 7, 7, 2]
    # Oldest first across the parts, each URL once.
    assert [u for b in bodies for u in locs(b)] == [
        f"https://example.ru/news/{n}/" for n in range(30)
    ]
    index = await build_index(ctx(store, small, NOW))
    lastmods = index_lastmods(index.body)
    base = "https://feeds.example.ru/sitemaps/articles-2025-11"
    assert list(lastmods) == [f"{base}.xml"] + [f"{base}-{i}.xml" for i in range(2, 6)]
    for loc, body in zip(lastmods, bodies, strict=True):
        newest = max(el.text or "" for el in parse(body).iter("{*}lastmod"))
        assert lastmods[loc] == newest


@pytest.mark.parametrize("max_bytes", [1500, 4000, 9000])
async def test_split_by_bytes_keeps_every_file_under_the_limit(
    store: SQLiteStore, settings: Settings, max_bytes: int
) -> None:
    # Captions of every length, full of characters that grow when escaped.
    await store.put_articles(
        [
            article(n, NOV + timedelta(hours=n),
                    image=Image(f"https://example.ru/i/{n}.jpg?a=1&b=2", caption="Ф&<>" * (n % 40)))
            for n in range(60)
        ]
    )  # fmt: skip
    small = replace(settings, sitemap_max_bytes=max_bytes)
    bodies = await parts_of(store, small, "2025-11")
    assert len(bodies) > 1
    assert all(len(b) <= max_bytes for b in bodies)
    assert sorted(u for b in bodies for u in locs(b)) == sorted(
        f"https://example.ru/news/{n}/" for n in range(60)
    )


async def test_row_bound_covers_the_largest_row(store: SQLiteStore, settings: Settings) -> None:
    caption = "Подпись & <тег> \r " * 20
    await store.put_articles(
        [article(1, NOV, image=Image("https://example.ru/i/1.jpg?a=1&b=2", caption=caption))]
    )
    start, end = NOV - timedelta(days=1), NOV + timedelta(days=1)
    count, bound = await store.url_row_bound(start, end, now=NOW)
    assert count == 1
    body = (await build_month(ctx(store, settings, NOW), "2025-11")).body
    url = body[body.index(b"<url ") : body.index(b"</url>") + len(b"</url>")]
    # Safe; loose only by the room kept for a longer zone offset and a byte per < or > (the
    # store counts every escaped character as 5 bytes; &lt; and &gt; take 4).
    assert len(url) <= ROW_OVERHEAD + bound <= len(url) + 7 + 40
    assert len(body) == frame_bytes(settings) + len(url)
    room_for_two = frame_bytes(settings) + 2 * (ROW_OVERHEAD + bound)
    assert urls_per_part(replace(settings, sitemap_max_bytes=room_for_two), bound) == 2
    assert urls_per_part(replace(settings, sitemap_max_bytes=room_for_two - 1), bound) == 1


@pytest.mark.slow
async def test_real_limits_split_50001_articles_in_two(
    store: SQLiteStore, settings: Settings
) -> None:
    first = epoch(NOV)
    bulk_insert(
        settings.db,
        ((f"b{i}", f"https://example.ru/news/b{i}/", first + i * 30) for i in range(50_001)),
    )
    assert settings.sitemap_max_urls == 50_000
    bodies = await parts_of(store, settings, "2025-11")
    assert [len(locs(b)) for b in bodies] == [50_000, 1]
    assert locs(bodies[1]) == ["https://example.ru/news/b50000/"]
    index = await build_index(ctx(store, settings, NOW))
    assert list(index_lastmods(index.body)) == [
        "https://feeds.example.ru/sitemaps/articles-2025-11.xml",
        "https://feeds.example.ru/sitemaps/articles-2025-11-2.xml",
    ]
