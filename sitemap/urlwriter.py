"""Article rows as `<url>` elements, fast enough for a million URLs, with a known size bound."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from lxml import etree

from sitemap.markup import IMAGE_NS, SITEMAP_NS, document, q
from syndication.model import SITEMAP_IMAGE_BYTES, Image, UrlRow

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
    of the enclosing `<urlset>`. A `<url>` with images declares xmlns:image itself, once, because
    lxml puts the declarations a written subtree needs on its top element; there and not on each
    `<image:image>`, so that an article's body images repeat no declaration.
    """

    def __init__(self, *, image: bool, caption: bool, body: int = 0) -> None:
        nsmap = {"image": IMAGE_NS} if image or body else None
        self.root = etree.Element("url", nsmap=nsmap)
        self.loc = etree.SubElement(self.root, "loc")
        self.lastmod = etree.SubElement(self.root, "lastmod")
        # A template without an image or caption keeps detached stand-ins, never written.
        self.image_loc = etree.Element("unused")
        self.caption = etree.Element("unused")
        if image:
            img = etree.SubElement(self.root, q(IMAGE_NS, "image"))
            self.image_loc = etree.SubElement(img, q(IMAGE_NS, "loc"))
            if caption:
                self.caption = etree.SubElement(img, q(IMAGE_NS, "caption"))
        # The body's images follow the lead image, each an `<image:image>` with its `loc` alone.
        self.body_locs = [
            etree.SubElement(etree.SubElement(self.root, q(IMAGE_NS, "image")), q(IMAGE_NS, "loc"))
            for _ in range(body)
        ]


class UrlRowWriter:
    """Writes `UrlRow`s into an open `<urlset>`, noting the newest change written."""

    def __init__(self, xf: XmlWriter, zone: ZoneInfo) -> None:
        self._write = xf.write
        self._zone = zone
        self._plain = _Template(image=False, caption=False)
        self._image = _Template(image=True, caption=False)
        self._captioned = _Template(image=True, caption=True)
        # Templates of rows with body images, by (lead image, caption, how many), made as met:
        # the counts are bounded at ingest (content.BODY_IMAGES_MAX).
        self._with_body: dict[tuple[bool, bool, int], _Template] = {}
        self.count = 0
        self.newest: datetime | None = None

    def write_all(self, rows: list[UrlRow]) -> None:
        for row in rows:
            self.write(row)

    def write(self, row: UrlRow) -> None:
        image = row.image
        body = row.body_images
        if body:
            t = self._body_template(image, len(body))
            if image is not None:
                t.image_loc.text = image.url
                if image.caption:
                    t.caption.text = image.caption
            for el, url in zip(t.body_locs, body, strict=True):
                el.text = url
        elif image is None:
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

    def _body_template(self, image: Image | None, body: int) -> _Template:
        key = (image is not None, bool(image is not None and image.caption), body)
        t = self._with_body.get(key)
        if t is None:
            t = self._with_body[key] = _Template(image=key[0], caption=key[1], body=body)
        return t


def _measure() -> tuple[int, int, int]:
    """(bytes of an empty urlset's frame, bytes of one `<url>` beyond its texts, image and caption
    included, bytes one body image adds beyond its URL), measured once from the writer itself so
    the bound cannot drift from the output. The stores count the last as SITEMAP_IMAGE_BYTES."""
    with document("urlset", URLSET_NSMAP) as (_, empty):
        pass
    sizes = []
    for body in (0, 1, 2):
        t = _Template(image=True, caption=True, body=body)
        for el in (t.loc, t.lastmod, t.image_loc, t.caption, *t.body_locs):
            el.text = ""  # written as a start and an end tag, as any text is (not `<loc/>`)
        sizes.append(len(etree.tostring(t.root)))
    row, one, two = sizes
    if two - one > SITEMAP_IMAGE_BYTES:
        raise RuntimeError(
            f"a body image takes {two - one} bytes of markup in a sitemap, more than the"
            f" {SITEMAP_IMAGE_BYTES} the stores count (syndication.model.SITEMAP_IMAGE_BYTES)"
        )
    return len(empty.body), row + LASTMOD_MAX, two - one


FRAME_BYTES, ROW_OVERHEAD, BODY_IMAGE_MARKUP = _measure()
