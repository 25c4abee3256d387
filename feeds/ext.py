"""feedgen extensions for what feedgen itself does not write.

feedgen creates extension objects itself (no constructor arguments), so each one is filled in
through attributes after `register_extension`; the renderers do that right after adding an entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from lxml import etree

from feeds.items import image_type
from feeds.model import Feed, Item

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
MEDIA_NS = "http://search.yahoo.com/mrss/"
FH_NS = "http://purl.org/syndication/history/1.0"
YANDEX_NS = "http://news.yandex.ru"

EXTENSION = "syndication"  # the name under which both classes are registered with feedgen


class ChannelExtension(BaseExtension):  # type: ignore[misc]
    """Feed level: paging/archive/hub links in RSS (feedgen writes only rel=self there) and
    the RFC 5005 `fh:archive` marker in both formats."""

    def __init__(self) -> None:
        self.feed: Feed | None = None
        self.namespaces: dict[str, str] = {}

    def extend_ns(self) -> dict[str, str]:
        ns = dict(self.namespaces)
        if self.feed is not None and self.feed.archive:
            ns["fh"] = FH_NS
        return ns

    def _archive(self, parent: Any) -> None:
        if self.feed is not None and self.feed.archive:
            etree.SubElement(parent, f"{{{FH_NS}}}archive")

    def extend_rss(self, rss: Any) -> Any:
        channel = rss[0]
        if self.feed is not None:
            if self.feed.hub:
                etree.SubElement(channel, f"{{{ATOM_NS}}}link", rel="hub", href=self.feed.hub)
            for link in self.feed.links:
                etree.SubElement(channel, f"{{{ATOM_NS}}}link", rel=link.rel, href=link.href)
        self._archive(channel)
        return rss

    def extend_atom(self, feed: Any) -> Any:
        self._archive(feed)
        return feed


def _rfc3339(dt: datetime, feed: Feed) -> str:
    return dt.astimezone(feed.zone).isoformat()


class ItemExtension(BaseEntryExtension):  # type: ignore[misc]
    """Item level: dc:creator (RSS <author> must be an e-mail address), media:content for the
    image, atom:updated in RSS (which has no modification date of its own) and the Yandex
    elements."""

    def __init__(self) -> None:
        self.item: Item | None = None
        self.feed: Feed | None = None
        self.yandex_text: str | None = None  # set only when rendering the Yandex feed

    def _media(self, parent: Any) -> None:
        assert self.item is not None
        image = self.item.image
        if image is None:
            return
        media = etree.SubElement(
            parent, f"{{{MEDIA_NS}}}content", url=image.url, medium="image", type=image_type(image)
        )
        if image.length:
            media.set("fileSize", str(image.length))
        if image.caption:
            etree.SubElement(media, f"{{{MEDIA_NS}}}description").text = image.caption

    def extend_rss(self, entry: Any) -> Any:
        item, feed = self.item, self.feed
        assert item is not None
        assert feed is not None
        if self.yandex_text is not None:
            if item.author:
                # Yandex reads <author> as a plain name, unlike RSS 2.0.
                etree.SubElement(entry, "author").text = item.author
            etree.SubElement(entry, f"{{{YANDEX_NS}}}genre").text = "message"
            etree.SubElement(entry, f"{{{YANDEX_NS}}}full-text").text = self.yandex_text
            return entry
        if item.author:
            etree.SubElement(entry, f"{{{DC_NS}}}creator").text = item.author
        self._media(entry)
        if item.updated is not None:
            etree.SubElement(entry, f"{{{ATOM_NS}}}updated").text = _rfc3339(item.updated, feed)
        return entry

    def extend_atom(self, entry: Any) -> Any:
        self._media(entry)
        return entry
