"""Builders of the documents that list feeds: /opml.xml and the "/" index page.

The store is read here; the writers (`render_opml`, `render_index`) run in a worker thread.
"""

from __future__ import annotations

from feeds.collation import russian_key
from feeds.index_page import MEDIA_TYPE as HTML_TYPE
from feeds.index_page import render_index
from feeds.labels import FEED_TYPES, FORMATS, TAG_KINDS, month_title
from feeds.model import Directory, FeedGroup, FeedRef
from feeds.offload import off_loop
from feeds.opml import DEFAULT_FORMAT, render_opml
from feeds.opml import MEDIA_TYPE as OPML_TYPE
from sitemap.partition import stat_layout
from syndication.assets import PREFIX
from syndication.config import Settings
from syndication.model import ALL_NEWS, Scope, ScopeKind
from syndication.rendering import BadParameter, RenderContext, Rendered
from syndication.stylesheet import stylesheet_url
from syndication.urls import (
    FEED_FORMATS,
    OPML_PATH,
    SITEMAP_INDEX_PATH,
    YANDEX_PATH,
    feed_page_url,
    feed_url,
    month_page,
    month_sitemap_path,
    rubric_page,
    tag_page,
)


async def build_opml(ctx: RenderContext, fmt: str = DEFAULT_FORMAT) -> Rendered:
    """/opml.xml: every feed once, in `fmt` (feeds.opml)."""
    if fmt not in FEED_FORMATS:
        raise BadParameter(f"format must be one of {', '.join(FEED_FORMATS)}, got {fmt!r}")
    directory = await _directory(ctx, full=False)
    # A scheduled article going live may bring its tag's first feed: the newest visible date.
    return Rendered(
        await off_loop(render_opml, directory, fmt), OPML_TYPE, last_modified=directory.updated
    )


def opml_url(settings: Settings, fmt: str) -> str:
    base = settings.public_url + OPML_PATH
    return base if fmt == DEFAULT_FORMAT else f"{base}?format={fmt}"


async def build_index_page(ctx: RenderContext) -> Rendered:
    directory = await _directory(ctx, full=True)
    body = await off_loop(render_index, directory)
    return Rendered(body, HTML_TYPE, last_modified=directory.updated)


def _urls(ctx: RenderContext, scope: Scope) -> tuple[tuple[str, str], ...]:
    return tuple((fmt, feed_url(ctx.settings, scope, fmt)) for fmt in FEED_FORMATS)


async def _directory(ctx: RenderContext, *, full: bool) -> Directory:
    """Every feed with articles; with `full`, also month archives and sitemaps (index page)."""
    settings, store, now = ctx.settings, ctx.store, ctx.now
    stats = await store.term_stats(now=now)
    rubric_urls = {r.slug: r.url for r in await store.rubrics()}
    total, updated = await store.aggregate(ALL_NEWS, now=now)
    news_feeds = [
        FeedRef(
            "Все новости",
            settings.site,
            _urls(ctx, ALL_NEWS),
            total if full else None,
            feed_page_url(settings, ALL_NEWS),
        )
    ]
    if full:
        # Not in OPML: it holds the all-news feed's stories again, in Yandex's dialect, and an
        # imported list would bring each of them twice.
        yandex = (("rss", settings.public_url + YANDEX_PATH),)
        news_feeds.append(FeedRef("Яндекс.Новости", settings.site, yandex))
    news = FeedGroup("Все новости", feeds=tuple(news_feeds))
    rubrics = tuple(
        FeedRef(
            s.title,
            rubric_page(settings, s.slug, rubric_urls.get(s.slug)),
            _urls(ctx, Scope(ScopeKind.RUBRIC, s.slug)),
            s.count if full else None,
            feed_page_url(settings, Scope(ScopeKind.RUBRIC, s.slug)),
        )
        for s in stats
        if s.kind == "rubric"
    )
    tag_groups = []
    for kind, label in TAG_KINDS.items():
        tags = tuple(
            FeedRef(
                s.title,
                tag_page(settings, s.slug),
                _urls(ctx, Scope(ScopeKind.TAG, s.slug)),
                s.count if full else None,
                feed_page_url(settings, Scope(ScopeKind.TAG, s.slug)),
            )
            for s in sorted(
                (s for s in stats if s.kind == kind), key=lambda s: russian_key(s.title)
            )
        )
        if tags:
            tag_groups.append(FeedGroup(label, feeds=tags))
    groups = [news]
    if rubrics:
        groups.append(FeedGroup("Рубрики", feeds=rubrics))
    if tag_groups:
        groups.append(FeedGroup("Теги", groups=tuple(tag_groups), filterable=True))

    archives: tuple[FeedRef, ...] = ()
    sitemaps: list[tuple[str, str]] = []
    if full:
        months = await store.months(now=now)
        archives = tuple(
            FeedRef(
                f"Архив: {month_title(m.month)}",
                month_page(settings, m.month),
                _urls(ctx, Scope(ScopeKind.MONTH, m.month)),
                m.count,
                feed_page_url(settings, Scope(ScopeKind.MONTH, m.month)),
            )
            for m in reversed(months)
        )
        base = settings.public_url
        sitemaps = [
            ("Индекс карт сайта", base + SITEMAP_INDEX_PATH),
            ("Рубрики", base + "/sitemaps/rubrics.xml"),
            ("Теги", base + "/sitemaps/tags.xml"),
            ("Google News: последние 48 часов", base + "/sitemaps/news.xml"),
        ]
        for m in reversed(months):
            # A month past the limits is split into parts (-2, -3…): the sitemaps' own layout.
            parts = stat_layout(settings, m).parts
            for part in range(1, parts + 1):
                suffix = f", часть {part}" if parts > 1 else ""
                sitemaps.append(
                    (
                        f"Статьи: {month_title(m.month)}{suffix}",
                        base + month_sitemap_path(m.month, part),
                    )
                )
    return Directory(
        title=settings.site_title,
        description=settings.site_description,
        site=settings.site,
        language=settings.site_language,
        zone=settings.zone,
        updated=updated,
        groups=tuple(groups),
        archives=archives,
        sitemaps=tuple(sitemaps),
        subscriptions=tuple((FORMATS[fmt], opml_url(settings, fmt)) for fmt in FEED_FORMATS)
        if full
        else (),
        alternates=tuple(
            (FEED_TYPES[fmt], f"{settings.site_title} ({FORMATS[fmt]})", url)
            for fmt, url in _urls(ctx, ALL_NEWS)
        ),
        stylesheet=stylesheet_url(settings),
        assets=settings.public_url + PREFIX,
    )
