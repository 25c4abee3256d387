"""Every public URL in one place, so feeds, sitemaps, OPML and the index page agree."""

from __future__ import annotations

from syndication.config import Settings
from syndication.model import Scope, ScopeKind

FEED_FORMATS = ("rss", "atom", "json")


def rubric_page(settings: Settings, slug: str, url: str | None = None) -> str:
    """The site's page of a rubric: its own URL when the CMS gave one."""
    return url or f"{settings.site}/rubric/{slug}/"


def tag_page(settings: Settings, slug: str) -> str:
    return f"{settings.site}/tag/{slug}/"


def month_page(settings: Settings, month: str) -> str:
    """The site's archive calendar page of a month ("YYYY-MM")."""
    year, mm = month.split("-")
    return f"{settings.site}/archive/{year}/{mm}/"


def feed_path(scope: Scope, fmt: str) -> str:
    if scope.kind is ScopeKind.ALL:
        return f"/feeds/all.{fmt}"
    if scope.kind is ScopeKind.MONTH:
        return f"/feeds/archive/{scope.key}.{fmt}"
    return f"/feeds/{scope.kind.value}/{scope.key}.{fmt}"


def feed_url(settings: Settings, scope: Scope, fmt: str) -> str:
    return settings.public_url + feed_path(scope, fmt)


def feed_page_path(scope: Scope) -> str:
    """The HTML page of a feed (feeds.feed_page): its URL without the format extension."""
    return feed_path(scope, "")[:-1]


def feed_page_url(settings: Settings, scope: Scope) -> str:
    return settings.public_url + feed_page_path(scope)


YANDEX_PATH = "/feeds/yandex.rss"
OPML_PATH = "/opml.xml"
SITEMAP_INDEX_PATH = "/sitemap.xml"


def month_sitemap_path(month: str, part: int = 1) -> str:
    return (
        f"/sitemaps/articles-{month}.xml" if part == 1 else f"/sitemaps/articles-{month}-{part}.xml"
    )
