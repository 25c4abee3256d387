"""The async boundary to one SQLite file: one writer, a small pool of readers, and a reader of
its own for the change log.

Each call is one statement, one round trip to the connection's thread (`execute_fetchall`): a
write is a handful of set-based statements (the schema's triggers do the rest), a read is one or
two. Readers come from a pool, so a long render holding one never delays a short query; the
change log has a connection nothing else uses, so a cache's freshness check never queues behind
a render.
"""

from __future__ import annotations

import asyncio
import fcntl
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import aiosqlite
import orjson

from syndication.store.base import StoreError
from syndication.store.counter import ChangeCounter
from syndication.store.sqlite.schema import (
    fold_stamps_sql,
    migrate,
    rebuild_statistics,
    stamp_function,
    stored_zone,
)

Row = tuple[Any, ...]
T = TypeVar("T")

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    # NORMAL is durable across process crashes in WAL mode; only an OS crash may lose the newest
    # transactions, never consistency.
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA temp_store = MEMORY",
)
# How long a statement waits for another process's lock. A bulk request is all or nothing, so it
# holds SQLite's one write lock while it inserts (a 100,000-line bulk: several seconds); a writer
# in another worker queues behind it rather than failing. Readers never wait in WAL mode except
# on a checkpoint's brief lock.
_WRITER_BUSY_MS = 120_000
_READER_BUSY_MS = 10_000
# SQLite's own page cache, per connection (KiB). Five connections a worker multiply it, and the
# OS page cache already holds the file: readers keep little, the writer (index pages it updates
# on every write) more. Counted by bench/serve.py's crawl row.
_WRITER_CACHE_KIB = 16_000
_READER_CACHE_KIB = 4_000


@dataclass
class Notes:
    """What one write transaction did, as its triggers noted it (see schema step 6)."""

    created: int = 0
    replaced: int = 0
    last_change: int = 0
    # kind ("rubrics", "tags", "months") -> keys that appeared or vanished
    flipped: dict[str, list[str]] = field(default_factory=dict)


