"""The service's static files: the CSS that lays out feeds, OPML and sitemaps in a browser
(`xml.css`, named by their `<?xml-stylesheet?>`), and the CSS and script of the HTML pages.

They are public documents like any other (syndication.documents): cached, with an ETag per
coding, 304s and compression; no write changes them, a new release does.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from syndication.config import Settings

PREFIX = "/assets/"
MEDIA_TYPES = {
    "xml.css": "text/css; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
}


@cache
def load(name: str) -> bytes:
    """The bytes of the asset `name` (a key of MEDIA_TYPES), read once per process."""
    return files(__package__).joinpath(name).read_bytes()


def asset_url(settings: Settings, name: str) -> str:
    return settings.public_url + PREFIX + name
