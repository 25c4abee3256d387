"""/robots.txt: allow everything and point crawlers at the sitemap index."""

from __future__ import annotations

from syndication.config import Settings
from syndication.rendering import Rendered
from syndication.urls import SITEMAP_INDEX_PATH


def build_robots(settings: Settings) -> Rendered:
    body = f"User-agent: *\nAllow: /\n\nSitemap: {settings.public_url}{SITEMAP_INDEX_PATH}\n"
    return Rendered(body=body.encode(), media_type="text/plain; charset=utf-8")
