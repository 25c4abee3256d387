"""Dependency tags: which documents a change of the store touches.

A document carries a set of tags (syndication.documents); a row of the change log raises the
tags below (`change_tags`). A document whose tags meet a change's is stale after it, and the
store keeps, per tag, when a change last raised it (the `stamps` table): that instant is part of
the document's Last-Modified, the same in every worker and after every restart.

  all            any visible article changed (all-news feeds, Yandex, the sitemap index)
  news           any visible article changed (the Google News sitemap)
  rubric:SLUG    an article in that rubric before or after the write; the rubric's own fields
                 (its feeds' channel title and description)
  rubric-meta:SLUG  the rubric's own fields, which every item of that rubric shows as its
                 category: feeds record it for each rubric their items show
  rubric-list    any rubric's title, page or place (OPML and the index page list them all)
  rubric-pages   any rubric's page URL (the rubric sitemap)
  tag:SLUG       an article with that tag before or after the write
  month:YYYY-MM  an article published in that month (site zone) before or after the write
  rubrics, tags  any rubric / any tag of a changed article (the rubric and tag sitemaps carry
                 each one's newest date)
  terms          a rubric or tag appeared or disappeared
  months         a month gained its first or lost its last article
  count<:L:B     the number of articles of a month in block B of 2**L months (month index
                 year * 12 + month - 1) changed: an article entered or left it (see
                 `earlier_counts`)
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from syndication.model import Change
from syndication.timeutil import from_epoch, month_key, parse_month

# Month indexes (year * 12 + month - 1) of years 1..9998 are below 2**17.
_COUNT_LEVELS = 17


def _month_index(month: str) -> int:
    year, mm = parse_month(month)
    return year * 12 + mm - 1


def count_tags(month: str) -> set[str]:
    """The tags a change of `month`'s article count raises: every block of 2**L months (for
    each L) that holds it."""
    i = _month_index(month)
    return {f"count<:{level}:{i >> level}" for level in range(_COUNT_LEVELS)}


@lru_cache(maxsize=256)  # bounded: any valid month can be requested
def earlier_counts(month: str) -> frozenset[str]:
    """Tags that a change of the count of any month before `month`, and of no other, raises.

    The months before index i are the blocks of a binary decomposition of [0, i), one per set
    bit of i (as a Fenwick tree sums a prefix): at most 17 tags, exact for any history length.
    """
    i = _month_index(month)
    return frozenset(
        f"count<:{level}:{(i >> level) - 1}" for level in range(_COUNT_LEVELS) if i >> level & 1
    )


def change_tags(change: Change, zone: ZoneInfo) -> set[str]:
    """The dependency tags one row of the change log raises."""
    if change.kind == "terms":
        flipped = change.after or {}
        tags = set()
        if flipped.get("rubrics") or flipped.get("tags"):
            tags.add("terms")
        if flipped.get("months"):
            tags.add("months")
        return tags
    if change.kind == "rubric":
        return rubric_tags(change.key, change.before, change.after)
    return article_tags(change.before, change.after, zone)


def rubric_tags(slug: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> set[str]:
    """What an edit of a rubric's own fields raises, by the fields that changed: its own feeds
    show them all (channel title, description, link); each item of the rubric shows its title
    and page as a category; OPML and the index page list every rubric's title, page and place;
    the rubric sitemap lists their pages. A row without a state (older rows) raises them all."""
    tags = {f"rubric:{slug}"}
    if before is None or after is None:
        return tags | {f"rubric-meta:{slug}", "rubric-list", "rubric-pages"}
    changed = {k for k in ("title", "url", "parent", "position") if before.get(k) != after.get(k)}
    if changed & {"title", "url"}:
        tags.add(f"rubric-meta:{slug}")
    if changed:
        tags.add("rubric-list")
    if "url" in changed:
        tags.add("rubric-pages")
    return tags


def article_tags(
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    zone: ZoneInfo,
    *,
    counts: bool = True,
) -> set[str]:
    """What a write of one article raises, from its placement before and after; with
    `counts=False`, without the month-count tags."""
    tags: set[str] = set()
    months: list[str | None] = []
    for state in (before, after):
        if not state or state.get("status") != "published":
            months.append(None)
            continue  # drafts are nowhere, so a draft's placement affects nothing
        tags.update(("all", "news"))
        if state["rubrics"]:
            tags.add("rubrics")
            tags.update(f"rubric:{r}" for r in state["rubrics"])
        if state["tags"]:
            tags.add("tags")
            tags.update(f"tag:{t}" for t in state["tags"])
        key = month_key(from_epoch(state["published_at"]), zone)
        months.append(key)
        tags.add(f"month:{key}")
    if counts and months[0] != months[1]:  # an edit within a month leaves the counts as they were
        for month in months:
            if month is not None:
                tags |= count_tags(month)
    return tags


def all_tags(changes: Iterable[Change], zone: ZoneInfo) -> set[str]:
    tags: set[str] = set()
    for change in changes:
        tags |= change_tags(change, zone)
    return tags


def stamp_tags(kind: str, key: str, before: str | None, after: str | None, zone: ZoneInfo) -> str:
    """`change_tags` of a change-log row as stored (JSON text columns), as a JSON array: the
    store's writer calls it from SQL, once per row, to keep the `stamps` table (see
    store/sqlite/schema.py). Without the month-count tags (17 a month, most of a new article's
    tags): the one document that depends on them, an archive's page 1, takes the stamp of the
    month its "prev-archive" link names instead (feeds/build.py)."""
    was = orjson.loads(before) if before else None
    now = orjson.loads(after) if after else None
    if kind == "terms":
        tags = change_tags(Change(0, from_epoch(0), kind, key, was, now), zone)
    elif kind == "rubric":
        tags = rubric_tags(key, was, now)
    else:
        tags = article_tags(was, now, zone, counts=False)
    return orjson.dumps(list(tags)).decode()


__all__ = [
    "all_tags",
    "article_tags",
    "change_tags",
    "count_tags",
    "earlier_counts",
    "rubric_tags",
    "stamp_tags",
]
