"""The feedgen set-up RSS and Atom share, and feedgen 1.0's traps handled in one place.

- `add_entry()` prepends; every entry here is added with order="append" to keep feed order.
- The generator and every entry default their dates to the wall clock; every date a format
  writes is set from the data, and an empty feed's RSS lastBuildDate is cleared (see below).
- A naive datetime raises ValueError, which `render_safely` would take for a refused character;
  `local()` reads naive datetimes as UTC (what the model holds) before moving to the site's zone.
- The RSS channel <link> is the href of the last `fg.link()` call; the RSS renderer adds it last.
- content:encoded is written only when the item also has a description (otherwise the content
  becomes the description); the RSS renderer always sets a description first.
- RSS keeps one enclosure (the last rel=enclosure link) and `fe.enclosure()` writes a missing
  length as "None"; the one image goes in through `fe.link()` with its length or none, which
  RSS writes as "0" and Atom leaves out.
- `FeedEntry.atom_entry` drops rel/type/length from entry links: see `ext.AtomEntryExtension`.
- lxml refuses characters XML forbids when feedgen assigns the text: the renderers go through
  `xmltree.render_safely`, which renders again from cleaned text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator

from feeds.ext import EXTENSION, ChannelExtension
from feeds.items import image_type
from feeds.model import Feed, Item

# Atom requires <updated> even on a feed with no entries; a fixed date keeps output stable.
NO_DATE = datetime(1970, 1, 1, tzinfo=UTC)


def local(dt: datetime, zone: ZoneInfo) -> datetime:
    """`dt` in the site's zone; feedgen refuses naive datetimes, and the model's are UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(zone)


def generator(
    feed: Feed, entry_extension: type, namespaces: dict[str, str], *, rss: bool
) -> FeedGenerator:
    """A generator holding the channel of `feed`, with the channel extension and the format's
    entry extension registered under `EXTENSION`."""
    fg = FeedGenerator()
    fg.register_extension(EXTENSION, ChannelExtension, entry_extension, atom=not rss, rss=rss)
    channel: ChannelExtension = getattr(fg, EXTENSION)
    channel.feed = feed
    channel.namespaces = namespaces
    fg.id(feed.id)
    fg.title(feed.title or feed.home)
    fg.description(feed.description or feed.title or feed.home)  # also the Atom subtitle
    fg.language(feed.language)
    fg.generator(feed.generator, version=feed.generator_version)  # replaces feedgen's own uri
    fg.ttl(feed.ttl)
    if feed.logo:
        # RSS <image> (its title and link must be the channel's) and the Atom <logo>.
        fg.image(url=feed.logo, title=feed.title or feed.home, link=feed.home)
    if feed.icon and not rss:
        fg.icon(feed.icon)
    if feed.updated is not None:
        # Both the Atom <updated> and the RSS lastBuildDate: the scope's newest change keeps a
        # document byte-identical while nothing in it changed.
        fg.updated(local(feed.updated, feed.zone))
    else:
        fg.updated(NO_DATE)
        if rss:
            # No article, no build date to claim; feedgen has no way to unset it but this one.
            fg._FeedGenerator__rss_lastBuildDate = None
    return fg


def entry(fg: FeedGenerator, item: Item, zone: ZoneInfo) -> Any:
    """A feedgen entry, appended, with what every format shares: id (also the RSS guid,
    isPermaLink="false"), title, the page link and the image enclosure, publication date."""
    fe = fg.add_entry(order="append")
    fe.id(item.id)
    fe.title(item.title or item.url)
    image = item.image
    if image is None:
        fe.link(href=item.url, rel="alternate", type="text/html")
    else:
        # One call for both links: feedgen re-reads all of an entry's links on every call.
        fe.link(
            [
                {"href": item.url, "rel": "alternate", "type": "text/html"},
                {
                    "href": image.url,
                    "rel": "enclosure",
                    "type": image_type(image),
                    "length": str(image.length) if image.length else None,
                },
            ]
        )
    fe.published(local(item.published, zone))
    return fe
