"""The async builders: query the store, fill the feed model, hand it to a pure renderer.

Everything a document shows is read with `now=ctx.now`, so drafts, deleted and not-yet-published
articles never appear, and the same store state always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version

from feeds import atom, jsonfeed, rss, yandex
from feeds.items import feed_guid, to_item
from feeds.labels import month_title, tag_description
from feeds.model import Feed, Item, Link
from feeds.paging import last_page, page_url, paging_links
from syndication.model import ALL_NEWS, Article, Rubric, Scope, ScopeKind
from syndication.rendering import BadParameter, DocumentNotFound, RenderContext, Rendered
from syndication.timeutil import month_key, parse_month
from syndication.urls import YANDEX_PATH, feed_url, month_page, rubric_page, tag_page

GENERATOR = "syndication"
try:
    GENERATOR_VERSION = version("syndication")
except PackageNotFoundError:  # running from a source tree that was never installed
    GENERATOR_VERSION = "0"

LIVE_TTL = 5  # minutes; documents change with every write
ARCHIVE_TTL = 24 * 60  # a closed month changes only when an old article is edited
# A month archive is one document; this only bounds the query.
ARCHIVE_MAX_ITEMS = 100_000


@dataclass(frozen=True, slots=True)
class _Format:
    render: Callable[[Feed], bytes]
    media_type: str


FORMATS: dict[str, _Format] = {
    "rss": _Format(rss.render_rss, rss.MEDIA_TYPE),
    "atom": _Format(atom.render_atom, atom.MEDIA_TYPE),
    "json": _Format(jsonfeed.render_json, jsonfeed.MEDIA_TYPE),
}


@dataclass(frozen=True, slots=True)
class _Channel:
    title: str
    description: str
    home: str


async def build_feed(
    ctx: RenderContext, scope: Scope, fmt: str, *, page: int = 1, limit: int | None = None
) -> Rendered:
    """One page of the feed of `scope` in `fmt` ("rss", "atom" or "json")."""
    settings = ctx.settings
    form = FORMATS.get(fmt)
    if form is None:
        raise DocumentNotFound(f"no feed format {fmt!r}")
    if page < 1:
        raise BadParameter("page must be 1 or more")
    limit = settings.feed_limit if limit is None else limit
    if not 1 <= limit <= settings.feed_max_limit:
        raise BadParameter(f"limit must be between 1 and {settings.feed_max_limit}")
    rubrics = {r.slug: r for r in await ctx.store.rubrics()}
    if scope.kind is ScopeKind.MONTH:
        feed = await _archive_feed(ctx, scope, fmt, page, rubrics)
    else:
        feed = await _paged_feed(ctx, scope, fmt, page, limit, rubrics)
    return Rendered(form.render(feed), form.media_type, last_modified=feed.updated)


async def build_yandex(ctx: RenderContext) -> Rendered:
    """/feeds/yandex.rss: the newest news in the Yandex News format."""
    settings = ctx.settings
    store = ctx.store
    rubrics = {r.slug: r for r in await store.rubrics()}
    articles = await store.articles(ALL_NEWS, now=ctx.now, limit=settings.feed_limit)
    feed = _feed(
        ctx,
        ALL_NEWS,
        _Channel(settings.site_title, settings.site_description, settings.site),
        self_url=settings.public_url + YANDEX_PATH,
        updated=await store.last_change(ALL_NEWS, now=ctx.now),
        items=_items(ctx, articles, rubrics),
    )
    return Rendered(yandex.render_yandex(feed), yandex.MEDIA_TYPE, last_modified=feed.updated)


async def _channel(ctx: RenderContext, scope: Scope, rubrics: dict[str, Rubric]) -> _Channel:
    settings = ctx.settings
    if scope.kind is ScopeKind.ALL:
        return _Channel(settings.site_title, settings.site_description, settings.site)
    if scope.kind is ScopeKind.RUBRIC:
        rubric = rubrics.get(scope.key)
        if rubric is None:
            raise DocumentNotFound(f"no rubric {scope.key!r}")
        return _Channel(
            f"{rubric.title} — {settings.site_title}",
            rubric.description or f"Новости рубрики «{rubric.title}»",
            rubric_page(settings, rubric.slug, rubric.url),
        )
    if scope.kind is ScopeKind.TAG:
        tag = await ctx.store.get_tag(scope.key)
        if tag is None:
            raise DocumentNotFound(f"no tag {scope.key!r}")
        return _Channel(
            f"{tag.name} — {settings.site_title}",
            tag_description(tag.name, tag.kind.value),
            tag_page(settings, tag.slug),
        )
    raise DocumentNotFound(f"no feed for scope {scope.name!r}")


async def _paged_feed(
    ctx: RenderContext,
    scope: Scope,
    fmt: str,
    page: int,
    limit: int,
    rubrics: dict[str, Rubric],
) -> Feed:
    settings, store, now = ctx.settings, ctx.store, ctx.now
    channel = await _channel(ctx, scope, rubrics)
    last = last_page(await store.count(scope, now=now), limit)
    if page > last:
        raise DocumentNotFound(f"page {page} is past the last page ({last})")
    articles = await store.articles(scope, now=now, limit=limit, offset=(page - 1) * limit)
    base = feed_url(settings, scope, fmt)
    links = list(paging_links(base, page, last, limit, settings.feed_limit))
    if scope.kind is ScopeKind.ALL:
        # RFC 5005: the subscription feed points at the newest archive, the current month's
        # (or the newest month that has articles, early on the first of a month).
        newest = articles[:1] if page == 1 else await store.articles(scope, now=now, limit=1)
        if newest:
            month = month_key(newest[0].published_at, settings.zone)
            links.append(
                Link("prev-archive", feed_url(settings, Scope(ScopeKind.MONTH, month), fmt))
            )
    return _feed(
        ctx,
        scope,
        channel,
        self_url=page_url(base, page, limit, settings.feed_limit),
        updated=await store.last_change(scope, now=now),
        items=_items(ctx, articles, rubrics),
        links=tuple(links),
    )


async def _archive_feed(
    ctx: RenderContext, scope: Scope, fmt: str, page: int, rubrics: dict[str, Rubric]
) -> Feed:
    """RFC 5005 archived feed: every article of one month, linked to its non-empty neighbours."""
    settings, store, now = ctx.settings, ctx.store, ctx.now
    try:
        parse_month(scope.key)
    except ValueError as exc:
        raise DocumentNotFound(str(exc)) from exc
    if page != 1:
        raise DocumentNotFound("a month archive is a single page")
    months = [m.month for m in await store.months(now=now)]
    if scope.key not in months:
        raise DocumentNotFound(f"no articles in {scope.key}")
    i = months.index(scope.key)
    links = []
    if i > 0:
        links.append(
            Link("prev-archive", feed_url(settings, Scope(ScopeKind.MONTH, months[i - 1]), fmt))
        )
    if i + 1 < len(months):
        links.append(
            Link("next-archive", feed_url(settings, Scope(ScopeKind.MONTH, months[i + 1]), fmt))
        )
    links.append(Link("current", feed_url(settings, ALL_NEWS, fmt)))
    articles = await store.articles(scope, now=now, limit=ARCHIVE_MAX_ITEMS)
    items = _items(ctx, articles, rubrics)
    # The month still running can change with every write, so it is no archive yet.
    closed = scope.key != month_key(now, settings.zone)
    title = month_title(scope.key)
    return _feed(
        ctx,
        scope,
        _Channel(
            f"{settings.site_title}: архив за {title}",
            f"Все новости за {title}",
            month_page(settings, scope.key),
        ),
        self_url=feed_url(settings, scope, fmt),
        updated=max((item.last_change for item in items), default=None),
        items=items,
        links=tuple(links),
        archive=closed,
        ttl=ARCHIVE_TTL if closed else LIVE_TTL,
    )


def _items(
    ctx: RenderContext, articles: list[Article], rubrics: dict[str, Rubric]
) -> tuple[Item, ...]:
    return tuple(to_item(a, ctx.settings, rubrics) for a in articles)


def _feed(
    ctx: RenderContext,
    scope: Scope,
    channel: _Channel,
    *,
    self_url: str,
    updated: datetime | None,
    items: tuple[Item, ...],
    links: tuple[Link, ...] = (),
    archive: bool = False,
    ttl: int = LIVE_TTL,
) -> Feed:
    settings = ctx.settings
    return Feed(
        id=feed_guid(settings, scope),
        title=channel.title,
        description=channel.description,
        home=channel.home,
        self_url=self_url,
        language=settings.site_language,
        zone=settings.zone,
        updated=updated,
        publisher=settings.site_title,
        publisher_url=settings.site,
        generator=GENERATOR,
        generator_version=GENERATOR_VERSION,
        items=items,
        links=links,
        hub=settings.websub_hub,
        archive=archive,
        ttl=ttl,
    )
