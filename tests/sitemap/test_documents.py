"""Every sitemap validates against the public XSDs, dates carry a zone, types and edges are right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sitemap import build_index, build_month, build_news, build_robots, build_rubrics, build_tags
from syndication.config import Settings
from syndication.model import Image, Rubric, Status
from syndication.rendering import DocumentNotFound
from syndication.store import SQLiteStore
from tests.conftest import requires_shared
from tests.sitemap.helpers import IMG, NEWS, article, assert_valid, ctx, locs, parse, render_all

pytestmark = [pytest.mark.anyio, pytest.mark.backends]
NOW = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


async def fill(store: SQLiteStore) -> None:
    await store.put_rubric(Rubric("glavnoe", "Главное", url="https://example.ru/main/?a=1&b=2"))
    captioned = Image("https://example.ru/i/1.jpg?w=1&h=2", caption="Подпись <с> символами & co")
    await store.put_articles(
        [
            article(1, NOW - timedelta(days=70), image=captioned, rubrics=("glavnoe",)),
            article(2, NOW - timedelta(days=30), image=Image("https://example.ru/i/2.jpg")),
            article(3, NOW - timedelta(hours=3), tags=("Общество", "Спорт"), rubrics=("sport",)),
            article(4, NOW - timedelta(hours=1), updated_at=NOW - timedelta(minutes=5)),
            article(5, NOW - timedelta(days=1), status=Status.DRAFT, rubrics=("drafts",)),
            article(6, NOW + timedelta(hours=2), tags=("Будущее",)),
        ]
    )


@requires_shared()
async def test_every_document_validates_and_dates_carry_a_zone(
    store: SQLiteStore, settings: Settings
) -> None:
    await fill(store)
    site = await render_all(ctx(store, settings, NOW))
    assert_valid(site.index.body, index=True)
    assert set(site.children) == {
        "/sitemaps/articles-2025-10.xml",
        "/sitemaps/articles-2025-11.xml",
        "/sitemaps/articles-2025-12.xml",
        "/sitemaps/rubrics.xml",
        "/sitemaps/tags.xml",
        "/sitemaps/news.xml",
    }
    for rendered in site.children.values():
        assert_valid(rendered.body)
        assert rendered.media_type == "application/xml; charset=utf-8"


async def test_month_sitemap_content(store: SQLiteStore, settings: Settings) -> None:
    await fill(store)
    c = ctx(store, settings, NOW)
    oct_ = await build_month(c, "2025-10")
    root = parse(oct_.body)
    assert locs(oct_.body) == ["https://example.ru/news/1/"]
    assert root.findtext(f".//{IMG}loc") == "https://example.ru/i/1.jpg?w=1&h=2"
    assert root.findtext(f".//{IMG}caption") == "Подпись <с> символами & co"
    # Site zone, to the second, with its offset.
    assert b"<lastmod>2025-10-01T12:00:00+03:00</lastmod>" in oct_.body
    assert oct_.last_modified == NOW - timedelta(days=70)
    assert oct_.expires is None
    dec = await build_month(c, "2025-12")
    assert locs(dec.body) == ["https://example.ru/news/3/", "https://example.ru/news/4/"]
    assert dec.last_modified == NOW - timedelta(minutes=5)
    assert dec.expires == NOW + timedelta(hours=2)  # article 6 goes live then


async def test_rubric_and_tag_pages(store: SQLiteStore, settings: Settings) -> None:
    await fill(store)
    c = ctx(store, settings, NOW)
    rubrics = await build_rubrics(c)
    # The rubric's own URL when the CMS gave one; rubrics of drafts only are absent.
    assert locs(rubrics.body) == [
        "https://example.ru/main/?a=1&b=2",
        "https://example.ru/rubric/sport/",
    ]
    assert rubrics.last_modified == NOW - timedelta(hours=3)
    tags = await build_tags(c)
    assert locs(tags.body) == [
        "https://example.ru/tag/obshchestvo/",
        "https://example.ru/tag/sport/",
    ]
    assert tags.expires == NOW + timedelta(hours=2)


async def test_news_content(store: SQLiteStore, settings: Settings) -> None:
    await fill(store)
    news = await build_news(ctx(store, settings, NOW))
    root = parse(news.body)
    assert locs(news.body) == ["https://example.ru/news/4/", "https://example.ru/news/3/"]
    assert root.findtext(f".//{NEWS}name") == settings.site_title
    assert root.findtext(f".//{NEWS}language") == "ru"
    assert root.findtext(f".//{NEWS}title") == "Новость 4"
    assert root.findtext(f".//{NEWS}publication_date") == "2025-12-10T11:00:00+03:00"
    assert news.last_modified == NOW - timedelta(minutes=5)


async def test_index_locs_are_public_and_absolute(store: SQLiteStore, settings: Settings) -> None:
    await fill(store)
    index = await build_index(ctx(store, settings, NOW))
    assert all(loc.startswith("https://feeds.example.ru/sitemaps/") for loc in locs(index.body))
    assert index.last_modified == NOW - timedelta(minutes=5)
    assert index.expires == NOW + timedelta(hours=2)


@pytest.mark.parametrize(
    ("month", "part"),
    [("2025-13", 1), ("2025-1", 1), ("x", 1), ("2025-09", 1), ("2026-01", 1), ("2025-10", 2),
     ("2025-10", 0)],
)  # fmt: skip
async def test_unknown_month_or_part_is_not_found(
    store: SQLiteStore, settings: Settings, month: str, part: int
) -> None:
    await fill(store)
    with pytest.raises(DocumentNotFound):
        await build_month(ctx(store, settings, NOW), month, part)


async def test_empty_store_has_no_documents(store: SQLiteStore, settings: Settings) -> None:
    c = ctx(store, settings, NOW)
    for build in (build_index, build_rubrics, build_tags, build_news):
        with pytest.raises(DocumentNotFound):
            await build(c)


def test_robots(settings: Settings) -> None:
    robots = build_robots(settings)
    assert robots.media_type == "text/plain; charset=utf-8"
    assert robots.body.decode().splitlines() == [
        "User-agent: *",
        "Disallow: /api/",
        "Disallow: /metrics",
        "Disallow: /healthz",
        "Allow: /",
        "",
        "Sitemap: https://feeds.example.ru/sitemap.xml",
    ]


@pytest.mark.parametrize("suffix", ["-" + "9" * 5000, "-\u0663", "-1", "-0", "-02", "-1234567890"])
def test_odd_month_part_suffixes_are_not_documents(suffix: str) -> None:
    """Not a 500 (int() of 5,000 digits, another script's digits): simply no such sitemap."""
    from syndication.documents import resolve

    assert (
        resolve(f"/sitemaps/articles-2025-10{suffix}.xml", {}, feed_limit=50, max_limit=500) is None
    )
    assert resolve("/sitemaps/articles-2025-10-2.xml", {}, feed_limit=50, max_limit=500) is not None
