"""The change log as readers see it, and the push targets' delivery cursors."""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import datetime

import orjson

from syndication.model import Change, Retraction, Scope, ScopeKind
from syndication.store.base import DeliveryCursor
from syndication.store.retractions import latest_per_article
from syndication.store.sqlite.connections import Connections, Transaction, to_json
from syndication.timeutil import from_epoch, to_epoch

_CURSOR_COLUMNS = "target, change_id, attempts, next_attempt_at, last_error, updated_at"


class ChangeLog:
    db: Connections

    async def last_change_id(self) -> int:
        return await self.db.last_change_id()

    def change_hint(self) -> int:
        return self.db.counter.get() if self.db.counter is not None else 0

    async def change_head(self) -> int:
        # Every writer on the host bumps the counter before it answers its client.
        return self.change_hint()

    async def changes_since(self, change_id: int, *, limit: int = 10_000) -> list[Change]:
        rows = await self.db.log_fetchall(
            "SELECT id, at, kind, key, before, after FROM changes WHERE id > ? ORDER BY id LIMIT ?",
            (change_id, limit),
        )
        return [
            Change(
                id=r[0],
                at=from_epoch(r[1]),
                kind=r[2],
                key=r[3],
                before=orjson.loads(r[4]) if r[4] else None,
                after=orjson.loads(r[5]) if r[5] else None,
            )
            for r in rows
        ]


class Stamps:
    db: Connections

    async def dependency_stamp(self, deps: Collection[str]) -> datetime | None:
        row = await self.db.fetchone(
            "SELECT max(at) FROM stamps WHERE dep IN (SELECT value FROM json_each(?))",
            (to_json(sorted(deps)),),
        )
        return from_epoch(row[0]) if row and row[0] is not None else None

    async def month_stamps(self) -> dict[str, datetime]:
        rows = await self.db.fetchall(
            "SELECT substr(dep, 7), at FROM stamps WHERE dep > 'month:' AND dep < 'month;'"
        )
        return {month: from_epoch(at) for month, at in rows}

    async def settings_stamp(self, digest: str) -> datetime:
        async def work(tx: Transaction) -> int:
            await tx.begin()  # two workers starting together must agree on one instant
            rows = await tx.fetchall("SELECT value FROM meta WHERE key = 'settings'")
            if rows:
                recorded = orjson.loads(rows[0][0])
                if recorded.get("digest") == digest:
                    return int(recorded["at"])
            now = int(time.time())
            await tx.fetchall(
                "INSERT INTO meta (key, value) VALUES ('settings', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (to_json({"digest": digest, "at": now}),),
            )
            return now

        at, _ = await self.db.write(work)
        return from_epoch(at)


class DeliveryCursors:
    db: Connections

    async def delivery_cursor(self, target: str, *, create: bool = True) -> DeliveryCursor | None:
        if create:

            async def work(tx: Transaction) -> None:
                # Inside the write transaction, so no change can slip between "the end of the
                # log" and the new cursor.
                await tx.fetchall(
                    "INSERT INTO delivery_cursors (target, change_id, updated_at)"
                    " VALUES (?, coalesce((SELECT seq FROM sqlite_sequence"
                    " WHERE name = 'changes'), 0), ?) ON CONFLICT (target) DO NOTHING",
                    (target, time.time()),
                )

            await self.db.write(work)
        row = await self.db.log_fetchall(
            f"SELECT {_CURSOR_COLUMNS} FROM delivery_cursors WHERE target = ?", (target,)
        )
        return DeliveryCursor(*row[0]) if row else None

    async def delivery_cursors(self) -> list[DeliveryCursor]:
        rows = await self.db.log_fetchall(
            f"SELECT {_CURSOR_COLUMNS} FROM delivery_cursors ORDER BY target"
        )
        return [DeliveryCursor(*row) for row in rows]

    async def save_delivery_cursor(self, cursor: DeliveryCursor) -> None:
        async def work(tx: Transaction) -> None:
            await tx.fetchall(
                "INSERT INTO delivery_cursors (target, change_id, attempts, next_attempt_at,"
                " last_error, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (target) DO UPDATE"
                " SET change_id = max(change_id, excluded.change_id), attempts = excluded.attempts,"
                " next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error,"
                " updated_at = excluded.updated_at",
                (cursor.target, cursor.change_id, cursor.attempts, cursor.next_attempt_at,
                 cursor.last_error, time.time()),
            )  # fmt: skip

        await self.db.write(work)


class Retractions:
    db: Connections

    async def retractions(
        self, scope: Scope, *, since: datetime, now: datetime, limit: int
    ) -> list[Retraction]:
        if scope.kind is ScopeKind.MONTH:
            return []
        where, params = "", []
        if scope.kind is not ScopeKind.ALL:
            field = "$.rubrics" if scope.kind is ScopeKind.RUBRIC else "$.tags"
            where = f" AND EXISTS (SELECT 1 FROM json_each(c.before, '{field}') WHERE value = ?)"
            params = [scope.key]
        # The change that made a visible article go away (a delete, or a write that left it
        # unpublished), of an article still not visible now; its placement is the one readers saw.
        rows = await self.db.fetchall(
            "SELECT c.key, c.at, c.before FROM changes c INDEXED BY changes_by_at"
            " WHERE c.at >= ? AND c.at <= ? AND c.kind IN ('article', 'article-delete')"
            " AND json_extract(c.before, '$.status') = 'published'"
            " AND json_extract(c.before, '$.published_at') <= c.at"
            " AND (c.after IS NULL OR json_extract(c.after, '$.status') != 'published')"
            " AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = c.key"
            "   AND a.status = 'published' AND a.published_at <= ?)"
            f"{where} ORDER BY c.at DESC, c.id DESC",
            (to_epoch(since), to_epoch(now), to_epoch(now), *params),
        )
        return latest_per_article(rows, limit)
