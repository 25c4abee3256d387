"""The static mirror: rendered documents as files that nginx serves directly (issue 12).

The file for the URL path P is DIR/P (DIR/index.html for `/`), with its compressed twins P.gz and
P.br when the cache made them. Every file is written to DIR/.tmp and renamed into place (twins
first, the identity file last: nginx's `try_files` looks at the identity file, so a document is
served from files only once all its forms are there), with the document's Last-Modified as its
mtime, so that nginx's Last-Modified and If-Modified-Since answers are the service's.

Freshness is exact because files leave before a write is acknowledged: the write API's
`after_write` calls `sync`, which reads the change log past the manifest's `synced` change id,
removes every file whose dependency tags the new changes raise (identity file first, so nginx
stops choosing it before its twins go) and advances `synced`. Several worker processes and the
CLI share DIR: the manifest (DIR/.mirror.sqlite: each file's tags and expiry, `synced`, and the
tags recent syncs raised) is only read or written under an exclusive `flock` on DIR/.mirror.lock.

A render that started before a change must never land after it: `place` checks, under the same
lock, whether a sync since the render's change id raised one of its tags, and then writes
nothing. Documents that change with time alone (a scheduled article going live, the news window
moving, a month ending) carry their expiry: their files leave EXPIRY_MARGIN before it (every
worker sweeps every TICK), and a document expiring within PLACE_MIN_LIFE is not placed at all.
With the service down nothing sweeps: time-based changes do not reach the mirror (README).

A render within a change's STAMP_MARGIN has its Last-Modified capped at the render's second,
which an older version of the document may share: its files are written only once the margin is
over, with the date the same bytes have from then on (`Entry.settled`), and only if no change
touched the document meanwhile.

What is never a file: answers other than 200, URLs with a query string (`serving` offers only
path-only requests), and documents whose media type or Link headers nginx could not
send exactly as the service does (FILE_TYPES, `_links_ok`).

File I/O and the manifest run in one thread per process, off the event loop.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import orjson

from syndication.cache import Entry
from syndication.config import Settings, settings_digest
from syndication.dependencies import all_tags
from syndication.model import Change
from syndication.store.base import ChangeLogReader

log = logging.getLogger("syndication.mirror")

MANIFEST = ".mirror.sqlite"
LOCK = ".mirror.lock"
TMP = ".tmp"
# Files leave this long before the instant their document changes with time alone; a worker
# sweeps every TICK seconds, so a sweep falls well within the margin even on a loaded machine.
EXPIRY_MARGIN = 30.0
TICK = 1.0
# A document that changes with time sooner than this is left to the service.
PLACE_MIN_LIFE = 2 * EXPIRY_MARGIN
# A capped render's date settles within the cache's STAMP_MARGIN (2 s); this only bounds a wait.
MAX_SETTLE_WAIT = 5.0
# Past this many changes in one sync (a bulk import), every file goes: cheaper than the tags.
MAX_CHANGES = 20_000
# How long the tags raised by a sync are kept for `place` to check renders against; a render
# that started longer ago than this (the oldest sync kept) is not placed.
HISTORY_SECONDS = 600.0

# What nginx sends for each extension (deploy/nginx/syndication-mirror.conf, `types`): a
# document is a file only when the service sends exactly this. `.gz` is the `.xml.gz` sitemap
# URL, which is the twin of the `.xml` file.
FILE_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}
# Path segments of plain names only: no dot files (the manifest, temporary files), no `..`.
_SAFE_PATH = re.compile(r"(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)+", re.ASCII)
_TWINS = (".gz", ".br")

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,       -- relative to DIR: the identity file
    expires REAL NOT NULL        -- epoch seconds: when the document changes with time alone
);
CREATE INDEX IF NOT EXISTS files_expires ON files (expires);
CREATE TABLE IF NOT EXISTS deps (
    tag TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (tag, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deps_path ON deps (path);
-- Tags raised by each sync, for renders that started before it (`place`); '*' is everything.
CREATE TABLE IF NOT EXISTS raised (
    upto INTEGER PRIMARY KEY,    -- the sync applied every change up to this id
    tags TEXT NOT NULL,          -- JSON array
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def file_for(path: str) -> str | None:
    """The file (relative to DIR) that holds the document at URL `path`, or None when the path is
    not one the mirror writes (an odd name, an extension nginx would send with another type)."""
    if path == "/":
        return "index.html"
    if not _SAFE_PATH.fullmatch(path):
        return None
    ext = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    if ext not in FILE_TYPES or ext == "html":
        return None  # index.html is `/`'s alone
    return path[1:]


def boot_id() -> str:
    """Changes with every boot: a manifest written before a crash may not match the files that
    reached the disk (renames are not fsynced), so a new boot starts the mirror afresh."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class Placed:
    """Why `place` wrote or skipped (tests, logs)."""

    written: bool
    reason: str


