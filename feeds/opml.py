"""OPML 2.0 subscription list: every feed once, in one format, grouped as the directory groups
them.

A reader imports every outline with an xmlUrl as a subscription, so a feed listed in three
formats would bring each story three times: the list holds one format, RSS unless the request
asks for another (`/opml.xml?format=atom`, `?format=json`).
"""

from __future__ import annotations

from lxml import etree

from feeds.labels import FORMATS
from feeds.model import Directory, FeedGroup, FeedRef
from syndication.content import xml_safe
from syndication.stylesheet import with_stylesheet

MEDIA_TYPE = "text/x-opml; charset=utf-8"
DEFAULT_FORMAT = "rss"
_VERSIONS = {"rss": "RSS2", "atom": "Atom1", "json": "JSONFeed1.1"}


def render_opml(directory: Directory, fmt: str = DEFAULT_FORMAT) -> bytes:
    # A few hundred short strings: cleaning them all up front costs nothing worth avoiding.
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    title = directory.title if fmt == DEFAULT_FORMAT else f"{directory.title} ({FORMATS[fmt]})"
    etree.SubElement(head, "title").text = xml_safe(title)
    # No dateModified: it would be the newest article's date and change the list on every write,
    # while the list itself changes only when a feed appears or disappears.
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    for group in directory.groups:
        _group(body, group, directory.language, fmt)
    out: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    return with_stylesheet(out, directory.stylesheet)


def _has(group: FeedGroup, fmt: str) -> bool:
    return any(fmt in dict(f.urls) for f in group.feeds) or any(_has(g, fmt) for g in group.groups)


def _group(parent: etree._Element, group: FeedGroup, language: str, fmt: str) -> None:
    if not _has(group, fmt):
        return
    outline = etree.SubElement(parent, "outline", text=xml_safe(group.title))
    for feed in group.feeds:
        _feed(outline, feed, language, fmt)
    for sub in group.groups:
        _group(outline, sub, language, fmt)


def _feed(parent: etree._Element, feed: FeedRef, language: str, fmt: str) -> None:
    url = dict(feed.urls).get(fmt)
    if url is None:
        return
    title = xml_safe(feed.title)
    etree.SubElement(
        parent,
        "outline",
        type="rss",  # OPML's word for any feed subscription
        text=title,
        title=title,
        xmlUrl=xml_safe(url),
        htmlUrl=xml_safe(feed.home),
        language=xml_safe(language),
        version=_VERSIONS.get(fmt, fmt),
    )
