"""Scheduled articles going live, for push notifications: which published articles reached their
`published_at` with no write of their own, and how far each target has announced them (a row of
`meta` per target)."""

from __future__ import annotations

from datetime import datetime

import orjson

from syndication.store.base import LiveArticle, LiveMark
from syndication.store.postgres.connections import Connections, Transaction, to_json
from syndication.timeutil import from_epoch, to_epoch

_MARK_KEY = "live-mark {}"


class GoLive:
    db: Connections

    async def went_live(self, after: LiveMark, until: datetime, *, limit: int) -> list[LiveArticle]:
        # `published_at > modified_at`: not yet visible when last written (see the SQLite store).
        rows = await self.db.fetchall(
            "SELECT a.id, a.published_at, a.url, a.rubrics, ARRAY(SELECT t.slug FROM"
            " unnest(a.tag_ids) WITH ORDINALITY u (id, ord) JOIN tags t ON t.id = u.id"
            " ORDER BY u.ord) FROM articles a WHERE a.status = 'published'"
            " AND (a.published_at, a.id) > ($1, $2) AND a.published_at <= $3"
            " AND a.published_at > a.modified_at ORDER BY a.published_at, a.id LIMIT $4",
            (to_epoch(after.published_at), after.id, to_epoch(until), limit),
        )
        return [LiveArticle(r[0], from_epoch(r[1]), r[2], list(r[3]), list(r[4])) for r in rows]

    async def live_mark(self, target: str, *, start: LiveMark) -> LiveMark:
        key = _MARK_KEY.format(target)

        async def work(tx: Transaction) -> None:
            await tx.fetchall(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                (key, _mark_json(start)),
            )

        await self.db.write(work)
        rows = await self.db.fetchall("SELECT value FROM meta WHERE key = $1", (key,))
        epoch, article_id = orjson.loads(rows[0][0])
        return LiveMark(from_epoch(epoch), article_id)

    async def save_live_mark(self, target: str, mark: LiveMark) -> None:
        async def work(tx: Transaction) -> None:
            await tx.fetchall(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE"
                " SET value = excluded.value WHERE ((excluded.value::jsonb ->> 0)::bigint,"
                ' (excluded.value::jsonb ->> 1) COLLATE "C") > ((meta.value::jsonb ->> 0)::bigint,'
                ' (meta.value::jsonb ->> 1) COLLATE "C")',
                (_MARK_KEY.format(target), _mark_json(mark)),
            )

        await self.db.write(work)


def _mark_json(mark: LiveMark) -> str:
    return to_json([to_epoch(mark.published_at), mark.id])
