"""The document cache: single flight, precise invalidation from the change log, expiry, HTTP."""

from __future__ import annotations

import asyncio
import gc
import gzip
import random
import sys
import tempfile
import time
import types
from collections import OrderedDict
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import brotli
import pytest
from hypothesis import given
from hypothesis import settings as h_settings
from hypothesis import strategies as st
from starlette.datastructures import Headers
from starlette.responses import Response

from syndication.cache import KEY_OVERHEAD, STAMP_MARGIN, DocumentCache, Entry, entry_cost
from syndication.config import ConfigError, Settings
from syndication.documents import Document
from syndication.ingest import validate_article
from syndication.metrics import Metrics
from syndication.model import ALL_NEWS
from syndication.rendering import DocumentNotFound, RenderContext, Rendered
from syndication.serving import answer, choose_encoding
from syndication.store import SQLiteStore, Store

pytestmark = [pytest.mark.anyio, pytest.mark.backends]


class Counting:
    """A document builder that counts its renders and can be made slow."""

    def __init__(self, body: bytes = b"<doc/>" * 200, delay: float = 0.0) -> None:
        self.body = body
        self.delay = delay
        self.calls = 0

    async def __call__(self, ctx: RenderContext) -> Rendered:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return Rendered(self.body + str(self.calls).encode(), "application/xml; charset=utf-8",
                        last_modified=datetime(2025, 12, 1, tzinfo=UTC))  # fmt: skip


def article(settings: Settings, article_id: str, **fields: Any) -> Any:
    payload = {"id": article_id, "title": "t", "published_at": "2025-12-01T10:00:00+03:00",
               "rubrics": ["glavnoe"], "tags": ["Общество"], **fields}  # fmt: skip
    return validate_article(payload, settings)


async def test_single_flight(store: SQLiteStore, settings: Settings) -> None:
    cache = DocumentCache(store, settings, Metrics())
    build = Counting(delay=0.05)
    doc = Document("slow", "feed", frozenset({"all"}), build)
    entries = await asyncio.gather(*(cache.get(doc) for _ in range(200)))
    assert build.calls == 1
    assert len({e.body for e in entries}) == 1
    await cache.get(doc)
    assert build.calls == 1


