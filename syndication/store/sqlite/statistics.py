"""Counts and newest dates of scopes, months and terms, read from the maintained statistics.

The triggers (schema step 6) keep `buckets` (scope × month) and `totals` (scope) for every
published article, scheduled ones included. What is visible depends on the clock: an article
scheduled for later is published but not yet shown. So a read takes the maintained figures for
the months before the first scheduled article's month (the "cut") and counts the few months
from the cut up to now from their index ranges. With nothing scheduled (the usual case) a read
is a primary-key look-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from syndication.model import MonthStat, Scope, ScopeKind, TermStat
from syndication.store.sqlite.connections import Connections
from syndication.timeutil import from_epoch, month_bounds, month_key, to_epoch

CUT_SQL = (
    "SELECT month, lo FROM calendar WHERE lo <= (SELECT min(published_at) FROM articles"
    " INDEXED BY articles_by_date WHERE status = 'published' AND published_at > ?)"
    " ORDER BY lo DESC LIMIT 1"
)
_NEWEST = "coalesce(a.updated_at, a.published_at)"


@dataclass(frozen=True, slots=True)
class RangeStat:
    """The visible articles of a date range: how many, the newest published/updated date, and the
    largest escaped sitemap text of one of them (see `SitemapReader.url_row_bound`)."""

    count: int
    newest: int | None  # epoch seconds
    bound: int
    # The month bucket's version when the figures are the maintained ones: it changes with every
    # write that touches the month, so what is derived from the month can be kept until it does.
    version: int | None = None


@dataclass(frozen=True, slots=True)
class Cut:
    """The month of the first scheduled article: statistics from it on are counted, not read."""

    month: str
    lo: int  # its first instant, epoch seconds


def scope_key_sql(scope: Scope) -> tuple[str, list[Any]]:
    """An SQL expression for the statistics key of a feed scope (never a month)."""
    if scope.kind is ScopeKind.ALL:
        return "''", []
    if scope.kind is ScopeKind.RUBRIC:
        return "'r:' || ?", [scope.key]
    return "'t:' || (SELECT id FROM tags WHERE slug = ?)", [scope.key]


def _recent_sql(scope: Scope) -> tuple[str, list[Any]]:
    """SELECT count, newest of the scope's published rows with lo <= published_at <= now;
    parameters lo and now follow the returned ones."""
    if scope.kind is ScopeKind.ALL:
        return (
            f"SELECT count(*), max({_NEWEST}) FROM articles a INDEXED BY articles_by_date"
            " WHERE a.status = 'published' AND a.published_at >= ? AND a.published_at <= ?",
            [],
        )
    if scope.kind is ScopeKind.RUBRIC:
        return (
            "SELECT count(*), max(l.last_change) FROM article_rubrics l"
            " INDEXED BY article_rubrics_stats WHERE l.published = 1 AND l.rubric = ?"
            " AND l.published_at >= ? AND l.published_at <= ?",
            [scope.key],
        )
    return (
        "SELECT count(*), max(l.last_change) FROM article_tags l INDEXED BY article_tags_stats"
        " WHERE l.published = 1 AND l.tag_id = (SELECT id FROM tags WHERE slug = ?)"
        " AND l.published_at >= ? AND l.published_at <= ?",
        [scope.key],
    )


def _newest(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


class Statistics:
    db: Connections
    zone: ZoneInfo

    async def cut(self, now: datetime) -> Cut | None:
        row = await self.db.fetchone(CUT_SQL, (to_epoch(now),))
        return Cut(row[0], int(row[1])) if row else None

    async def aggregate(self, scope: Scope, *, now: datetime) -> tuple[int, datetime | None]:
        """(visible articles, newest published/updated date) of `scope`, in one read when
        nothing is scheduled."""
        epoch = to_epoch(now)
        if scope.kind is ScopeKind.MONTH:
            stat = await self.range_stat(*month_bounds(scope.key, self.zone), now=now)
            newest = stat.newest if stat.count else None
            return stat.count, from_epoch(newest) if newest is not None else None

        key, key_params = scope_key_sql(scope)
        row = await self.db.fetchone(
            f"SELECT t.count, t.last_change, cut.month, cut.lo FROM (SELECT 1)"
            f" LEFT JOIN totals t ON t.scope = {key} LEFT JOIN ({CUT_SQL}) cut",
            [*key_params, epoch],
        )
        assert row is not None
        count, newest = row[0] or 0, row[1]
        if row[2] is not None and count:
            cut = Cut(row[2], int(row[3]))
            sql, params = _recent_sql(scope)
            exact = await self.db.fetchone(
                f"SELECT (SELECT coalesce(sum(count), 0) FROM buckets WHERE scope = {key}"
                f" AND month < ?), (SELECT max(last_change) FROM buckets WHERE scope = {key}"
                f" AND month < ?), r.* FROM ({sql}) r",
                [*key_params, cut.month, *key_params, cut.month, *params, cut.lo, epoch],
            )
            assert exact is not None
            count = int(exact[0]) + int(exact[2])
            newest = _newest(exact[1], exact[3])
        return int(count), from_epoch(newest) if count and newest is not None else None

    async def range_stat(self, start: datetime, end: datetime, *, now: datetime) -> RangeStat:
        """The visible articles with `start <= published_at < end`: the month's maintained bucket
        when the range is exactly a month before the cut (one read, the cut included), otherwise
        counted from the index range."""
        epoch = to_epoch(now)
        month = month_key(start, self.zone)
        if month_bounds(month, self.zone) == (start, end):
            row = await self.db.fetchone(
                "SELECT b.count, b.last_change, b.max_bytes, b.version, cut.month"
                " FROM (SELECT 1) LEFT JOIN buckets b ON b.scope = '' AND b.month = ?"
                f" LEFT JOIN ({CUT_SQL}) cut",
                (month, epoch),
            )
            assert row is not None
            if row[4] is None or month < row[4]:
                if row[0] is None:
                    return RangeStat(0, None, 0)
                return RangeStat(int(row[0]), row[1], int(row[2]), int(row[3]))
        row = await self.db.fetchone(
            f"SELECT count(*), max({_NEWEST}), max(a.sitemap_bytes)"
            " FROM articles a INDEXED BY articles_by_date WHERE a.status = 'published'"
            " AND a.published_at >= ? AND a.published_at < ? AND a.published_at <= ?",
            (to_epoch(start), to_epoch(end), epoch),
        )
        assert row is not None
        return RangeStat(int(row[0]), row[1], int(row[2] or 0))

    async def count(self, scope: Scope, *, now: datetime) -> int:
        return (await self.aggregate(scope, now=now))[0]

    async def last_change(self, scope: Scope, *, now: datetime) -> datetime | None:
        return (await self.aggregate(scope, now=now))[1]

    async def months(self, *, now: datetime) -> list[MonthStat]:
        epoch = to_epoch(now)
        rows = await self.db.fetchall(
            "SELECT b.month, b.count, b.last_change, b.max_bytes, cut.month, cut.lo"
            f" FROM buckets b LEFT JOIN ({CUT_SQL}) cut WHERE b.scope = '' ORDER BY b.month",
            (epoch,),
        )
        if not rows:
            return []
        stats = {
            r[0]: MonthStat(
                month=r[0], count=int(r[1]), last_change=from_epoch(r[2]), row_bound=int(r[3])
            )
            for r in rows
        }
        cut_month, cut_lo = rows[0][4], rows[0][5]
        if cut_month is not None:
            for month in [m for m in stats if m >= cut_month]:
                del stats[month]
            for month, count, newest, bound in await self.db.fetchall(
                f"SELECT c.month, count(*), max({_NEWEST}), max(a.sitemap_bytes) FROM calendar c"
                " JOIN articles a INDEXED BY articles_by_date ON a.status = 'published'"
                " AND a.published_at >= c.lo AND a.published_at < c.hi AND a.published_at <= ?"
                " WHERE c.lo >= ? AND c.lo <= ? GROUP BY c.month",
                (epoch, cut_lo, epoch),
            ):
                stats[month] = MonthStat(month, int(count), from_epoch(newest), int(bound))
        return [stats[m] for m in sorted(stats)]

    async def term_stats(self, *, now: datetime) -> list[TermStat]:
        epoch = to_epoch(now)
        rows = await self.db.fetchall(
            "SELECT t.scope, 0 AS part, r.position AS pos, r.slug AS slug, r.title, 'rubric',"
            " t.count, t.last_change FROM rubrics r JOIN totals t ON t.scope = 'r:' || r.slug"
            " UNION ALL SELECT t.scope, 1, 0, g.slug, g.name, g.kind, t.count, t.last_change"
            " FROM tags g JOIN totals t ON t.scope = 't:' || g.id ORDER BY part, pos, slug"
        )
        cut = await self.cut(now)
        exact: dict[str, tuple[int, int | None]] = {}
        if cut is not None:
            exact = await self._recent_terms(cut, epoch)
        stats = []
        for scope, _, _, slug, title, kind, count, newest in rows:
            if scope in exact:
                count, newest = exact[scope]
                if not count or newest is None:
                    continue
            stats.append(
                TermStat(
                    slug=slug,
                    title=title,
                    count=int(count),
                    last_change=from_epoch(newest),
                    kind=kind,
                )
            )
        return stats

    async def _recent_terms(self, cut: Cut, epoch: int) -> dict[str, tuple[int, int | None]]:
        """Exact (count, newest) of every term with articles from the cut's month on."""
        affected = (
            "SELECT scope FROM buckets INDEXED BY buckets_by_month WHERE month >= ? AND scope != ''"
        )
        before = {
            scope: (int(count), newest)
            for scope, count, newest in await self.db.fetchall(
                "SELECT scope, sum(count), max(last_change) FROM buckets"
                f" WHERE month < ? AND scope IN ({affected}) GROUP BY scope",
                (cut.month, cut.month),
            )
        }
        recent = await self.db.fetchall(
            "SELECT 'r:' || l.rubric, count(*), max(l.last_change) FROM article_rubrics l"
            " INDEXED BY article_rubrics_stats WHERE l.published = 1 AND l.rubric IN"
            f" (SELECT substr(scope, 3) FROM ({affected}) WHERE scope GLOB 'r:*')"
            " AND l.published_at >= ? AND l.published_at <= ? GROUP BY l.rubric"
            " UNION ALL SELECT 't:' || l.tag_id, count(*), max(l.last_change) FROM article_tags l"
            " INDEXED BY article_tags_stats WHERE l.published = 1 AND l.tag_id IN"
            f" (SELECT CAST(substr(scope, 3) AS INTEGER) FROM ({affected})"
            " WHERE scope GLOB 't:*') AND l.published_at >= ? AND l.published_at <= ?"
            " GROUP BY l.tag_id",
            (cut.month, cut.lo, epoch, cut.month, cut.lo, epoch),
        )
        scopes = {
            r[0]
            for r in await self.db.fetchall(
                f"SELECT DISTINCT scope FROM ({affected})", (cut.month,)
            )
        }
        exact: dict[str, tuple[int, int | None]] = {s: before.get(s, (0, None)) for s in scopes}
        for scope, count, newest in recent:
            had, had_newest = exact.get(scope, (0, None))
            exact[scope] = (had + int(count), _newest(had_newest, newest))
        return exact
