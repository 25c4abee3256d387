"""Rendered documents, kept with their compressed forms until a change makes them stale.

Freshness: each worker remembers the newest change id it has applied. On every request it
compares that with the store's shared counter (no I/O); when the counter moved, it reads the new
rows of the change log and drops exactly the documents whose dependency tags they raise.
Scheduled publication and time windows: each entry also carries the instant it stops being
valid with no write (the next future `published_at`, the month boundary, the news window).

Single flight: concurrent requests for a missing document share one render.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import brotli

from syndication.config import Settings
from syndication.documents import Document, all_tags
from syndication.metrics import Metrics
from syndication.rendering import DocumentNotFound, RenderContext, Rendered
from syndication.store.base import Store
from syndication.timeutil import month_bounds, month_key

log = logging.getLogger("syndication.cache")

# Chosen so that compressing a 50-item full-text feed (246 KB) stays within the cold-path
# budget (bench/render.py prints the times). Measured here: gzip 5 4.1 ms / 29.3 KB against
# gzip 6 6.7 ms / 27.2 KB; brotli 4 2.8 ms / 29.6 KB against brotli 5 5.0 ms / 26.0 KB.
GZIP_LEVEL = 5
BROTLI_QUALITY = 4
# Below this size compression costs more than it saves on the wire.
MIN_COMPRESS = 512
# Bigger bodies are compressed in a thread (zlib and brotli release the GIL), off the loop.
THREAD_COMPRESS = 64 * 1024
# Past this many unapplied changes (a bulk import), clearing everything is cheaper.
MAX_CHANGES_TO_APPLY = 20_000


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    kind: str
    deps: frozenset[str]
    status: int
    media_type: str
    body: bytes
    gzip: bytes | None
    br: bytes | None
    etag: str  # the strong validator of the identity form, without quotes
    last_modified: datetime
    last_modified_http: str
    change_id: int  # every change up to this id was applied when the render started
    expires: float  # epoch seconds; +inf when only a write can change it
    # Prepared header lists and bodies per content coding, built on first use by serving.py.
    variants: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class _Flight:
    future: asyncio.Future[Entry]
    deps: frozenset[str]


class DocumentCache:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        metrics: Metrics,
        *,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._inflight: dict[str, _Flight] = {}
        self._synced = -1  # nothing applied yet: the first request reads the log position
        self._sync_lock = asyncio.Lock()
        self._recent: deque[tuple[int, frozenset[str]]] = deque(maxlen=4096)
        self._next_publication = float("inf")
        self._validators: dict[str, tuple[str, datetime]] = {}
        # Renders per document key: which documents a write made this worker rebuild.
        self.render_counts: Counter[str] = Counter()

    # --- freshness ----------------------------------------------------------------------------
    async def sync(self) -> None:
        """Apply every change committed since the last look. Costs a counter read when none."""
        if self.store.change_hint() <= self._synced and self.clock() < self._next_publication:
            return
        async with self._sync_lock:
            if self._synced < 0:
                self._synced = await self.store.last_change_id()
                self._entries.clear()
            else:
                await self._apply_changes()
            await self._refresh_next_publication()

    async def _apply_changes(self) -> None:
        if not self._entries and not self._inflight:
            # Nothing cached, nothing rendering: there is nothing to drop, so the rows need not be
            # read (a bulk import writes thousands of them per request).
            self._synced = await self.store.last_change_id()
            self._recent.append((self._synced, frozenset({"*"})))
            return
        changes = await self.store.changes_since(self._synced, limit=MAX_CHANGES_TO_APPLY + 1)
        if not changes:
            return
        if len(changes) > MAX_CHANGES_TO_APPLY:
            self._synced = await self.store.last_change_id()
            dropped = len(self._entries)
            self._entries.clear()
            self._inflight.clear()
            self._recent.append((self._synced, frozenset({"*"})))
            self.metrics.invalidated("*", dropped)
            log.info("more than %d changes: cleared the cache", MAX_CHANGES_TO_APPLY)
            return
        tags = frozenset(all_tags(changes, self.settings.zone))
        self._synced = changes[-1].id
        self._recent.append((self._synced, tags))
        self._drop(lambda deps: bool(deps & tags))

    async def _refresh_next_publication(self) -> None:
        now = self.clock()
        nxt = await self.store.next_publication(after=datetime.fromtimestamp(now, UTC))
        self._next_publication = nxt.timestamp() if nxt else float("inf")

    def _drop(self, stale: Callable[[frozenset[str]], bool]) -> None:
        for key in [k for k, e in self._entries.items() if stale(e.deps)]:
            entry = self._entries.pop(key)
            self.metrics.invalidated(entry.kind, 1)
        # Renders already under way started before the change: new requests must not join them.
        for key in [k for k, f in self._inflight.items() if stale(f.deps)]:
            del self._inflight[key]

    def _changed_since(self, change_id: int, deps: frozenset[str]) -> bool:
        if change_id >= self._synced:
            return False
        if not self._recent or self._recent[0][0] > change_id + 1:
            return True  # history does not reach back that far: assume the worst
        return any(cid > change_id and ("*" in tags or deps & tags) for cid, tags in self._recent)

    # --- lookup -------------------------------------------------------------------------------
    async def get(self, doc: Document) -> Entry:
        await self.sync()
        entry = self._entries.get(doc.key)
        if entry is not None:
            if entry.expires > self.clock():
                self._entries.move_to_end(doc.key)
                self.metrics.hit(doc.kind)
                return entry
            del self._entries[doc.key]
        self.metrics.miss(doc.kind)
        flight = self._inflight.get(doc.key)
        if flight is None:
            flight = _Flight(asyncio.get_running_loop().create_future(), doc.deps)
            self._inflight[doc.key] = flight
            task = asyncio.create_task(self._render_into(doc, flight))
            task.add_done_callback(_consume)
        # shield: a client that goes away must not cancel the render others wait for.
        return await asyncio.shield(flight.future)

    async def _render_into(self, doc: Document, flight: _Flight) -> None:
        try:
            entry = await self._render(doc)
        except BaseException as exc:
            if self._inflight.get(doc.key) is flight:
                del self._inflight[doc.key]
            flight.future.set_exception(exc)
            raise
        if self._inflight.get(doc.key) is flight:
            del self._inflight[doc.key]
            if not self._changed_since(entry.change_id, entry.deps):
                self._store(entry)
        flight.future.set_result(entry)

    def _store(self, entry: Entry) -> None:
        self._entries[entry.key] = entry
        self._entries.move_to_end(entry.key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def _render(self, doc: Document) -> Entry:
        change_id = self._synced
        now = self.clock()
        ctx = RenderContext(self.store, self.settings, datetime.fromtimestamp(now, UTC))
        started = time.perf_counter()
        try:
            rendered = await doc.build(ctx)
            status = 200
        except DocumentNotFound as exc:
            rendered = Rendered(f"{exc or 'not found'}\n".encode(), "text/plain; charset=utf-8")
            status = 404
        body = rendered.body
        gz, br = await compress(body)
        self.metrics.rendered(doc.kind, time.perf_counter() - started)
        if doc.key in self.render_counts or len(self.render_counts) < self.max_entries * 4:
            self.render_counts[doc.key] += 1
        etag = hashlib.blake2b(body, digest_size=12).hexdigest()
        last_modified = self._last_modified(doc.key, etag, rendered.last_modified, now)
        return Entry(
            key=doc.key,
            kind=doc.kind,
            deps=doc.deps,
            status=status,
            media_type=rendered.media_type,
            body=body,
            gzip=gz,
            br=br,
            etag=etag,
            last_modified=last_modified,
            last_modified_http=format_datetime(last_modified, usegmt=True),
            change_id=change_id,
            expires=self._expiry(rendered, now),
        )

    def _last_modified(
        self, key: str, etag: str, content_date: datetime | None, now: float
    ) -> datetime:
        """The content's own date, but never earlier than what clients were told for other
        bytes (a deleted newest article would otherwise move it back and break
        If-Modified-Since)."""
        stamp = (content_date or datetime.fromtimestamp(now, UTC)).replace(microsecond=0)
        previous = self._validators.get(key)
        if previous is not None and previous[0] != etag and stamp <= previous[1]:
            stamp = datetime.fromtimestamp(now, UTC).replace(microsecond=0)
            stamp = max(stamp, previous[1])
        self._validators[key] = (etag, stamp)
        return stamp

    def _expiry(self, rendered: Rendered, now: float) -> float:
        # A month boundary changes which archive is current; a scheduled article going live
        # changes every document that lists it.
        current = month_key(datetime.fromtimestamp(now, UTC), self.settings.zone)
        month_end = month_bounds(current, self.settings.zone)[1].timestamp()
        candidates = [month_end, self._next_publication]
        if rendered.expires is not None:
            candidates.append(rendered.expires.timestamp())
        return min(candidates)

    # --- introspection (tests, /metrics) -------------------------------------------------------
    def cached_keys(self) -> list[str]:
        return list(self._entries)


def _gzip(body: bytes) -> bytes:
    # mtime=0 keeps the gzip bytes a function of the body alone (.xml.gz ETags stay stable).
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def _brotli(body: bytes) -> bytes:
    return bytes(brotli.compress(body, quality=BROTLI_QUALITY))


async def compress(body: bytes) -> tuple[bytes | None, bytes | None]:
    """The gzip and brotli forms of a rendered body, made once at render time. Large bodies are
    compressed in two threads at once (zlib and brotli release the GIL), off the event loop."""
    if len(body) < MIN_COMPRESS:
        return None, None
    if len(body) < THREAD_COMPRESS:
        return _gzip(body), _brotli(body)
    gz, br = await asyncio.gather(asyncio.to_thread(_gzip, body), asyncio.to_thread(_brotli, body))
    return gz, br


def _consume(task: asyncio.Task[None]) -> None:
    # The exception reached the waiters through the future; this only keeps asyncio quiet.
    if not task.cancelled():
        task.exception()