class Mirror:
    def __init__(
        self,
        root: Path,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.root = root
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self._digest = settings_digest(settings)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="mirror")
        self._db: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._sync_lock = asyncio.Lock()
        self._seen = -1  # the newest change id this process synced the mirror to
        # path -> (change id, etag, expiry) of the last entry offered, so that a cached hit costs
        # a dict lookup, not a trip to the mirror's thread. The expiry tells a render after a
        # sweep from the one before it, though their bytes may be the same.
        self._offered: dict[str, tuple[int, str, float]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None

    # --- life --------------------------------------------------------------------------------
    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        (self.root / TMP).mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        self._db = sqlite3.connect(self.root / MANIFEST, isolation_level=None,
                                   check_same_thread=False)  # fmt: skip
        # The flock serialises every writer; the manifest's own locking never waits.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._locked():
            self._db.executescript(_SCHEMA)
            # Files of another boot (see boot_id), of other settings or another release (their
            # bytes are not what this service renders) are not trusted: start afresh.
            identity = orjson.dumps([boot_id(), self._digest]).decode()
            if self._state("identity") != identity:
                self._wipe()
                self._set_state("identity", identity)

    async def close(self) -> None:
        await self.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._run(self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def start(self, store: ChangeLogReader) -> None:
        """Every TICK: sync when the store's counter moved (a change from another process that
        did not sync, e.g. one that died between its commit and its sync), and sweep files that
        are about to change with time."""
        self._ticker = asyncio.create_task(self._tick(store))

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None

    async def _tick(self, store: ChangeLogReader) -> None:
        while True:
            try:
                if store.change_hint() > self._seen:
                    await self.sync(store)
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mirror: sync or sweep failed; trying again")
            await asyncio.sleep(TICK)

    # --- freshness -----------------------------------------------------------------------------
    async def sync(self, store: ChangeLogReader) -> None:
        """Remove every file that a change committed before this call makes stale."""
        async with self._sync_lock:
            # The store is read outside the flock: the manifest's `synced` only grows, so the
            # changes past the value read here cover whatever is unapplied once the lock is held.
            synced = await self._run(self._synced)
            if synced is None:
                last = await store.last_change_id()
                await self._run(self._begin, last)
                self._seen = max(self._seen, last)
                return
            changes = await store.changes_since(synced, limit=MAX_CHANGES + 1)
            if len(changes) > MAX_CHANGES:
                last = await store.last_change_id()
                await self._run(self._apply_all, last)
                self._seen = max(self._seen, last)
            elif changes:
                await self._run(self._apply, changes)
                self._seen = max(self._seen, changes[-1].id)
            else:
                self._seen = max(self._seen, synced)

    def _synced(self) -> int | None:
        with self._locked():
            value = self._state("synced")
        return None if value is None else int(value)

    def _begin(self, last: int) -> None:
        """A new mirror: nothing in it, every change up to `last` applied."""
        with self._locked(), self._transaction():
            if self._state("synced") is not None:
                return
            self._wipe()
            self._set_state("synced", str(last))
            self._set_state("floor", str(last))

    def _apply(self, changes: list[Change]) -> None:
        with self._locked(), self._transaction():
            synced = int(self._state("synced") or "0")
            fresh = [c for c in changes if c.id > synced]
            if not fresh:
                return
            tags = sorted(all_tags(fresh, self.settings.zone))
            assert self._db is not None
            rows = self._db.execute(
                "SELECT DISTINCT path FROM deps WHERE tag IN (SELECT value FROM json_each(?))",
                (orjson.dumps(tags).decode(),),
            ).fetchall()
            for (path,) in rows:
                self._remove(path)
            self._raised(fresh[-1].id, tags)

    def _apply_all(self, last: int) -> None:
        with self._locked(), self._transaction():
            if int(self._state("synced") or "0") >= last:
                return
            self._wipe()
            self._raised(last, ["*"])

    def _raised(self, upto: int, tags: list[str]) -> None:
        assert self._db is not None
        now = self.clock()
        self._db.execute("INSERT OR REPLACE INTO raised VALUES (?, ?, ?)",
                         (upto, orjson.dumps(tags).decode(), now))  # fmt: skip
        self._set_state("synced", str(upto))
        # Older history goes; renders from before the oldest sync kept are not placed.
        old = self._db.execute(
            "SELECT max(upto) FROM raised WHERE at < ?", (now - HISTORY_SECONDS,)
        ).fetchone()[0]
        if old is not None:
            self._db.execute("DELETE FROM raised WHERE upto <= ?", (old,))
            self._set_state("floor", str(max(old, int(self._state("floor") or "0"))))

    async def sweep(self) -> int:
        """Remove the files whose documents change with time within EXPIRY_MARGIN."""
        return await self._run(self._sweep)

    def _sweep(self) -> int:
        assert self._db is not None
        horizon = self.clock() + EXPIRY_MARGIN
        # A read first, without the lock: most ticks find nothing.
        if self._db.execute("SELECT 1 FROM files WHERE expires <= ? LIMIT 1",
                            (horizon,)).fetchone() is None:  # fmt: skip
            return 0
        with self._locked(), self._transaction():
            rows = self._db.execute(
                "SELECT path FROM files WHERE expires <= ?", (horizon,)
            ).fetchall()
            for (path,) in rows:
                self._remove(path)
        return len(rows)

    # --- placing -------------------------------------------------------------------------------
    def offer(self, path: str, entry: Entry) -> None:
        """Called by `serving` for every 200 of a path-only GET/HEAD: place the entry in the
        background unless this process already offered this very render."""
        seen = (entry.change_id, entry.etag, entry.expires)
        if self._offered.get(path) == seen:
            return
        if len(self._offered) >= 65_536:  # a bound a crawl cannot grow past
            self._offered.clear()
        self._offered[path] = seen
        task = asyncio.create_task(self.place(path, entry))
        self._tasks.add(task)
        task.add_done_callback(self._placed)

    def _placed(self, task: asyncio.Task[Placed]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A file not written is always safe: the service answers instead.
            log.error("mirror: could not place a file: %s", task.exception())

    async def place(self, path: str, entry: Entry) -> Placed:
        """Write the entry's files for URL `path`, unless the render is stale or the document
        is not one nginx can serve exactly."""
        name = file_for(path)
        if name is None:
            return Placed(False, "not a mirrored path")
        if entry.status != 200:
            return Placed(False, "not a 200")
        if entry.capped:
            if entry.settled is None:
                return Placed(False, "Last-Modified capped at the render's second")
            # Rendered within a change's STAMP_MARGIN: its date was capped at the render's
            # second, which an older version may share. The same bytes take their own date once
            # the margin is over (at most STAMP_MARGIN from now): they are written then, if no
            # change touched them meanwhile.
            settles, expires = entry.settled
            wait = settles.timestamp() - self.clock()
            if wait > 0:
                await self.sleep(min(wait, MAX_SETTLE_WAIT))
            entry = replace(entry, last_modified=settles, expires=expires, capped=False,
                            settled=None, variants={})  # fmt: skip
        if entry.media_type != FILE_TYPES[name.rsplit(".", 1)[-1]]:
            return Placed(False, "media type nginx would not send")
        if not self._links_ok(path, entry):
            return Placed(False, "Link headers nginx would not send")
        if entry.expires <= self.clock() + PLACE_MIN_LIFE:
            return Placed(False, "changes with time too soon")
        return await self._run(self._place, name, entry)

    def _links_ok(self, path: str, entry: Entry) -> bool:
        """nginx sends a feed's WebSub Link header from a template (the hub and the public URL
        are in the configuration): only that exact form can be served from a file."""
        if not entry.links:
            return True
        hub = self.settings.websub_hub
        return entry.links == ((hub, "hub"), (self.settings.public_url + path, "self"))

    def _place(self, name: str, entry: Entry) -> Placed:
        with self._locked():
            assert self._db is not None
            synced = self._state("synced")
            if synced is None:
                return Placed(False, "mirror not synced yet")
            if entry.change_id < int(self._state("floor") or "0"):
                return Placed(False, "render older than the history kept")
            if self._db.execute("SELECT 1 FROM files WHERE path = ?", (name,)).fetchone():
                return Placed(False, "already there")  # and fresh: a sync would have removed it
            for (tags,) in self._db.execute(
                "SELECT tags FROM raised WHERE upto > ?", (entry.change_id,)
            ):
                raised = orjson.loads(tags)
                if "*" in raised or not entry.deps.isdisjoint(raised):
                    return Placed(False, "stale: a change after the render touched it")
            # Recorded before it is written: a crash in between leaves a row without files
            # (harmless), never files that no sync would remove.
            with self._transaction():
                self._db.execute("INSERT INTO files VALUES (?, ?)", (name, entry.expires))
                self._db.executemany("INSERT OR IGNORE INTO deps VALUES (?, ?)",
                                     [(tag, name) for tag in entry.deps])  # fmt: skip
            try:
                self._write(name, entry)
            except BaseException:
                with self._transaction():
                    self._remove(name)
                raise
        return Placed(True, "written")

    def _write(self, name: str, entry: Entry) -> None:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        mtime = entry.last_modified.timestamp()
        for suffix, body in ((".gz", entry.gzip), (".br", entry.br), ("", entry.body)):
            if body is not None:
                self._write_file(target.with_name(target.name + suffix), body, mtime)

    def _write_file(self, target: Path, body: bytes, mtime: float) -> None:
        temp = self.root / TMP / secrets.token_hex(8)
        try:
            with temp.open("wb") as handle:
                handle.write(body)
            os.utime(temp, (mtime, mtime))
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    # --- files and the manifest (under the lock) -------------------------------------------------
    def _remove(self, name: str) -> None:
        """Identity file first: nginx stops choosing the document before its twins go."""
        assert self._db is not None
        target = self.root / name
        for suffix in ("", *_TWINS):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        self._db.execute("DELETE FROM files WHERE path = ?", (name,))
        self._db.execute("DELETE FROM deps WHERE path = ?", (name,))

    def _wipe(self) -> None:
        """Every document file goes (identity files first), whatever the manifest says."""
        assert self._db is not None
        found = list(self._document_files())
        for twin_pass in (False, True):
            for path in found:
                if path.name.endswith(_TWINS) == twin_pass:
                    path.unlink(missing_ok=True)
        for path in (self.root / TMP).iterdir():
            path.unlink(missing_ok=True)
        self._db.execute("DELETE FROM files")
        self._db.execute("DELETE FROM deps")

    def _document_files(self) -> Iterator[Path]:
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if not name.startswith("."):
                    yield Path(folder) / name

    def _state(self, name: str) -> str | None:
        assert self._db is not None
        row = self._db.execute("SELECT value FROM state WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set_state(self, name: str, value: str) -> None:
        assert self._db is not None
        self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (name, value))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        assert self._lock_fd is not None
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        assert self._db is not None
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    async def _run(self, job: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, job, *args)


__all__ = ["FILE_TYPES", "Mirror", "Placed", "file_for"]