async def test_a_failed_render_reaches_every_waiter_and_is_not_cached(
    store: SQLiteStore, settings: Settings
) -> None:
    calls = 0

    async def broken(ctx: RenderContext) -> Rendered:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("renderer bug")

    cache = DocumentCache(store, settings, Metrics())
    doc = Document("broken", "feed", frozenset(), broken)
    results = await asyncio.gather(*(cache.get(doc) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert calls == 1
    with pytest.raises(RuntimeError):
        await cache.get(doc)
    assert calls == 2


async def test_not_found_is_cached_as_404(store: SQLiteStore, settings: Settings) -> None:
    async def missing(ctx: RenderContext) -> Rendered:
        raise DocumentNotFound("no rubric 'x'")

    cache = DocumentCache(store, settings, Metrics())
    entry = await cache.get(Document("feed:rubric:x", "feed", frozenset({"rubric:x"}), missing))
    assert entry.status == 404
    assert b"no rubric" in entry.body


async def test_invalidation_is_precise(store: SQLiteStore, settings: Settings) -> None:
    await store.put_articles([article(settings, "a"), article(settings, "b", rubrics=["sport"],
                                                               tags=["Футбол"])])  # fmt: skip
    metrics = Metrics()
    # A clock a minute ahead: no render falls within a write's second, when Last-Modified is
    # capped and the document rendered once more after it (see the test below).
    cache = DocumentCache(store, settings, metrics, clock=lambda: time.time() + 60)
    builders = {name: Counting() for name in ("all", "glavnoe", "sport", "obshchestvo", "futbol",
                                              "dec", "nov", "opml")}  # fmt: skip
    docs = {
        "all": frozenset({"all"}),
        "glavnoe": frozenset({"rubric:glavnoe"}),
        "sport": frozenset({"rubric:sport"}),
        "obshchestvo": frozenset({"tag:obshchestvo"}),
        "futbol": frozenset({"tag:futbol"}),
        "dec": frozenset({"month:2025-12"}),
        "nov": frozenset({"month:2025-11"}),
        "opml": frozenset({"terms"}),
    }

    async def fetch_all() -> dict[str, int]:
        for name, deps in docs.items():
            await cache.get(Document(name, name, deps, builders[name]))
        return {name: b.calls for name, b in builders.items()}

    assert set((await fetch_all()).values()) == {1}
    # Edit a's text only: its rubric, tag and month re-render; nothing else.
    await store.put_articles([article(settings, "a", title="новое")])
    assert await fetch_all() == {"all": 2, "glavnoe": 2, "sport": 1, "obshchestvo": 2,
                                 "futbol": 1, "dec": 2, "nov": 1, "opml": 1}  # fmt: skip
    # Move a to sport/Футбол in November: before and after places re-render; glavnoe and
    # obshchestvo disappear (terms), November appears.
    await store.put_articles([article(settings, "a", rubrics=["sport"], tags=["Футбол"],
                                      published_at="2025-11-20T10:00:00+03:00")])  # fmt: skip
    assert await fetch_all() == {"all": 3, "glavnoe": 3, "sport": 2, "obshchestvo": 3,
                                 "futbol": 2, "dec": 3, "nov": 2, "opml": 2}  # fmt: skip
    # A draft written and deleted touches nothing anyone can see.
    await store.put_articles([article(settings, "d", status="draft")])
    await store.delete_article("d")
    assert await fetch_all() == {"all": 3, "glavnoe": 3, "sport": 2, "obshchestvo": 3,
                                 "futbol": 2, "dec": 3, "nov": 2, "opml": 2}  # fmt: skip


async def test_a_change_during_a_render_is_not_lost(store: SQLiteStore, settings: Settings) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    calls = 0

    async def held(ctx: RenderContext) -> Rendered:
        # The first render waits for the write: the race happens every time, not by timing.
        nonlocal calls
        calls += 1
        if calls == 1:
            started.set()
            await release.wait()
        return Rendered(f"<doc>{calls}</doc>".encode(), "application/xml; charset=utf-8",
                        last_modified=datetime(2025, 12, 1, tzinfo=UTC))  # fmt: skip

    cache = DocumentCache(store, settings, Metrics())
    doc = Document("all", "feed", frozenset({"all"}), held)
    await cache.sync()
    rendering = asyncio.create_task(cache.get(doc))
    await started.wait()
    await store.put_articles([article(settings, "a")])
    await cache.sync()  # a request after the write: the render under way is now stale
    release.set()
    # The stale render reaches its waiter; the cache does not keep it.
    assert (await rendering).body == b"<doc>1</doc>"
    assert (await cache.get(doc)).body == b"<doc>2</doc>"
    assert calls == 2


async def test_scheduled_article_expires_the_cache(store: SQLiteStore, settings: Settings) -> None:
    now = datetime.now(UTC).timestamp()
    clock = [now]
    cache = DocumentCache(store, settings, Metrics(), clock=lambda: clock[0])
    soon = datetime.fromtimestamp(now, UTC) + timedelta(seconds=600)
    await store.put_articles([article(settings, "later", published_at=soon.isoformat())])
    stamp = await store.dependency_stamp({"all"})
    assert stamp is not None
    build = Counting()
    doc = Document("all", "feed", frozenset({"all"}), build)
    # Past the write's margin, whenever the write landed (rendered within it, a document is
    # rendered again after it: see test_rendered_within_a_changes_seconds_once_more_after_them).
    clock[0] = (stamp + STAMP_MARGIN).timestamp() + 1
    await cache.get(doc)
    clock[0] = soon.timestamp() - 1
    await cache.get(doc)
    assert build.calls == 1
    clock[0] = soon.timestamp() + 1  # live now: no write happened, yet the feed re-renders
    await cache.get(doc)
    assert build.calls == 2
    await cache.get(doc)
    assert build.calls == 2


async def test_rendered_within_a_changes_seconds_once_more_after_them(
    store: SQLiteStore, settings: Settings
) -> None:
    """Last-Modified is the change's stamp plus STAMP_MARGIN, capped at now: what is rendered
    before that carries now, and is rendered again once its second is over, so that every worker
    ends up sending the same date with the same bytes."""
    await store.put_articles([article(settings, "a")])
    stamp = await store.dependency_stamp({"all"})
    assert stamp is not None
    settled = stamp + STAMP_MARGIN
    clock = [stamp.timestamp() + 0.5]
    cache = DocumentCache(store, settings, Metrics(), clock=lambda: clock[0])
    build = Counting()
    doc = Document("all", "feed", frozenset({"all"}), build)
    assert (await cache.get(doc)).last_modified == stamp
    clock[0] = stamp.timestamp() + 0.9
    await cache.get(doc)
    assert build.calls == 1
    clock[0] = settled.timestamp() - 0.5  # the next second, still inside the margin
    assert (await cache.get(doc)).last_modified == settled - timedelta(seconds=1)
    assert build.calls == 2
    clock[0] = settled.timestamp()
    assert (await cache.get(doc)).last_modified == settled
    assert build.calls == 3
    clock[0] = stamp.timestamp() + 100
    assert (await cache.get(doc)).last_modified == settled
    assert build.calls == 3


async def test_a_render_reads_one_state_of_the_store(
    store: SQLiteStore, settings: Settings
) -> None:
    """A builder reads the store several times (a count, then a page of items): a write between
    two reads must not give bytes that no state of the store had. The whole render is one read
    transaction: the write commits, and the render still sees the state it began with."""
    await store.put_articles([article(settings, "a")])
    cache = DocumentCache(store, settings, Metrics())
    seen: list[tuple[int, int]] = []

    async def two_reads(ctx: RenderContext) -> Rendered:
        first = await ctx.store.aggregate(ALL_NEWS, now=ctx.now)
        await store.put_articles([article(settings, "b", title="посреди рендера")])
        second = await ctx.store.aggregate(ALL_NEWS, now=ctx.now)
        listed = await ctx.store.articles(ALL_NEWS, now=ctx.now, limit=10)
        seen.append((first[0], second[0]))
        return Rendered(f"<doc n='{len(listed)}'/>".encode(), "application/xml")

    doc = Document("all", "feed", frozenset({"all"}), two_reads)
    entry = await cache.get(doc)
    assert seen == [(1, 1)]
    assert entry.body == b"<doc n='1'/>"
    # Outside the render the write is there, and the next request renders it.
    assert (await store.aggregate(ALL_NEWS, now=datetime.now(UTC)))[0] == 2
    assert (await cache.get(doc)).body == b"<doc n='2'/>"  # (b again, unchanged: no write)
    assert seen == [(1, 1), (2, 2)]


async def test_bulk_changes_clear_everything(store: SQLiteStore, settings: Settings) -> None:
    from syndication import cache as cache_module

    cache = DocumentCache(store, settings, Metrics())
    build = Counting()
    doc = Document("x", "feed", frozenset({"rubric:none"}), build)
    await cache.get(doc)
    old = cache_module.MAX_CHANGES_TO_APPLY
    cache_module.MAX_CHANGES_TO_APPLY = 3
    try:
        await store.put_articles([article(settings, f"a{i}") for i in range(5)])
        await cache.get(doc)
    finally:
        cache_module.MAX_CHANGES_TO_APPLY = old
    assert build.calls == 2


# --- memory bounds ----------------------------------------------------------------------------
MiB = 1024 * 1024


def body_of(size: int, seed: int) -> bytes:
    """`size` bytes, half incompressible: the encoded forms' sizes vary as real ones do."""
    rng = random.Random(seed)
    return rng.randbytes(size // 2) + b"<item/>" * ((size - size // 2) // 7 + 1)


class Sized:
    """A builder of a body of known size; a new version on every render."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size, self.seed, self.calls = size, seed, 0

    async def __call__(self, ctx: RenderContext) -> Rendered:
        self.calls += 1
        return Rendered(body_of(self.size, self.seed * 1000 + self.calls)[: self.size],
                        "application/xml; charset=utf-8")  # fmt: skip


async def missing_doc(ctx: RenderContext) -> Rendered:
    raise DocumentNotFound("no such tag")


def doc_budget(cache: DocumentCache) -> int:
    return cache.max_bytes - 2 * (cache.max_bytes // 16)


async def test_the_cache_never_exceeds_its_byte_bound(
    store: SQLiteStore, settings: Settings
) -> None:
    cache = DocumentCache(store, settings, Metrics(), max_bytes=2 * MiB)
    sizes = [random.Random(i).randrange(1, 120_000) for i in range(200)]
    kept: list[tuple[str, int]] = []  # what the cache should hold, oldest first
    for i, size in enumerate(sizes):
        entry = await cache.get(Document(f"d{i}", "feed", frozenset({"all"}), Sized(size, i)))
        assert len(entry.body) == size
        kept.append((entry.key, entry_cost(entry.key, entry)))
        while sum(cost for _, cost in kept) > doc_budget(cache):
            kept.pop(0)
        assert cache.cached_keys() == [key for key, _ in kept]
        assert cache.cached_bytes() <= cache.max_bytes
    # Many were evicted, oldest first, and what is left fills the budget as far as it can.
    assert 5 < len(kept) < 100
    assert kept[0][0] != "d0"
    assert cache._documents.bytes == sum(cost for _, cost in kept) <= doc_budget(cache)


async def test_hits_keep_documents_and_a_huge_one_is_served_not_kept(
    store: SQLiteStore, settings: Settings
) -> None:
    cache = DocumentCache(store, settings, Metrics(), max_bytes=1 * MiB)
    hot = Sized(50_000, 1)
    hot_doc = Document("hot", "feed", frozenset(), hot)
    await cache.get(hot_doc)
    for i in range(100):
        await cache.get(Document(f"cold{i}", "feed", frozenset(), Sized(40_000, i)))
        await cache.get(hot_doc)  # recently used: never the one evicted
    assert hot.calls == 1
    huge = Sized(2 * MiB, 2)
    huge_doc = Document("huge", "archive", frozenset(), huge)
    entry = await cache.get(huge_doc)
    assert len(entry.body) == 2 * MiB
    assert "huge" not in cache.cached_keys()
    assert "hot" in cache.cached_keys()
    await cache.get(huge_doc)
    assert huge.calls == 2
    assert cache.cached_bytes() <= cache.max_bytes


async def test_a_flood_of_404s_does_not_evict_a_live_document(
    store: SQLiteStore, settings: Settings
) -> None:
    # A clock a minute ahead: no render is within the second the settings were first recorded.
    cache = DocumentCache(store, settings, Metrics(), max_bytes=1 * MiB,
                          clock=lambda: time.time() + 60)  # fmt: skip
    live = Sized(200_000, 3)
    live_doc = Document("feed:all", "feed", frozenset({"all"}), live)
    await cache.get(live_doc)
    for i in range(3000):
        gone = await cache.get(Document(f"feed:tag:x{i}", "feed", frozenset({f"tag:x{i}"}),
                                        missing_doc))  # fmt: skip
        assert gone.status == 404
    await cache.get(live_doc)
    assert live.calls == 1
    assert cache._missing.bytes <= cache.max_bytes // 16
    assert 0 < len(cache._missing) < 3000  # the oldest 404s went
    assert cache.cached_bytes() <= cache.max_bytes


async def test_per_url_state_stays_bounded_under_a_crawl(
    store: SQLiteStore, settings: Settings
) -> None:
    cache = DocumentCache(store, settings, Metrics(), max_bytes=1 * MiB)
    for i in range(3000):
        await cache.get(Document(f"feed:all:rss:page={i}:limit=7", "feed", frozenset({"all"}),
                                 Sized(600, i)))  # fmt: skip
    keys_budget = cache.max_bytes // 16
    assert cache._keys.bytes <= keys_budget
    assert 0 < len(cache.render_counts) <= keys_budget // KEY_OVERHEAD
    assert "feed:all:rss:page=2999:limit=7" in cache.render_counts  # the newest are remembered
    assert "feed:all:rss:page=0:limit=7" not in cache.render_counts
    assert cache.cached_bytes() <= cache.max_bytes


async def test_an_invalidated_document_keeps_its_validators_through_a_crawl(
    store: SQLiteStore, settings: Settings
) -> None:
    """Last-Modified never goes back, even when the URL's record would have aged out."""
    cache = DocumentCache(store, settings, Metrics(), max_bytes=1 * MiB)
    told: list[datetime] = []

    async def feed(ctx: RenderContext) -> Rendered:
        # The newest article was deleted: the content date moves back a day.
        content = datetime(2025, 12, 2, tzinfo=UTC) - timedelta(days=len(told))
        return Rendered(f"<feed n='{len(told)}'/>".encode(), "application/xml",
                        last_modified=content)  # fmt: skip

    doc = Document("feed:all", "feed", frozenset({"all"}), feed)
    told.append((await cache.get(doc)).last_modified)
    for i in range(3000):  # a crawl that pushes every record but the hot document's out
        await cache.get(Document(f"x{i}", "feed", frozenset(), Sized(600, i)))
        await cache.get(doc)
    await store.put_articles([article(settings, "a")])
    told.append((await cache.get(doc)).last_modified)
    assert told[1] >= told[0]


def deep_size(root: object) -> int:
    seen: set[int] = set()
    stack, total = [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | types.ModuleType | types.FunctionType):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


@pytest.mark.parametrize("size", [100, 3000, 70_000])
async def test_the_charge_covers_what_an_entry_really_holds(
    store: SQLiteStore, settings: Settings, size: int
) -> None:
    """entry_cost against the real memory of an entry with every variant serving.py prepares."""
    cache = DocumentCache(store, settings, Metrics())

    def prepare(e: Entry) -> None:
        for accept in (None, "gzip", "br"):
            answer("GET", e, accept_encoding=accept, if_none_match=None, if_modified_since=None)
        answer("GET", e, accept_encoding=None, if_none_match=None, if_modified_since=None,
               gzip_only=True)  # fmt: skip

    warm = await cache.get(Document("feed:tag:warm:rss:page=1:limit=50", "feed",
                                    frozenset({"tag:warm"}), Sized(size, 1)))  # fmt: skip
    prepare(warm)
    held: list[object] = [cache._documents]
    before = deep_size(held)
    key = "feed:tag:obshchestvo-i-politika:rss:page=1:limit=50"
    e = await cache.get(Document(key, "feed", frozenset({"tag:obshchestvo-i-politika"}),
                                 Sized(size, 2)))  # fmt: skip
    prepare(e)
    assert deep_size(held) - before <= entry_cost(key, e)


@dataclass
class Model:
    """What the cache should hold: keys oldest first, with their charge."""

    budget: int
    held: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def used(self, key: str) -> None:
        self.held.move_to_end(key)

    def rendered(self, key: str, cost: int) -> None:
        self.held.pop(key, None)
        if cost > self.budget:
            return
        self.held[key] = cost
        while sum(self.held.values()) > self.budget:
            self.held.popitem(last=False)


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("get"), st.integers(0, 11)),
        st.tuples(st.just("missing"), st.integers(0, 50)),
        st.tuples(st.just("write"), st.just(0)),
    ),
    max_size=40,
)


