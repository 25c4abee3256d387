"""Each format: content type, required elements, schema validity (Atom RNG, JSON Feed)."""

from __future__ import annotations

import importlib.util
import json
import re

import orjson
import pytest
from lxml import etree

from feeds import build_feed, build_index_page, build_opml, build_yandex
from syndication.config import Settings
from syndication.model import ALL_NEWS, Scope, ScopeKind
from syndication.rendering import BadParameter, DocumentNotFound
from syndication.store import SQLiteStore
from tests.conftest import SHARED, requires_shared
from tests.feeds.helpers import NOW, assert_valid_atom, context, load, payload

pytestmark = [pytest.mark.anyio, pytest.mark.backends]

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": "http://search.yahoo.com/mrss/",
    "yandex": "http://news.yandex.ru",
    "fh": "http://purl.org/syndication/history/1.0",
}
JSON_SCHEMA = SHARED / "schemas" / "jsonfeed-1.1.schema.json"
TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


@pytest.fixture
def hub_settings(settings: Settings) -> Settings:
    return Settings.load(
        environ={},
        db=settings.db,
        public_url=settings.public_url,
        site_url=settings.site_url,
        websub_hub="https://hub.example.ru/",
    )


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
@pytest.mark.parametrize(
    "scope",
    [ALL_NEWS, Scope(ScopeKind.RUBRIC, "glavnoe"), Scope(ScopeKind.TAG, "obshchestvo"),
     Scope(ScopeKind.MONTH, "2025-12")],
    ids=lambda s: s.name,
)  # fmt: skip
async def test_content_type_and_last_modified(
    store: SQLiteStore, settings: Settings, fmt: str, scope: Scope
) -> None:
    await load(store, settings, [payload(1), payload(2, updated_at=NOW.isoformat())])
    rendered = await build_feed(context(store, settings), scope, fmt)
    assert rendered.media_type == TYPES[fmt]
    assert rendered.last_modified == NOW
    assert rendered.expires is None
    assert "Новость".encode() in rendered.body  # UTF-8, not numeric character references
    if fmt == "atom" and (SHARED / "schemas").is_dir():
        assert_valid_atom(rendered.body)


async def test_rss_carries_every_element(store: SQLiteStore, hub_settings: Settings) -> None:
    settings = hub_settings
    await load(store, settings, [payload(1, updated_at=NOW.isoformat()), payload(2)])
    body = (await build_feed(context(store, settings), ALL_NEWS, "rss")).body
    channel = etree.fromstring(body).find("channel")
    assert channel is not None
    for name in ("title", "link", "description", "language", "lastBuildDate", "generator", "ttl"):
        assert channel.findtext(name), name
    assert channel.findtext("lastBuildDate") == "Sat, 20 Dec 2025 15:00:00 +0300"
    links = {a.get("rel"): a.get("href") for a in channel.findall("atom:link", NS)}
    assert links["self"] == "https://feeds.example.ru/feeds/all.rss"
    assert links["hub"] == "https://hub.example.ru/"
    assert links["prev-archive"] == "https://feeds.example.ru/feeds/archive/2025-12.rss"
    item = channel.find("item")
    assert item is not None
    assert item.findtext("title") == "Новость № 1: «Вологда» & <b>область</b>"
    assert item.findtext("link") == "https://example.ru/novosti/1/"
    guid = item.find("guid")
    assert guid is not None
    assert guid.get("isPermaLink") == "false"
    assert guid.text == "tag:example.ru,2025:article:a-0001"
    assert item.findtext("description") == "Краткое содержание новости 1."
    assert item.findtext("content:encoded", namespaces=NS) == (
        '<p><img src="https://example.ru/upload/1.jpg" alt="Фото пресс-службы"></p>'
        '<p>Текст новости 1. <a href="https://example.ru/docs/1" rel="noopener">Документ</a></p>'
    )
    assert item.findtext("dc:creator", namespaces=NS) == "Пресс-служба"
    assert item.findtext("pubDate") == "Sat, 20 Dec 2025 14:00:00 +0300"
    assert item.findtext("atom:updated", namespaces=NS) == "2025-12-20T15:00:00+03:00"
    categories = [(c.text, c.get("domain")) for c in item.findall("category")]
    assert categories == [
        ("Новости органов власти", "https://example.ru/rubric/"),
        ("Главное", "https://example.ru/rubric/"),
        ("Общество", "https://example.ru/tag/"),
        ("Александр Михайлович Мордвинов", "https://example.ru/tag/"),
    ]
    enclosure = item.find("enclosure")
    assert enclosure is not None
    assert dict(enclosure.attrib) == {
        "url": "https://example.ru/upload/1.jpg", "length": "12345", "type": "image/jpeg"
    }  # fmt: skip
    media = item.find("media:content", NS)
    assert media is not None
    assert media.get("url") == "https://example.ru/upload/1.jpg"
    assert media.get("medium") == "image"


