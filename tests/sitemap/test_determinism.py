"""A write to an old article changes its month's file and that month's lastmod in the index only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndication.config import Settings
from syndication.model import Image
from syndication.store import SQLiteStore
from tests.sitemap.helpers import article, ctx, index_lastmods, render_all

pytestmark = [pytest.mark.anyio, pytest.mark.backends]
NOW = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)
D = timedelta(days=1)


async def test_old_write_touches_only_its_month(store: SQLiteStore, settings: Settings) -> None:
    await store.put_articles(
        [
            article(n, NOW - n * 9 * D, rubrics=("glavnoe",) if n < 5 else (),
                    tags=("Город",) if n < 5 else ())
            for n in range(40)
        ]
    )  # fmt: skip
    old = NOW - 30 * 9 * D  # article 30, about eight months back
    before = await render_all(ctx(store, settings, NOW))
    # Rendering again, later, with no write gives the very same bytes: no generation stamps.
    again = await render_all(ctx(store, settings, NOW + timedelta(minutes=1)))
    assert again.index.body == before.index.body
    assert {p: r.body for p, r in again.children.items()} == {
        p: r.body for p, r in before.children.items()
    }

    await store.put_articles(
        [article(30, old, updated_at=NOW - 2 * D, image=Image("https://example.ru/i/30.jpg"),
                 title="Исправлено")]
    )  # fmt: skip
    after = await render_all(ctx(store, settings, NOW))

    month = f"/sitemaps/articles-{old.astimezone(settings.zone):%Y-%m}.xml"
    assert set(after.children) == set(before.children)
    changed = {p for p in before.children if before.children[p].body != after.children[p].body}
    assert changed == {month}
    lm_before, lm_after = index_lastmods(before.index.body), index_lastmods(after.index.body)
    assert list(lm_before) == list(lm_after)
    assert {k for k in lm_before if lm_before[k] != lm_after[k]} == {settings.public_url + month}
    assert (
        lm_after[settings.public_url + month] == (NOW - 2 * D).astimezone(settings.zone).isoformat()
    )
