"""Atom 1.0 (RFC 4287) with RFC 5005 paging/archive links and media:content."""

from __future__ import annotations

from lxml import etree

from feeds.items import image_type
from feeds.model import Feed
from feeds.xmltree import (
    ATOM_NS,
    FH_NS,
    MEDIA_NS,
    SubElement,
    media_content,
    render_safely,
    rfc3339,
    serialize,
    text,
)

MEDIA_TYPE = "application/atom+xml; charset=utf-8"
_A = f"{{{ATOM_NS}}}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_EPOCH = "1970-01-01T00:00:00+00:00"  # Atom requires <updated> even with no entries
_FEED_TYPE = "application/atom+xml"


def render_atom(feed: Feed) -> bytes:
    return render_safely(_render, feed)


def _render(feed: Feed) -> bytes:
    nsmap: dict[str | None, str] = {"media": MEDIA_NS, None: ATOM_NS}
    if feed.archive:
        nsmap["fh"] = FH_NS
    root = etree.Element(f"{_A}feed", nsmap=nsmap)
    root.set(_XML_LANG, feed.language)
    text(root, f"{_A}id", feed.id)
    text(root, f"{_A}title", feed.title or feed.home)
    text(root, f"{_A}updated", rfc3339(feed.updated, feed) if feed.updated else _EPOCH)
    author = SubElement(root, f"{_A}author")
    text(author, f"{_A}name", feed.publisher or feed.title or feed.home)
    text(author, f"{_A}uri", feed.publisher_url)
    SubElement(root, f"{_A}link", href=feed.home, rel="alternate", type="text/html")
    SubElement(root, f"{_A}link", href=feed.self_url, rel="self", type=_FEED_TYPE)
    if feed.hub:
        SubElement(root, f"{_A}link", href=feed.hub, rel="hub")
    for link in feed.links:
        SubElement(root, f"{_A}link", href=link.href, rel=link.rel, type=_FEED_TYPE)
    text(root, f"{_A}generator", feed.generator).set("version", feed.generator_version)
    text(root, f"{_A}subtitle", feed.description or feed.title or feed.home)
    if feed.archive:
        SubElement(root, f"{{{FH_NS}}}archive")
    for item in feed.items:
        entry = SubElement(root, f"{_A}entry")
        text(entry, f"{_A}id", item.id)
        text(entry, f"{_A}title", item.title or item.url)
        text(entry, f"{_A}updated", rfc3339(item.last_change, feed))
        if item.author:
            text(SubElement(entry, f"{_A}author"), f"{_A}name", item.author)
        if item.content_html:
            text(entry, f"{_A}content", item.content_html).set("type", "html")
        SubElement(entry, f"{_A}link", href=item.url, rel="alternate", type="text/html")
        if item.image is not None:
            image = SubElement(entry, f"{_A}link", href=item.image.url, rel="enclosure")
            image.set("type", image_type(item.image))
            if item.image.length:
                image.set("length", str(item.image.length))
        if item.summary:
            text(entry, f"{_A}summary", item.summary)
        for c in item.categories:
            # term is the slug, scheme the taxonomy (rubric or tag pages), label for people.
            SubElement(entry, f"{_A}category", term=c.term, scheme=c.scheme, label=c.label)
        text(entry, f"{_A}published", rfc3339(item.published, feed))
        media_content(entry, item)
    return serialize(root)
