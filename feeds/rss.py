"""RSS 2.0 with content:encoded, dc:creator, media:content and RFC 5005 links, via feedgen."""

from __future__ import annotations

from feeds.ext import DC_NS, MEDIA_NS
from feeds.fgen import entry, generator, render_safely
from feeds.model import Feed

MEDIA_TYPE = "application/rss+xml; charset=utf-8"


def render_rss(feed: Feed) -> bytes:
    return render_safely(_render, feed)


def _render(feed: Feed) -> bytes:
    fg = generator(feed, {"dc": DC_NS, "media": MEDIA_NS})
    # feedgen uses the last link added as the RSS <link>: self first, the site page last.
    fg.link(href=feed.self_url, rel="self", type="application/rss+xml")
    fg.link(href=feed.home, rel="alternate")
    for item in feed.items:
        fe = entry(fg, feed, item)
        # feedgen writes content:encoded only when a description is set as well.
        fe.description(item.summary or item.title or item.url)
        if item.content_html:
            fe.content(item.content_html)
        # RSS: the label is the text, the rubric's or tag's page tells which it is (domain).
        fe.category([{"term": c.term, "label": c.label, "scheme": c.page} for c in item.categories])
    body: bytes = fg.rss_str(encoding="UTF-8")
    return body
