"""The async builders: query the store, then hand plain data to a pure writer in a worker thread.

Everything a document shows is read with `now=ctx.now`, so drafts, deleted and not-yet-published
articles never appear, and the same store state always gives the same bytes. The builders only
await queries; turning articles into items, building the tree and serialising it (`_write`) run
off the event loop (feeds.offload).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from feeds import archive, atom, jsonfeed, rss, yandex
from feeds.items import article_guid, feed_guid, to_item
from feeds.labels import month_title, tag_description
from feeds.model import DeletedEntry, Feed, Link
from feeds.offload import off_loop
from feeds.paging import last_page, page_url, paging_links
from syndication.config import RELEASE, Settings
from syndication.model import ALL_NEWS, Article, Rubric, Scope, ScopeKind
from syndication.rendering import BadParameter, DocumentNotFound, RenderContext, Rendered
from syndication.stylesheet import stylesheet_url
from syndication.timeutil import month_bounds, month_key, parse_month
from syndication.urls import YANDEX_PATH, feed_url, month_page, rubric_page, tag_page

GENERATOR = "syndication"
GENERATOR_VERSION = RELEASE

LIVE_TTL = 5  # minutes; documents change with every write
ARCHIVE_TTL = 24 * 60  # a closed month changes only when an old article is edited
# orjson writes about 20 µs per item with a 3 KB body (bench/render.py: 1 ms for 50) and a trip
# to a worker thread costs about 40 µs: a JSON feed of a few items is cheaper written in place.
JSON_INLINE_ITEMS = 10
# RFC 6721 deleted entries on an Atom feed's first page: the newest this many of the period.
MAX_RETRACTIONS = 100


@dataclass(frozen=True, slots=True)
class _Format:
    render: Callable[[Feed], bytes]
    media_type: str
    inline_items: int = 0  # documents of at most this many items are written on the loop


FORMATS: dict[str, _Format] = {
    "rss": _Format(rss.render_rss, rss.MEDIA_TYPE),
    "atom": _Format(atom.render_atom, atom.MEDIA_TYPE),
    "json": _Format(jsonfeed.render_json, jsonfeed.MEDIA_TYPE, JSON_INLINE_ITEMS),
}
_YANDEX = _Format(yandex.render_yandex, yandex.MEDIA_TYPE)


@dataclass(frozen=True, slots=True)
class _Channel:
    title: str
    description: str
    home: str


@dataclass(frozen=True, slots=True)
class _Page:
    """One feed document as the store gave it; `_write` turns it into a Feed and bytes."""

    scope: Scope
    channel: _Channel
    self_url: str
    updated: datetime | None
    articles: Sequence[Article]
    rubrics: Mapping[str, Rubric]
    links: tuple[Link, ...] = ()
    archive: bool = False
    ttl: int = LIVE_TTL
    next_url: str | None = None
    # Last-Modified when it is not `updated` (see syndication.rendering.Rendered.last_modified)
    modified: datetime | None = None
    stamped: frozenset[str] = frozenset()  # see syndication.rendering.Rendered.stamped
    deleted: tuple[DeletedEntry, ...] = ()
    expires: datetime | None = None  # see syndication.rendering.Rendered.expires


async def build_feed(
    ctx: RenderContext, scope: Scope, fmt: str, *, page: int = 1, limit: int | None = None
) -> Rendered:
    """One page of the feed of `scope` in `fmt` ("rss", "atom" or "json").

    For a month, `page` is the archive page (feeds.archive) and `limit` does not apply: archive
    pages have one fixed size, so each page URL names one slice of the month for every reader.
    """
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
        doc = await _archive_page(ctx, scope, fmt, page, rubrics)
    else:
        doc = await _paged_feed(ctx, scope, fmt, page, limit, rubrics)
    return await _render(ctx, form, doc)


async def build_yandex(ctx: RenderContext) -> Rendered:
    """/feeds/yandex.rss: the newest news in the Yandex News format."""
    settings = ctx.settings
    store = ctx.store
    rubrics = {r.slug: r for r in await store.rubrics()}
    articles = await store.articles(ALL_NEWS, now=ctx.now, limit=settings.feed_limit)
    doc = _Page(
        ALL_NEWS,
        _Channel(settings.site_title, settings.site_description, settings.site),
        self_url=settings.public_url + YANDEX_PATH,
        updated=await store.last_change(ALL_NEWS, now=ctx.now),
        articles=articles,
        rubrics=rubrics,
    )
    return await _render(ctx, _YANDEX, doc)


async def _render(ctx: RenderContext, form: _Format, doc: _Page) -> Rendered:
    if len(doc.articles) <= form.inline_items:
        body = _write(form.render, ctx.settings, doc)
    else:
        body = await off_loop(_write, form.render, ctx.settings, doc)
    hub = ctx.settings.websub_hub
    links = ((hub, "hub"), (doc.self_url, "self")) if hub else ()
    # Each item shows its rubrics' titles as categories: an edit of one changes these bytes.
    shown = frozenset(f"rubric-meta:{slug}" for a in doc.articles for slug in a.rubrics)
    return Rendered(
        body,
        form.media_type,
        last_modified=doc.modified or doc.updated,
        expires=doc.expires,
        links=links,
        deps=shown,
        stamped=doc.stamped,
    )


def _write(render: Callable[[Feed], bytes], settings: Settings, doc: _Page) -> bytes:
    """Pure: the document's bytes from what the builder read. Runs in a worker thread."""
    return render(_feed(settings, doc))


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
) -> _Page:
    settings, store, now = ctx.settings, ctx.store, ctx.now
    channel = await _channel(ctx, scope, rubrics)
    total, updated = await store.aggregate(scope, now=now)
    last = last_page(total, limit)
    if page > last:
        raise DocumentNotFound(f"page {page} is past the last page ({last})")
    articles = await store.articles(scope, now=now, limit=limit, offset=(page - 1) * limit)
    base = feed_url(settings, scope, fmt)
    links = list(paging_links(base, page, last, limit, settings.feed_limit))
    if scope.kind is ScopeKind.ALL:
        # RFC 5005: the subscription feed points at the newest archive page: the current month's
        # (or the newest month that has articles, early on the first of a month) last page.
        newest = articles[:1] if page == 1 else await store.articles(scope, now=now, limit=1)
        if newest:
            month = month_key(newest[0].published_at, settings.zone)
            count = await store.count(archive.month_scope(month), now=now)
            pages = archive.page_count(count, archive.PAGE_ITEMS)
            links.append(Link("prev-archive", archive.page_url(settings, month, pages, fmt)))
    deleted: tuple[DeletedEntry, ...] = ()
    left = expires = None
    if fmt == "atom" and page == 1 and settings.retraction_days > 0:
        deleted, left, expires = await _retractions(ctx, scope)
    return _Page(
        scope,
        channel,
        self_url=page_url(base, page, limit, settings.feed_limit),
        updated=updated,
        articles=articles,
        rubrics=rubrics,
        links=tuple(links),
        deleted=deleted,
        # A tombstone leaving changed these bytes with no write: Last-Modified follows it.
        modified=max(left, updated) if left and updated else left,
        expires=expires,
    )


