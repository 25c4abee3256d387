"""RSS 2.0 with content:encoded, dc:creator, media:content and RFC 5005 links, via feedgen."""

from __future__ import annotations

import html

from feeds.ext import EXTENSION, RssItemExtension
from feeds.fgen import entry, generator, local
from feeds.model import Feed
from feeds.xmltree import DC_NS, MEDIA_NS, render_safely
from syndication.stylesheet import with_stylesheet

MEDIA_TYPE = "application/rss+xml; charset=utf-8"


def render_rss(feed: Feed) -> bytes:
    return with_stylesheet(render_safely(_render, feed), feed.stylesheet)


def _render(feed: Feed) -> bytes:
    # feedgen declares the atom and content namespaces itself.
    fg = generator(feed, RssItemExtension, {"dc": DC_NS, "media": MEDIA_NS}, rss=True)
    # Of these feedgen writes only rel=self in RSS, and it takes the last href as <link>.
    fg.link(href=feed.self_url, rel="self", type="application/rss+xml")
    fg.link(href=feed.home, rel="alternate")
    zone = feed.zone
    for item in feed.items:
        fe = entry(fg, item, zone)
        # Always a description, so that feedgen writes the content as content:encoded. Readers
        # take it as HTML, and the summary is plain text: escaped, or "<script>" would run.
        fe.description(html.escape(item.summary or item.title or item.url, quote=False))
        if item.content_html:
            fe.content(item.content_html)
        if item.categories:
            # The name is the text, and the domain is the taxonomy, as Atom's scheme: feedgen
            # writes the label as the text and the scheme as the domain.
            fe.category([{"term": c.label, "label": c.label, "scheme": c.scheme}
                         for c in item.categories])  # fmt: skip
        ext: RssItemExtension = getattr(fe, EXTENSION)
        ext.item = item
        if item.updated is not None:  # RSS has no modification date of its own
            ext.updated = local(item.updated, zone).isoformat()
    body: bytes = fg.rss_str(pretty=False, encoding="UTF-8")
    return body
