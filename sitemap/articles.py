"""/sitemaps/articles-YYYY-MM[-N].xml: one month's published articles with their images."""

from __future__ import annotations

import asyncio

from sitemap.markup import MEDIA_TYPE, document
from sitemap.partition import month_layout
from sitemap.urlwriter import URLSET_NSMAP, UrlRowWriter
from syndication.rendering import DocumentNotFound, RenderContext, Rendered
from syndication.stylesheet import stylesheet_url


async def build_month(ctx: RenderContext, month: str, part: int = 1) -> Rendered:
    layout = await month_layout(ctx, month)
    if layout is None:
        raise DocumentNotFound(f"no sitemap for month {month!r}")
    if not 1 <= part <= layout.parts:
        raise DocumentNotFound(f"month {month} has {layout.parts} sitemap part(s), not {part}")
    rows = ctx.store.url_rows_slice(
        layout.start,
        layout.end,
        now=ctx.now,
        offset=(part - 1) * layout.per_part,
        limit=layout.per_part,
    )
    with document("urlset", URLSET_NSMAP, stylesheet_url(ctx.settings)) as (xf, out):
        writer = UrlRowWriter(xf, ctx.settings.zone)
        # Each batch is written in a thread (one at a time, so the writer is never shared):
        # 50,000 rows are ~0.5 s of lxml work that must not hold up the event loop.
        async for batch in rows:
            await asyncio.to_thread(writer.write_all, batch)
    if writer.count == 0:  # the store changed between the two queries
        raise DocumentNotFound(f"month {month} has no sitemap part {part}")
    # The month changes with no write when a scheduled article in it goes live.
    upcoming = await ctx.store.next_publication(after=ctx.now)
    return Rendered(
        body=out.body,
        media_type=MEDIA_TYPE,
        last_modified=writer.newest,
        expires=upcoming if upcoming is not None and upcoming < layout.end else None,
    )
