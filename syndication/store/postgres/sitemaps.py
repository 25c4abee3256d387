"""What sitemaps read: URL rows of a month in keyset-paged batches, the news window, and how a
month splits into parts (its count and largest row, the newest change of each part)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from syndication.model import Image, UrlRow
from syndication.store.postgres.connections import Connections, Row, build_objects
from syndication.store.postgres.statistics import Statistics
from syndication.timeutil import from_epoch, to_epoch

_ROW = (
    "url, coalesce(updated_at, published_at), published_at, title, image_url, image_type,"
    " image_length, image_caption, id, body_images"
)


class SitemapQueries(Statistics):
    db: Connections
    zone: ZoneInfo

    async def url_rows(
        self, start: datetime, end: datetime, *, now: datetime, batch: int = 5000
    ) -> AsyncIterator[list[UrlRow]]:
        async for rows in self.url_rows_slice(
            start, end, now=now, offset=0, limit=sys.maxsize, batch=batch
        ):
            yield rows

    async def recent_rows(
        self, since: datetime, *, now: datetime, limit: int
    ) -> AsyncIterator[list[UrlRow]]:
        rows = await self.db.fetchall(
            f"SELECT {_ROW} FROM articles WHERE status = 'published' AND published_at >= $1"
            " AND published_at <= $2 ORDER BY published_at DESC, id DESC LIMIT $3",
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
        where = "WHERE status = 'published' AND published_at <= $1"
        # One OFFSET query finds where the slice starts; keyset paging on (published_at, id)
        # goes on from there. Each batch is its own read: a slow consumer holds no pooled
        # connection between batches.
        last_pub, last_id = lo - 1, ""
        if offset > 0:
            first = await self.db.fetchone(
                f"SELECT published_at, id FROM articles {where} AND published_at >= $2"
                " ORDER BY published_at, id LIMIT 1 OFFSET $3",
                (hi, lo, offset - 1),
            )
            if first is None:
                return
            last_pub, last_id = first[0], first[1]
        left = limit
        while left > 0:
            want = min(batch, left)
            rows = await self.db.fetchall(
                f"SELECT {_ROW} FROM articles {where} AND (published_at, id) > ($2, $3)"
                " ORDER BY published_at, id LIMIT $4",
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
        count, _, bound = await self.range_stat(start, end, now=now)
        return (count, bound) if count else (0, 0)

    async def url_part_changes(
        self, start: datetime, end: datetime, *, now: datetime, size: int
    ) -> list[datetime]:
        rows = await self.db.fetchall(
            "SELECT part, max(lc) FROM ("
            " SELECT (row_number() OVER (ORDER BY published_at, id) - 1) / $1 AS part,"
            " coalesce(updated_at, published_at) AS lc FROM articles"
            " WHERE status = 'published' AND published_at >= $2 AND published_at < $3"
            " AND published_at <= $4"
            ") p GROUP BY part ORDER BY part",
            (size, to_epoch(start), to_epoch(end), to_epoch(now)),
        )
        return [from_epoch(r[1]) for r in rows]

    async def next_publication(self, *, after: datetime) -> datetime | None:
        rows = await self.db.log_fetchall(
            "SELECT min(published_at) FROM articles WHERE status = 'published'"
            " AND published_at > $1",
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
        body_images=tuple(r[9]) if r[9] else (),
    )
