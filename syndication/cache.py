"""Rendered documents, kept with their compressed forms until a change makes them stale.

Freshness: each worker remembers the newest change id it has applied. On every request it
compares that with the store's shared counter (no I/O); when the counter moved, it reads the new
rows of the change log and drops exactly the documents whose dependency tags they raise. That
read is the only thing a cached hit ever waits for: it never waits for a render.
Scheduled publication and time windows: each entry also carries the instant it stops being
valid with no write (the next future `published_at`, the month boundary, the news window).

Memory: everything the cache keeps is bounded by `SYNDICATION_CACHE_MAX_BYTES` (per worker),
evicting the least recently used first. Cached 404s and the per-URL validators have budgets of
their own, so a crawl of unknown URLs cannot push live documents out.

Single flight: concurrent requests for a missing document share one render.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, Generic, TypeVar

import brotli

from syndication.config import Settings, settings_digest
from syndication.dependencies import all_tags
from syndication.documents import Document
from syndication.memory import release_freed_memory
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
# From this size up, bodies are compressed and hashed in threads (zlib, brotli and blake2b
# release the GIL). Measured on the 2-core box: handing gzip and brotli to two threads costs
# the loop ~55 µs of CPU; doing them inline costs it ~65 µs at 4 KB, ~130 µs at 8 KB, ~0.8 ms
# at 64 KB and ~16 ms at 1 MB. Below 4 KB the hand-off costs the loop as much as the work.
THREAD_COMPRESS = 4 * 1024
# Two threads of their own: one per core, and few malloc arenas. Through the default executor
# (up to 6 threads, each allocating bodies in its own arena) a 4,000-URL crawl with a 64 MiB
# bound peaked at 181 MiB RSS; with these two, at 164 MiB (bench/serve.py row e).
_COMPRESSORS = ThreadPoolExecutor(2, thread_name_prefix="compress")
# Seconds added to a change's stamp to make a Last-Modified. The stamp is the whole second of the
# transaction's last statement before COMMIT: the commit itself may land in the next second, and a
# response sent before it, within that second, carries that second. Two seconds put every date
# derived from the change after any date sent before it (unless the commit lags its last statement
# by a second or more). Until then, a render is capped at now and done again after that second.
STAMP_MARGIN = timedelta(seconds=2)
# Past this many unapplied changes (a bulk import), clearing everything is cheaper.
MAX_CHANGES_TO_APPLY = 20_000

# Shares of the byte bound (1/N each) kept apart from the documents' budget: cached 404s, and the
# per-URL records (validators, render counts).
MISSING_SHARE = 16
KEYS_SHARE = 16
# Bytes charged beyond the bodies, as measured by tests/test_cache.py (deep sizes on CPython
# 3.11, rounded up): an Entry with its key, deps, validators and dict slot; one prepared variant
# (serving.Representation: header list, etag); one per-URL record with its dict slot.
ENTRY_OVERHEAD = 1536
VARIANT_OVERHEAD = 1024
VARIANTS = 4  # identity, gzip, br, and the gzip-only form of a sitemap
KEY_OVERHEAD = 512

V = TypeVar("V")


class ByteLRU(Generic[V]):
    """A mapping bounded by the bytes its values are charged, least recently used out first."""

    def __init__(self, budget: int, cost: Callable[[str, V], int]) -> None:
        self.budget = budget
        self.cost = cost
        self.bytes = 0
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str) -> V | None:
        """The value, now the most recently used; None when absent."""
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def peek(self, key: str) -> V | None:
        item = self._items.get(key)
        return None if item is None else item[0]

    def put(self, key: str, value: V) -> list[tuple[str, V]] | None:
        """Keep `value` as the most recently used; the entries evicted to make room, or None
        when the value alone is bigger than the budget (then it is not kept)."""
        cost = self.cost(key, value)
        self.pop(key)
        if cost > self.budget:
            return None
        self._items[key] = (value, cost)
        self.bytes += cost
        evicted = []
        while self.bytes > self.budget:
            old_key, (old, old_cost) = self._items.popitem(last=False)
            self.bytes -= old_cost
            evicted.append((old_key, old))
        return evicted

    def pop(self, key: str) -> V | None:
        item = self._items.pop(key, None)
        if item is None:
            return None
        self.bytes -= item[1]
        return item[0]

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

    def keys(self) -> list[str]:
        return list(self._items)

    def items(self) -> Iterator[tuple[str, V]]:
        for key, (value, _) in self._items.items():
            yield key, value


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
    links: tuple[tuple[str, str], ...] = ()  # (url, rel), sent as Link headers
    # Last-Modified capped at the render's second (within a change's STAMP_MARGIN): an older
    # version may carry the same date, so it validates nothing (If-Modified-Since is ignored).
    capped: bool = False
    # For a capped entry: the Last-Modified and expiry these same bytes have once the margin is
    # over (the static mirror writes them then, with that date).
    settled: tuple[datetime, float] | None = None
    # Prepared header lists and bodies per content coding, built on first use by serving.py.
    variants: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def entry_cost(key: str, entry: Entry) -> int:
    """What keeping `entry` costs, with room for every variant serving.py may prepare (they share
    the entry's bodies, except the gzip-only form of a body too small to have been compressed)."""
    size = len(entry.body) + len(entry.gzip or b"") + len(entry.br or b"")
    if entry.gzip is None:
        size += MIN_COMPRESS + 64  # gzip adds at most ~25 bytes to what it cannot shrink
    return size + ENTRY_OVERHEAD + VARIANTS * VARIANT_OVERHEAD + 2 * len(key)


@dataclass(slots=True)
class _KeyRecord:
    """What a URL keeps across renders: how often it was rendered (tests, benchmarks)."""

    renders: int = 0


def _key_cost(key: str, record: _KeyRecord) -> int:
    return KEY_OVERHEAD + 2 * len(key)


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
        max_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
        verify_missing: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        # Asked before a 404 is kept or sent: raises (a store fault) when the store cannot answer
        # consistently. A damaged page can read as an empty table, without an error.
        self.verify_missing = verify_missing
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.max_bytes = settings.cache_max_bytes if max_bytes is None else max_bytes
        missing_budget = self.max_bytes // MISSING_SHARE
        keys_budget = self.max_bytes // KEYS_SHARE
        self._documents: ByteLRU[Entry] = ByteLRU(
            self.max_bytes - missing_budget - keys_budget, entry_cost
        )
        self._missing: ByteLRU[Entry] = ByteLRU(missing_budget, entry_cost)  # cached 404s
        self._keys: ByteLRU[_KeyRecord] = ByteLRU(keys_budget, _key_cost)
        self._inflight: dict[str, _Flight] = {}
        self._synced = -1  # nothing applied yet: the first request reads the log position
        self._log_read = _OneAtATime(self._read_log)
        self._recent: deque[tuple[int, frozenset[str]]] = deque(maxlen=4096)
        # The next scheduled publication, as read with every change up to `_horizon_for`
        # applied. Only renders need it (it caps their entries' expiry), so only renders read it.
        self._next_publication = float("inf")
        self._horizon_for = -1
        self._horizon_read = _OneAtATime(self._read_horizon)
        self._settings_at: datetime | None = None  # read at the first render
        metrics.cache_bytes.set_function(self.cached_bytes)
        # Evicted bodies go back to malloc, which keeps the pages; now and then it is told to
        # hand them to the OS, or the worker's RSS would not follow the bound.
        self._evicted_bytes = 0
        self._trimming: asyncio.Future[None] | None = None

    # --- freshness ----------------------------------------------------------------------------
    async def sync(self) -> None:
        """Apply every change committed since the last look. Costs a counter read when none (a
        shared head query on a store of several hosts)."""
        head = await self.store.change_head()
        if head > self._synced:
            await self._catch_up(head)

    async def _catch_up(self, target: int) -> None:
        # One read of the change log at a time; everyone who finds the counter moved waits for
        # it (shielded: a client hanging up must not cancel it for the others) and for nothing
        # else. A read that brings no progress ends the wait rather than spinning.
        while self._synced < target:
            before = self._synced
            await self._log_read.wait()
            if self._synced <= before:
                return

    async def _read_log(self) -> None:
        if self._synced < 0:
            self._synced = await self.store.last_change_id()
            self._clear()
            return
        if not self._documents and not self._missing and not self._inflight:
            # Nothing cached, nothing rendering: there is nothing to drop, so the rows need not be
            # read (a bulk import writes thousands of them per request). A render that started
            # and finished during the read may have missed the change: drop what it left.
            self._synced = await self.store.last_change_id()
            self._recent.append((self._synced, frozenset({"*"})))
            self._clear()
            return
        changes = await self.store.changes_since(self._synced, limit=MAX_CHANGES_TO_APPLY + 1)
        if not changes:
            return
        if len(changes) > MAX_CHANGES_TO_APPLY:
            self._synced = await self.store.last_change_id()
            self._recent.append((self._synced, frozenset({"*"})))
            dropped = self._clear()
            self._inflight.clear()
            self.metrics.invalidated("*", dropped)
            log.info("more than %d changes: cleared the cache", MAX_CHANGES_TO_APPLY)
            return
        tags = frozenset(all_tags(changes, self.settings.zone))
        self._synced = changes[-1].id
        self._recent.append((self._synced, tags))
        self._drop(lambda deps: bool(deps & tags))

    def _clear(self) -> int:
        dropped = len(self._documents) + len(self._missing)
        self._documents.clear()
        self._missing.clear()
        return dropped

    def _drop(self, stale: Callable[[frozenset[str]], bool]) -> None:
        for table in (self._documents, self._missing):
            for key in [k for k, e in table.items() if stale(e.deps)]:
                entry = table.pop(key)
                assert entry is not None
                self.metrics.invalidated(entry.kind, 1)
        # Renders already under way started before the change: new requests must not join them.
        for key in [k for k, f in self._inflight.items() if stale(f.deps)]:
            del self._inflight[key]

    def _count_render(self, key: str) -> None:
        record = self._keys.get(key)
        if record is None:
            record = _KeyRecord()
            self._keys.put(key, record)
        record.renders += 1

    def _changed_since(self, change_id: int, deps: frozenset[str]) -> bool:
        if change_id >= self._synced:
            return False
        if not self._recent or self._recent[0][0] > change_id + 1:
            return True  # history does not reach back that far: assume the worst
        return any(cid > change_id and ("*" in tags or deps & tags) for cid, tags in self._recent)

    async def _publication_horizon(self, change_id: int) -> float:
        """The next scheduled publication (epoch seconds), read with every change up to
        `change_id` applied and still in the future."""
        while self._horizon_for < change_id or self.clock() >= self._next_publication:
            await self._horizon_read.wait()
        return self._next_publication

    async def _read_horizon(self) -> None:
        synced, now = self._synced, self.clock()
        nxt = await self.store.next_publication(after=datetime.fromtimestamp(now, UTC))
        self._next_publication = nxt.timestamp() if nxt else float("inf")
        self._horizon_for = synced

    # --- lookup -------------------------------------------------------------------------------
    async def get(self, doc: Document) -> Entry:
        head = await self.store.change_head()
        if head > self._synced:
            await self._catch_up(head)
        entry = self._documents.get(doc.key)
        if entry is None:
            entry = self._missing.get(doc.key)
        if entry is not None:
            if entry.expires > self.clock():
                self.metrics.hit(doc.kind)
                return entry
            self._documents.pop(doc.key)
            self._missing.pop(doc.key)
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
                self._keep(entry)
        flight.future.set_result(entry)

    def _keep(self, entry: Entry) -> None:
        table = self._documents if entry.status == 200 else self._missing
        evicted = table.put(entry.key, entry)
        if evicted is None:
            # Bigger than the whole budget: served to those who asked, never kept.
            self.metrics.evicted(entry.kind, 1)
            return
        for _, old in evicted:
            self.metrics.evicted(old.kind, 1)
            self._evicted_bytes += entry_cost(old.key, old)
        if self._evicted_bytes >= self.max_bytes // 4 and self._trimming is None:
            self._evicted_bytes = 0
            self._trimming = asyncio.get_running_loop().run_in_executor(
                _COMPRESSORS, release_freed_memory
            )
            self._trimming.add_done_callback(self._trimmed)

    def _trimmed(self, future: asyncio.Future[None]) -> None:
        self._trimming = None

    async def _render(self, doc: Document) -> Entry:
        change_id = self._synced
        horizon = await self._publication_horizon(change_id)
        now = self.clock()
        ctx = RenderContext(self.store, self.settings, datetime.fromtimestamp(now, UTC))
        started = time.perf_counter()
        if self._settings_at is None:
            self._settings_at = await self.store.settings_stamp(settings_digest(self.settings))
        # One read transaction for all the builder reads (a count, then a page of items) and
        # for the stamps its Last-Modified comes from: bytes of one state of the store, whatever
        # is written meanwhile.
        async with self.store.snapshot():
            try:
                rendered = await doc.build(ctx)
                status = 200
            except DocumentNotFound as exc:
                if self.verify_missing is not None:
                    # A fault raised here reaches every waiter and is never kept: a 503.
                    await self.verify_missing()
                rendered = Rendered(f"{exc or 'not found'}\n".encode(), "text/plain; charset=utf-8")
                status = 404
            deps = doc.deps | rendered.deps
            # The store stamps no month-count tag (see dependencies.stamp_tags).
            stamped = {d for d in deps if not d.startswith("count<")} | rendered.stamped
            stamp = await self.store.dependency_stamp(stamped) if stamped else None
        body = rendered.body
        gz, br, etag = await encode(body)
        self.metrics.rendered(doc.kind, time.perf_counter() - started)
        self._count_render(doc.key)
        last_modified, settles = self._last_modified(stamp, rendered.last_modified, now)
        capped = settles is not None
        expires = self._expiry(rendered, now, horizon)
        settled = None if settles is None else (settles, expires)
        if capped:
            # Capped at now, within a change's margin: once it is over, the same bytes have the
            # change's stamp plus STAMP_MARGIN, as every other worker renders them.
            expires = min(expires, int(now) + 1)
        return Entry(
            key=doc.key,
            kind=doc.kind,
            deps=deps,
            status=status,
            media_type=rendered.media_type,
            body=body,
            gzip=gz,
            br=br,
            etag=etag,
            last_modified=last_modified,
            last_modified_http=format_datetime(last_modified, usegmt=True),
            change_id=change_id,
            expires=expires,
            links=rendered.links,
            capped=capped,
            settled=settled,
        )

    def _last_modified(
        self, stamp: datetime | None, content_date: datetime | None, now: float
    ) -> tuple[datetime, datetime | None]:
        """Derived from the store alone, so every worker and every restart agree: the newest of
        the document's content date (which covers scheduled articles going live), the last
        change that raised any of its tags and the settings' taking effect, never later than
        now. A change is stamped in whole seconds: STAMP_MARGIN is added, so that the date is
        later than any response sent before the change (a response of the change's own seconds
        is capped at now, and `serving` answers If-Modified-Since of the current second in
        full). Also, when it was capped at now, the date it was capped from."""
        assert self._settings_at is not None
        candidates = [self._settings_at]
        if stamp is not None:
            candidates.append(stamp + STAMP_MARGIN)
        if content_date is not None:
            candidates.append(content_date.replace(microsecond=0))
        newest, cap = max(candidates), datetime.fromtimestamp(int(now), UTC)
        return (cap, newest) if newest > cap else (newest, None)

    def _expiry(self, rendered: Rendered, now: float, horizon: float) -> float:
        # A month boundary changes which archive is current; a scheduled article going live
        # changes every document that lists it.
        current = month_key(datetime.fromtimestamp(now, UTC), self.settings.zone)
        month_end = month_bounds(current, self.settings.zone)[1].timestamp()
        candidates = [month_end, horizon]
        if rendered.expires is not None:
            candidates.append(rendered.expires.timestamp())
        return min(candidates)

    # --- introspection (tests, /metrics) -------------------------------------------------------
    def cached_keys(self) -> list[str]:
        return self._documents.keys() + self._missing.keys()

    def cached_bytes(self) -> int:
        """Bytes charged for everything kept: documents, 404s and per-URL records."""
        return self._documents.bytes + self._missing.bytes + self._keys.bytes

    @property
    def render_counts(self) -> dict[str, int]:
        """Renders per document key (of the URLs still remembered): which documents a write
        made this worker rebuild."""
        return {key: record.renders for key, record in self._keys.items()}


def _gzip(body: bytes) -> bytes:
    # mtime=0 keeps the gzip bytes a function of the body alone (.xml.gz ETags stay stable).
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def _brotli(body: bytes) -> bytes:
    return bytes(brotli.compress(body, quality=BROTLI_QUALITY))


def _etag(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def _gzip_and_etag(body: bytes) -> tuple[bytes, str]:
    return _gzip(body), _etag(body)


async def encode(body: bytes) -> tuple[bytes | None, bytes | None, str]:
    """(gzip, brotli, etag) of a rendered body, made once at render time. From THREAD_COMPRESS
    up, the work runs in two threads at once, off the event loop."""
    if len(body) < MIN_COMPRESS:
        return None, None, _etag(body)
    if len(body) < THREAD_COMPRESS:
        return _gzip(body), _brotli(body), _etag(body)
    loop = asyncio.get_running_loop()
    (gz, etag), br = await asyncio.gather(
        loop.run_in_executor(_COMPRESSORS, _gzip_and_etag, body),
        loop.run_in_executor(_COMPRESSORS, _brotli, body),
    )
    return gz, br, etag


async def compress(body: bytes) -> tuple[bytes | None, bytes | None]:
    """The gzip and brotli forms of a rendered body (see `encode`)."""
    gz, br, _ = await encode(body)
    return gz, br


class _OneAtATime:
    """One run of a read at a time: whoever needs it while it runs waits for that run, shielded
    (a client hanging up must not cancel it for the others)."""

    def __init__(self, read: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._read = read
        self._task: asyncio.Task[None] | None = None

    async def wait(self) -> None:
        task = self._task
        # A run that has finished but whose `_done` has not run yet (it is queued behind the
        # caller) read an older state: awaiting it again returns at once without yielding, so a
        # caller that loops until the state is new enough spun the event loop forever.
        if task is None or task.done():
            task = self._task = asyncio.create_task(self._read())
            task.add_done_callback(self._done)
        await asyncio.shield(task)

    def _done(self, task: asyncio.Task[None]) -> None:
        if self._task is task:
            self._task = None
        _consume(task)


def _consume(task: asyncio.Task[Any]) -> None:
    # The exception reached the waiters through the future; this only keeps asyncio quiet.
    if not task.cancelled():
        task.exception()
