"""Yandex News RSS: all news with yandex:full-text as plain text and the image as enclosure."""

from __future__ import annotations

from feeds.ext import EXTENSION, YANDEX_NS, ItemExtension
from feeds.fgen import entry, generator, render_safely
from feeds.model import Feed
from syndication.content import html_to_text, xml_safe

MEDIA_TYPE = "application/rss+xml; charset=utf-8"


def render_yandex(feed: Feed) -> bytes:
    return render_safely(_render, feed)


def _render(feed: Feed) -> bytes:
    fg = generator(feed, {"yandex": YANDEX_NS})
    fg.link(href=feed.self_url, rel="self", type="application/rss+xml")
    fg.link(href=feed.home, rel="alternate")
    for item in feed.items:
        fe = entry(fg, feed, item)
        ext: ItemExtension = getattr(fe, EXTENSION)
        # Yandex wants the whole text without markup; unescaping entities may yield characters
        # XML forbids, so this one text is cleaned unconditionally.
        ext.yandex_text = (
            xml_safe(html_to_text(item.content_html))
            if item.content_html
            else (item.summary or item.title)
        )
        if item.summary:
            fe.description(item.summary)
        # Yandex reads <category> as the section: rubrics only, by title.
        fe.category([{"term": c.label} for c in item.categories if c.kind == "rubric"])
    body: bytes = fg.rss_str(encoding="UTF-8")
    return body
