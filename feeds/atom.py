"""Atom 1.0 (RFC 4287) with RFC 5005 paging/archive links and media:content, via feedgen."""

from __future__ import annotations

from feeds.ext import MEDIA_NS
from feeds.fgen import entry, generator, render_safely
from feeds.model import Feed

MEDIA_TYPE = "application/atom+xml; charset=utf-8"


def render_atom(feed: Feed) -> bytes:
    return render_safely(_render, feed)


def _render(feed: Feed) -> bytes:
    fg = generator(feed, {"media": MEDIA_NS})
    fg.subtitle(feed.description or feed.title)
    fg.author(name=feed.publisher or feed.title, uri=feed.publisher_url)
    fg.link(href=feed.home, rel="alternate", type="text/html")
    fg.link(href=feed.self_url, rel="self", type="application/atom+xml")
    if feed.hub:
        fg.link(href=feed.hub, rel="hub")
    for link in feed.links:
        fg.link(href=link.href, rel=link.rel, type="application/atom+xml")
    for item in feed.items:
        fe = entry(fg, feed, item)
        if item.summary:
            fe.summary(item.summary)
        if item.content_html:
            fe.content(item.content_html, type="html")
        if item.author:
            fe.author(name=item.author)
        # Atom: term is the slug, scheme the taxonomy (rubric or tag pages), label for people.
        fe.category(
            [{"term": c.term, "scheme": c.scheme, "label": c.label} for c in item.categories]
        )
    body: bytes = fg.atom_str(encoding="UTF-8")
    return body
