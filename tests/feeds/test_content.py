"""The content policy as a reader sees it: through ingest, the store and a rendered feed."""

from __future__ import annotations

import html

import feedparser
import orjson
import pytest
from lxml import etree

from feeds import build_feed
from syndication.config import Settings
from syndication.model import ALL_NEWS
from syndication.store import SQLiteStore
from tests.feeds.helpers import context, load, payload

pytestmark = [pytest.mark.anyio, pytest.mark.backends]

NS = {"content": "http://purl.org/rss/1.0/modules/content/"}
LONG_TEXT = " ".join(["Вологодская область развивает льняную промышленность"] * 12)

CASES = [
    # (content_html given, what the feed's content must contain, what it must not)
    ('<p><a href="/novosti/1/">ссылка</a></p>', 'href="https://example.ru/novosti/1/"', 'href="/'),
    ('<img src="img/a.jpg" alt="">', 'src="https://example.ru/novosti/5/img/a.jpg"', 'src="img'),
    ('<a href="//cdn.example.ru/x">x</a>', 'href="https://cdn.example.ru/x"', 'href="//'),
    ("<p>a<script>alert(1)</script>b</p>", "<p>ab</p>", "alert"),
    ('<p onclick="steal()">x</p>', "<p>x</p>", "onclick"),
    ('<a href="javascript:alert(1)">x</a>', "<a", "javascript:"),
    ("<iframe src='https://evil.example'></iframe><p>ok</p>", "<p>ok</p>", "iframe"),
    (
        "<p>&laquo;Ёлка&raquo; &amp; AT&amp;T &lt;b&gt;</p>",
        "«Ёлка» &amp; AT&amp;T &lt;b&gt;",
        "&laquo;",
    ),
    ("<p>Щука — ЯЗЬ ёж</p>", "Щука — ЯЗЬ ёж", "&#"),
    # Text that looks like an attribute stays text; the link after it keeps its element.
    ('<p>Write href="/docs" here</p>', 'Write href="/docs" here', "https://example.ru/docs"),
    ('<b>bold href="javascript:</b><a title="t">link</a>',
     '<b>bold href="javascript:</b><a ', 'boldt"'),
]  # fmt: skip


@pytest.mark.parametrize(("given", "present", "absent"), CASES)
async def test_content_table(
    store: SQLiteStore, settings: Settings, given: str, present: str, absent: str
) -> None:
    await load(store, settings, [payload(5, content_html=given)])
    ctx = context(store, settings)
    rss = (await build_feed(ctx, ALL_NEWS, "rss")).body
    encoded = etree.fromstring(rss).findtext("channel/item/content:encoded", namespaces=NS)
    assert encoded is not None
    assert present in encoded
    assert absent not in encoded
    assert absent.encode() not in rss or absent == "&#"  # the raw bytes too
    assert b"&#" not in rss  # Cyrillic and entities as UTF-8 text, no character references
    atom = feedparser.parse((await build_feed(ctx, ALL_NEWS, "atom")).body)
    assert present in atom.entries[0].content[0].value
    doc = orjson.loads((await build_feed(ctx, ALL_NEWS, "json")).body)
    assert present in doc["items"][0]["content_html"]
    assert absent not in doc["items"][0]["content_html"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<p>Короткий <b>текст</b>.</p>", "Короткий текст."),
        ("<p>Один</p><p>Два &amp; три</p>", "Один Два & три"),
        (f"<p>{LONG_TEXT}</p>", None),
    ],
)
async def test_derived_summary(
    store: SQLiteStore, settings: Settings, content: str, expected: str | None
) -> None:
    await load(store, settings, [payload(1, summary=None, content_html=content)])
    rss = (await build_feed(context(store, settings), ALL_NEWS, "rss")).body
    description = etree.fromstring(rss).findtext("channel/item/description")
    assert description is not None
    summary = html.unescape(description)  # the description is HTML; the summary is its text
    if expected is not None:
        assert summary == expected
        return
    assert len(summary) <= 300
    assert summary.endswith("…")
    assert LONG_TEXT.startswith(summary[:-1])
    # Cut at a word boundary: what precedes the ellipsis is a whole word of the text.
    assert LONG_TEXT[len(summary) - 1] == " "
