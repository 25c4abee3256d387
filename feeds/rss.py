"""RSS 2.0 with content:encoded, dc:creator, media:content and RFC 5005 links (atom:link)."""

from __future__ import annotations

from lxml import etree

from feeds.items import image_type
from feeds.model import Feed, Item
from feeds.xmltree import (
    ATOM_NS,
    CONTENT_NS,
    DC_NS,
    FH_NS,
    MEDIA_NS,
    RSS_DOCS,
    SubElement,
    media_content,
    render_safely,
    rfc822,
    rfc3339,
    serialize,
    text,
)

MEDIA_TYPE = "application/rss+xml; charset=utf-8"
_ATOM_LINK = f"{{{ATOM_NS}}}link"


def render_rss(feed: Feed) -> bytes:
    return render_safely(_render, feed)


def channel(feed: Feed, nsmap: dict[str, str]) -> tuple[etree._Element, etree._Element]:
    """<rss><channel> with everything but the items; shared with the Yandex feed."""
    if feed.archive:
        nsmap = {**nsmap, "fh": FH_NS}
    root = etree.Element("rss", version="2.0", nsmap={**nsmap, "atom": ATOM_NS})
    ch = SubElement(root, "channel")
    text(ch, "title", feed.title or feed.home)
    text(ch, "link", feed.home)
    text(ch, "description", feed.description or feed.title or feed.home)
    SubElement(ch, _ATOM_LINK, href=feed.self_url, rel="self", type="application/rss+xml")
    text(ch, "docs", RSS_DOCS)
    text(ch, "generator", feed.generator)
    text(ch, "language", feed.language)
    if feed.updated is not None:  # an empty feed has no build date worth claiming
        text(ch, "lastBuildDate", rfc822(feed.updated, feed))
    text(ch, "ttl", str(feed.ttl))
    if feed.hub:
        SubElement(ch, _ATOM_LINK, rel="hub", href=feed.hub)
    for link in feed.links:
        SubElement(ch, _ATOM_LINK, rel=link.rel, href=link.href)
    if feed.archive:
        SubElement(ch, f"{{{FH_NS}}}archive")
    return root, ch


def item_head(ch: etree._Element, item: Item, description: str | None) -> etree._Element:
    """title, link, description: the start every RSS item here shares."""
    el = SubElement(ch, "item")
    text(el, "title", item.title or item.url)
    text(el, "link", item.url)
    if description:
        text(el, "description", description)
    return el


def enclosure(el: etree._Element, item: Item) -> None:
    if item.image is not None:
        # RSS allows one enclosure, which is all we have; length 0 when the CMS did not say.
        SubElement(
            el,
            "enclosure",
            url=item.image.url,
            length=str(item.image.length or 0),
            type=image_type(item.image),
        )


def _render(feed: Feed) -> bytes:
    root, ch = channel(feed, {"dc": DC_NS, "media": MEDIA_NS, "content": CONTENT_NS})
    for item in feed.items:
        el = item_head(ch, item, item.summary or item.title or item.url)
        if item.content_html:
            text(el, f"{{{CONTENT_NS}}}encoded", item.content_html)
        SubElement(el, "guid", isPermaLink="false").text = item.id
        for c in item.categories:
            # The label is the text; the rubric's or tag's page tells which one it is.
            SubElement(el, "category", domain=c.page).text = c.label
        enclosure(el, item)
        text(el, "pubDate", rfc822(item.published, feed))
        if item.author:
            # RSS's own <author> must be an e-mail address.
            text(el, f"{{{DC_NS}}}creator", item.author)
        media_content(el, item)
        if item.updated is not None:  # RSS has no modification date of its own
            text(el, f"{{{ATOM_NS}}}updated", rfc3339(item.updated, feed))
    return serialize(root)
