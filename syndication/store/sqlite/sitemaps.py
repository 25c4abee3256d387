"""What sitemaps read: URL rows of a month in keyset-paged batches, the news window, and how a
month splits into parts (its count and largest row, the newest change of each part)."""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from syndication.model import Image, UrlRow
from syndication.store.sqlite.connections import Connections, Row, build_objects
from syndication.store.sqlite.statistics import Statistics
from syndication.timeutil import from_epoch, month_key, to_epoch

_ROW = (
    "url, coalesce(updated_at, published_at), published_at, title, image_url, image_type,"
    " image_length, image_caption, id, body_images"
)
# Part dates of months nobody changed: a month's rows are read once per change to it, not once
# per sitemap index render.
_PART_MEMO = 1024


class SitemapQueries(Statistics):
    db: Connections
    zone: ZoneInfo
    _part_memo: OrderedDict[tuple[str, int], tuple[tuple[int, int], list[datetime]]]

    async def url_rows(
        self, start: datetime, end: datetime, *, now: datetime, batch: int = 5000
    ) -> AsyncIterator[list[UrlRow]]:
        # The whole range: a slice from its first row with no end.
        async for rows in self.url_rows_slice(
            start, end, now=now, offset=0, limit=sys.maxsize, batch=batch
        ):
            yield rows

    async def recent_rows(
        self, since: datetime, *, now: datetime, limit: int
    ) -> AsyncIterator[list[UrlRow]]:
        rows = await self.db.fetchall(
            f"SELECT {_ROW} FROM articles INDEXED BY articles_sitemap"
            " WHERE status = 'published' AND published_at >= ?"
            " AND published_at <= ? ORDER BY published_at DESC, id DESC LIMIT ?",
            (to_epoch(since), to_epoch(now), limit),
        )
        if rows:
            yield await _url_rows(rows)

    async def url_rows_slice(
        self,
        start: datetime,
        end: datetime,
        *,
        now: datetime,
        offset: int,
        limit: int,
        batch: int = 5000,
    ) -> AsyncIterator[list[UrlRow]]:
        lo, hi = to_epoch(start), min(to_epoch(end) - 1, to_epoch(now))
        where = "WHERE status = 'published' AND published_at <= ?"
        # One OFFSET query finds where the slice starts; keyset paging on (published_at, id)
        # goes on from there, keeping each query short and memory flat. The row-value
        # comparison lets SQLite seek in the index; the equivalent OR form rescans the range
        # from its start on every batch. Each batch is its own read: a slow consumer holds no
        # pooled connection between batches.
        last_pub, last_id = lo - 1, ""
        if offset > 0:
            first = await self.db.fetchone(
                f"SELECT published_at, id FROM articles {where} AND published_at >= ?"
                " ORDER BY published_at, id LIMIT 1 OFFSET ?",
                (hi, lo, offset - 1),
            )
            if first is None:
                return
            last_pub, last_id = first[0], first[1]
        left = limit
        while left > 0:
            want = min(batch, left)
            rows = await self.db.fetchall(
                f"SELECT {_ROW} FROM articles INDEXED BY articles_sitemap {where}"
                " AND (published_at, id) > (?, ?)"
                " ORDER BY published_at, id LIMIT ?",
                (hi, last_pub, last_id, want),
            )
            if not rows:
                return
            yield await _url_rows(rows)
            left -= len(rows)
            last_pub, last_id = rows[-1][2], rows[-1][8]
            if len(rows) < want:
                return

    async def url_row_bound(
        self, start: datetime, end: datetime, *, now: datetime
    ) -> tuple[int, int]:
        stat = await self.range_stat(start, end, now=now)
        return (stat.count, stat.bound) if stat.count else (0, 0)

    async def url_part_changes(
        self, start: datetime, end: datetime, *, now: datetime, size: int
    ) -> list[datetime]:
        stat = await self.range_stat(start, end, now=now)
        memo_key = (month_key(start, self.zone), size)
        stamp = (stat.version, stat.count) if stat.version is not None else None
        if stamp is not None:
            memo = self._part_memo.get(memo_key)
            if memo is not None and memo[0] == stamp:
                self._part_memo.move_to_end(memo_key)
                return memo[1]
        rows = await self.db.fetchall(
            "SELECT part, max(lc) FROM ("
            " SELECT (row_number() OVER (ORDER BY published_at, id) - 1) / ? AS part,"
            " coalesce(updated_at, published_at) AS lc FROM articles"
            " WHERE status = 'published' AND published_at >= ? AND published_at < ?"
            " AND published_at <= ?"
            ") GROUP BY part ORDER BY part",
            (size, to_epoch(start), to_epoch(end), to_epoch(now)),
        )
        changes = [from_epoch(r[1]) for r in rows]
        if stamp is not None:
            self._part_memo[memo_key] = (stamp, changes)
            while len(self._part_memo) > _PART_MEMO:
                self._part_memo.popitem(last=False)
        return changes

    async def next_publication(self, *, after: datetime) -> datetime | None:
        rows = await self.db.log_fetchall(
            "SELECT min(published_at) FROM articles WHERE status = 'published' AND published_at > ?",
            (to_epoch(after),),
        )
        return from_epoch(rows[0][0]) if rows and rows[0][0] is not None else None


async def _url_rows(rows: list[Row]) -> list[UrlRow]:
    return await build_objects(len(rows), lambda: [_url_row(r) for r in rows])


def _url_row(r: Sequence[Any]) -> UrlRow:
    return UrlRow(
        url=r[0],
        last_change=from_epoch(r[1]),
        published_at=from_epoch(r[2]),
        title=r[3],
        image=Image(url=r[4], type=r[5], length=r[6], caption=r[7]) if r[4] else None,
        body_images=tuple(orjson.loads(r[9])) if r[9] else (),
    )
