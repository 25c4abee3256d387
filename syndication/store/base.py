"""What the rooms need of the data, as narrow async protocols: writes, feed reads, sitemap reads,
statistics, the change log and delivery cursors. `Store` is all of them plus a lifecycle; a room
that needs one part names that part.

SQLite implements them today; a PostgreSQL implementation can follow without touching callers.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Collection, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from syndication.model import (
    Article,
    ArticleIn,
    Change,
    MonthStat,
    Retraction,
    Rubric,
    Scope,
    Tag,
    TermStat,
    UrlRow,
    WriteResult,
)


class StoreError(RuntimeError):
    """The store could not complete an operation (I/O, corruption, constraint)."""


@dataclass(frozen=True, slots=True)
class DeliveryCursor:
    """How far one push target (WebSub hub, IndexNow endpoint) has got through the change log.

    Every change with id <= `change_id` has been acknowledged by the target (or dropped after a
    4xx or too many attempts); the changes after it are pending. `attempts`, `next_attempt_at`
    (epoch seconds) and `last_error` describe the failing batch right after the cursor.
    """

    target: str
    change_id: int
    attempts: int = 0
    next_attempt_at: float | None = None
    last_error: str | None = None
    updated_at: float = 0.0


class ArticleWriter(Protocol):
    """Each call is one transaction, and appends to the change log."""

    async def put_articles(
        self, articles: Iterable[ArticleIn] | AsyncIterable[ArticleIn]
    ) -> WriteResult:
        """Create or replace every article, all or nothing: an exception raised by `articles`
        (an async source may validate as it goes) rolls the whole write back."""
        ...

    async def delete_article(self, article_id: str) -> int | None:
        """The change id, or None when no such article exists."""
        ...

    async def put_rubric(self, rubric: Rubric) -> tuple[bool, int]:
        """(created, change id)."""
        ...


class FeedReader(Protocol):
    async def get_article(self, article_id: str) -> Article | None: ...

    async def get_rubric(self, slug: str) -> Rubric | None: ...

    async def get_tag(self, slug: str) -> Tag | None: ...

    async def rubrics(self) -> list[Rubric]: ...

    async def tags(self) -> list[Tag]: ...

    async def articles(
        self,
        scope: Scope,
        *,
        now: datetime,
        limit: int,
        offset: int = 0,
        oldest_first: bool = False,
    ) -> list[Article]:
        """Published articles of `scope` with `published_at <= now`, newest first; with
        `oldest_first`, `offset` and `limit` count from the oldest end (still returned newest
        first): a slice that a newer article cannot shift."""
        ...

    async def retractions(
        self, scope: Scope, *, since: datetime, now: datetime, limit: int
    ) -> list[Retraction]:
        """Articles of `scope` (as they were placed) that were visible and went away (deleted,
        or no longer published) at `since <= at <= now`, and are not visible at `now`: the
        latest such change of each article, newest first, at most `limit`. Month scopes are
        not supported (an empty list)."""
        ...


class StatisticsReader(Protocol):
    """Kept current by each write, so a read costs O(1), not O(history)."""

    async def aggregate(self, scope: Scope, *, now: datetime) -> tuple[int, datetime | None]:
        """(visible articles, newest published/updated date) of `scope`; None when empty."""
        ...

    async def count(self, scope: Scope, *, now: datetime) -> int: ...

    async def last_change(self, scope: Scope, *, now: datetime) -> datetime | None:
        """The newest published/updated date in `scope`, None when it is empty."""
        ...

    async def months(self, *, now: datetime) -> list[MonthStat]:
        """Every month (site zone) that has a visible article, oldest first."""
        ...

    async def term_stats(self, *, now: datetime) -> list[TermStat]:
        """Every rubric and tag that has a visible article, rubrics first (by position)."""
        ...


class SitemapReader(Protocol):
    def url_rows(
        self, start: datetime, end: datetime, *, now: datetime, batch: int = 5000
    ) -> AsyncIterator[list[UrlRow]]:
        """Visible articles with `start <= published_at < end`, oldest first, in batches."""
        ...

    def recent_rows(
        self, since: datetime, *, now: datetime, limit: int
    ) -> AsyncIterator[list[UrlRow]]:
        """Visible articles with `published_at >= since`, newest first, at most `limit`."""
        ...

    async def url_row_bound(
        self, start: datetime, end: datetime, *, now: datetime
    ) -> tuple[int, int]:
        """(count, bound) of the visible articles with `start <= published_at < end`.

        `bound` is the largest, over those rows, of the UTF-8 length of url + image url + image
        caption + each body image's url with each `&`, `<`, `>` and CR counted as 5 bytes, plus
        `model.SITEMAP_IMAGE_BYTES` per body image (the markup of its `<image:image>`): an upper
        bound on what the row adds to a `<url>`'s fixed markup once escaped in XML, so sitemaps
        can split a month by count without rendering it. (0, 0) when there is no such article.
        """
        ...

    async def url_part_changes(
        self, start: datetime, end: datetime, *, now: datetime, size: int
    ) -> list[datetime]:
        """The newest change of each run of `size` rows of `url_rows(start, end)`, in order."""
        ...

    def url_rows_slice(
        self,
        start: datetime,
        end: datetime,
        *,
        now: datetime,
        offset: int,
        limit: int,
        batch: int = 5000,
    ) -> AsyncIterator[list[UrlRow]]:
        """Rows `offset .. offset + limit - 1` of `url_rows(start, end)`, in the same order."""
        ...


class ChangeLogReader(Protocol):
    async def last_change_id(self) -> int: ...

    def change_hint(self) -> int:
        """The newest change id any process on this host has committed, without I/O: a cheap
        signal to look at the change log, never a substitute for it."""
        ...

    async def change_head(self) -> int:
        """At least the newest change id committed, by any process anywhere, before this call
        began: what a request must have applied to answer exactly. One host's SQLite store reads
        its shared counter (no I/O); a store shared by several hosts asks the database, one
        query for many callers (syndication/store/freshness.py)."""
        ...

    async def changes_since(self, change_id: int, *, limit: int = 10_000) -> list[Change]: ...

    async def next_publication(self, *, after: datetime) -> datetime | None:
        """The earliest `published_at` of a published article later than `after`."""
        ...


class StampReader(Protocol):
    """When things last changed: what documents' Last-Modified is derived from."""

    async def dependency_stamp(self, deps: Collection[str]) -> datetime | None:
        """The instant (whole seconds) of the newest change that raised any of the dependency
        tags `deps` (syndication/dependencies.py); None when none ever did."""
        ...

    async def month_stamps(self) -> dict[str, datetime]:
        """`dependency_stamp({"month:" + month})` of every month that has one."""
        ...

    async def settings_stamp(self, digest: str) -> datetime:
        """When the rendering settings whose digest is `digest` took effect: the instant they
        were first recorded, recording them now when the last recorded digest differs."""
        ...