@given(sizes=st.lists(st.integers(0, 320_000), min_size=12, max_size=12), ops=OPS)
@h_settings(max_examples=40, deadline=None)
def test_any_sequence_keeps_the_cache_within_its_bound(
    sizes: list[int], ops: list[tuple[str, int]]
) -> None:
    asyncio.run(_run_ops(sizes, ops))


async def _run_ops(sizes: list[int], ops: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(environ={}, db=f"{tmp}/s.db", api_token="x" * 20)
        store = SQLiteStore(settings.db, settings.zone)
        await store.open()
        try:
            cache = DocumentCache(store, settings, Metrics(), max_bytes=1 * MiB)
            model = Model(doc_budget(cache))
            builders = [Sized(size, i) for i, size in enumerate(sizes)]
            writes = 0
            for op, i in ops:
                if op == "get":
                    key = f"d{i}"
                    deps = frozenset({"all"} if i % 2 else {"rubric:none"})
                    calls = builders[i].calls
                    entry = await cache.get(Document(key, "feed", deps, builders[i]))
                    if builders[i].calls == calls:
                        model.used(key)
                    else:
                        model.rendered(key, entry_cost(key, entry))
                elif op == "missing":
                    await cache.get(Document(f"m{i}", "feed", frozenset({"all"}), missing_doc))
                else:
                    # A new title each time: an article sent again unchanged is no change.
                    writes += 1
                    await store.put_articles([article(settings, "a", title=f"Правка {writes}")])
                    await cache.sync()
                    for key in [k for k in model.held if int(k[1:]) % 2]:
                        del model.held[key]
                assert cache._documents.keys() == list(model.held)
                assert cache._documents.bytes == sum(model.held.values()) <= model.budget
                assert cache._missing.bytes <= cache.max_bytes // 16
                assert cache.cached_bytes() <= cache.max_bytes
        finally:
            await store.close()


# --- hits never wait behind renders ---------------------------------------------------------
class ProbedStore:
    """A store that counts its calls; with `busy` set, every read except the change log's waits
    for `released`, as reads queue behind a render's queries on a single reader connection."""

    def __init__(self, inner: SQLiteStore, released: asyncio.Event) -> None:
        self.inner = inner
        self.released = released
        self.busy = False
        self.calls: list[str] = []
        self.blocked: list[str] = []
        self.someone_blocked = asyncio.Event()

    def change_hint(self) -> int:
        return self.inner.change_hint()

    async def change_head(self) -> int:
        return await self.inner.change_head()

    def snapshot(self) -> AbstractAsyncContextManager[None]:
        return self.inner.snapshot()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if self.busy and name not in ("changes_since", "last_change_id"):
                self.blocked.append(name)
                self.someone_blocked.set()
                await self.released.wait()
            return await method(*args, **kwargs)

        return call


async def test_a_hit_with_nothing_new_costs_no_store_call(
    store: SQLiteStore, settings: Settings
) -> None:
    probed = ProbedStore(store, asyncio.Event())
    cache = DocumentCache(cast(Store, probed), settings, Metrics())
    doc = Document("robots", "robots", frozenset(), Counting())
    await cache.get(doc)
    probed.calls.clear()
    for _ in range(100):
        await cache.get(doc)
    assert probed.calls == []
    # After an unrelated write, the hit reads the change log and nothing else.
    await store.put_articles([article(settings, "a")])
    await cache.get(doc)
    assert probed.calls == ["changes_since"]


async def test_a_cached_hit_does_not_wait_behind_a_render(
    store: SQLiteStore, settings: Settings
) -> None:
    released = asyncio.Event()
    started = asyncio.Event()
    probed = ProbedStore(store, released)
    cache = DocumentCache(cast(Store, probed), settings, Metrics())

    async def held(ctx: RenderContext) -> Rendered:
        started.set()
        await released.wait()
        return Rendered(b"<sitemapindex/>", "application/xml")

    robots = Document("robots", "robots", frozenset(), Counting())
    await cache.get(robots)
    render = asyncio.create_task(
        cache.get(Document("sitemap:index", "sitemap-index", frozenset({"all"}), held))
    )
    await started.wait()
    probed.busy = True  # from here on the reader is the render's
    await store.put_articles([article(settings, "a")])  # the counter moves
    assert store.change_hint() > cache._synced

    async def release_once_something_waits() -> None:
        # Without this, a hit that waits behind the render would hang the test instead of
        # failing it.
        await probed.someone_blocked.wait()
        released.set()

    watchdog = asyncio.create_task(release_once_something_waits())
    probed.calls.clear()
    hit = await cache.get(robots)
    released_before_the_hit = released.is_set()
    render_done_before_the_hit = render.done()
    reads = list(probed.calls)

    # The race was on: the render was still held, and the hit had a change to read first.
    assert not released_before_the_hit
    assert not render_done_before_the_hit
    assert reads == ["changes_since"]
    assert probed.blocked == []
    assert hit.key == "robots"
    # And the gate is real: any other read now waits until the render lets go.
    probe = asyncio.create_task(probed.next_publication(after=datetime.now(UTC)))
    await probed.someone_blocked.wait()
    assert not probe.done()
    await watchdog
    await probe
    await render
    # The render started before the write it depends on: served, but not kept.
    assert "sitemap:index" not in cache.cached_keys()


def test_the_bound_is_a_setting() -> None:
    assert Settings.load(environ={"SYNDICATION_CACHE_MAX_BYTES": "67108864"}).cache_max_bytes == (
        64 * MiB
    )
    assert Settings.load(environ={}).cache_max_bytes == 256 * MiB
    with pytest.raises(ConfigError):
        Settings.load(environ={"SYNDICATION_CACHE_MAX_BYTES": "1000"})


# --- HTTP semantics -------------------------------------------------------------------------
def entry(body: bytes = b"<feed>" + "новости ".encode() * 200 + b"</feed>") -> Entry:
    return Entry(
        key="k", kind="feed", deps=frozenset(), status=200, media_type="application/rss+xml; charset=utf-8",
        body=body, gzip=gzip.compress(body, mtime=0), br=brotli.compress(body), etag="abc123",
        last_modified=datetime(2025, 12, 10, 15, 8, tzinfo=UTC),
        last_modified_http="Wed, 10 Dec 2025 15:08:00 GMT", change_id=0, expires=float("inf"),
    )  # fmt: skip


def respond(method: str, headers: Headers, e: Entry, *, gzip_only: bool = False) -> Response:
    """What the fast path would send, as a Starlette response to inspect."""
    status, raw, body = answer(
        method,
        e,
        accept_encoding=headers.get("accept-encoding"),
        if_none_match=headers.get("if-none-match"),
        if_modified_since=headers.get("if-modified-since"),
        gzip_only=gzip_only,
    )
    response = Response(body, status_code=status)
    response.raw_headers = raw
    return response


def h(**headers: str) -> Headers:
    return Headers({k.replace("_", "-"): v for k, v in headers.items()})


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, None), ("", None), ("gzip", "gzip"), ("br", "br"), ("gzip, deflate, br", "br"),
        ("br;q=0.5, gzip", "gzip"), ("br;q=0, gzip;q=0", None), ("*", "br"),
        ("identity", None), ("*;q=0", None), ("x-gzip", "gzip"), ("BR", "br"),
        ("gzip;q=bogus, br", "br"),
    ],
)  # fmt: skip
def test_accept_encoding(accept: str | None, expected: str | None) -> None:
    assert choose_encoding(accept, br=True, gz=True) == expected


