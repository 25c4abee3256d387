"""The article sitemaps hold every visible article exactly once, and nothing else."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sitemap.urlwriter import FRAME_BYTES
from syndication.config import Settings
from syndication.model import Image, Status
from syndication.store import SQLiteStore
from syndication.timeutil import month_key
from tests.sitemap.helpers import article, ctx, index_lastmods, locs, render_all

pytestmark = [pytest.mark.anyio, pytest.mark.backends]
NOW = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("max_urls", [50_000, 40])
async def test_union_of_month_sitemaps_is_exactly_the_visible_articles(
    store: SQLiteStore, settings: Settings, max_urls: int
) -> None:
    rng = random.Random(4)
    start = NOW - timedelta(days=5 * 365)
    articles, visible = [], set()
    for n in range(3000):
        published = start + timedelta(seconds=rng.randrange(int((NOW - start).total_seconds())))
        status = Status.DRAFT if n % 10 == 0 else Status.PUBLISHED
        if n % 15 == 0:
            published = NOW + timedelta(minutes=n)  # scheduled: visible later
        image = Image(f"https://example.ru/i/{n}.jpg", caption="Фото") if n % 3 else None
        a = article(n, published, status=status, image=image)
        articles.append(a)
        if status is Status.PUBLISHED and published <= NOW:
            visible.add(a.url)
    await store.put_articles(articles)
    settings = replace(settings, sitemap_max_urls=max_urls)

    site = await render_all(ctx(store, settings, NOW))
    urls = [u for path in site.month_paths() for u in locs(site.children[path].body)]
    assert len(urls) == len(set(urls))
    assert set(urls) == visible

    # The index names exactly the non-empty months (every part of them) and the other children.
    months = {month_key(a.published_at, settings.zone) for a in articles if a.url in visible}
    expected_first_parts = {f"/sitemaps/articles-{m}.xml" for m in months}
    assert expected_first_parts <= set(site.month_paths())
    assert {p for p in site.month_paths() if p.count("-") == 2} == expected_first_parts
    assert set(site.children) - set(site.month_paths()) == {"/sitemaps/news.xml"}
    for path in site.month_paths():
        body = site.children[path].body
        assert 0 < len(locs(body)) <= max_urls
        assert len(body) <= settings.sitemap_max_bytes
    # Each entry's lastmod is the newest change inside that child.
    lastmods = index_lastmods(site.index.body)
    for path, rendered in site.children.items():
        assert rendered.last_modified is not None
        stamp = rendered.last_modified.astimezone(settings.zone).isoformat()
        assert lastmods[settings.public_url + path] == stamp
    assert FRAME_BYTES < 300