async def test_enclosure_length_zero_when_unknown(store: SQLiteStore, settings: Settings) -> None:
    image = {"url": "https://example.ru/a.png"}
    await load(store, settings, [payload(1, image=image)])
    body = (await build_feed(context(store, settings), ALL_NEWS, "rss")).body
    enclosure = etree.fromstring(body).find("channel/item/enclosure")
    assert enclosure is not None
    assert enclosure.get("length") == "0"
    assert enclosure.get("type") == "image/png"


@requires_shared()
async def test_atom_elements_and_schema(store: SQLiteStore, hub_settings: Settings) -> None:
    settings = hub_settings
    await load(store, settings, [payload(1), payload(2, author=None, image=None)])
    body = (await build_feed(context(store, settings), ALL_NEWS, "atom")).body
    assert_valid_atom(body)
    feed = etree.fromstring(body)
    assert feed.findtext("atom:updated", namespaces=NS) == "2025-12-20T14:00:00+03:00"
    entry = feed.find("atom:entry", NS)
    assert entry is not None
    assert entry.findtext("atom:id", namespaces=NS) == "tag:example.ru,2025:article:a-0001"
    content = entry.find("atom:content", NS)
    assert content is not None
    assert content.get("type") == "html"
    cats = [
        (c.get("term"), c.get("scheme"), c.get("label")) for c in entry.findall("atom:category", NS)
    ]
    assert ("Главное", "https://example.ru/rubric/", "Главное") in cats
    assert ("Общество", "https://example.ru/tag/", "Общество") in cats
    assert entry.findtext("atom:author/atom:name", namespaces=NS) == "Пресс-служба"
    assert entry.findtext("atom:published", namespaces=NS) == "2025-12-20T14:00:00+03:00"


@pytest.mark.skipif(
    importlib.util.find_spec("jsonschema") is None, reason="jsonschema is not installed"
)
@requires_shared()
async def test_json_feed_schema(store: SQLiteStore, settings: Settings) -> None:  # pragma: no cover
    import jsonschema  # type: ignore[import-untyped,unused-ignore]

    await load(store, settings, [payload(1), payload(2)])
    body = (await build_feed(context(store, settings), ALL_NEWS, "json")).body
    schema = json.loads(JSON_SCHEMA.read_bytes())
    jsonschema.validate(orjson.loads(body), schema)


