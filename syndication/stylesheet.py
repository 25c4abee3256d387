"""The `<?xml-stylesheet?>` instruction every RSS, Atom, OPML and sitemap document carries.

It points at a CSS stylesheet the service serves (syndication/assets), so a person who opens a
feed or a sitemap in a browser sees a laid-out page instead of raw markup, with no XSLT (which
browsers are removing). Parsers skip processing instructions: readers, crawlers and validators
read the same elements as before.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from syndication.config import Settings

XML_CSS_PATH = "/assets/xml.css"


def stylesheet_url(settings: Settings) -> str:
    return settings.public_url + XML_CSS_PATH


def instruction_text(href: str) -> str:
    """The pseudo-attributes of the instruction (what lxml's etree.PI takes as its text)."""
    return f'type="text/css" href={quoteattr(href)}'


def instruction(href: str) -> bytes:
    return f"<?xml-stylesheet {instruction_text(href)}?>".encode()


def with_stylesheet(body: bytes, href: str | None) -> bytes:
    """`body` with the instruction right after its XML declaration (or first, without one).

    One copy of the bytes, done once per render; the documents it serves are small (feeds and
    OPML: a page of items; sitemaps write the instruction as they stream instead).
    """
    if href is None:
        return body
    pi = instruction(href)
    if body.startswith(b"<?xml "):
        end = body.index(b"?>") + 2
        return body[:end] + b"\n" + pi + body[end:]
    return pi + b"\n" + body
