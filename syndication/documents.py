"""The catalogue of public documents: for a URL path, the document's key, what it depends on,
and how to build it. The cache, invalidation, metrics labels and (later) the static mirror's
file names all derive from the key.

What each document depends on is a set of tags (syndication.dependencies says which change
raises which); a document is stale when a change raises one of its tags.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import feeds
import sitemap
from feeds import brand
from sitemap.index import INDEX_DEPS, NEWS_DEPS, RUBRICS_DEPS, TAGS_DEPS
from syndication import assets
from syndication.config import ICON_PATH, LOGO_PATH
from syndication.dependencies import earlier_counts
from syndication.model import Scope, ScopeKind
from syndication.rendering import BadParameter, RenderContext, Rendered
from syndication.timeutil import parse_month

Builder = Callable[[RenderContext], Awaitable[Rendered]]


@dataclass(frozen=True, slots=True)
class Document:
    key: str
    kind: str  # metrics label: feed, archive, yandex, opml, index, robots, sitemap-*
    deps: frozenset[str]
    build: Builder
    gzip_only: bool = False  # the `.xml.gz` form of a sitemap: its gzip bytes as application/gzip


_FEED = re.compile(
    r"^/feeds/(?:(all)|(rubric|tag)/([^/]+)|archive/(\d{4}-\d{2})(?:-(\d+))?)\.(rss|atom|json)$",
    re.ASCII,  # \d: 0-9 only, not every script's digits
)
# A feed's HTML page: the feed's URL without the format (feeds.feed_page).
_FEED_PAGE = re.compile(r"^/feeds/(?:(all)|(rubric|tag)/([^/]+)|archive/(\d{4}-\d{2}))$", re.ASCII)
_MONTH_SITEMAP = re.compile(
    r"^/sitemaps/articles-(\d{4}-\d{2})(?:-([1-9]\d{0,8}))?\.xml$", re.ASCII
)
_MAX_PAGE = 1_000_000


def _int_param(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    # ASCII digits only, and few enough of them: int() refuses other scripts' digits that
    # isdigit() accepts ("²") and strings past 4,300 digits, which would be a 500.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or not low <= int(raw) <= high:
        raise BadParameter(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


def resolve(
    path: str, query: dict[str, str], *, feed_limit: int, max_limit: int
) -> Document | None:
    """The document at `path`, None when there is none; BadParameter for a bad page/limit."""
    gz = path.endswith(".xml.gz")
    if gz:
        path = path[:-3]

    match = _FEED.match(path)
    if match and not gz:
        everything, kind, slug, month, part, fmt = match.groups()
        if month:
            return _archive(month, part, fmt)
        page = _int_param(query, "page", 1, 1, _MAX_PAGE)
        limit = _int_param(query, "limit", feed_limit, 1, max_limit)
        if everything:
            scope = Scope(ScopeKind.ALL)
            deps = frozenset({"all", "months"})  # links to the current month's archive
        else:
            scope = Scope(ScopeKind(kind), slug)
            deps = frozenset({f"{kind}:{slug}"})
        return Document(
            f"feed:{scope.name}:{fmt}:page={page}:limit={limit}", "feed", deps,
            lambda ctx: feeds.build_feed(ctx, scope, fmt, page=page, limit=limit),
        )  # fmt: skip

    if not gz:
        html = _feed_page(path)
        if html is not None:
            return html
    if path.startswith(assets.PREFIX) and path[len(assets.PREFIX) :] in assets.MEDIA_TYPES:
        return _asset(path[len(assets.PREFIX) :])
    if path == "/feeds/yandex.rss":
        return Document("feed:yandex", "yandex", frozenset({"all"}), feeds.build_yandex)
    if path == "/opml.xml":
        # One list per feed format; RSS, the default, keeps the plain key.
        fmt = query.get("format", "rss")
        if fmt not in ("rss", "atom", "json"):
            raise BadParameter(f"format must be rss, atom or json, got {fmt!r}")
        return Document("opml" if fmt == "rss" else f"opml:{fmt}", "opml",
                        frozenset({"terms", "rubric-list"}),
                        lambda ctx: feeds.build_opml(ctx, fmt))  # fmt: skip
    if path == "/":
        # The page shows every feed's article count: any visible write changes it.
        return Document("index", "index", frozenset({"all", "terms", "months", "rubric-list"}),
                        feeds.build_index_page)  # fmt: skip
    if path == "/robots.txt":
        return Document("robots", "robots", frozenset(), _robots)
    if path == ICON_PATH:
        return Document("brand:icon", "brand", frozenset(), brand.build_icon)
    if path == LOGO_PATH:
        return Document("brand:logo", "brand", frozenset(), brand.build_logo)

    doc = _sitemap(path)
    if doc is None:
        return None
    # The .xml.gz form is the same cached document, served as its gzip bytes.
    return replace(doc, gzip_only=True) if gz else doc


def _archive(month: str, part: str | None, fmt: str) -> Document | None:
    """A page of a month archive: page 1 at the month's own URL, page N at `YYYY-MM-N`."""
    try:
        parse_month(month)
    except ValueError:
        return None
    if part is None:
        page = 1
    elif part.startswith("0") or len(part) > 18 or not 2 <= int(part) <= _MAX_PAGE:
        return None  # page 1 has no suffix; "-1", "-01" are not URLs of ours
    else:
        page = int(part)
    scope = Scope(ScopeKind.MONTH, month)
    deps = {f"month:{month}", "months"}
    if page == 1:
        # Page 1 links back to the last page of the month before, whose number that month's
        # count decides; which month it is (empty months are skipped) is unknown here.
        deps |= earlier_counts(month)
    key = f"feed:month:{month}:{fmt}" + (f":page={page}" if page > 1 else "")
    return Document(key, "archive", frozenset(deps),
                    lambda ctx: feeds.build_feed(ctx, scope, fmt, page=page))  # fmt: skip


