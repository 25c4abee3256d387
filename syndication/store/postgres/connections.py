"""The async boundary to one PostgreSQL database: a small asyncpg pool of readers, a connection
for the writer and one for the change log (each a pool of one, which reconnects by itself), so
a long render never holds up a write, nor a cache's freshness check.

Every write transaction first takes the store's write lock (an advisory lock, held until
COMMIT): writers of every replica commit one at a time, in the order of their change ids, as
SQLite's one writer does, so a reader that has seen change N has seen every change before it.
At its end the writer reads the transaction's change rows back, adds the "terms" row, folds
them into the per-tag `stamps` (syndication.dependencies.stamp_tags, the one definition of
dependency tags) and announces the newest id with `pg_notify`, delivered at commit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from syndication.dependencies import stamp_tags
from syndication.store.base import StoreError
from syndication.store.freshness import CHANNEL
from syndication.store.postgres.errors import guarded
from syndication.store.postgres.schema import WRITE_LOCK, migrate
from syndication.timeutil import from_epoch, month_bounds, month_key, to_epoch

Row = tuple[Any, ...]
# A connection of the pool, as `Pool.acquire` hands it out.
Conn: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
T = TypeVar("T")

# The channel the writers notify is the one `freshness.ChangeListener` listens on.
NOTIFY_CHANNEL = CHANNEL
_HEAD = "SELECT coalesce(max(id), 0) FROM changes"  # the change log's newest id
STAMP_ALL = "log"  # raised by every change row (as in the SQLite store)
# How long a statement may run before the server cancels it: a hung query must end in a 503.
_STATEMENT_TIMEOUT_MS = 120_000


@dataclass
class Notes:
    """What one write transaction did, read back from its change rows at its end."""

    created: int = 0
    replaced: int = 0
    last_change: int = 0
    flipped: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class _Pinned:
    """The connection a snapshot holds; its lock keeps two tasks inside the snapshot from
    talking to it at once (asyncpg allows one operation per connection at a time)."""

    conn: Conn
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Connections:
    def __init__(self, dsn: str, zone: ZoneInfo, *, readers: int = 3) -> None:
        self.dsn = dsn
        self.zone = zone
        self._readers = readers
        self._pool: asyncpg.Pool | None = None
        self._writer: asyncpg.Pool | None = None
        self._log: asyncpg.Pool | None = None
        # One writer at a time per process; the advisory lock orders the processes.
        self._write_lock = asyncio.Lock()
        self._pinned: ContextVar[_Pinned | None] = ContextVar(f"pinned-pg-{id(self)}", default=None)
        # The newest change id this process wrote or read: `change_hint`.
        self.hint = 0
        # The change-head query's own connection (see `head`).
        self._head_conn: asyncpg.Connection | None = None
        self._server_settings: dict[str, str] = {}

    # --- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        settings = {"statement_timeout": str(_STATEMENT_TIMEOUT_MS), "timezone": "UTC"}
        self._server_settings = settings
        with guarded():
            conn = await asyncpg.connect(self.dsn, server_settings=settings)
            try:
                await migrate(conn, zone=self.zone)
            finally:
                await conn.close()
            # Readers connect as they are needed, up to the pool's size.
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self._readers,
                server_settings=settings,
                reset=_end_transaction,
            )
            self._writer = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=1, server_settings=settings, reset=_end_transaction
            )
            self._log = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=1, server_settings=settings, reset=_end_transaction
            )
            self.hint = max(self.hint, await self.last_change_id())

    async def close(self) -> None:
        pools = [p for p in (self._pool, self._writer, self._log) if p is not None]
        self._pool = self._writer = self._log = None
        head, self._head_conn = self._head_conn, None
        if head is not None:
            await head.close(timeout=5)
        for pool in pools:
            await pool.close()

    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("store is not open")
        return self._pool

    # --- reads --------------------------------------------------------------------------------
    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        """Every read inside (the change log's excepted) from one REPEATABLE READ READ ONLY
        transaction on one pooled connection: one state of the store, whatever commits
        meanwhile. Nested, it is the outer one."""
        if self._pinned.get() is not None:
            yield
            return
        pool = self.pool()
        with guarded():
            conn = await pool.acquire()
        try:
            with guarded():
                await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            token = self._pinned.set(_Pinned(conn))
            try:
                yield
            finally:
                self._pinned.reset(token)
                # Shielded: a cancelled render must not return the connection mid-transaction.
                if not conn.is_closed():
                    with guarded():
                        await asyncio.shield(conn.execute("COMMIT"))
        finally:
            await pool.release(conn)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        args = tuple(params)
        with guarded():
            pinned = self._pinned.get()
            if pinned is not None:
                async with pinned.lock:
                    rows = await pinned.conn.fetch(sql, *args)
            else:
                rows = await self.pool().fetch(sql, *args)
        return [tuple(r) for r in rows]

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def log_fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """A query of the change log, on the connection that only the change log uses."""
        if self._log is None:
            raise StoreError("store is not open")
        with guarded():
            rows = await self._log.fetch(sql, *params)
        return [tuple(r) for r in rows]

    async def last_change_id(self) -> int:
        rows = await self.log_fetchall(_HEAD)
        last = int(rows[0][0])
        self.hint = max(self.hint, last)
        return last

    async def head(self) -> int:
        """`last_change_id` on a connection of its own, without a pool's hand-over: a replica's
        every request waits for this query (shared by the requests that arrive meanwhile)."""
        with guarded():
            conn = self._head_conn
            if conn is None or conn.is_closed():
                conn = self._head_conn = await asyncpg.connect(
                    self.dsn, server_settings=self._server_settings, timeout=10
                )
            try:
                last = int(await conn.fetchval(_HEAD))
            except BaseException:
                # Whatever went wrong, the next query starts on a new connection.
                self._head_conn = None
                conn.terminate()
                raise
        self.hint = max(self.hint, last)
        return last

    # --- writes -------------------------------------------------------------------------------
    async def write(self, work: Callable[[Transaction], Awaitable[T]]) -> tuple[T, Notes]:
        """Run `work` in one transaction under the write lock; its result and the notes.

        The transaction runs as a task of its own: a caller that is cancelled stops waiting,
        but the transaction is never cut between its statements."""
        return await asyncio.shield(asyncio.ensure_future(self._write(work)))

    async def _write(self, work: Callable[[Transaction], Awaitable[T]]) -> tuple[T, Notes]:
        pool = self._writer
        if pool is None:
            raise StoreError("store is not open")
        async with self._write_lock:
            with guarded():
                async with pool.acquire() as conn, conn.transaction():
                    start = int(await conn.fetchval("SELECT begin_write($1)", WRITE_LOCK))
                    tx = Transaction(conn, self.zone)
                    result = await work(tx)
                    notes = await tx.finish(start)
        self.hint = max(self.hint, notes.last_change)
        return result, notes


async def _end_transaction(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """What a connection needs before it goes back to its pool. asyncpg's default reset (UNLISTEN,
    RESET ALL, advisory unlock, CLOSE ALL) is a round trip on every release, that is on every
    read and every write; these connections keep no session state (no SET, LISTEN, session
    lock or cursor), so only a transaction left open by a failure is ended."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class Transaction:
    """One pooled connection inside one write transaction, the write lock held."""

    def __init__(self, conn: Conn, zone: ZoneInfo) -> None:
        self.conn = conn
        self.zone = zone

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return [tuple(r) for r in await self.conn.fetch(sql, *params)]

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        await self.conn.executemany(sql, [tuple(r) for r in rows])

    async def finish(self, start: int) -> Notes:
        """What this transaction's change rows (those after `start`) say: counts, the terms and
        months that appeared or vanished (a "terms" row), the stamps; then NOTIFY."""
        rows = await self.fetchall(
            "SELECT id, at, kind, key, before::text, after::text FROM changes"
            " WHERE id > $1 ORDER BY id",
            (start,),
        )
        notes = Notes()
        if not rows:
            await self.notify(start)
            return notes
        notes.created = sum(1 for r in rows if r[2] == "article" and r[4] is None)
        notes.last_change = int(rows[-1][0])
        flipped = await self._flipped(rows)
        now = int(time.time())
        if flipped:
            notes.flipped = flipped
            text = orjson.dumps(flipped).decode()
            change_id = int(
                await self.conn.fetchval(
                    "INSERT INTO changes (at, kind, key, before, after)"
                    " VALUES ($1, 'terms', '', NULL, $2::jsonb) RETURNING id",
                    now,
                    text,
                )
            )
            rows.append((change_id, now, "terms", "", None, text))
            notes.last_change = change_id
        await self._fold_stamps(rows, now, notes.last_change)
        return notes

    async def notify(self, last: int) -> None:
        await self.conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, str(last))

    async def _fold_stamps(self, rows: list[Row], now: int, last: int) -> None:
        """Each dependency tag the rows raise: the newest change id, and an instant no earlier
        than the fold, the transaction's last work before COMMIT (a Last-Modified derived from
        it must be later than any response sent before the commit; see cache.STAMP_MARGIN).
        NOTIFY goes in the same statement (a data-modifying WITH runs whatever the query reads):
        one round trip fewer a write."""
        stamps: dict[str, tuple[int, int]] = {}
        for change_id, at, kind, key, before, after in rows:
            for dep in (STAMP_ALL, *orjson.loads(stamp_tags(kind, key, before, after, self.zone))):
                was_at, _ = stamps.get(dep, (now, 0))
                stamps[dep] = (max(was_at, int(at)), int(change_id))
        deps = sorted(stamps)
        await self.conn.execute(
            "WITH folded AS (INSERT INTO stamps (dep, at, change_id)"
            " SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])"
            " ON CONFLICT (dep) DO UPDATE SET at = greatest(stamps.at, excluded.at),"
            " change_id = greatest(stamps.change_id, excluded.change_id))"
            " SELECT pg_notify($4, $5)",
            deps,
            [stamps[d][0] for d in deps],
            [stamps[d][1] for d in deps],
            NOTIFY_CHANNEL,
            str(last),
        )

    async def _flipped(self, rows: list[Row]) -> dict[str, list[str]]:
        """Rubrics, tags and months that gained their first or lost their last published
        article in this transaction (scheduled ones count, as the SQLite store's buckets do).

        The net change of each one's count is the sum over the transaction's rows of (in the
        state after) - (in the state before); the count now, read up to that change plus one,
        tells whether it was zero before or is zero now."""
        delta: dict[tuple[str, str], int] = {}
        for _, _, kind, _, before, after in rows:
            if kind not in ("article", "article-delete"):
                continue
            for text, sign in ((before, -1), (after, 1)):
                state = orjson.loads(text) if text else None
                if not state or state.get("status") != "published":
                    continue
                keys = [("rubrics", r) for r in state["rubrics"]]
                keys += [("tags", t) for t in state["tags"]]
                keys.append(("months", month_key(from_epoch(state["published_at"]), self.zone)))
                for k in keys:
                    delta[k] = delta.get(k, 0) + sign
        moved = {k: d for k, d in delta.items() if d}
        if not moved:
            return {}
        keys = sorted(moved)
        limits = [max(moved[k], 0) + 1 for k in keys]
        los, his = [], []
        for kind, key in keys:
            lo, hi = month_bounds(key, self.zone) if kind == "months" else (None, None)
            los.append(to_epoch(lo) if lo else 0)
            his.append(to_epoch(hi) if hi else 0)
        counted = await self.fetchall(
            "SELECT u.i, CASE u.kind"
            " WHEN 'rubrics' THEN (SELECT count(*) FROM (SELECT 1 FROM article_rubrics l"
            "   WHERE l.rubric = u.key AND l.published LIMIT u.lim) x)"
            " WHEN 'tags' THEN (SELECT count(*) FROM (SELECT 1 FROM article_tags l"
            "   WHERE l.tag_id = (SELECT id FROM tags WHERE slug = u.key) AND l.published"
            "   LIMIT u.lim) x)"
            " ELSE (SELECT count(*) FROM (SELECT 1 FROM articles a WHERE a.status = 'published'"
            "   AND a.published_at >= u.lo AND a.published_at < u.hi LIMIT u.lim) x) END"
            " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])"
            " WITH ORDINALITY u (kind, key, lim, lo, hi, i)",
            (
                [k for k, _ in keys],
                [v for _, v in keys],
                limits,
                los,
                his,
            ),
        )
        flipped: dict[str, list[str]] = {}
        for i, count in counted:
            kind, key = keys[int(i) - 1]
            now_present = int(count) > 0
            was_present = int(count) - moved[(kind, key)] > 0
            if now_present != was_present:
                flipped.setdefault(kind, []).append(key)
        return {kind: sorted(found) for kind, found in sorted(flipped.items())}


def to_json(value: Any) -> str:
    return orjson.dumps(value).decode()


# Fewer rows than this are turned into objects on the event loop: the thread hop costs more.
INLINE_ROWS = 64


async def build_objects(rows: int, build: Callable[[], T]) -> T:
    """`build()`, which turns `rows` result rows into objects: in a thread when there are many."""
    if rows < INLINE_ROWS:
        return build()
    return await asyncio.to_thread(build)
