"""OPML 2.0 subscription list of every feed, grouped as the directory groups them."""

from __future__ import annotations

from lxml import etree

from feeds.labels import FORMATS
from feeds.model import Directory, FeedGroup, FeedRef
from syndication.content import xml_safe

MEDIA_TYPE = "text/x-opml; charset=utf-8"
_VERSIONS = {"rss": "RSS2", "atom": "Atom1", "json": "JSONFeed1.1"}


def render_opml(directory: Directory) -> bytes:
    # A few hundred short strings: cleaning them all up front costs nothing worth avoiding.
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = xml_safe(directory.title)
    # No dateModified: it would be the newest article's date and change the list on every write,
    # while the list itself changes only when a feed appears or disappears.
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    for group in directory.groups:
        _group(body, group, directory.language)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)


def _group(parent: etree._Element, group: FeedGroup, language: str) -> None:
    outline = etree.SubElement(parent, "outline", text=xml_safe(group.title))
    for feed in group.feeds:
        _feed(outline, feed, language)
    for sub in group.groups:
        _group(outline, sub, language)


def _feed(parent: etree._Element, feed: FeedRef, language: str) -> None:
    title = xml_safe(feed.title)
    outline = etree.SubElement(parent, "outline", text=title)
    for fmt, url in feed.urls:
        etree.SubElement(
            outline,
            "outline",
            type="rss",  # OPML's word for any feed subscription
            text=f"{title} ({FORMATS.get(fmt, fmt)})",
            title=title,
            xmlUrl=xml_safe(url),
            htmlUrl=xml_safe(feed.home),
            language=xml_safe(language),
            version=_VERSIONS.get(fmt, fmt),
        )
