"""Issue 13: each feed's HTML page, the index page's groups and filter, and the stylesheet
instruction every XML document carries for browsers."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from lxml import etree, html
from starlette.testclient import TestClient

from app import create_app
from feeds import build_feed, build_feed_page, build_index_page, build_opml, build_yandex
from sitemap import build_index, build_month, build_news, build_rubrics, build_tags
from syndication import assets
from syndication.config import Settings
from syndication.documents import resolve
from syndication.model import ALL_NEWS, Scope, ScopeKind
from syndication.rendering import DocumentNotFound
from syndication.store import SQLiteStore
from tests.feeds.helpers import context, load, payload

CSS = "https://feeds.example.ru/assets/xml.css"
pytestmark = pytest.mark.anyio

PI = f'<?xml-stylesheet type="text/css" href="{CSS}"?>'.encode()


async def test_every_xml_document_names_the_stylesheet(
    store: SQLiteStore, settings: Settings
) -> None:
    await load(store, settings, [payload(n) for n in (1, 2, 800)])
    ctx = context(store, settings)
    documents = {
        "rss": await build_feed(ctx, ALL_NEWS, "rss"),
        "atom": await build_feed(ctx, Scope(ScopeKind.RUBRIC, "glavnoe"), "atom"),
        "archive": await build_feed(ctx, Scope(ScopeKind.MONTH, "2025-11"), "rss"),
        "yandex": await build_yandex(ctx),
        "opml": await build_opml(ctx),
        "opml atom": await build_opml(ctx, "atom"),
        "sitemap index": await build_index(ctx),
        "month sitemap": await build_month(ctx, "2025-12"),
        "news sitemap": await build_news(ctx),
        "rubric sitemap": await build_rubrics(ctx),
        "tag sitemap": await build_tags(ctx),
    }
    for name, rendered in documents.items():
        body = rendered.body
        # Right after the XML declaration, before the root element: parsers skip it.
        assert body.startswith(b"<?xml "), name
        second = body.split(b"?>", 1)[1].lstrip(b"\n")
        assert second.startswith(PI), name
        root = etree.fromstring(body)
        pi = root.getprevious()
        assert isinstance(pi, etree._ProcessingInstruction), name
        assert pi.target == "xml-stylesheet", name
        assert pi.get("href") == CSS, name
        assert pi.get("type") == "text/css", name
    # JSON Feed has no stylesheet to name.
    assert b"xml-stylesheet" not in (await build_feed(ctx, ALL_NEWS, "json")).body


async def test_a_feed_page(store: SQLiteStore, settings: Settings) -> None:
    await load(
        store,
        settings,
        [payload(1, title="<script>alert(1)</script> & «кавычки»"), payload(2, image=None),
         payload(3, rubrics=["obshchestvo"])],
    )  # fmt: skip
    rendered = await build_feed_page(context(store, settings), Scope(ScopeKind.RUBRIC, "glavnoe"))
    assert rendered.media_type == "text/html; charset=utf-8"
    text = rendered.body.decode()
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; «кавычки»" in text
    page = html.fromstring(rendered.body)
    assert page.findtext(".//h1") == "Главное — Новости региона"
    # Autodiscovery of this scope's feeds, and the address of each with a copy button.
    base = "https://feeds.example.ru/feeds/rubric/glavnoe"
    alternates = [(link.get("type"), link.get("href")) for link in page.iter("link")
                  if link.get("rel") == "alternate"]  # fmt: skip
    assert alternates == [("application/rss+xml", f"{base}.rss"),
                          ("application/atom+xml", f"{base}.atom"),
                          ("application/feed+json", f"{base}.json")]  # fmt: skip
    assert [i.get("value") for i in page.iter("input")] == [u for _, u in alternates]
    assert [b.get("data-copy") for b in page.iter("button")] == [u for _, u in alternates]
    # The latest items, newest first: title, date in the site's zone, summary, image.
    items = page.findall(".//article")
    assert [a.findtext(".//h3/a") for a in items] == [
        "<script>alert(1)</script> & «кавычки»",
        "Новость № 2: «Вологда» & <b>область</b>",
    ]
    time = items[0].find(".//time")
    assert time is not None
    assert time.get("datetime") == "2025-12-20T14:00:00+03:00"
    assert time.text == "20 декабря 2025, 14:00"
    assert items[0].find(".//img").get("src") == "https://example.ru/upload/1.jpg"  # type: ignore[union-attr]
    assert items[1].find(".//img") is None
    assert "2 материала" in text
    assert rendered.last_modified is not None


async def test_feed_pages_of_every_scope_and_404s(store: SQLiteStore, settings: Settings) -> None:
    await load(store, settings, [payload(1), payload(800)])
    ctx = context(store, settings)
    for scope in (ALL_NEWS, Scope(ScopeKind.TAG, "obshchestvo"),
                  Scope(ScopeKind.MONTH, "2025-11")):  # fmt: skip
        assert (await build_feed_page(ctx, scope)).body.startswith(b"<!DOCTYPE html>")
    month = (await build_feed_page(ctx, Scope(ScopeKind.MONTH, "2025-11"))).body.decode()
    assert "архив за ноябрь 2025" in month
    assert "https://feeds.example.ru/feeds/archive/2025-11.atom" in month
    for scope in (Scope(ScopeKind.RUBRIC, "nope"), Scope(ScopeKind.TAG, "nope"),
                  Scope(ScopeKind.MONTH, "2024-01"), Scope(ScopeKind.MONTH, "2025-13")):  # fmt: skip
        with pytest.raises(DocumentNotFound):
            await build_feed_page(ctx, scope)


def test_the_catalogue_names_feed_pages_and_assets() -> None:
    def doc(path: str):  # type: ignore[no-untyped-def]
        return resolve(path, {}, feed_limit=50, max_limit=500)

    # A page depends on what its feed depends on.
    for path in ("/feeds/all", "/feeds/rubric/glavnoe", "/feeds/tag/sport",
                 "/feeds/archive/2025-11"):  # fmt: skip
        page, feed = doc(path), doc(path + ".rss")
        assert page is not None
        assert feed is not None
        assert page.kind == "feed-page"
        assert page.key.startswith("page:")
        assert feed.deps >= page.deps
    assert doc("/feeds/archive/2025-13") is None
    assert doc("/feeds/rubric/") is None
    assert doc("/feeds/all.xml.gz") is None
    for name in assets.MEDIA_TYPES:
        asset = doc(f"/assets/{name}")
        assert asset is not None
        assert asset.deps == frozenset()
    assert doc("/assets/nope.css") is None
    assert doc("/assets/__init__.py") is None


async def test_the_index_page_groups_tags_by_kind_in_russian_order(
    store: SQLiteStore, settings: Settings
) -> None:
    tags = ["Здоровье", "Жильё", "Ёлка", "Яблоко", "Евразия", {"name": "Правительство области",
            "kind": "org"}, {"name": "Мария Олеговна Белова", "kind": "person"}]  # fmt: skip
    await load(store, settings, [payload(1, tags=tags), payload(2, tags=["Жильё"])])
    body = (await build_index_page(context(store, settings))).body.decode()
    page = html.fromstring(body)
    kinds = page.xpath("//section[@data-filter-group]")
    assert [k.findtext("h3").strip() for k in kinds] == ["Темы", "Персоны", "Организации"]
    names = [[unescape(a.text) for a in k.xpath(".//li/a[@class='name']")] for k in kinds]
    assert names == [["Евразия", "Ёлка", "Жильё", "Здоровье", "Яблоко"],
                     ["Мария Олеговна Белова"], ["Правительство области"]]  # fmt: skip
    # Each tag: the name (folded for the filter) linking its feed page, its count, formats.
    zhile = page.xpath("//li[@data-name='жилье']")[0]
    assert zhile.xpath("a[@class='name']/@href") == ["https://feeds.example.ru/feeds/tag/zhile"]
    assert zhile.xpath("span[@class='count']/text()") == ["2"]
    assert [a.text for a in zhile.xpath("span[@class='formats']/a")] == ["RSS", "Atom", "JSON Feed"]
    # The filter box is there, hidden until page.js shows it (a page without the script is a
    # plain list); the rubrics and the all-news feed link their pages too.
    box = page.xpath("//*[@data-filter-box]")[0]
    assert box.get("hidden") is not None
    assert page.xpath("//input[@id='tag-filter']")
    assert "https://feeds.example.ru/feeds/rubric/glavnoe" in body
    assert 'href="https://feeds.example.ru/feeds/all"' in body
    assert re.search(
        r'<link rel="stylesheet" href="https://feeds.example.ru/assets/page.css">', body
    )


def test_assets_are_served_cacheable_with_validators(tmp_path: Path) -> None:
    settings = Settings.load(environ={}, db=str(tmp_path / "s.db"),
                             public_url="https://feeds.example.ru")  # fmt: skip
    with TestClient(create_app(settings)) as c:
        for name, media_type in assets.MEDIA_TYPES.items():
            first = c.get(f"/assets/{name}", headers={"Accept-Encoding": "identity"})
            assert first.status_code == 200
            assert first.headers["content-type"] == media_type
            assert first.content == assets.load(name)
            assert first.headers["cache-control"].startswith("public, max-age=")
            assert "last-modified" in first.headers
            again = c.get(f"/assets/{name}", headers={"If-None-Match": first.headers["etag"]})
            assert again.status_code == 304
            br = c.get(f"/assets/{name}", headers={"Accept-Encoding": "br"})
            assert br.headers["content-encoding"] == "br"
        assert c.get("/assets/nope.css").status_code == 404