def test_identity_response_headers() -> None:
    e = entry()
    r = respond("GET", h(), e)
    assert r.status_code == 200
    assert r.body == e.body
    assert r.headers["etag"] == '"abc123"'
    assert r.headers["last-modified"] == "Wed, 10 Dec 2025 15:08:00 GMT"
    assert r.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=300"
    assert r.headers["vary"] == "Accept-Encoding, Accept"  # a feed: browsers get application/xml
    assert r.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert int(r.headers["content-length"]) == len(e.body)
    assert "content-encoding" not in r.headers


def test_compressed_forms_decompress_to_the_same_bytes() -> None:
    e = entry()
    gz = respond("GET", h(accept_encoding="gzip"), e)
    br = respond("GET", h(accept_encoding="br, gzip"), e)
    assert gz.headers["content-encoding"] == "gzip"
    assert br.headers["content-encoding"] == "br"
    assert gzip.decompress(gz.body) == e.body == brotli.decompress(br.body)
    assert (
        len({gz.headers["etag"], br.headers["etag"], respond("GET", h(), e).headers["etag"]}) == 3
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"if_none_match": '"abc123"'}, {"if_none_match": 'W/"abc123"'},
        {"if_none_match": '"other", "abc123-br"'}, {"if_none_match": "*"},
        {"if_modified_since": "Wed, 10 Dec 2025 15:08:00 GMT"},
        {"if_modified_since": "Thu, 11 Dec 2025 00:00:00 GMT"},
    ],
)  # fmt: skip
def test_not_modified(headers: dict[str, str]) -> None:
    r = respond("GET", h(accept_encoding="gzip", **headers), entry())
    assert r.status_code == 304
    assert r.body == b""
    assert r.headers["etag"] == '"abc123-gz"'
    assert r.headers["vary"] == "Accept-Encoding, Accept"  # a feed: browsers get application/xml
    assert "content-type" not in r.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"if_none_match": '"stale"'},
        {"if_modified_since": "Wed, 10 Dec 2025 15:07:59 GMT"},
        {"if_modified_since": "not a date"},
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
        {"if_none_match": '"stale"', "if_modified_since": "Thu, 11 Dec 2025 00:00:00 GMT"},
    ],
)  # fmt: skip
def test_modified(headers: dict[str, str]) -> None:
    assert respond("GET", h(**headers), entry()).status_code == 200