class DeliveryCursorStore(Protocol):
    """Push-notification delivery cursors (syndication/notify)."""

    async def delivery_cursor(self, target: str, *, create: bool = True) -> DeliveryCursor | None:
        """The target's cursor; with `create`, a new target starts at the end of the change log
        (history is not replayed to a newly configured endpoint)."""
        ...

    async def delivery_cursors(self) -> list[DeliveryCursor]: ...

    async def save_delivery_cursor(self, cursor: DeliveryCursor) -> None:
        """Store the cursor; its change id never moves backwards."""
        ...


@dataclass(frozen=True, slots=True)
class LiveArticle:
    """A published article that went live with no write: its placement, as the change log's
    article states record one (URL, rubric slugs, tag slugs, in order)."""

    id: str
    published_at: datetime
    url: str
    rubrics: list[str]
    tags: list[str]


@dataclass(frozen=True, order=True, slots=True)
class LiveMark:
    """How far a push target has announced articles going live: every one whose
    (published_at, id) is at most this pair. The id "" sorts before every id, so (t, "") leaves
    all of second t still to announce."""

    published_at: datetime
    id: str = ""


class GoLiveStore(Protocol):
    """Scheduled articles reaching their `published_at`, and each push target's mark."""

    async def went_live(self, after: LiveMark, until: datetime, *, limit: int) -> list[LiveArticle]:
        """Published articles with (published_at, id) > `after` and `published_at <= until`,
        in that order, whose `published_at` is later than their last write: those that became
        visible with no write of their own. At most `limit`."""
        ...

    async def live_mark(self, target: str, *, start: LiveMark) -> LiveMark:
        """The target's mark; a target without one gets `start` first."""
        ...

    async def save_live_mark(self, target: str, mark: LiveMark) -> None:
        """Store the mark; it never moves backwards."""
        ...


class Leadership(Protocol):
    """A lock held by at most one process of all that use the store. `held` turns false when
    the holder loses it (its database connection ended): the holder must then stop."""

    @property
    def held(self) -> bool: ...

    async def try_acquire(self) -> bool: ...

    async def release(self) -> None: ...


class Store(
    ArticleWriter,
    FeedReader,
    StatisticsReader,
    SitemapReader,
    ChangeLogReader,
    StampReader,
    DeliveryCursorStore,
    GoLiveStore,
    Protocol,
):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def snapshot(self) -> AbstractAsyncContextManager[None]:
        """Every read inside it sees one state of the store (one read transaction), so that a
        document read with several queries is of one state whatever is written meanwhile."""
        ...

    async def ping(self) -> None:
        """Raise StoreError when the store cannot answer."""
        ...

    def leadership(self, name: str) -> Leadership:
        """A lock that at most one process of all that use this store holds (`name`: what for,
        e.g. "notify"), dropped when its holder dies."""
        ...
