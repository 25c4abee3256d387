"""feedgen extensions for what feedgen 1.0 does not write itself.

feedgen creates extension objects itself, with no constructor arguments: one for the generator
and one per entry (in `add_entry`); the renderers fill them in through attributes right after.
Each format registers only the entry extension it needs, so an item costs one small object and
one call. feedgen builds each entry detached and appends it to the document afterwards; the
namespaced elements added here take the prefixes the root declares (`extend_ns`).

dc:creator is written here too rather than through feedgen's own 'dc' extension: that one
creates fifteen fields for every entry and looks up all fifteen again when writing, which cost
about 0.4x of bench/render.py's lxml reference on a 50-item page, for one element.
"""

from __future__ import annotations

from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension

from feeds.model import Feed, Item
from feeds.xmltree import ATOM_NS, DC_NS, FH_NS, TOMBSTONES_NS, SubElement, media_content

EXTENSION = "syndication"  # the name each renderer registers its classes under

_ATOM_LINK = f"{{{ATOM_NS}}}link"
_ATOM_UPDATED = f"{{{ATOM_NS}}}updated"
_DC_CREATOR = f"{{{DC_NS}}}creator"
_FH_ARCHIVE = f"{{{FH_NS}}}archive"
_DELETED_ENTRY = f"{{{TOMBSTONES_NS}}}deleted-entry"


class ChannelExtension(BaseExtension):  # type: ignore[misc]
    """Feed level: the hub and RFC 5005 paging/archive links in RSS (of its links feedgen
    writes only rel=self there; Atom takes them all through `fg.link`), the RFC 5005
    `fh:archive` marker in both formats, and the namespaces the entries' extras use."""

    def __init__(self) -> None:
        self.feed: Feed | None = None
        self.namespaces: dict[str, str] = {}

    def extend_ns(self) -> dict[str, str]:
        namespaces = self.namespaces
        if self.feed is not None and self.feed.archive:
            namespaces = {**namespaces, "fh": FH_NS}
        if self.feed is not None and self.feed.deleted:
            namespaces = {**namespaces, "at": TOMBSTONES_NS}
        return namespaces

    def extend_rss(self, rss: Any) -> Any:
        feed = self.feed
        if feed is not None:
            channel = rss[0]
            if feed.hub:
                SubElement(channel, _ATOM_LINK, rel="hub", href=feed.hub)
            for link in feed.links:
                SubElement(channel, _ATOM_LINK, rel=link.rel, href=link.href)
            if feed.archive:
                SubElement(channel, _FH_ARCHIVE)
        return rss

    def extend_atom(self, root: Any) -> Any:
        feed = self.feed
        if feed is None:
            return root
        if feed.archive:
            SubElement(root, _FH_ARCHIVE)
        for gone in feed.deleted:
            # RFC 6721: the id the entry had and when it went; its page, for readers that
            # show what was withdrawn. Dates as feedgen writes them, in the site's zone.
            when = gone.when.astimezone(feed.zone).isoformat()
            tombstone = SubElement(root, _DELETED_ENTRY, ref=gone.ref, when=when)
            SubElement(tombstone, _ATOM_LINK, rel="alternate", href=gone.url)
        return root


class RssItemExtension(BaseEntryExtension):  # type: ignore[misc]
    """RSS item, after feedgen's pubDate: dc:creator (RSS's own <author> must be an e-mail
    address), media:content for the image, atom:updated (RSS has no modification date)."""

    def __init__(self) -> None:
        self.item: Item | None = None
        self.updated: str | None = None  # RFC 3339 in the site's zone, when the item changed

    def extend_rss(self, entry: Any) -> Any:
        item = self.item
        if item is not None:
            if item.author:
                SubElement(entry, _DC_CREATOR).text = item.author
            media_content(entry, item)
        if self.updated is not None:
            SubElement(entry, _ATOM_UPDATED).text = self.updated
        return entry


class AtomEntryExtension(BaseEntryExtension):  # type: ignore[misc]
    """Atom entry: puts back the link attributes feedgen 1.0 drops, then adds media:content.

    feedgen 1.0.0's `FeedEntry.atom_entry` reuses its loop variable (`for link in links:
    link = xml_elem('link', entry, href=link['href'])`) and then reads rel/type/length from the
    new element, which has none: every entry link comes out as a bare href, and the image
    enclosure reads as a second alternate link. feedgen still needs the links through
    `fe.link()` (an entry without content must have an alternate link), so they go in there as
    usual, and this extension, which feedgen runs on the finished entry, copies the rest of
    each link's data onto feedgen's <link> elements, in order: what feedgen meant to write, in
    its attribute order. Setting what a fixed feedgen already wrote changes nothing.
    """

    def __init__(self) -> None:
        self.item: Item | None = None
        self.links: list[dict[str, str | None]] = []  # what `fe.link()` holds

    def extend_atom(self, entry: Any) -> Any:
        for element, data in zip(entry.iterchildren("link"), self.links, strict=False):
            for name, value in data.items():
                if value and name != "href":
                    element.set(name, value)
        if self.item is not None:
            media_content(entry, self.item)
        return entry
