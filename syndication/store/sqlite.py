"""The embedded default store: one SQLite file in WAL mode, reached through aiosqlite.

One connection writes (behind an asyncio lock, so each write is one `BEGIN IMMEDIATE` transaction);
another reads, which WAL lets run beside the writer without blocking.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import sqlite3
import sys
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import aiosqlite
import orjson

from syndication.model import (
    Article,
    ArticleIn,
    Change,
    Image,
    MonthStat,
    Rubric,
    Scope,
    ScopeKind,
    Status,
    Tag,
    TagKind,
    TagRef,
    TermStat,
    UrlRow,
    WriteResult,
)
from syndication.slugs import slugify, with_suffix
from syndication.store.base import DeliveryCursor, StoreError
from syndication.store.counter import ChangeCounter
from syndication.store.migrations import migrate
from syndication.timeutil import from_epoch, month_bounds, month_key, to_epoch

_ARTICLE_COLUMNS = (
    "id, title, url, summary, content_html, published_at, updated_at, author, image_url, "
    "image_type, image_length, image_caption, status, modified_at"
)
_UPSERT_ARTICLE = f"""
INSERT INTO articles ({_ARTICLE_COLUMNS}, raw, sitemap_bytes)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    title = excluded.title, url = excluded.url, summary = excluded.summary,
    content_html = excluded.content_html, published_at = excluded.published_at,
    updated_at = excluded.updated_at, author = excluded.author, image_url = excluded.image_url,
    image_type = excluded.image_type, image_length = excluded.image_length,
    image_caption = excluded.image_caption, status = excluded.status,
    modified_at = excluded.modified_at, raw = excluded.raw,
    sitemap_bytes = excluded.sitemap_bytes
