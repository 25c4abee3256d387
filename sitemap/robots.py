"""/robots.txt: crawl the documents, not the API or the service's own pages; point at the sitemaps."""

from __future__ import annotations

from syndication.config import Settings
from syndication.rendering import Rendered
from syndication.urls import SITEMAP_INDEX_PATH

# The write API and the service's health and metrics are no documents for a search engine (a
# crawler following the API's links would also only meet 401s). RFC 9309: the longest matching
# rule wins, so `Allow: /` keeps everything else open whatever the order.
DISALLOWED = ("/api/", "/metrics", "/healthz")


def build_robots(settings: Settings) -> Rendered:
    rules = "".join(f"Disallow: {path}\n" for path in DISALLOWED)
    body = f"User-agent: *\n{rules}Allow: /\n\nSitemap: {settings.public_url}{SITEMAP_INDEX_PATH}\n"
    return Rendered(body=body.encode(), media_type="text/plain; charset=utf-8")
