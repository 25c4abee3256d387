"""The change log as readers see it, the per-tag stamps, and the push targets' delivery
cursors."""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import datetime

import orjson

from syndication.model import Change, Retraction, Scope, ScopeKind
from syndication.store.base import DeliveryCursor
from syndication.store.postgres.connections import Connections, Transaction, to_json
from syndication.store.retractions import latest_per_article
from syndication.timeutil import from_epoch, to_epoch

_CURSOR_COLUMNS = "target, change_id, attempts, next_attempt_at, last_error, updated_at"


class ChangeLog:
    db: Connections

    async def last_change_id(self) -> int:
        return await self.db.last_change_id()

    def change_hint(self) -> int:
        # The newest id this process wrote or read; other processes' writes are seen through
        # `last_change_id` (a LISTEN connection can raise it without a query).
        return self.db.hint

    async def changes_since(self, change_id: int, *, limit: int = 10_000) -> list[Change]:
        rows = await self.db.log_fetchall(
            "SELECT id, at, kind, key, before::text, after::text FROM changes WHERE id > $1"
            " ORDER BY id LIMIT $2",
            (change_id, limit),
        )
        if rows:
            self.db.hint = max(self.db.hint, int(rows[-1][0]))
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
            "SELECT max(at) FROM stamps WHERE dep = ANY ($1::text[])", (sorted(deps),)
        )
        return from_epoch(row[0]) if row and row[0] is not None else None

    async def month_stamps(self) -> dict[str, datetime]:
        rows = await self.db.fetchall(
            "SELECT substr(dep, 7), at FROM stamps WHERE dep > 'month:' AND dep < 'month;'"
        )
        return {month: from_epoch(at) for month, at in rows}

    async def settings_stamp(self, digest: str) -> datetime:
        async def work(tx: Transaction) -> int:
            # Under the write lock: two replicas starting together agree on one instant.
            rows = await tx.fetchall("SELECT value FROM meta WHERE key = 'settings'")
            if rows:
                recorded = orjson.loads(rows[0][0])
                if recorded.get("digest") == digest:
                    return int(recorded["at"])
            now = int(time.time())
            await tx.fetchall(
                "INSERT INTO meta (key, value) VALUES ('settings', $1)"
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
                # Under the write lock, so no change can slip between "the end of the log" and
                # the new cursor.
                await tx.fetchall(
                    "INSERT INTO delivery_cursors (target, change_id, updated_at)"
                    " VALUES ($1, (SELECT coalesce(max(id), 0) FROM changes), $2)"
                    " ON CONFLICT (target) DO NOTHING",
                    (target, time.time()),
                )

            await self.db.write(work)
        rows = await self.db.log_fetchall(
            f"SELECT {_CURSOR_COLUMNS} FROM delivery_cursors WHERE target = $1", (target,)
        )
        return DeliveryCursor(*rows[0]) if rows else None

    async def delivery_cursors(self) -> list[DeliveryCursor]:
        rows = await self.db.log_fetchall(
            f"SELECT {_CURSOR_COLUMNS} FROM delivery_cursors ORDER BY target"
        )
        return [DeliveryCursor(*row) for row in rows]

    async def save_delivery_cursor(self, cursor: DeliveryCursor) -> None:
        async def work(tx: Transaction) -> None:
            await tx.fetchall(
                "INSERT INTO delivery_cursors (target, change_id, attempts, next_attempt_at,"
                " last_error, updated_at) VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (target) DO UPDATE SET"
                " change_id = greatest(delivery_cursors.change_id, excluded.change_id),"
                " attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at,"
                " last_error = excluded.last_error, updated_at = excluded.updated_at",
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
        params: list[object] = [to_epoch(since), to_epoch(now)]
        where = ""
        if scope.kind is not ScopeKind.ALL:
            field = "rubrics" if scope.kind is ScopeKind.RUBRIC else "tags"
            where = f" AND c.before->'{field}' ? $3"
            params.append(scope.key)
        # As the SQLite store: the change that made a visible article go away, of an article
        # still not visible now; its placement is the one readers saw.
        rows = await self.db.fetchall(
            "SELECT c.key, c.at, c.before::text FROM changes c"
            " WHERE c.at >= $1 AND c.at <= $2 AND c.kind IN ('article', 'article-delete')"
            " AND c.before->>'status' = 'published'"
            " AND (c.before->>'published_at')::bigint <= c.at"
            " AND (c.after IS NULL OR c.after->>'status' IS DISTINCT FROM 'published')"
            " AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = c.key"
            "   AND a.status = 'published' AND a.published_at <= $2)"
            f"{where} ORDER BY c.at DESC, c.id DESC",
            params,
        )
        return latest_per_article(rows, limit)
