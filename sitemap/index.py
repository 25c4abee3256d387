"""/sitemap.xml: the sitemap index, naming every non-empty child with its newest change."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from sitemap.markup import MEDIA_TYPE, SITEMAP_NS, document, q, text_element, w3c
from sitemap.news import news_window
from sitemap.partition import stat_layout
from sitemap.terms import rubric_entries, tag_entries
from syndication.rendering import DocumentNotFound, RenderContext, Rendered
from syndication.stylesheet import stylesheet_url
from syndication.urls import month_sitemap_path

RUBRICS_PATH = "/sitemaps/rubrics.xml"
TAGS_PATH = "/sitemaps/tags.xml"
NEWS_PATH = "/sitemaps/news.xml"
# What each child depends on (syndication/dependencies.py): its lastmod here is its own
# Last-Modified, so an edit that changes its bytes moves it even when no article date does.
RUBRICS_DEPS = frozenset({"rubrics", "terms", "rubric-pages"})
TAGS_DEPS = frozenset({"tags", "terms"})
NEWS_DEPS = frozenset({"news"})
INDEX_DEPS = frozenset({"all", "terms", "months", "rubric-pages"})


def _later(content: datetime, stamp: datetime | None, now: datetime) -> datetime:
    """A child's lastmod: its newest content date, or the last write that changed its bytes
    when that is later (an old article added or edited with no new date). A stamp after `now`
    can only come from a clock ahead of this one: no date here is ever later than now."""
    if stamp is None or stamp > now:
        return content
    return max(content, stamp)


async def children(
    ctx: RenderContext,
) -> tuple[list[tuple[str, datetime]], datetime | None, datetime | None]:
    """(path, lastmod) of every non-empty child sitemap, when the list changes with no write, and
    when it last did (the news sitemap's last article leaving its window).

    Months come oldest first, then rubrics, tags and news: a stable order, so a write changes
    only the lastmod of the children it touches.
    """
    store, now = ctx.store, ctx.now
    out: list[tuple[str, datetime]] = []
    stamps = await store.month_stamps()
    for stat in await store.months(now=now):
        layout = stat_layout(ctx.settings, stat)
        if layout.parts == 1:
            lastmods = [stat.last_change]
        else:
            lastmods = await store.url_part_changes(
                layout.start, layout.end, now=now, size=layout.per_part
            )
        # Any write in the month may shift every part's rows: each part takes the month's stamp.
        stamp = stamps.get(stat.month)
        out += [
            (month_sitemap_path(stat.month, i), _later(lm, stamp, now))
            for i, lm in enumerate(lastmods, 1)
        ]
    stats = await store.term_stats(now=now)
    for path, entries, deps in (
        (RUBRICS_PATH, await rubric_entries(ctx, stats), RUBRICS_DEPS),
        (TAGS_PATH, await tag_entries(ctx, stats), TAGS_DEPS),
    ):
        if entries:
            content = max(e.last_change for e in entries)
            out.append((path, _later(content, await store.dependency_stamp(deps), now)))
    news = await news_window(ctx)
    if news.modified is not None and news.rows:
        stamp = await store.dependency_stamp(NEWS_DEPS)
        out.append((NEWS_PATH, _later(news.modified, stamp, now)))
    # news_window's expiry already covers the next scheduled publication.
    return out, news.expires, news.left


async def build_index(ctx: RenderContext) -> Rendered:
    entries, expires, left = await children(ctx)
    if not entries:
        # The schema wants at least one <sitemap>: with nothing published there is no index.
        raise DocumentNotFound("nothing published yet")
    body = await asyncio.to_thread(
        write_index,
        entries,
        ctx.settings.public_url,
        ctx.settings.zone,
        stylesheet_url(ctx.settings),
    )
    return Rendered(
        body=body,
        media_type=MEDIA_TYPE,
        last_modified=max([changed for _, changed in entries] + ([left] if left else [])),
        expires=expires,
    )


def write_index(
    entries: list[tuple[str, datetime]], base: str, zone: ZoneInfo, stylesheet: str | None = None
) -> bytes:
    sitemap, loc, lastmod = q(SITEMAP_NS, "sitemap"), q(SITEMAP_NS, "loc"), q(SITEMAP_NS, "lastmod")
    with document("sitemapindex", {None: SITEMAP_NS}, stylesheet) as (xf, out):
        for path, changed in entries:
            with xf.element(sitemap):
                text_element(xf, loc, base + path)
                text_element(xf, lastmod, w3c(changed, zone))
    return out.body