def test_a_date_of_the_current_second_or_later_is_answered_in_full() -> None:
    """Dates have whole seconds: a write later in the second a client's copy is dated may have
    replaced it, and a date from the future proves nothing (RFC 9110 §13.1.3)."""
    e = entry()
    lm = e.last_modified.timestamp()

    def status(since: str, now: float) -> int:
        return answer("GET", e, accept_encoding=None, if_none_match=None,
                      if_modified_since=since, now=now)[0]  # fmt: skip

    same = "Wed, 10 Dec 2025 15:08:00 GMT"
    assert status(same, now=lm + 0.5) == 200
    assert status(same, now=lm + 1) == 304
    assert status("Wed, 10 Dec 2025 15:08:05 GMT", now=lm + 3) == 200  # later than now
    assert status("Wed, 10 Dec 2025 15:08:02 GMT", now=lm + 3) == 304
    # A date capped at its render's second may also be an older version's: it proves nothing.
    capped = replace(e, capped=True)
    assert answer("GET", capped, accept_encoding=None, if_none_match=None,
                  if_modified_since=same, now=lm + 5)[0] == 200  # fmt: skip
    assert answer("GET", capped, accept_encoding=None, if_none_match='"abc123"',
                  if_modified_since=None, now=lm + 5)[0] == 304  # fmt: skip


def test_head_has_the_same_headers_and_no_body() -> None:
    e = entry()
    for accept in ("", "gzip", "br"):
        get = respond("GET", h(accept_encoding=accept), e)
        head = respond("HEAD", h(accept_encoding=accept), e)
        assert head.body == b""
        assert head.headers.items() == get.headers.items()


def test_gzip_only_form() -> None:
    e = entry()
    r = respond("GET", h(accept_encoding="br"), e, gzip_only=True)
    assert r.headers["content-type"] == "application/gzip"
    assert "content-encoding" not in r.headers
    assert gzip.decompress(r.body) == e.body
