"""The feedgen traps the RSS and Atom renderers work around, each pinned on the pure renderers."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from lxml import etree

from feeds.atom import render_atom
from feeds.model import Link
from feeds.rss import render_rss
from syndication.model import Image
from tests.feeds.helpers import NOW, make_feed, make_item

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "fh": "http://purl.org/syndication/history/1.0",
    "media": "http://search.yahoo.com/mrss/",
}


def test_atom_entry_links_keep_rel_type_and_length() -> None:
    # feedgen 1.0 writes entry links as bare hrefs; the image would read as a second alternate.
    items = [make_item(1), make_item(2, image=Image("https://example.ru/2.png", None, None, None))]
    entries = etree.fromstring(render_atom(make_feed(items))).findall("atom:entry", NS)
    links = [[dict(a.attrib) for a in e.findall("atom:link", NS)] for e in entries]
    assert links == [
        [
            {"href": "https://example.ru/novosti/1/", "rel": "alternate", "type": "text/html"},
            {"href": "https://example.ru/1.jpg", "rel": "enclosure", "type": "image/jpeg",
             "length": "100"},
        ],
        [
            {"href": "https://example.ru/novosti/2/", "rel": "alternate", "type": "text/html"},
            {"href": "https://example.ru/2.png", "rel": "enclosure", "type": "image/png"},
        ],
    ]  # fmt: skip


def test_items_keep_feed_order() -> None:
    # feedgen's add_entry prepends by default.
    feed = make_feed([make_item(n) for n in (3, 1, 2)])
    rss = etree.fromstring(render_rss(feed))
    assert [g.text for g in rss.iterfind("channel/item/guid")] == [
        f"tag:example.ru,2025:article:a-{n}" for n in (3, 1, 2)
    ]
    atom = etree.fromstring(render_atom(feed))
    assert [i.text for i in atom.iterfind("atom:entry/atom:id", NS)] == [
        f"tag:example.ru,2025:article:a-{n}" for n in (3, 1, 2)
    ]


def test_content_encoded_without_summary() -> None:
    # feedgen writes content:encoded only beside a description; the title stands in for it.
    feed = make_feed([make_item(1, summary=None)])
    item = etree.fromstring(render_rss(feed)).find("channel/item")
    assert item is not None
    assert item.findtext("description") == "Заголовок 1"
    assert item.findtext("content:encoded", namespaces=NS) == "<p>Текст.</p>"


def test_naive_datetimes_read_as_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    # feedgen raises on naive datetimes and astimezone() would read them in the host's zone;
    # the model's dates are UTC.
    def bodies(tz: bool) -> tuple[bytes, bytes]:
        def at(hours: int) -> datetime:
            dt = NOW - timedelta(hours=hours)
            return dt if tz else dt.replace(tzinfo=None)

        feed = make_feed([make_item(1, published=at(2), updated=at(1))], updated=at(1))
        return render_rss(feed), render_atom(feed)

    monkeypatch.setenv("TZ", "Asia/Vladivostok")
    time.tzset()
    try:
        assert bodies(tz=False) == bodies(tz=True)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_rss_item_extras_and_channel_links() -> None:
    feed = make_feed(
        [make_item(1, updated=NOW)],
        links=(Link("next", "https://f/2"), Link("prev-archive", "https://f/a")),
        archive=True,
    )
    channel = etree.fromstring(render_rss(feed)).find("channel")
    assert channel is not None
    assert channel.findtext("link") == "https://example.ru"  # feedgen takes the last link
    rels = [(a.get("rel"), a.get("href")) for a in channel.findall("atom:link", NS)]
    assert rels == [
        ("self", "https://feeds.example.ru/feeds/all.atom"),
        ("hub", "https://hub.example.ru/"),
        ("next", "https://f/2"),
        ("prev-archive", "https://f/a"),
    ]
    assert channel.find("fh:archive", NS) is not None
    item = channel.find("item")
    assert item is not None
    assert [e.tag for e in item][-4:] == [
        "pubDate",
        f"{{{NS['dc']}}}creator",
        f"{{{NS['media']}}}content",
        f"{{{NS['atom']}}}updated",
    ]
    assert item.findtext("atom:updated", namespaces=NS) == "2025-12-20T15:00:00+03:00"
    assert len(item.findall("enclosure")) == 1
    assert item.find("author") is None  # RSS's <author> is an e-mail address


def test_empty_feed_dates_are_fixed() -> None:
    # feedgen defaults every date to the wall clock.
    feed = make_feed([], updated=None)
    assert b"lastBuildDate" not in render_rss(feed)
    atom = etree.fromstring(render_atom(feed))
    assert atom.findtext("atom:updated", namespaces=NS) == "1970-01-01T00:00:00+00:00"