async def test_json_feed_fields(store: SQLiteStore, hub_settings: Settings) -> None:
    settings = hub_settings
    await load(store, settings, [payload(n) for n in range(1, 4)] + [payload(9, content_html=None)])
    body = (await build_feed(context(store, settings), ALL_NEWS, "json", limit=3)).body
    assert b"<" not in body  # markup escaped as \u003c: inert wherever the JSON lands
    doc = orjson.loads(body)
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] == settings.site_title
    assert doc["feed_url"] == "https://feeds.example.ru/feeds/all.json?limit=3"
    assert doc["next_url"] == "https://feeds.example.ru/feeds/all.json?page=2&limit=3"
    assert doc["hubs"] == [{"type": "WebSub", "url": "https://hub.example.ru/"}]
    assert doc["_paging"]["last"] == "https://feeds.example.ru/feeds/all.json?page=2&limit=3"
    ids = [item["id"] for item in doc["items"]]
    assert len(ids) == len(set(ids)) == 3
    first = doc["items"][0]
    assert first["content_html"].startswith('<p><img src="https://example.ru/upload/1.jpg"')
    assert first["authors"] == [{"name": "Пресс-служба"}]
    assert first["image"] == "https://example.ru/upload/1.jpg"
    assert first["date_published"] == "2025-12-20T14:00:00+03:00"
    assert {"term": "Главное", "label": "Главное", "slug": "glavnoe", "kind": "rubric",
            "scheme": "https://example.ru/rubric/",
            "url": "https://example.ru/rubric/glavnoe/"} in first["_syndication"]["categories"]  # fmt: skip
    page2 = orjson.loads(
        (await build_feed(context(store, settings), ALL_NEWS, "json", page=2, limit=3)).body
    )
    assert page2["items"][0]["content_text"] == "Краткое содержание новости 9."


async def test_yandex(store: SQLiteStore, settings: Settings) -> None:
    content = "<p>Первый &amp; абзац.</p><p>Второй <b>абзац</b>.</p>"
    await load(store, settings, [payload(1, content_html=content), payload(2)])
    rendered = await build_yandex(context(store, settings))
    assert rendered.media_type == "application/rss+xml; charset=utf-8"
    assert rendered.last_modified == NOW - __import__("datetime").timedelta(hours=1)
    assert b'xmlns:yandex="http://news.yandex.ru"' in rendered.body
    item = etree.fromstring(rendered.body).find("channel/item")
    assert item is not None
    assert item.findtext("yandex:full-text", namespaces=NS) == "Первый & абзац. Второй абзац."
    assert item.findtext("yandex:genre", namespaces=NS) == "message"
    assert item.findtext("author") == "Пресс-служба"
    enclosure = item.find("enclosure")
    assert enclosure is not None
    assert enclosure.get("type") == "image/jpeg"
    assert [c.text for c in item.findall("category")] == ["Новости органов власти", "Главное"]


async def test_opml(store: SQLiteStore, settings: Settings) -> None:
    await load(store, settings, [payload(1), payload(2, rubrics=["obshchestvo"], tags=["Спорт"])])
    rendered = await build_opml(context(store, settings))
    assert rendered.media_type == "text/x-opml; charset=utf-8"
    root = etree.fromstring(rendered.body)
    assert root.get("version") == "2.0"
    urls = {o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")}
    base = "https://feeds.example.ru"
    assert f"{base}/feeds/all.rss" in urls
    assert f"{base}/feeds/rubric/glavnoe.rss" in urls
    assert f"{base}/feeds/rubric/obshchestvo.rss" in urls
    assert f"{base}/feeds/tag/sport.rss" in urls
    assert f"{base}/feeds/tag/aleksandr_mikhaylovich_mordvinov.rss" in urls
    groups = [o.get("text") for o in root.find("body")]  # type: ignore[union-attr]
    assert groups == ["Все новости", "Рубрики", "Теги"]
    kinds = [o.get("text") for o in root.find("body")[2]]  # type: ignore[index]
    assert kinds == ["Темы", "Персоны"]
    society = [o for o in root.iter("outline") if o.get("text") == "Общество & люди"]
    assert society[0].get("htmlUrl") == "https://example.ru/society/"


async def test_index_page(store: SQLiteStore, settings: Settings) -> None:
    await load(store, settings, [payload(1, tags=["<script>alert(1)</script>"]), payload(800)])
    rendered = await build_index_page(context(store, settings))
    assert rendered.media_type == "text/html; charset=utf-8"
    html = rendered.body.decode()
    assert html.startswith("<!DOCTYPE html>")
    # The one script is the static file; the tag's name is text, escaped.
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="https://feeds.example.ru/assets/page.js" defer>'
    ]
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'data-name="&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    assert ('<link rel="alternate" type="application/rss+xml" title="Новости региона (RSS)"'
            ' href="https://feeds.example.ru/feeds/all.rss">') in html  # fmt: skip
    assert 'type="application/atom+xml"' in html
    assert 'type="application/feed+json"' in html
    for path in ("/sitemap.xml", "/sitemaps/rubrics.xml", "/sitemaps/tags.xml",
                 "/sitemaps/news.xml", "/sitemaps/articles-2025-12.xml",
                 "/sitemaps/articles-2025-11.xml", "/feeds/archive/2025-11.atom",
                 "/feeds/yandex.rss", "/feeds/rubric/glavnoe.json"):  # fmt: skip
        assert f"https://feeds.example.ru{path}" in html, path
    # Well-formed enough for an XML parser too: every element closed or void, all escaped.
    etree.fromstring(html.replace("<!DOCTYPE html>", ""), etree.HTMLParser())


