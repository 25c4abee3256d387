"""Counts and newest dates of scopes, months and terms, counted by indexed queries.

Unlike the SQLite store, which keeps them in maintained tables (buckets, totals) by triggers,
this store counts them when asked: each is one range of a covering index (the articles' date
index, a link table's stats index), read with index-only scans; the months go through the
calendar. The cost is O(articles in the scope), not O(1): fine for what every write invalidates
at the sizes measured (see the README), and the next step when it is not (maintained tables as
in store/sqlite/schema.py step 6, by PL/pgSQL triggers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from syndication.model import MonthStat, Scope, ScopeKind, TermStat
from syndication.store.postgres.connections import Connections
from syndication.timeutil import from_epoch, month_bounds, to_epoch

_NEWEST = "coalesce(a.updated_at, a.published_at)"


class Statistics:
    db: Connections
    zone: ZoneInfo

    async def aggregate(self, scope: Scope, *, now: datetime) -> tuple[int, datetime | None]:
        epoch = to_epoch(now)
        sql: str
        params: list[Any]
        if scope.kind is ScopeKind.MONTH:
            count, newest, _ = await self.range_stat(*month_bounds(scope.key, self.zone), now=now)
            return count, from_epoch(newest) if count and newest is not None else None
        if scope.kind is ScopeKind.ALL:
            sql = (
                f"SELECT count(*), max({_NEWEST}) FROM articles a"
                " WHERE a.status = 'published' AND a.published_at <= $1"
            )
            params = [epoch]
        elif scope.kind is ScopeKind.RUBRIC:
            sql = (
                "SELECT count(*), max(l.last_change) FROM article_rubrics l"
                " WHERE l.rubric = $2 AND l.published AND l.published_at <= $1"
            )
            params = [epoch, scope.key]
        else:
            sql = (
                "SELECT count(*), max(l.last_change) FROM article_tags l"
                " WHERE l.tag_id = (SELECT id FROM tags WHERE slug = $2)"
                " AND l.published AND l.published_at <= $1"
            )
            params = [epoch, scope.key]
        row = await self.db.fetchone(sql, params)
        assert row is not None
        count = int(row[0])
        return count, from_epoch(row[1]) if count and row[1] is not None else None

    async def range_stat(
        self, start: datetime, end: datetime, *, now: datetime
    ) -> tuple[int, int | None, int]:
        """(count, newest epoch, largest escaped sitemap text) of the visible articles with
        `start <= published_at < end`."""
        row = await self.db.fetchone(
            f"SELECT count(*), max({_NEWEST}), coalesce(max(a.sitemap_bytes), 0)"
            " FROM articles a WHERE a.status = 'published'"
            " AND a.published_at >= $1 AND a.published_at < $2 AND a.published_at <= $3",
            (to_epoch(start), to_epoch(end), to_epoch(now)),
        )
        assert row is not None
        return int(row[0]), row[1], int(row[2])

    async def count(self, scope: Scope, *, now: datetime) -> int:
        return (await self.aggregate(scope, now=now))[0]

    async def last_change(self, scope: Scope, *, now: datetime) -> datetime | None:
        return (await self.aggregate(scope, now=now))[1]

    async def months(self, *, now: datetime) -> list[MonthStat]:
        rows = await self.db.fetchall(
            f"SELECT c.month, count(*), max({_NEWEST}), max(a.sitemap_bytes) FROM calendar c"
            " JOIN articles a ON a.status = 'published' AND a.published_at >= c.lo"
            " AND a.published_at < c.hi AND a.published_at <= $1"
            " WHERE c.lo <= $1 GROUP BY c.month ORDER BY c.month",
            (to_epoch(now),),
        )
        return [
            MonthStat(month=m, count=int(n), last_change=from_epoch(newest), row_bound=int(bound))
            for m, n, newest, bound in rows
        ]

    async def term_stats(self, *, now: datetime) -> list[TermStat]:
        rows = await self.db.fetchall(
            "SELECT * FROM (SELECT 0 AS part, r.position AS pos, r.slug AS slug, r.title,"
            " 'rubric' AS kind, s.n, s.newest FROM rubrics r CROSS JOIN LATERAL"
            " (SELECT count(*) AS n, max(l.last_change) AS newest FROM article_rubrics l"
            "  WHERE l.rubric = r.slug AND l.published AND l.published_at <= $1) s"
            " UNION ALL SELECT 1, 0, g.slug, g.name, g.kind, s.n, s.newest FROM tags g"
            " CROSS JOIN LATERAL (SELECT count(*) AS n, max(l.last_change) AS newest"
            "  FROM article_tags l WHERE l.tag_id = g.id AND l.published"
            "  AND l.published_at <= $1) s) t WHERE n > 0 ORDER BY part, pos, slug",
            (to_epoch(now),),
        )
        return [
            TermStat(
                slug=slug, title=title, count=int(n), last_change=from_epoch(newest), kind=kind
            )
            for _, _, slug, title, kind, n, newest in rows
        ]
