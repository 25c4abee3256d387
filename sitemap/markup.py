"""What every sitemap document shares: namespaces, the media type, dates, the streaming writer."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from lxml import etree

from syndication.stylesheet import instruction_text

if TYPE_CHECKING:
    from lxml.etree._serializer import _IncrementalFileWriter as XmlWriter

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
IMAGE_NS = "http://www.google.com/schemas/sitemap-image/1.1"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
MEDIA_TYPE = "application/xml; charset=utf-8"


def w3c(dt: datetime, zone: ZoneInfo) -> str:
    """W3C Datetime in the site's zone, to the second, always with its offset."""
    return dt.astimezone(zone).isoformat(timespec="seconds")


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


@dataclass(slots=True)
class Output:
    """Filled with the document's bytes once its `document()` block has closed."""

    body: bytes = b""


@contextmanager
def document(
    root: str, nsmap: dict[str | None, str], stylesheet: str | None = None
) -> Iterator[tuple[XmlWriter, Output]]:
    """An XML document streamed into memory: only the output bytes are held, never a tree.
    With `stylesheet`, the document names it (syndication.stylesheet) before its root."""
    buf = io.BytesIO()
    out = Output()
    with etree.xmlfile(buf, encoding="utf-8") as xf:
        xf.write_declaration()
        if stylesheet is not None:
            xf.write(etree.PI("xml-stylesheet", instruction_text(stylesheet)))
        with xf.element(q(SITEMAP_NS, root), nsmap=nsmap):
            yield xf, out
    out.body = buf.getvalue()


def text_element(xf: XmlWriter, tag: str, text: str) -> None:
    with xf.element(tag):
        xf.write(text)