class Connections:
    def __init__(self, path: Path, zone: ZoneInfo, *, readers: int = 3) -> None:
        self.path = path
        self.zone = zone
        self._readers = readers
        self._writer: aiosqlite.Connection | None = None
        self._log: aiosqlite.Connection | None = None
        self._pool: asyncio.Queue[aiosqlite.Connection] | None = None
        self._all: list[aiosqlite.Connection] = []
        # One connection writes; the lock keeps two coroutines' statements from interleaving in
        # one transaction. Other processes wait on SQLite's own lock (busy_timeout).
        self._write_lock = asyncio.Lock()
        self.counter: ChangeCounter | None = None
        # The reader a `snapshot()` holds for the coroutines (and tasks) running inside it.
        self._pinned: ContextVar[aiosqlite.Connection | None] = ContextVar(
            f"pinned-reader-{id(self)}", default=None
        )

    # --- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._migrate)
        # The writer's transactions begin implicitly with their first data-changing statement
        # (sqlite3 issues BEGIN IMMEDIATE in the same call): one round trip fewer a write.
        self._writer = await self._connect(_WRITER_CACHE_KIB, _WRITER_BUSY_MS, "IMMEDIATE")
        # For the trigger that folds a write's change rows into the stamps (schema step 7).
        await self._writer.create_function(
            "stamp_tags", 4, stamp_function(self.zone), deterministic=True
        )
        self._log = await self._connect(_READER_CACHE_KIB // 2, _READER_BUSY_MS)
        self._pool = asyncio.Queue()
        for _ in range(self._readers):
            self._pool.put_nowait(await self._connect(_READER_CACHE_KIB, _READER_BUSY_MS))
        self.counter = ChangeCounter(self.path.with_name(self.path.name + "-changes"))
        # A process killed between commit and bump leaves the counter behind: catch it up.
        self.counter.advance(await self.last_change_id())

    def _migrate(self) -> None:
        # Worker processes open the store together: without this lock two of them can both read
        # version 0 and both run step 1 ("table rubrics already exists"), killing one worker.
        with self.path.with_name(self.path.name + "-migrate.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA busy_timeout = 10000")
                migrate(conn, zone=self.zone)
                if stored_zone(conn) != self.zone.key:
                    # Months are the site zone's: another zone cuts every month elsewhere.
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        rebuild_statistics(conn, self.zone)
                        conn.execute("COMMIT")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
            finally:
                conn.close()

    async def _connect(
        self, cache_kib: int, busy_ms: int, isolation_level: str | None = None
    ) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=isolation_level)
        pragmas = (
            *_PRAGMAS,
            f"PRAGMA cache_size = -{cache_kib}",
            f"PRAGMA busy_timeout = {busy_ms}",
        )
        for pragma in pragmas:
            await conn.execute(pragma)
        self._all.append(conn)
        return conn

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()
        self._all.clear()
        self._writer = self._log = self._pool = None
        if self.counter is not None:
            self.counter.close()
            self.counter = None

    # --- reads --------------------------------------------------------------------------------
    @asynccontextmanager
    async def reader(self) -> AsyncIterator[aiosqlite.Connection]:
        pinned = self._pinned.get()
        if pinned is not None:
            yield pinned
            return
        if self._pool is None:
            raise StoreError("store is not open")
        conn = await self._pool.get()
        try:
            yield conn
        finally:
            self._pool.put_nowait(conn)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        """Every read inside (the change log's excepted) from one read transaction: one state
        of the store, whatever commits meanwhile (WAL readers never wait for the writer). It
        holds one pooled reader for its length. Nested, it is the outer one."""
        if self._pinned.get() is not None:
            yield
            return
        async with self.reader() as conn:
            await conn.execute("BEGIN")
            token = self._pinned.set(conn)
            try:
                yield
            finally:
                self._pinned.reset(token)
                # Shielded: a cancelled render must not leave the pooled reader in a transaction.
                await asyncio.shield(conn.execute("COMMIT"))

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self.reader() as conn:
            return await _fetchall(conn, sql, params)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def log_fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """A query of the change log, on the connection that only the change log uses."""
        if self._log is None:
            raise StoreError("store is not open")
        return await _fetchall(self._log, sql, params)

    async def last_change_id(self) -> int:
        rows = await self.log_fetchall("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
        return int(rows[0][0]) if rows else 0

    # --- writes -------------------------------------------------------------------------------
    async def write(self, work: Callable[[Transaction], Awaitable[T]]) -> tuple[T, Notes]:
        """Run `work` in one transaction; its result and the write's notes.

        The transaction begins (`BEGIN IMMEDIATE`) with the first statement that changes data:
        reads before it see committed rows only. Call `Transaction.begin` first when they must
        be part of it.

        The transaction runs as a task of its own: a caller that is cancelled (a client hanging
        up) stops waiting, but the transaction is never cut between its statements, which would
        leave the shared writer connection inside it.
        """
        return await asyncio.shield(asyncio.ensure_future(self._write(work)))

    async def _write(self, work: Callable[[Transaction], Awaitable[T]]) -> tuple[T, Notes]:
        if self._writer is None:
            raise StoreError("store is not open")
        db = self._writer
        async with self._write_lock:
            try:
                tx = Transaction(db)
                result = await work(tx)
                notes = await tx.finish()
                if db.in_transaction:
                    await db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    await db.execute("ROLLBACK")
                raise
        if self.counter is not None and notes.last_change:
            self.counter.advance(notes.last_change)
        return result, notes


_FOLD_STAMPS = fold_stamps_sql()


class Transaction:
    """The writer connection inside one transaction."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    async def begin(self) -> None:
        """Begin now, so that the reads that follow are part of the transaction."""
        await self.db.execute("BEGIN IMMEDIATE")

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return await _fetchall(self.db, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        await self.db.executemany(sql, rows)

    async def finish(self) -> Notes:
        """Read and empty what the triggers noted; record appeared/vanished terms and months."""
        notes = Notes()
        for kind, key, was, now in await self.fetchall(
            "DELETE FROM tx_notes RETURNING kind, key, was, now"
        ):
            if kind == "count":
                setattr(notes, key, int(now))
            elif kind == "change":
                notes.last_change = int(now)
            elif was != now:
                notes.flipped.setdefault(kind, []).append(key)
        if notes.flipped:
            # Documents that list rubrics, tags or months (OPML, the index page, archive links)
            # change only when one appears or disappears: one "terms" row says which.
            flipped = {kind: sorted(keys) for kind, keys in sorted(notes.flipped.items())}
            notes.flipped = flipped
            rows = await self.fetchall(
                "INSERT INTO changes (at, kind, key, before, after)"
                " VALUES (CAST(strftime('%s', 'now') AS INTEGER), 'terms', '', NULL, json(?))"
                " RETURNING id",
                (to_json(flipped),),
            )
            notes.last_change = int(rows[0][0])
            # Reading the notes folded the article rows into the stamps (a trigger); this row
            # came after. In the same transaction: Last-Modified never lags the bytes.
            await self.fetchall(_FOLD_STAMPS)
        return notes


async def _fetchall(conn: aiosqlite.Connection, sql: str, params: Iterable[Any]) -> list[Row]:
    return [tuple(r) for r in await conn.execute_fetchall(sql, tuple(params))]


def to_json(value: Any) -> str:
    """A JSON text parameter, for `json_each(?)` and the JSON columns."""
    return orjson.dumps(value).decode()


# Fewer rows than this are turned into objects on the event loop: the thread hop costs more.
INLINE_ROWS = 64


async def build_objects(rows: int, build: Callable[[], T]) -> T:
    """`build()`, which turns `rows` result rows into objects: in a thread when there are many
    (500 articles or a 5,000-row sitemap batch are ~15 ms of datetimes and dataclasses)."""
    if rows < INLINE_ROWS:
        return build()
    return await asyncio.to_thread(build)
