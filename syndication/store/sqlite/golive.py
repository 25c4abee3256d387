"""Scheduled articles going live, for push notifications: which published articles reached their
`published_at` with no write of their own, and how far each target has announced them (a row of
`meta` per target, so no table is needed)."""

from __future__ import annotations

from datetime import datetime

import orjson

from syndication.store.base import LiveArticle, LiveMark
from syndication.store.sqlite.connections import Connections, Transaction, to_json
from syndication.timeutil import from_epoch, to_epoch

_MARK_KEY = "live-mark {}"


class GoLive:
    db: Connections

    async def went_live(self, after: LiveMark, until: datetime, *, limit: int) -> list[LiveArticle]:
        # `published_at > modified_at`: the article was not yet visible when last written, so
        # no change of the log announced it as visible; the rest were announced by their write.
        # Both are whole seconds taken from the same clocks the change log's `at` uses.
        rows = await self.db.fetchall(
            "SELECT a.id, a.published_at, a.url, a.rubrics, (SELECT json_group_array(slug) FROM"
            " (SELECT t.slug AS slug FROM json_each(a.tag_ids) j JOIN tags t ON t.id = j.value"
            " ORDER BY j.key)) FROM articles a WHERE a.status = 'published'"
            " AND (a.published_at, a.id) > (?, ?) AND a.published_at <= ?"
            " AND a.published_at > a.modified_at ORDER BY a.published_at, a.id LIMIT ?",
            (to_epoch(after.published_at), after.id, to_epoch(until), limit),
        )
        return [
            LiveArticle(r[0], from_epoch(r[1]), r[2], orjson.loads(r[3]), orjson.loads(r[4]))
            for r in rows
        ]

    async def live_mark(self, target: str, *, start: LiveMark) -> LiveMark:
        key = _MARK_KEY.format(target)

        async def work(tx: Transaction) -> None:
            await tx.fetchall(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, _mark_json(start)),
            )

        await self.db.write(work)
        rows = await self.db.fetchall("SELECT value FROM meta WHERE key = ?", (key,))
        epoch, article_id = orjson.loads(rows[0][0])
        return LiveMark(from_epoch(epoch), article_id)

    async def save_live_mark(self, target: str, mark: LiveMark) -> None:
        async def work(tx: Transaction) -> None:
            await tx.fetchall(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                " SET value = excluded.value WHERE (json_extract(excluded.value, '$[0]'),"
                " json_extract(excluded.value, '$[1]')) > (json_extract(value, '$[0]'),"
                " json_extract(value, '$[1]'))",
                (_MARK_KEY.format(target), _mark_json(mark)),
            )

        await self.db.write(work)


def _mark_json(mark: LiveMark) -> str:
    return to_json([to_epoch(mark.published_at), mark.id])
