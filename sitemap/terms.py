"""/sitemaps/rubrics.xml and /sitemaps/tags.xml: the site's pages of rubrics and tags that have
visible articles, each dated by its newest article."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sitemap.markup import MEDIA_TYPE, SITEMAP_NS, document, q, text_element, w3c
from syndication.model import TermStat
from syndication.rendering import DocumentNotFound, RenderContext, Rendered
from syndication.stylesheet import stylesheet_url
from syndication.urls import rubric_page, tag_page


@dataclass(frozen=True, slots=True)
class PageEntry:
    url: str
    last_change: datetime


async def rubric_entries(
    ctx: RenderContext, stats: list[TermStat] | None = None
) -> list[PageEntry]:
    """`stats` when the caller already has term_stats: the query is the costly part."""
    if stats is None:
        stats = await ctx.store.term_stats(now=ctx.now)
    stats = [s for s in stats if s.kind == "rubric"]
    own_urls = {r.slug: r.url for r in await ctx.store.rubrics()}
    return [
        PageEntry(rubric_page(ctx.settings, s.slug, own_urls.get(s.slug)), s.last_change)
        for s in stats
    ]


async def tag_entries(ctx: RenderContext, stats: list[TermStat] | None = None) -> list[PageEntry]:
    if stats is None:
        stats = await ctx.store.term_stats(now=ctx.now)
    stats = [s for s in stats if s.kind != "rubric"]
    # term_stats orders tags by slug. A site with more tags than one sitemap may hold lists the
    # first max_urls; tag URLs are short, so the count limit binds long before the byte limit.
    return [
        PageEntry(tag_page(ctx.settings, s.slug), s.last_change)
        for s in stats[: ctx.settings.sitemap_max_urls]
    ]


async def build_rubrics(ctx: RenderContext) -> Rendered:
    return await _render_pages(ctx, await rubric_entries(ctx), "rubric")


async def build_tags(ctx: RenderContext) -> Rendered:
    return await _render_pages(ctx, await tag_entries(ctx), "tag")


async def _render_pages(ctx: RenderContext, entries: list[PageEntry], what: str) -> Rendered:
    if not entries:
        raise DocumentNotFound(f"no {what} with published articles")
    body = await asyncio.to_thread(
        write_pages, entries, ctx.settings.zone, stylesheet_url(ctx.settings)
    )
    return Rendered(
        body=body,
        media_type=MEDIA_TYPE,
        last_modified=max(e.last_change for e in entries),
        # A scheduled article going live may bring a new term or a newer date.
        expires=await ctx.store.next_publication(after=ctx.now),
    )


def write_pages(entries: list[PageEntry], zone: ZoneInfo, stylesheet: str | None = None) -> bytes:
    url, loc, lastmod = q(SITEMAP_NS, "url"), q(SITEMAP_NS, "loc"), q(SITEMAP_NS, "lastmod")
    with document("urlset", {None: SITEMAP_NS}, stylesheet) as (xf, out):
        for entry in entries:
            with xf.element(url):
                text_element(xf, loc, entry.url)
                text_element(xf, lastmod, w3c(entry.last_change, zone))
    return out.body