async def _retractions(
    ctx: RenderContext, scope: Scope
) -> tuple[tuple[DeletedEntry, ...], datetime | None, datetime | None]:
    """RFC 6721 deleted entries of the retraction period: (entries, the instant the newest
    expired one left, if any: the bytes changed then with no write; when the oldest shown
    leaves)."""
    settings, now = ctx.settings, ctx.now
    period = timedelta(days=settings.retraction_days)
    # One period further back: the newest tombstone that has expired moves Last-Modified.
    rows = await ctx.store.retractions(
        scope, since=now - 2 * period, now=now, limit=MAX_RETRACTIONS + 1
    )
    shown = [r for r in rows if r.at >= now - period][:MAX_RETRACTIONS]
    # An expired one was shown until it left only if fewer than the maximum are newer.
    gone = None
    if len(shown) < MAX_RETRACTIONS:
        gone = next((r for r in rows if r.at < now - period), None)
    entries = tuple(DeletedEntry(article_guid(settings, r.article_id), r.at, r.url) for r in shown)
    left = gone.at + period if gone is not None else None
    expires = min(r.at for r in shown) + period if shown else None
    return entries, left, expires


async def _archive_page(
    ctx: RenderContext, scope: Scope, fmt: str, page: int, rubrics: dict[str, Rubric]
) -> _Page:
    """RFC 5005 archived feed: one bounded page of one month (feeds.archive)."""
    settings, store, now = ctx.settings, ctx.store, ctx.now
    try:
        parse_month(scope.key)
    except ValueError as exc:
        raise DocumentNotFound(str(exc)) from exc
    months = await store.months(now=now)
    index = next((i for i, m in enumerate(months) if m.month == scope.key), None)
    if index is None:
        raise DocumentNotFound(f"no articles in {scope.key}")
    size = archive.PAGE_ITEMS
    count = months[index].count
    pages = archive.page_count(count, size)
    if page > pages:
        raise DocumentNotFound(f"{scope.key} has {pages} archive page(s), not {page}")
    # Counted from the oldest end, the slice is the page's whatever the month's count is now:
    # a write between the count and this read cannot tear it.
    articles = await store.articles(
        scope, now=now, limit=size, offset=(page - 1) * size, oldest_first=True
    )
    # The month still running can change with every write, so it is no archive yet.
    closed = scope.key != month_key(now, settings.zone)
    # Any page shifts when an article of the month comes or goes, and the month closing (an
    # instant with no write) marks every page archived.
    modified = [months[index].last_change]
    if closed:
        modified.append(month_bounds(scope.key, settings.zone)[1])
    title = month_title(scope.key)
    part = f", часть {page}" if pages > 1 else ""
    return _Page(
        scope,
        _Channel(
            f"{settings.site_title}: архив за {title}{part}",
            f"Все новости за {title}",
            month_page(settings, scope.key),
        ),
        self_url=archive.page_url(settings, scope.key, page, fmt),
        updated=max((a.last_change for a in articles), default=None),
        articles=articles,
        rubrics=rubrics,
        links=archive.archive_links(settings, months, index, page, fmt, size),
        archive=closed,
        ttl=ARCHIVE_TTL if closed else LIVE_TTL,
        # JSON Feed readers page with next_url alone: from the month's URL, through its pages.
        next_url=archive.page_url(settings, scope.key, page + 1, fmt) if page < pages else None,
        modified=max(modified),
        # Page 1 links to the last page of the month before: its count moves the link.
        stamped=frozenset({f"month:{months[index - 1].month}"} if page == 1 and index else ()),
    )


def _feed(settings: Settings, doc: _Page) -> Feed:
    return Feed(
        id=feed_guid(settings, doc.scope),
        title=doc.channel.title,
        description=doc.channel.description,
        home=doc.channel.home,
        self_url=doc.self_url,
        language=settings.site_language,
        zone=settings.zone,
        updated=doc.updated,
        publisher=settings.site_title,
        publisher_url=settings.site,
        generator=GENERATOR,
        generator_version=GENERATOR_VERSION,
        items=tuple(to_item(a, settings, doc.rubrics) for a in doc.articles),
        links=doc.links,
        hub=settings.websub_hub,
        archive=doc.archive,
        ttl=doc.ttl,
        next_url=doc.next_url,
        deleted=doc.deleted,
        icon=settings.icon_url,
        logo=settings.logo_url,
        stylesheet=stylesheet_url(settings),
    )
