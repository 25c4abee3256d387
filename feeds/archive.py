"""Month archives as chains of bounded pages, linked as RFC 5005 archived feeds (pure).

A month is cut by count alone into pages of `PAGE_ITEMS` articles, oldest first, as the month
sitemaps are: page 1 (`/feeds/archive/YYYY-MM.fmt`) holds the month's first articles and every page
but the last is full, so new articles of a running month only ever reach its last page. Page N > 1
is `/feeds/archive/YYYY-MM-N.fmt`. Inside a page items are newest first, like every feed.

The walk from the subscription feed goes back in time: `/feeds/all.*` → the newest page of the
newest month → (prev-archive) … → page 1 of that month → the last page of the month before … and
next-archive is its exact inverse. Month to month the links enter a month at page 1 going
forward, and at its last page going back; that last page's number depends on the earlier month's
count, which is why the documents catalogue gives page 1 tags for every earlier month's count.
"""

from __future__ import annotations

from collections.abc import Sequence

from feeds.model import Link
from syndication.config import Settings
from syndication.model import ALL_NEWS, MonthStat, Scope, ScopeKind
from syndication.urls import feed_url

# Equal to the largest feed page (`?limit=` 500): no archive document is bigger than a feed page
# a client can ask for (about 3 MB with full texts, ~0.1 s to render), whatever the month holds.
PAGE_ITEMS = 500


def page_count(count: int, size: int) -> int:
    """Pages of a month with `count` articles; 0 when it has none (no archive at all)."""
    return -(-count // size)


def page_path(month: str, page: int, fmt: str) -> str:
    suffix = f"-{page}" if page > 1 else ""
    return f"/feeds/archive/{month}{suffix}.{fmt}"


def page_url(settings: Settings, month: str, page: int, fmt: str) -> str:
    return settings.public_url + page_path(month, page, fmt)


def newest_page_url(settings: Settings, month: MonthStat, fmt: str, size: int) -> str:
    """Where a walk back in time enters `month`: its last page."""
    return page_url(settings, month.month, page_count(month.count, size), fmt)


def archive_links(
    settings: Settings,
    months: Sequence[MonthStat],
    index: int,
    page: int,
    fmt: str,
    size: int,
) -> tuple[Link, ...]:
    """prev-archive / next-archive / current of page `page` of `months[index]`.

    `months` are the months with visible articles, oldest first, as `Store.months` gives them.
    """
    month = months[index]
    last = page_count(month.count, size)
    links = []
    if page > 1:
        links.append(Link("prev-archive", page_url(settings, month.month, page - 1, fmt)))
    elif index > 0:
        links.append(Link("prev-archive", newest_page_url(settings, months[index - 1], fmt, size)))
    if page < last:
        links.append(Link("next-archive", page_url(settings, month.month, page + 1, fmt)))
    elif index + 1 < len(months):
        links.append(Link("next-archive", page_url(settings, months[index + 1].month, 1, fmt)))
    links.append(Link("current", feed_url(settings, ALL_NEWS, fmt)))
    return tuple(links)


def month_scope(month: str) -> Scope:
    return Scope(ScopeKind.MONTH, month)