async def test_not_found_and_bad_parameters(store: SQLiteStore, settings: Settings) -> None:
    await load(store, settings, [payload(1)])
    ctx = context(store, settings)
    for scope in (Scope(ScopeKind.RUBRIC, "nope"), Scope(ScopeKind.TAG, "nope"),
                  Scope(ScopeKind.MONTH, "2025-13"), Scope(ScopeKind.MONTH, "2024-01"),
                  Scope(ScopeKind.MONTH, "2026-01"), Scope(ScopeKind.MONTH, "junk")):  # fmt: skip
        with pytest.raises(DocumentNotFound):
            await build_feed(ctx, scope, "rss")
    with pytest.raises(DocumentNotFound):
        await build_feed(ctx, ALL_NEWS, "rss", page=2)
    with pytest.raises(DocumentNotFound):
        await build_feed(ctx, Scope(ScopeKind.MONTH, "2025-12"), "rss", page=2)
    with pytest.raises(DocumentNotFound):
        await build_feed(ctx, ALL_NEWS, "xml")
    for kwargs in ({"page": 0}, {"limit": 0}, {"limit": 501}, {"page": -1}):
        with pytest.raises(BadParameter):
            await build_feed(ctx, ALL_NEWS, "rss", **kwargs)
    assert (await build_feed(ctx, ALL_NEWS, "rss", limit=500)).body


async def test_empty_rubric_is_an_empty_feed(store: SQLiteStore, settings: Settings) -> None:
    await load(store, settings, [])
    ctx = context(store, settings)
    for fmt in ("rss", "atom", "json"):
        rendered = await build_feed(ctx, Scope(ScopeKind.RUBRIC, "glavnoe"), fmt)
        assert rendered.last_modified is None
        if fmt == "atom" and (SHARED / "schemas").is_dir():
            assert_valid_atom(rendered.body)
    rss = (await build_feed(ctx, ALL_NEWS, "rss")).body
    assert b"lastBuildDate" not in rss
    assert b"<item>" not in rss


async def test_output_is_deterministic(store: SQLiteStore, settings: Settings) -> None:
    await load(store, settings, [payload(n) for n in range(1, 6)])
    later = context(store, settings, NOW.replace(hour=23))
    for fmt in ("rss", "atom", "json"):
        a = await build_feed(context(store, settings), ALL_NEWS, fmt)
        b = await build_feed(later, ALL_NEWS, fmt)
        assert a.body == b.body
    assert (await build_yandex(context(store, settings))).body == (await build_yandex(later)).body
    assert (await build_opml(context(store, settings))).body == (await build_opml(later)).body
