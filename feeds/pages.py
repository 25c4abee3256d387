"""The builder of a feed's HTML page (feeds.feed_page): the feed's channel, count and latest
items, read as the feed itself reads them, so the page and the feed agree."""

from __future__ import annotations

from feeds.build import _Channel, _channel
from feeds.feed_page import FeedPage, Subscription, render_feed_page
from feeds.html import MEDIA_TYPE
from feeds.items import to_item
from feeds.labels import FEED_TYPES, FORMATS, month_title
from feeds.offload import off_loop
from syndication.assets import PREFIX
from syndication.model import Scope, ScopeKind
from syndication.rendering import DocumentNotFound, RenderContext, Rendered
from syndication.urls import FEED_FORMATS, feed_url, month_page

# A page to read at a glance: the feed holds more (SYNDICATION_FEED_LIMIT, paging, archives).
PAGE_ITEMS = 20
_KINDS = {
    ScopeKind.ALL: "Все новости сайта",
    ScopeKind.RUBRIC: "Лента рубрики",
    ScopeKind.TAG: "Лента тега",
    ScopeKind.MONTH: "Архив за месяц",
}


async def build_feed_page(ctx: RenderContext, scope: Scope) -> Rendered:
    settings, store, now = ctx.settings, ctx.store, ctx.now
    rubrics = {r.slug: r for r in await store.rubrics()}
    if scope.kind is ScopeKind.MONTH:
        try:
            title = month_title(scope.key)
        except ValueError as exc:
            raise DocumentNotFound(str(exc)) from exc
        channel = _Channel(
            f"{settings.site_title}: архив за {title}",
            f"Все новости за {title}",
            month_page(settings, scope.key),
        )
    else:
        channel = await _channel(ctx, scope, rubrics)  # DocumentNotFound for an unknown one
    count, updated = await store.aggregate(scope, now=now)
    if scope.kind is ScopeKind.MONTH and count == 0:
        raise DocumentNotFound(f"no articles in {scope.key}")
    articles = await store.articles(scope, now=now, limit=PAGE_ITEMS)
    page = FeedPage(
        kind=_KINDS[scope.kind],
        title=channel.title,
        description=channel.description,
        home=channel.home,
        site_title=settings.site_title,
        language=settings.site_language,
        zone=settings.zone,
        index=settings.public_url + "/",
        assets=settings.public_url + PREFIX,
        count=count,
        subscriptions=tuple(
            Subscription(FORMATS[fmt], FEED_TYPES[fmt], feed_url(settings, scope, fmt))
            for fmt in FEED_FORMATS
        ),
        items=tuple(to_item(a, settings, rubrics) for a in articles),
    )
    return Rendered(await off_loop(render_feed_page, page), MEDIA_TYPE, last_modified=updated)
