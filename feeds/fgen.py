"""The feedgen set-up RSS, Atom and Yandex share, and the feedgen traps handled in one place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator

from feeds.ext import EXTENSION, ChannelExtension, ItemExtension
from feeds.items import image_type
from feeds.model import Feed, Item

# Atom requires <updated> even on a feed with no entries; a fixed date keeps output stable.
NO_DATE = datetime(1970, 1, 1, tzinfo=UTC)


def generator(feed: Feed, namespaces: dict[str, str]) -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension(EXTENSION, ChannelExtension, ItemExtension)
    channel: ChannelExtension = getattr(fg, EXTENSION)
    channel.feed = feed
    channel.namespaces = namespaces
    fg.id(feed.id)
    fg.title(feed.title or feed.home)
    fg.description(feed.description or feed.title or feed.home)
    fg.language(feed.language)
    fg.generator(feed.generator, version=feed.generator_version)
    fg.ttl(feed.ttl)
    # feedgen defaults both dates to the wall clock; the scope's newest change keeps a document
    # byte-identical while nothing in it changed.
    fg.updated((feed.updated or NO_DATE).astimezone(feed.zone))
    if feed.updated is None:
        fg._FeedGenerator__rss_lastBuildDate = None  # no article, no build date to claim
    return fg


def entry(fg: FeedGenerator, feed: Feed, item: Item) -> Any:
    fe = fg.add_entry(order="append")  # feedgen prepends by default
    ext: ItemExtension = getattr(fe, EXTENSION)
    ext.item, ext.feed = item, feed
    fe.id(item.id)  # also the RSS guid, isPermaLink="false"
    fe.title(item.title or item.url)
    fe.link(href=item.url, rel="alternate")
    fe.published(item.published.astimezone(feed.zone))
    fe.updated(item.last_change.astimezone(feed.zone))
    if item.image is not None:
        # RSS keeps one enclosure, which is all we have; the length is 0 when the CMS did not say.
        fe.enclosure(item.image.url, str(item.image.length or 0), image_type(item.image))
    return fe


def render_safely(render: Callable[[Feed], bytes], feed: Feed) -> bytes:
    """Render; if lxml refused a character XML forbids, render again from cleaned text.

    lxml checks every string it is given anyway, so clean data (all of it, after ingest) costs
    nothing extra; only a document that actually holds such a character pays for the copy.
    """
    try:
        return render(feed)
    except ValueError:  # includes UnicodeEncodeError from lone surrogates
        return render(feed.cleaned())
