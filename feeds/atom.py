"""Atom 1.0 (RFC 4287) with RFC 5005 paging/archive links and media:content, via feedgen."""

from __future__ import annotations

from feeds.ext import EXTENSION, AtomEntryExtension
from feeds.fgen import entry, generator, local
from feeds.model import Feed
from feeds.xmltree import MEDIA_NS, render_safely
from syndication.stylesheet import with_stylesheet

MEDIA_TYPE = "application/atom+xml; charset=utf-8"
_FEED_TYPE = "application/atom+xml"


def render_atom(feed: Feed) -> bytes:
    return with_stylesheet(render_safely(_render, feed), feed.stylesheet)


def _render(feed: Feed) -> bytes:
    fg = generator(feed, AtomEntryExtension, {"media": MEDIA_NS}, rss=False)
    fg.author(name=feed.publisher or feed.title or feed.home, uri=feed.publisher_url)
    fg.link(href=feed.home, rel="alternate", type="text/html")
    fg.link(href=feed.self_url, rel="self", type=_FEED_TYPE)
    if feed.hub:
        fg.link(href=feed.hub, rel="hub")
    for link in feed.links:
        fg.link(href=link.href, rel=link.rel, type=_FEED_TYPE)
    zone = feed.zone
    for item in feed.items:
        fe = entry(fg, item, zone)
        fe.updated(local(item.last_change, zone))
        if item.author:
            fe.author(name=item.author)
        if item.content_html:
            fe.content(item.content_html, type="html")
        if item.summary:
            fe.summary(item.summary)
        elif not item.content_html:
            # An entry with neither would be empty in most readers: its title, as RSS and JSON do.
            fe.summary(item.title or item.url)
        if item.categories:
            # The name as term, which readers show, and as label; the scheme (rubric or tag
            # pages) tells a rubric from a tag of the same name.
            fe.category([{"term": c.label, "scheme": c.scheme, "label": c.label}
                         for c in item.categories])  # fmt: skip
        ext: AtomEntryExtension = getattr(fe, EXTENSION)
        ext.item = item
        ext.links = fe.link()  # for the attributes feedgen drops (see AtomEntryExtension)
    body: bytes = fg.atom_str(pretty=False, encoding="UTF-8")
    return body