def _feed_page(path: str) -> Document | None:
    """The HTML page of a feed: it shows what the feed's first page shows (channel, count,
    newest items), so it depends on what the feed depends on."""
    match = _FEED_PAGE.match(path)
    if match is None:
        return None
    everything, kind, slug, month = match.groups()
    if everything:
        scope = Scope(ScopeKind.ALL)
        deps = frozenset({"all", "months"})
    elif month:
        try:
            parse_month(month)
        except ValueError:
            return None
        scope = Scope(ScopeKind.MONTH, month)
        deps = frozenset({f"month:{month}", "months"})
    else:
        scope = Scope(ScopeKind(kind), slug)
        deps = frozenset({f"{kind}:{slug}"})
    return Document(f"page:{scope.name}", "feed-page", deps,
                    lambda ctx: feeds.build_feed_page(ctx, scope))  # fmt: skip


def _asset(name: str) -> Document:
    """A static file (syndication.assets): no write changes it, a release does."""

    async def build(ctx: RenderContext) -> Rendered:
        return Rendered(assets.load(name), assets.MEDIA_TYPES[name])

    return Document(f"asset:{name}", "asset", frozenset(), build)


async def _robots(ctx: RenderContext) -> Rendered:
    return sitemap.build_robots(ctx.settings)


def _sitemap(path: str) -> Document | None:
    if path == "/sitemap.xml":
        return Document("sitemap:index", "sitemap-index", INDEX_DEPS, sitemap.build_index)
    if path == "/sitemaps/rubrics.xml":
        return Document("sitemap:rubrics", "sitemap-terms", RUBRICS_DEPS,
                        sitemap.build_rubrics)  # fmt: skip
    if path == "/sitemaps/tags.xml":
        return Document("sitemap:tags", "sitemap-terms", TAGS_DEPS,
                        sitemap.build_tags)  # fmt: skip
    if path == "/sitemaps/news.xml":
        return Document("sitemap:news", "sitemap-news", NEWS_DEPS, sitemap.build_news)
    match = _MONTH_SITEMAP.match(path)
    if match:
        month, part_text = match.groups()
        try:
            parse_month(month)
        except ValueError:
            return None
        part = int(part_text) if part_text else 1
        if part_text is not None and part < 2:
            return None  # part 1 has no suffix; "-1" and "-0" are not URLs of ours
        return Document(
            f"sitemap:month:{month}:{part}", "sitemap-month", frozenset({f"month:{month}"}),
            lambda ctx: sitemap.build_month(ctx, month, part),
        )  # fmt: skip
    return None


__all__ = ["Document", "resolve"]
