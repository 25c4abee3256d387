"""Yandex News RSS: yandex:full-text as plain text, yandex:genre, the image as enclosure."""

from __future__ import annotations

from feeds.model import Feed
from feeds.rss import channel, enclosure, item_head
from feeds.xmltree import YANDEX_NS, SubElement, render_safely, rfc822, serialize, text
from syndication.content import html_to_text, xml_safe

MEDIA_TYPE = "application/rss+xml; charset=utf-8"


def render_yandex(feed: Feed) -> bytes:
    return render_safely(_render, feed)


def _render(feed: Feed) -> bytes:
    root, ch = channel(feed, {"yandex": YANDEX_NS})
    for item in feed.items:
        el = item_head(ch, item, item.summary)
        SubElement(el, "guid", isPermaLink="false").text = item.id
        for c in item.categories:
            if c.kind == "rubric":  # Yandex reads <category> as the section: rubrics only
                text(el, "category", c.label)
        enclosure(el, item)
        text(el, "pubDate", rfc822(item.published, feed))
        if item.author:
            text(el, "author", item.author)  # Yandex takes a plain name here, unlike RSS 2.0
        text(el, f"{{{YANDEX_NS}}}genre", "message")
        # Unescaping entities may yield characters XML forbids, so this text is always cleaned.
        full = xml_safe(html_to_text(item.content_html)) if item.content_html else ""
        text(el, f"{{{YANDEX_NS}}}full-text", full or item.summary or item.title)
    return serialize(root)
