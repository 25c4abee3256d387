"""Article rows as `<url>` elements, fast enough for a million URLs, with a known size bound."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from lxml import etree

from sitemap.markup import IMAGE_NS, SITEMAP_NS, document, q
from syndication.model import UrlRow

if TYPE_CHECKING:
    from lxml.etree._serializer import _IncrementalFileWriter as XmlWriter

URLSET_NSMAP: dict[str | None, str] = {None: SITEMAP_NS, "image": IMAGE_NS}
# A W3C datetime to the second is 25 characters; a zone offset with seconds (old local mean
# times) adds 3. Leave room for both.
LASTMOD_MAX = 32


class _Template:
    """One prepared `<url>` subtree whose texts are refilled for every row.

    Entering lxml element contexts costs about 2 µs each, five or six per URL; refilling the texts
    of a prepared subtree and writing it in one call is some three times faster. The `url`, `loc`
    and `lastmod` tags are left unqualified so they serialise bare and take the default namespace
    of the enclosing `<urlset>`; the image subtree declares xmlns:image itself, because lxml puts
    the declarations a written subtree needs on its top element.
    """

    def __init__(self, *, image: bool, caption: bool) -> None:
        self.root = etree.Element("url")
        self.loc = etree.SubElement(self.root, "loc")
        self.lastmod = etree.SubElement(self.root, "lastmod")
        # A template without an image or caption keeps detached stand-ins, never written.
        self.image_loc = etree.Element("unused")
        self.caption = etree.Element("unused")
        if image:
            img = etree.SubElement(self.root, q(IMAGE_NS, "image"), nsmap={"image": IMAGE_NS})
            self.image_loc = etree.SubElement(img, q(IMAGE_NS, "loc"))
            if caption:
                self.caption = etree.SubElement(img, q(IMAGE_NS, "caption"))


class UrlRowWriter:
    """Writes `UrlRow`s into an open `<urlset>`, noting the newest change written."""

    def __init__(self, xf: XmlWriter, zone: ZoneInfo) -> None:
        self._write = xf.write
        self._zone = zone
        self._plain = _Template(image=False, caption=False)
        self._image = _Template(image=True, caption=False)
        self._captioned = _Template(image=True, caption=True)
        self.count = 0
        self.newest: datetime | None = None

    def write_all(self, rows: list[UrlRow]) -> None:
        for row in rows:
            self.write(row)

    def write(self, row: UrlRow) -> None:
        image = row.image
        if image is None:
            t = self._plain
        elif image.caption:
            t = self._captioned
            t.image_loc.text = image.url
            t.caption.text = image.caption
        else:
            t = self._image
            t.image_loc.text = image.url
        t.loc.text = row.url
        t.lastmod.text = row.last_change.astimezone(self._zone).isoformat(timespec="seconds")
        self._write(t.root)
        self.count += 1
        if self.newest is None or row.last_change > self.newest:
            self.newest = row.last_change


def _measure() -> tuple[int, int]:
    """(bytes of an empty urlset's frame, bytes of one `<url>` beyond its texts, image and caption
    included), measured once from the writer itself so the bound cannot drift from the output."""
    with document("urlset", URLSET_NSMAP) as (_, empty):
        pass
    t = _Template(image=True, caption=True)
    for el in (t.loc, t.lastmod, t.image_loc, t.caption):
        el.text = ""
    return len(empty.body), len(etree.tostring(t.root)) + LASTMOD_MAX


FRAME_BYTES, ROW_OVERHEAD = _measure()
