"""/sitemaps/news.xml: the Google News sitemap of the last 48 hours, at most 1,000 articles.

An empty window has no document: the sitemap schema needs at least one `<url>`, so the builder
raises DocumentNotFound (404) and the index leaves news.xml out until an article is published.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sitemap.markup import MEDIA_TYPE, NEWS_NS, SITEMAP_NS, document, q, text_element, w3c
from syndication.config import Settings
from syndication.model import ALL_NEWS, UrlRow
from syndication.rendering import DocumentNotFound, RenderContext, Rendered
from syndication.stylesheet import stylesheet_url
from syndication.timeutil import from_epoch

WINDOW = timedelta(hours=48)
MAX_URLS = 1000
NSMAP: dict[str | None, str] = {None: SITEMAP_NS, "news": NEWS_NS}


@dataclass(frozen=True, slots=True)
class NewsWindow:
    rows: list[UrlRow]  # newest first
    expires: datetime | None  # when the set changes with no write
    left: datetime | None = None  # when the last article to leave the window left it

    @property
    def last_change(self) -> datetime | None:
        return max((r.last_change for r in self.rows), default=None)

    @property
    def modified(self) -> datetime | None:
        """When the set last changed: its newest change, or an article leaving the window."""
        return max((d for d in (self.last_change, self.left) if d is not None), default=None)


async def news_window(ctx: RenderContext) -> NewsWindow:
    """Articles published within the 48 hours up to `ctx.now`: `now - 48h < published_at <= now`.

    The window is open at its old end so that an article leaves it exactly at published_at + 48h,
    the instant given as `expires`; the store compares whole seconds with `>=`, so the first second
    strictly inside the window is asked for.
    """
    since = from_epoch(int((ctx.now - WINDOW).timestamp()) + 1)
    rows = [
        row
        async for batch in ctx.store.recent_rows(since, now=ctx.now, limit=MAX_URLS)
        for row in batch
    ]
    ends = [rows[-1].published_at + WINDOW] if rows else []
    upcoming = await ctx.store.next_publication(after=ctx.now)
    if upcoming is not None:
        ends.append(upcoming)
    gone = await ctx.store.articles(ALL_NEWS, now=since - timedelta(seconds=1), limit=1)
    left = gone[0].published_at + WINDOW if gone else None
    return NewsWindow(rows, min(ends, default=None), left)


async def build_news(ctx: RenderContext) -> Rendered:
    window = await news_window(ctx)
    if not window.rows:
        raise DocumentNotFound("no article in the last 48 hours")
    body = await asyncio.to_thread(write_news, window.rows, ctx.settings)
    return Rendered(
        body=body,
        media_type=MEDIA_TYPE,
        last_modified=window.modified,
        expires=window.expires,
    )


def write_news(rows: list[UrlRow], settings: Settings) -> bytes:
    zone = settings.zone
    loc, lastmod = q(SITEMAP_NS, "loc"), q(SITEMAP_NS, "lastmod")
    news, publication = q(NEWS_NS, "news"), q(NEWS_NS, "publication")
    with document("urlset", NSMAP, stylesheet_url(settings)) as (xf, out):
        for row in rows:
            with xf.element(q(SITEMAP_NS, "url")):
                text_element(xf, loc, row.url)
                text_element(xf, lastmod, w3c(row.last_change, zone))
                with xf.element(news):
                    with xf.element(publication):
                        text_element(xf, q(NEWS_NS, "name"), settings.site_title)
                        text_element(xf, q(NEWS_NS, "language"), settings.site_language)
                    text_element(xf, q(NEWS_NS, "publication_date"), w3c(row.published_at, zone))
                    text_element(xf, q(NEWS_NS, "title"), row.title)
    return out.body