"""
# SQLite's default limit on host parameters is 32766; stay well under it.
_CHUNK = 500
_TAG_SLUG_ATTEMPTS = 1000


def escaped_size(*texts: str) -> int:
    """UTF-8 bytes of `texts` once XML-escaped, at most: & < > and CR each grow to 5 bytes."""
    total = 0
    for text in texts:
        total += len(text.encode()) + 4 * sum(text.count(c) for c in "&<>\r")
    return total


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


T = TypeVar("T")


async def _as_async(items: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


P = ParamSpec("P")


def _runs_to_completion(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """A write that its caller can abandon but not interrupt.

    Cancelling a request (a client that hangs up) must not cut a transaction between statements
    or abandon an aiosqlite COMMIT half-way: the shared writer connection would be left inside a
    transaction. The write runs as its own task; a cancelled caller stops waiting, the write
    finishes (or rolls back) on its own.
    """

    @functools.wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.shield(asyncio.ensure_future(method(*args, **kwargs)))

    return run


@dataclass
class _Presence:
    """Whether each rubric/tag/month touched by a transaction had published articles before it."""

    before: dict[str, dict[str, bool]] = field(
        default_factory=lambda: {"rubrics": {}, "tags": {}, "months": {}}
    )


class SQLiteStore:
    def __init__(self, path: str | Path, zone: ZoneInfo) -> None:
        self.path = Path(path)
        self.zone = zone
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._counter: ChangeCounter | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._migrate)
        self._writer = await self._connect()
        self._reader = await self._connect()
        self._counter = ChangeCounter(self.path.with_name(self.path.name + "-changes"))
        # A process killed between commit and bump leaves the counter behind: catch it up.
        self._counter.advance(await self._last_id(self._reader))

    def _migrate(self) -> None:
        # Worker processes open the store together: without this lock two of them can both read
        # version 0 and both run step 1 ("table rubrics already exists"), killing one worker.
        # The version is read under the lock, so the second finds the work done.
        with self.path.with_name(self.path.name + "-migrate.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA busy_timeout = 10000")
                migrate(conn)
            finally:
                conn.close()

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        # NORMAL is durable across process crashes in WAL mode; only an OS crash may lose the
        # newest transactions, never consistency.
        for pragma in (
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA foreign_keys = ON",
            "PRAGMA busy_timeout = 10000",
            "PRAGMA cache_size = -32000",
            "PRAGMA temp_store = MEMORY",
        ):
            await conn.execute(pragma)
        return conn

    async def close(self) -> None:
        for conn in (self._writer, self._reader):
            if conn is not None:
                await conn.close()
        self._writer = self._reader = None
        if self._counter is not None:
            self._counter.close()
            self._counter = None

    @property
    def _w(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise StoreError("store is not open")
        return self._writer

    @property
    def _r(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreError("store is not open")
        return self._reader

    async def ping(self) -> None:
        try:
            await (await self._r.execute("SELECT 1")).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    # --- writes -------------------------------------------------------------------------------
    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; on commit, the shared change counter learns the newest id."""
        async with self._write_lock:
            db = self._w
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                await db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    await db.execute("ROLLBACK")
                raise
            self._counter_advance(await self._last_id(db))

    def _counter_advance(self, change_id: int) -> None:
        if self._counter is not None:
            self._counter.advance(change_id)

    def change_hint(self) -> int:
        return self._counter.get() if self._counter is not None else 0

    @_runs_to_completion
    async def put_articles(
        self, articles: Iterable[ArticleIn] | AsyncIterable[ArticleIn]
    ) -> WriteResult:
        created = replaced = change_id = 0
        async with self._transaction() as db:
            presence = _Presence()
            batch: list[ArticleIn] = []
            async for article in _as_async(articles):
                batch.append(article)
                if len(batch) >= _CHUNK:
                    c, r, change_id = await self._write_batch(db, batch, presence)
                    created, replaced = created + c, replaced + r
                    batch = []
            if batch:
                c, r, change_id = await self._write_batch(db, batch, presence)
                created, replaced = created + c, replaced + r
            change_id = await self._record_presence(db, presence) or change_id
        return WriteResult(created=created, replaced=replaced, change_id=change_id)

    # --- presence: which rubrics, tags and months have published articles -------------------
    # Documents that list rubrics, tags or months (OPML, the index page, archive links) change
    # only when one of those appears or disappears; the change log says so in a "terms" row.
    async def _note_presence(
        self, db: aiosqlite.Connection, presence: _Presence, states: Iterable[dict[str, Any]]
    ) -> None:
        fresh: dict[str, set[str]] = {"rubrics": set(), "tags": set(), "months": set()}
        for state in states:
            fresh["rubrics"].update(state["rubrics"])
            fresh["tags"].update(state["tags"])
            fresh["months"].add(month_key(from_epoch(state["published_at"]), self.zone))
        for kind, keys in fresh.items():
            new = keys - presence.before[kind].keys()
            if new:
                present = await self._present(db, kind, new)
                presence.before[kind].update({k: k in present for k in new})

    async def _present(self, db: aiosqlite.Connection, kind: str, keys: set[str]) -> set[str]:
        if kind == "rubrics":
            sql = (
                "SELECT value FROM json_each(?) WHERE EXISTS (SELECT 1 FROM article_rubrics"
                " INDEXED BY article_rubrics_stats WHERE published = 1 AND rubric = value)"
            )
            arg = orjson.dumps(sorted(keys))
        elif kind == "tags":
            sql = (
                "SELECT value FROM json_each(?) WHERE EXISTS (SELECT 1 FROM tags t"
                " JOIN article_tags l INDEXED BY article_tags_stats ON l.tag_id = t.id"
                " WHERE t.slug = value AND l.published = 1)"
            )
            arg = orjson.dumps(sorted(keys))
        else:
            sql = (
                "SELECT json_extract(value, '$[0]') FROM json_each(?) WHERE EXISTS (SELECT 1"
                " FROM articles WHERE status = 'published'"
                " AND published_at >= json_extract(value, '$[1]')"
                " AND published_at < json_extract(value, '$[2]'))"
            )
            bounds = []
            for key in sorted(keys):
                start, end = month_bounds(key, self.zone)
                bounds.append([key, to_epoch(start), to_epoch(end)])
            arg = orjson.dumps(bounds)
        async with db.execute(sql, (arg.decode(),)) as cur:
            return {row[0] for row in await cur.fetchall()}

    async def _record_presence(self, db: aiosqlite.Connection, presence: _Presence) -> int | None:
        flipped: dict[str, list[str]] = {}
        for kind, before in presence.before.items():
            if not before:
                continue
            now_present = await self._present(db, kind, set(before))
            changed = sorted(k for k, was in before.items() if was != (k in now_present))
            if changed:
                flipped[kind] = changed
        if not flipped:
            return None
        await db.execute(
            "INSERT INTO changes (at, kind, key, before, after) VALUES (?, 'terms', '', NULL, ?)",
            (int(time.time()), _dump(flipped)),
        )
        return await self._last_id(db)

    async def _write_batch(
        self, db: aiosqlite.Connection, batch: list[ArticleIn], presence: _Presence
    ) -> tuple[int, int, int]:
        # A later line with the same id replaces an earlier one, as sequential PUTs would.
        unique = list({a.id: a for a in batch}.values())
        ids = [a.id for a in unique]
        before = await self._states(db, ids)
        tag_ids = await self._resolve_tags(db, [t for a in unique for t in a.tags])
        await self._ensure_rubrics(db, {r for a in unique for r in a.rubrics})
        after = {a.id: self._state_of(a, [tag_ids[t.name][1] for t in a.tags]) for a in unique}
        await self._note_presence(db, presence, [*before.values(), *after.values()])

        now = int(time.time())
        await db.executemany(_UPSERT_ARTICLE, [self._article_row(a, now) for a in unique])
        await db.execute(
            f"DELETE FROM article_rubrics WHERE article_id IN ({_marks(len(ids))})", ids
        )
        await db.execute(f"DELETE FROM article_tags WHERE article_id IN ({_marks(len(ids))})", ids)
        await db.executemany(
            "INSERT INTO article_rubrics (article_id, rubric, position, published_at, published,"
            " last_change) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (a.id, slug, i, *_link_facts(a))
                for a in unique
                for i, slug in enumerate(dict.fromkeys(a.rubrics))
            ],
        )
        await db.executemany(
            "INSERT INTO article_tags (article_id, tag_id, position, published_at, published,"
            " last_change) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (a.id, tag_id, i, *_link_facts(a))
                for a in unique
                for i, tag_id in enumerate(dict.fromkeys(tag_ids[t.name][0] for t in a.tags))
            ],
        )
        await db.executemany(
            "INSERT INTO changes (at, kind, key, before, after) VALUES (?, 'article', ?, ?, ?)",
            [
                (
                    now,
                    a.id,
                    _dump(before.get(a.id)),
                    _dump(after[a.id]),
                )
                for a in unique
            ],
        )
        change_id = await self._last_id(db)
        existed = sum(1 for i in ids if i in before)
        # Counted as sequential PUTs would be: a repeated id replaces what the batch created.
        return len(ids) - existed, existed + len(batch) - len(unique), change_id

    def _article_row(self, a: ArticleIn, now: int) -> tuple[Any, ...]:
        image = a.image
        return (
            a.id,
            a.title,
            a.url,
            a.summary,
            a.content_html,
            to_epoch(a.published_at),
            to_epoch(a.updated_at) if a.updated_at else None,
            a.author,
            image.url if image else None,
            image.type if image else None,
            image.length if image else None,
            image.caption if image else None,
            a.status.value,
            now,
            a.raw,
            escaped_size(a.url, image.url if image else "", (image.caption or "") if image else ""),
        )

    def _state_of(self, a: ArticleIn, tag_slugs: list[str]) -> dict[str, Any]:
        """What invalidation and notifications need to know of an article's placement."""
        return {
            "status": a.status.value,
            "published_at": to_epoch(a.published_at),
            "url": a.url,
            "rubrics": list(dict.fromkeys(a.rubrics)),
            "tags": list(dict.fromkeys(tag_slugs)),
        }

    async def _states(
        self, db: aiosqlite.Connection, ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        states: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            marks = _marks(len(chunk))
            async with db.execute(
                f"SELECT id, status, published_at, url FROM articles WHERE id IN ({marks})", chunk
            ) as cur:
                for row in await cur.fetchall():
                    states[row[0]] = {
                        "status": row[1],
                        "published_at": row[2],
                        "url": row[3],
                        "rubrics": [],
                        "tags": [],
                    }
            if not states:
                continue
            async with db.execute(
                f"SELECT article_id, rubric FROM article_rubrics WHERE article_id IN ({marks})"
                " ORDER BY article_id, position",
                chunk,
            ) as cur:
                for row in await cur.fetchall():
                    states[row[0]]["rubrics"].append(row[1])
            async with db.execute(
                f"SELECT at.article_id, t.slug FROM article_tags at JOIN tags t ON t.id = at.tag_id"
                f" WHERE at.article_id IN ({marks}) ORDER BY at.article_id, at.position",
                chunk,
            ) as cur:
                for row in await cur.fetchall():
                    states[row[0]]["tags"].append(row[1])
        return states

    async def _resolve_tags(
        self, db: aiosqlite.Connection, refs: Sequence[TagRef]
    ) -> dict[str, tuple[int, str]]:
        """Tag name → (id, slug), creating the tags that do not exist yet."""
        wanted = {ref.name: ref for ref in refs}
        found: dict[str, tuple[int, str]] = {}
        names = list(wanted)
        for chunk in _chunks(names):
            async with db.execute(
                f"SELECT name, id, slug FROM tags WHERE name IN ({_marks(len(chunk))})", chunk
            ) as cur:
                for name, tag_id, slug in await cur.fetchall():
                    found[name] = (tag_id, slug)
        for name in names:
            if name in found:
                continue
            ref = wanted[name]
            base = slugify(name) or "tag"
            for n in range(1, _TAG_SLUG_ATTEMPTS):
                slug = with_suffix(base, n)
                async with db.execute(
                    "INSERT INTO tags (slug, name, kind) VALUES (?, ?, ?)"
                    " ON CONFLICT (slug) DO NOTHING RETURNING id",
                    (slug, name, ref.kind.value),
                ) as cur:
                    row = await cur.fetchone()
                if row is not None:
                    found[name] = (int(row[0]), slug)
                    break
            else:  # pragma: no cover - a thousand names on one slug
                raise StoreError(f"no free slug for tag {name!r}")
        return found

    async def _ensure_rubrics(self, db: aiosqlite.Connection, slugs: set[str]) -> None:
        if not slugs:
            return
        # An article may name a rubric the CMS has not described yet; its slug is its title
        # until PUT /api/rubrics/{slug} says otherwise.
        await db.executemany(
            "INSERT INTO rubrics (slug, title, position) VALUES (?, ?, 1000)"
            " ON CONFLICT (slug) DO NOTHING",
            [(s, s) for s in sorted(slugs)],
        )

    async def _last_id(self, db: aiosqlite.Connection) -> int:
        async with db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    @_runs_to_completion
    async def delete_article(self, article_id: str) -> int | None:
        change_id: int | None = None
        async with self._transaction() as db:
            before = (await self._states(db, [article_id])).get(article_id)
            if before is not None:
                presence = _Presence()
                await self._note_presence(db, presence, [before])
                await db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
                await db.execute(
                    "INSERT INTO changes (at, kind, key, before, after)"
                    " VALUES (?, 'article-delete', ?, ?, NULL)",
                    (int(time.time()), article_id, _dump(before)),
                )
                change_id = await self._record_presence(db, presence) or await self._last_id(db)
        return change_id

    @_runs_to_completion
    async def put_rubric(self, rubric: Rubric) -> tuple[bool, int]:
        async with self._transaction() as db:
            old = await self._fetch_rubric(db, rubric.slug)
            if rubric.parent is not None:
                await self._ensure_rubrics(db, {rubric.parent})
            await db.execute(
                "INSERT INTO rubrics (slug, title, description, url, parent, position)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO UPDATE SET"
                " title = excluded.title, description = excluded.description,"
                " url = excluded.url, parent = excluded.parent, position = excluded.position",
                (rubric.slug, rubric.title, rubric.description, rubric.url, rubric.parent,
                 rubric.position),
            )  # fmt: skip
            await db.execute(
                "INSERT INTO changes (at, kind, key, before, after) VALUES (?, 'rubric', ?, ?, ?)",
                (
                    int(time.time()),
                    rubric.slug,
                    _dump(_rubric_state(old) if old else None),
                    _dump(_rubric_state(rubric)),
                ),
            )
            change_id = await self._last_id(db)
        return old is None, change_id

    # --- reads --------------------------------------------------------------------------------
    async def get_article(self, article_id: str) -> Article | None:
        async with self._r.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return (await self._hydrate(self._r, [tuple(row)]))[0]

    async def _hydrate(
        self, db: aiosqlite.Connection, rows: Sequence[tuple[Any, ...]]
    ) -> list[Article]:
        ids = [r[0] for r in rows]
        rubrics: dict[str, list[str]] = {i: [] for i in ids}
        tags: dict[str, list[Tag]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            marks = _marks(len(chunk))
            async with db.execute(
                f"SELECT article_id, rubric FROM article_rubrics WHERE article_id IN ({marks})"
                " ORDER BY position",
                chunk,
            ) as cur:
                for article_id, slug in await cur.fetchall():
                    rubrics[article_id].append(slug)
            async with db.execute(
                "SELECT at.article_id, t.slug, t.name, t.kind FROM article_tags at"
                f" JOIN tags t ON t.id = at.tag_id WHERE at.article_id IN ({marks})"
                " ORDER BY at.position",
                chunk,
            ) as cur:
                for article_id, slug, name, kind in await cur.fetchall():
                    tags[article_id].append(Tag(slug=slug, name=name, kind=TagKind(kind)))
        return [
            Article(
                id=r[0],
                title=r[1],
                url=r[2],
                summary=r[3],
                content_html=r[4],
                published_at=from_epoch(r[5]),
                updated_at=from_epoch(r[6]) if r[6] is not None else None,
                author=r[7],
                image=Image(url=r[8], type=r[9], length=r[10], caption=r[11]) if r[8] else None,
                status=Status(r[12]),
                modified_at=from_epoch(r[13]),
                rubrics=tuple(rubrics[r[0]]),
                tags=tuple(tags[r[0]]),
            )
            for r in rows
        ]

    async def _fetch_rubric(self, db: aiosqlite.Connection, slug: str) -> Rubric | None:
        async with db.execute(
            "SELECT slug, title, description, url, parent, position FROM rubrics WHERE slug = ?",
            (slug,),
        ) as cur:
            row = await cur.fetchone()
        return Rubric(*row) if row else None

    async def get_rubric(self, slug: str) -> Rubric | None:
        return await self._fetch_rubric(self._r, slug)

    async def get_tag(self, slug: str) -> Tag | None:
        async with self._r.execute(
            "SELECT slug, name, kind FROM tags WHERE slug = ?", (slug,)
        ) as cur:
            row = await cur.fetchone()
        return Tag(row[0], row[1], TagKind(row[2])) if row else None

    async def rubrics(self) -> list[Rubric]:
        async with self._r.execute(
            "SELECT slug, title, description, url, parent, position FROM rubrics"
            " ORDER BY position, slug"
        ) as cur:
            return [Rubric(*row) for row in await cur.fetchall()]

    async def tags(self) -> list[Tag]:
        async with self._r.execute("SELECT slug, name, kind FROM tags ORDER BY slug") as cur:
            return [Tag(row[0], row[1], TagKind(row[2])) for row in await cur.fetchall()]

    def _links(self, scope: Scope, now: datetime) -> tuple[str, list[Any]]:
        """FROM/WHERE over the visible links of a rubric or tag scope, aliased `l`.

        The link rows carry their article's publication facts (migration 5), so a rubric or tag
        is one range of the links' index, already in date order: no article row is read to
        filter, count or sort.
        """
        if scope.kind is ScopeKind.RUBRIC:
            return (
                "FROM article_rubrics l INDEXED BY article_rubrics_stats"
                " WHERE l.published = 1 AND l.rubric = ? AND l.published_at <= ?",
                [scope.key, to_epoch(now)],
            )
        return (
            "FROM article_tags l INDEXED BY article_tags_stats"
            " WHERE l.published = 1 AND l.tag_id = (SELECT id FROM tags WHERE slug = ?)"
            " AND l.published_at <= ?",
            [scope.key, to_epoch(now)],
        )

    def _articles_sql(self, scope: Scope, now: datetime) -> tuple[str, list[Any]]:
        """FROM/WHERE for the visible articles of all news or one month, aliased `a`."""
        visible = "a.status = 'published' AND a.published_at <= ?"
        params: list[Any] = [to_epoch(now)]
        if scope.kind is ScopeKind.ALL:
            return f"FROM articles a INDEXED BY articles_by_date WHERE {visible}", params
        start, end = month_bounds(scope.key, self.zone)
        return (
            f"FROM articles a INDEXED BY articles_by_date WHERE {visible}"
            " AND a.published_at >= ? AND a.published_at < ?",
            [*params, to_epoch(start), to_epoch(end)],
        )

    async def articles(
        self, scope: Scope, *, now: datetime, limit: int, offset: int = 0
    ) -> list[Article]:
        columns = ", ".join(f"a.{c.strip()}" for c in _ARTICLE_COLUMNS.split(","))
        if scope.kind in (ScopeKind.RUBRIC, ScopeKind.TAG):
            links, params = self._links(scope, now)
            # Page through the links' index first, then read only the page's article rows.
            sql = (
                f"SELECT {columns} FROM (SELECT l.article_id, l.published_at {links}"
                " ORDER BY l.published_at DESC, l.article_id DESC LIMIT ? OFFSET ?) p"
                " JOIN articles a ON a.id = p.article_id"
                " ORDER BY p.published_at DESC, p.article_id DESC"
            )
        else:
            where, params = self._articles_sql(scope, now)
            sql = (
                f"SELECT {columns} {where} ORDER BY a.published_at DESC, a.id DESC LIMIT ? OFFSET ?"
            )
        async with self._r.execute(sql, [*params, limit, offset]) as cur:
            rows = [tuple(r) for r in await cur.fetchall()]
        return await self._hydrate(self._r, rows)

    async def _aggregate(self, scope: Scope, now: datetime) -> tuple[int, int | None]:
        """(visible articles, newest published/updated epoch) of `scope`, from indexes only."""
        if scope.kind in (ScopeKind.RUBRIC, ScopeKind.TAG):
            links, params = self._links(scope, now)
            sql = f"SELECT count(*), max(l.last_change) {links}"
        else:
            where, params = self._articles_sql(scope, now)
            sql = f"SELECT count(*), max(coalesce(a.updated_at, a.published_at)) {where}"
        async with self._r.execute(sql, params) as cur:
            row = await cur.fetchone()
        return (int(row[0]), row[1]) if row else (0, None)

    async def count(self, scope: Scope, *, now: datetime) -> int:
        return (await self._aggregate(scope, now))[0]

    async def last_change(self, scope: Scope, *, now: datetime) -> datetime | None:
        newest = (await self._aggregate(scope, now))[1]
        return from_epoch(newest) if newest is not None else None

    async def aggregate(self, scope: Scope, *, now: datetime) -> tuple[int, datetime | None]:
        return await self.count(scope, now=now), await self.last_change(scope, now=now)

    async def months(self, *, now: datetime) -> list[MonthStat]:
        async with self._r.execute(
            "SELECT min(published_at), max(published_at) FROM articles"
            " WHERE status = 'published' AND published_at <= ?",
            (to_epoch(now),),
        ) as cur:
            row = await cur.fetchone()
        if row is None or row[0] is None:
            return []
        # Months of the site's zone (offsets change over the years), as index ranges.
        bounds = []
        key, last = (
            month_key(from_epoch(row[0]), self.zone),
            month_key(from_epoch(row[1]), self.zone),
        )
        while True:
            start, end = month_bounds(key, self.zone)
            bounds.append([key, to_epoch(start), to_epoch(end)])
            if key == last:
                break
            key = month_key(end, self.zone)
        async with self._r.execute(
            "SELECT json_extract(m.value, '$[0]') AS month, count(*),"
            " max(coalesce(a.updated_at, a.published_at))"
            " FROM json_each(?) m CROSS JOIN articles a INDEXED BY articles_by_date"
            " WHERE a.status = 'published'"
            " AND a.published_at >= json_extract(m.value, '$[1]')"
            " AND a.published_at < json_extract(m.value, '$[2]') AND a.published_at <= ?"
            " GROUP BY month ORDER BY month",
            (orjson.dumps(bounds).decode(), to_epoch(now)),
        ) as cur:
            return [
                MonthStat(month=r[0], count=int(r[1]), last_change=from_epoch(r[2]))
                for r in await cur.fetchall()
            ]

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
        async with self._r.execute(
            "SELECT url, coalesce(updated_at, published_at), published_at, title, image_url,"
            " image_type, image_length, image_caption FROM articles"
            " WHERE status = 'published' AND published_at >= ? AND published_at <= ?"
            " ORDER BY published_at DESC, id DESC LIMIT ?",
            (to_epoch(since), to_epoch(now), limit),
        ) as cur:
            rows = list(await cur.fetchall())
        if rows:
            yield [_url_row(r) for r in rows]

    # --- sitemap partitioning -----------------------------------------------------------------
    async def url_row_bound(
        self, start: datetime, end: datetime, *, now: datetime
    ) -> tuple[int, int]:
        async with self._r.execute(
            "SELECT count(*), max(sitemap_bytes) FROM articles INDEXED BY articles_by_date"
            " WHERE status = 'published' AND published_at >= ? AND published_at < ?"
            " AND published_at <= ?",
            (to_epoch(start), to_epoch(end), to_epoch(now)),
        ) as cur:
            row = await cur.fetchone()
        if row is None or not row[0]:
            return 0, 0
        return int(row[0]), int(row[1] or 0)

    async def url_part_changes(
        self, start: datetime, end: datetime, *, now: datetime, size: int
    ) -> list[datetime]:
        async with self._r.execute(
            "SELECT part, max(lc) FROM ("
            " SELECT (row_number() OVER (ORDER BY published_at, id) - 1) / ? AS part,"
            " coalesce(updated_at, published_at) AS lc FROM articles"
            " WHERE status = 'published' AND published_at >= ? AND published_at < ?"
            " AND published_at <= ?"
            ") GROUP BY part ORDER BY part",
            (size, to_epoch(start), to_epoch(end), to_epoch(now)),
        ) as cur:
            return [from_epoch(r[1]) for r in await cur.fetchall()]

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
        # from its start on every batch.
        last_pub, last_id = lo - 1, ""
        if offset > 0:
            async with self._r.execute(
                f"SELECT published_at, id FROM articles {where} AND published_at >= ?"
                " ORDER BY published_at, id LIMIT 1 OFFSET ?",
                (hi, lo, offset - 1),
            ) as cur:
                first = await cur.fetchone()
            if first is None:
                return
            last_pub, last_id = first[0], first[1]
        left = limit
        while left > 0:
            want = min(batch, left)
            async with self._r.execute(
                "SELECT url, coalesce(updated_at, published_at), published_at, title, image_url,"
                f" image_type, image_length, image_caption, id FROM articles {where}"
                " AND (published_at, id) > (?, ?)"
                " ORDER BY published_at, id LIMIT ?",
                (hi, last_pub, last_id, want),
            ) as cur:
                rows = list(await cur.fetchall())
            if not rows:
                return
            yield [_url_row(r) for r in rows]
            left -= len(rows)
            last_pub, last_id = rows[-1][2], rows[-1][8]
            if len(rows) < want:
                return

    async def term_stats(self, *, now: datetime) -> list[TermStat]:
        # The links' own index holds everything asked here (migration 5): one index-only pass.
        async with self._r.execute(
            "SELECT rubric, count(*), max(last_change) FROM article_rubrics"
            " INDEXED BY article_rubrics_stats WHERE published = 1 AND published_at <= ?"
            " GROUP BY rubric",
            (to_epoch(now),),
        ) as cur:
            by_rubric = {r[0]: (int(r[1]), from_epoch(r[2])) for r in await cur.fetchall()}
        async with self._r.execute(
            "SELECT tag_id, count(*), max(last_change) FROM article_tags"
            " INDEXED BY article_tags_stats WHERE published = 1 AND published_at <= ?"
            " GROUP BY tag_id",
            (to_epoch(now),),
        ) as cur:
            by_tag = {r[0]: (int(r[1]), from_epoch(r[2])) for r in await cur.fetchall()}
        stats = [
            TermStat(slug=r.slug, title=r.title, count=by_rubric[r.slug][0],
                     last_change=by_rubric[r.slug][1], kind="rubric")
            for r in await self.rubrics()
            if r.slug in by_rubric
        ]  # fmt: skip
        async with self._r.execute("SELECT id, slug, name, kind FROM tags ORDER BY slug") as cur:
            tags = await cur.fetchall()
        stats += [
            TermStat(slug=slug, title=name, count=by_tag[tag_id][0],
                     last_change=by_tag[tag_id][1], kind=kind)
            for tag_id, slug, name, kind in tags
            if tag_id in by_tag
        ]  # fmt: skip
        return stats

    async def next_publication(self, *, after: datetime) -> datetime | None:
        async with self._r.execute(
            "SELECT min(published_at) FROM articles WHERE status = 'published' AND published_at > ?",
            (to_epoch(after),),
        ) as cur:
            row = await cur.fetchone()
        return from_epoch(row[0]) if row and row[0] is not None else None

    # --- change log ---------------------------------------------------------------------------
    async def last_change_id(self) -> int:
        return await self._last_id(self._r)

    async def changes_since(self, change_id: int, *, limit: int = 10_000) -> list[Change]:
        async with self._r.execute(
            "SELECT id, at, kind, key, before, after FROM changes WHERE id > ? ORDER BY id LIMIT ?",
            (change_id, limit),
        ) as cur:
            return [
                Change(
                    id=r[0],
                    at=from_epoch(r[1]),
                    kind=r[2],
                    key=r[3],
                    before=orjson.loads(r[4]) if r[4] else None,
                    after=orjson.loads(r[5]) if r[5] else None,
                )
                for r in await cur.fetchall()
            ]

    # --- push-notification delivery cursors ---------------------------------------------------
    async def delivery_cursor(self, target: str, *, create: bool = True) -> DeliveryCursor | None:
        if create:
            async with self._transaction() as db:
                # Inside the write transaction, so no change can slip between "the end of the
                # log" and the new cursor.
                await db.execute(
                    "INSERT INTO delivery_cursors (target, change_id, updated_at)"
                    " VALUES (?, ?, ?) ON CONFLICT (target) DO NOTHING",
                    (target, await self._last_id(db), time.time()),
                )
        async with self._r.execute(
            f"SELECT {_CURSOR_COLUMNS} FROM delivery_cursors WHERE target = ?", (target,)
        ) as cur:
            row = await cur.fetchone()
        return DeliveryCursor(*row) if row else None

    async def delivery_cursors(self) -> list[DeliveryCursor]:
        async with self._r.execute(
            f"SELECT {_CURSOR_COLUMNS} FROM delivery_cursors ORDER BY target"
        ) as cur:
            return [DeliveryCursor(*row) for row in await cur.fetchall()]

    async def save_delivery_cursor(self, cursor: DeliveryCursor) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO delivery_cursors (target, change_id, attempts, next_attempt_at,"
                " last_error, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (target) DO UPDATE"
                " SET change_id = max(change_id, excluded.change_id), attempts = excluded.attempts,"
                " next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error,"
                " updated_at = excluded.updated_at",
                (cursor.target, cursor.change_id, cursor.attempts, cursor.next_attempt_at,
                 cursor.last_error, time.time()),
            )  # fmt: skip


_CURSOR_COLUMNS = "target, change_id, attempts, next_attempt_at, last_error, updated_at"


def _dump(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _link_facts(a: ArticleIn) -> tuple[int, int, int]:
    """What a link row copies of its article: published_at, published (0/1), newest date."""
    return (
        to_epoch(a.published_at),
        int(a.status is Status.PUBLISHED),
        to_epoch(a.updated_at or a.published_at),
    )


def _url_row(r: Sequence[Any]) -> UrlRow:
    return UrlRow(
        url=r[0],
        last_change=from_epoch(r[1]),
        published_at=from_epoch(r[2]),
        title=r[3],
        image=Image(url=r[4], type=r[5], length=r[6], caption=r[7]) if r[4] else None,
    )


def _rubric_state(r: Rubric) -> dict[str, Any]:
    return {"title": r.title, "parent": r.parent, "position": r.position, "url": r.url}
