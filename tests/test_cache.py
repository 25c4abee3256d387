"""The document cache: single flight, precise invalidation from the change log, expiry, HTTP."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import brotli
import pytest
from starlette.datastructures import Headers
from starlette.responses import Response

from syndication.cache import DocumentCache, Entry
from syndication.config import Settings
from syndication.documents import Document
from syndication.ingest import validate_article
from syndication.metrics import Metrics
from syndication.rendering import DocumentNotFound, RenderContext, Rendered
from syndication.serving import answer, choose_encoding
from syndication.store import SQLiteStore

pytestmark = pytest.mark.anyio


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
    cache = DocumentCache(store, settings, metrics)
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
    cache = DocumentCache(store, settings, Metrics())
    build = Counting(delay=0.1)
    doc = Document("all", "feed", frozenset({"all"}), build)
    await cache.sync()
    rendering = asyncio.create_task(cache.get(doc))
    await asyncio.sleep(0.02)
    await store.put_articles([article(settings, "a")])
    await cache.sync()  # a request after the write: the render under way is now stale
    await rendering
    await cache.get(doc)
    assert build.calls == 2


async def test_scheduled_article_expires_the_cache(store: SQLiteStore, settings: Settings) -> None:
    now = datetime.now(UTC).timestamp()
    clock = [now]
    cache = DocumentCache(store, settings, Metrics(), clock=lambda: clock[0])
    soon = datetime.fromtimestamp(now, UTC) + timedelta(seconds=30)
    await store.put_articles([article(settings, "later", published_at=soon.isoformat())])
    build = Counting()
    doc = Document("all", "feed", frozenset({"all"}), build)
    await cache.get(doc)
    clock[0] = now + 29
    await cache.get(doc)
    assert build.calls == 1
    clock[0] = now + 31  # the article is live now: no write happened, yet the feed re-renders
    await cache.get(doc)
    assert build.calls == 2
    await cache.get(doc)
    assert build.calls == 2


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
    assert r.headers["vary"] == "Accept-Encoding"
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
    assert r.headers["vary"] == "Accept-Encoding"
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
