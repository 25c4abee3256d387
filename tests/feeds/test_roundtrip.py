"""What most readers use, feedparser, gives back what the store holds."""

from __future__ import annotations

import calendar
import html
from datetime import timedelta

import feedparser
import orjson
import pytest

from feeds import build_feed, build_yandex
from feeds.items import with_lead_image
from syndication.config import Settings
from syndication.model import ALL_NEWS, Article, Scope, ScopeKind
from syndication.store import SQLiteStore
from tests.feeds.helpers import NOW, context, load, payload

pytestmark = [pytest.mark.anyio, pytest.mark.backends]

RUBRIC_TITLES = {"glavnoe": "Главное", "novosti_organov_vlasti": "Новости органов власти"}


def _epoch(struct: object) -> int:
    return calendar.timegm(struct)  # type: ignore[arg-type]


async def _stored(store: SQLiteStore) -> list[Article]:
    return await store.articles(ALL_NEWS, now=NOW, limit=100)


def _payloads() -> list[dict[str, object]]:
    return [
        payload(1, updated_at=(NOW - timedelta(minutes=5)).isoformat()),
        payload(2, author=None, image=None, tags=["Спорт", {"name": "ООО «Ромашка»", "kind": "org"}]),
        payload(3, summary=None, content_html="<p>Только текст, &laquo;кавычки&raquo; и &lt;теги&gt;</p>"),
    ]  # fmt: skip


@pytest.mark.parametrize("fmt", ["rss", "atom"])
@pytest.mark.parametrize(
    "scope", [ALL_NEWS, Scope(ScopeKind.MONTH, "2025-12")], ids=lambda s: s.name
)
async def test_xml_round_trip(
    store: SQLiteStore, settings: Settings, fmt: str, scope: Scope
) -> None:
    await load(store, settings, _payloads())
    body = (await build_feed(context(store, settings), scope, fmt)).body
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    stored = await _stored(store)
    assert len(parsed.entries) == len(stored)
    for entry, article in zip(parsed.entries, stored, strict=True):
        assert entry.title == article.title
        assert entry.link == article.url
        assert entry.id == f"tag:example.ru,2025:article:{article.id}"
        assert _epoch(entry.published_parsed) == int(article.published_at.timestamp())
        if article.updated_at is not None:
            assert _epoch(entry.updated_parsed) == int(article.updated_at.timestamp())
        # feedparser writes the img's attributes in its own order
        shown = with_lead_image(article.content_html, article.image) or ""
        assert _same_html(entry.content[0].value, shown)
        # An RSS description is HTML: the plain-text summary shows as its text.
        assert (entry.summary if fmt == "atom" else html.unescape(entry.summary)) == article.summary
        # Readers show the term: it is the name in both formats, as the Atom label is.
        expected = [RUBRIC_TITLES[r] for r in article.rubrics] + [t.name for t in article.tags]
        assert [t.term for t in entry.tags] == expected
        if fmt == "atom":
            assert [t.label for t in entry.tags] == expected
        if article.author:
            assert entry.author == article.author
        if article.image:
            enclosures = [link for link in entry.links if link.rel == "enclosure"]
            assert enclosures[0].href == article.image.url


async def test_yandex_round_trip(store: SQLiteStore, settings: Settings) -> None:
    await load(store, settings, _payloads())
    parsed = feedparser.parse((await build_yandex(context(store, settings))).body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    stored = await _stored(store)
    assert [e.title for e in parsed.entries] == [a.title for a in stored]
    assert [e.link for e in parsed.entries] == [a.url for a in stored]
    assert [_epoch(e.published_parsed) for e in parsed.entries] == [
        int(a.published_at.timestamp()) for a in stored
    ]
    assert "«кавычки» и <теги>" in parsed.entries[2]["yandex_full-text"]


async def test_json_round_trip(store: SQLiteStore, settings: Settings) -> None:
    # feedparser 6.0 reads no JSON Feed; the JSON parser and the spec's fields stand in.
    await load(store, settings, _payloads())
    doc = orjson.loads((await build_feed(context(store, settings), ALL_NEWS, "json")).body)
    stored = await _stored(store)
    for item, article in zip(doc["items"], stored, strict=True):
        assert item["title"] == article.title
        assert item["url"] == article.url
        assert item["content_html"] == with_lead_image(article.content_html, article.image)
        published = item["date_published"]
        assert published.endswith("+03:00")
        from datetime import datetime

        assert datetime.fromisoformat(published) == article.published_at
        if article.updated_at:
            assert datetime.fromisoformat(item["date_modified"]) == article.updated_at
        expected = [RUBRIC_TITLES[r] for r in article.rubrics] + [t.name for t in article.tags]
        assert item["tags"] == expected


def _same_html(parsed: str, written: str) -> bool:
    """Equal once both are parsed as HTML fragments (attribute order, `/>`)."""
    from lxml import html as lhtml

    def canon(text: str) -> list[tuple[object, list[tuple[str, str]], str]]:
        root = lhtml.fragment_fromstring(text, create_parent="div")
        return [
            (e.tag, sorted(e.attrib.items()), (e.text or "") + (e.tail or "")) for e in root.iter()
        ]

    return canon(parsed) == canon(written)
