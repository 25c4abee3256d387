"""lxml helpers: namespaces, the Yandex tree, media:content for the feedgen extensions, and
the retry on characters XML forbids that every XML renderer shares.

RSS and Atom are feedgen documents (feeds.fgen, feeds.ext); the Yandex feed, which feedgen
does not know, is a hand-built tree in feedgen's element order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime

from lxml import etree

from feeds.items import image_type
from feeds.model import Feed, Item

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
MEDIA_NS = "http://search.yahoo.com/mrss/"
FH_NS = "http://purl.org/syndication/history/1.0"
TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"  # RFC 6721
YANDEX_NS = "http://news.yandex.ru"
RSS_DOCS = "http://www.rssboard.org/rss-specification"

SubElement = etree.SubElement


def rfc822(dt: datetime, feed: Feed) -> str:
    """RSS dates in the site's zone ("+0300"); email.utils, unlike strftime, ignores locale."""
    return format_datetime(dt.astimezone(feed.zone))


def text(parent: etree._Element, tag: str, value: str) -> etree._Element:
    element = SubElement(parent, tag)
    element.text = value
    return element


def media_content(parent: etree._Element, item: Item) -> None:
    """media:content for the item's image, with its caption (from the feedgen extensions)."""
    image = item.image
    if image is None:
        return
    media = SubElement(
        parent, f"{{{MEDIA_NS}}}content", url=image.url, medium="image", type=image_type(image)
    )
    if image.length:
        media.set("fileSize", str(image.length))
    if image.caption:
        text(media, f"{{{MEDIA_NS}}}description", image.caption)


def serialize(root: etree._Element) -> bytes:
    # UTF-8 keeps Cyrillic readable (ASCII would turn every letter into a character reference).
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def render_safely(render: Callable[[Feed], bytes], feed: Feed) -> bytes:
    """Render; if lxml refused a character XML forbids, render again from cleaned text.

    lxml checks every string it is given anyway (feedgen's text goes through it too), so clean
    data (all of it, after ingest) costs nothing extra; only a document that actually holds
    such a character pays for the copy.
    """
    try:
        return render(feed)
    except ValueError:  # includes UnicodeEncodeError from lone surrogates
        return render(feed.cleaned())
