"""Month archives as chains of bounded pages: a reader walking the RFC 5005 archive from the
subscription feed visits every article once, every page within the bound and valid; the pages'
dependency tags cover exactly what their links read."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import feedparser
import orjson
import pytest

from feeds import archive
from syndication.cache import DocumentCache
from syndication.config import Settings
from syndication.dependencies import all_tags, count_tags, earlier_counts
from syndication.documents import resolve
from syndication.metrics import Metrics
from syndication.rendering import BadParameter, RenderContext
from syndication.store import SQLiteStore
from syndication.timeutil import shift_month
from tests.conftest import SHARED
from tests.feeds.helpers import NOW, assert_valid_atom, context, load, payload

pytestmark = [pytest.mark.anyio, pytest.mark.backends]

BASE = "https://feeds.example.ru"
MSK = ZoneInfo("Europe/Moscow")
FORMATS = ("rss", "atom", "json")
BUSY = 5_000  # articles of November 2025
SCHEMAS = SHARED / "schemas"


def _month(prefix: str, start: datetime, count: int, step: timedelta) -> list[dict[str, Any]]:
    """`count` articles from `start`, three at a time on one timestamp (ties cross page ends)."""
    return [
        payload(
            0,
            id=f"{prefix}-{i:05d}",
            url=f"https://example.ru/{prefix}/{i}/",
            published_at=(start + (i // 3) * step).isoformat(),
            content_html=f"<p>{prefix} {i}</p>",
        )
        for i in range(count)
    ]


async def _busy_store(store: SQLiteStore, settings: Settings) -> set[str]:
    """October (7), a busy November (5,000), the running December (12, at NOW = Dec 20)."""
    payloads = [
        *_month("oct", datetime(2025, 10, 3, tzinfo=MSK), 7, timedelta(hours=5)),
        *_month("nov", datetime(2025, 11, 1, 0, 1, tzinfo=MSK), BUSY, timedelta(minutes=25)),
        *_month("dec", datetime(2025, 12, 1, 9, tzinfo=MSK), 12, timedelta(hours=7)),
    ]
    await load(store, settings, payloads)
    return {f"tag:example.ru,2025:article:{p['id']}" for p in payloads}


@dataclass
class Page:
    url: str
    ids: list[str]
    links: dict[str, str]
    next_url: str | None


async def fetch(ctx: RenderContext, url: str) -> Page:
    """GET `url` as the service routes it (documents.resolve), parsed and validated."""
    assert url.startswith(BASE)
    parts = urlsplit(url.removeprefix(BASE))
    settings = ctx.settings
    doc = resolve(parts.path, dict(parse_qsl(parts.query)),
                  feed_limit=settings.feed_limit, max_limit=settings.feed_max_limit)  # fmt: skip
    assert doc is not None, url
    body = (await doc.build(ctx)).body
    fmt = parts.path.rsplit(".", 1)[1]
    if fmt == "json":
        feed = orjson.loads(body)
        assert feed["feed_url"] == url
        _valid_json_feed(feed)
        return Page(url, [i["id"] for i in feed["items"]], feed.get("_paging", {}),
                    feed.get("next_url"))  # fmt: skip
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    if fmt == "atom" and SCHEMAS.is_dir():
        assert_valid_atom(body)
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links["self"] == url
    return Page(url, [e.id for e in parsed.entries], links, None)


def _valid_json_feed(feed: dict[str, Any]) -> None:
    validator = _json_feed_validator()
    if validator is not None:
        validator.validate(feed)


@cache
def _json_feed_validator() -> Any:
    """The JSON Feed 1.1 schema, checked once (jsonschema.validate checks it on every call)."""
    try:
        import jsonschema  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # pragma: no cover
        return None
    if not SCHEMAS.is_dir():  # pragma: no cover (CI lays ../shared beside the clone)
        return None
    schema = json.loads((SCHEMAS / "jsonfeed-1.1.schema.json").read_bytes())
    return jsonschema.validators.validator_for(schema)(schema)


async def walk_back(ctx: RenderContext, fmt: str) -> list[Page]:
    """From the subscription feed, every archive page along prev-archive, newest first."""
    start = await fetch(ctx, f"{BASE}/feeds/all.{fmt}")
    pages: list[Page] = []
    url: str | None = start.links["prev-archive"]
    while url:
        page = await fetch(ctx, url)
        assert page.links["current"] == f"{BASE}/feeds/all.{fmt}"
        if pages:  # next-archive is the exact inverse of prev-archive
            assert page.links["next-archive"] == pages[-1].url
        pages.append(page)
        url = page.links.get("prev-archive")
        assert len(pages) < 1_000, "the chain does not end"
    return pages


async def _check_walk(ctx: RenderContext, fmt: str, expected: set[str], size: int) -> None:
    pages = await walk_back(ctx, fmt)
    seen = [i for p in pages for i in p.ids]
    duplicates = [i for i, n in Counter(seen).items() if n > 1]
    assert not duplicates
    assert set(seen) == expected
    assert max(len(p.ids) for p in pages) <= size
    busy = [p for p in pages if "/archive/2025-11" in p.url]
    assert len(busy) == -(-BUSY // size)
    # Every page but the month's last (newest) is full: new articles only ever reach the last.
    assert [len(p.ids) for p in busy[1:]] == [size] * (len(busy) - 1)
    urls = [p.url.removeprefix(BASE) for p in pages]
    assert urls[-1] == f"/feeds/archive/2025-10.{fmt}"
    assert f"/feeds/archive/2025-11.{fmt}" in urls
    assert f"/feeds/archive/2025-11-2.{fmt}" in urls
    if fmt == "json":
        # JSON Feed readers page with next_url alone: from the month's URL, through its pages.
        url: str | None = f"{BASE}/feeds/archive/2025-11.json"
        month: list[str] = []
        walked = {p.url: p for p in pages}  # the same documents: parsed and checked above
        while url:
            page = walked.get(url) or await fetch(ctx, url)
            month += page.ids
            url = page.next_url
        assert len(month) == len(set(month)) == BUSY


@pytest.mark.slow
async def test_a_busy_month_is_a_chain_of_small_pages(
    store: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = await _busy_store(store, settings)
    monkeypatch.setattr(archive, "PAGE_ITEMS", 331)  # ties of three straddle page ends
    ctx = context(store, settings)
    for fmt in FORMATS:
        await _check_walk(ctx, fmt, expected, 331)


@pytest.mark.slow
async def test_a_busy_month_with_the_default_page_size(
    store: SQLiteStore, settings: Settings
) -> None:
    expected = await _busy_store(store, settings)
    assert archive.PAGE_ITEMS == 500
    ctx = context(store, settings)
    for fmt in FORMATS:
        await _check_walk(ctx, fmt, expected, 500)


async def test_walking_forward_is_the_same_chain(
    store: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load(store, settings, _month("a", datetime(2025, 9, 2, tzinfo=MSK), 10, timedelta(hours=9))
               + _month("b", datetime(2025, 11, 2, tzinfo=MSK), 11, timedelta(hours=9)))  # fmt: skip
    monkeypatch.setattr(archive, "PAGE_ITEMS", 4)
    ctx = context(store, settings)
    back = [p.url for p in await walk_back(ctx, "atom")]
    assert [u.removeprefix(f"{BASE}/feeds/archive/") for u in back] == [
        "2025-11-3.atom", "2025-11-2.atom", "2025-11.atom",  # no October: it has no articles
        "2025-09-3.atom", "2025-09-2.atom", "2025-09.atom",
    ]  # fmt: skip
    forward = []
    url: str | None = back[-1]
    while url:
        forward.append(url)
        url = (await fetch(ctx, url)).links.get("next-archive")
    assert forward == back[::-1]


async def test_pages_past_the_last_and_foreign_urls(
    store: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load(
        store, settings, _month("a", datetime(2025, 11, 2, tzinfo=MSK), 9, timedelta(hours=1))
    )
    monkeypatch.setattr(archive, "PAGE_ITEMS", 4)
    ctx = context(store, settings)
    assert len((await fetch(ctx, f"{BASE}/feeds/archive/2025-11-3.rss")).ids) == 1
    four = resolve("/feeds/archive/2025-11-4.rss", {}, feed_limit=50, max_limit=500)
    assert four is not None
    with pytest.raises(LookupError):
        await four.build(ctx)
    for path in ("/feeds/archive/2025-11-1.rss", "/feeds/archive/2025-11-0.rss",
                 "/feeds/archive/2025-11-02.rss", "/feeds/archive/2025-13-2.rss",
                 "/feeds/archive/2025-11-\u0662.rss", f"/feeds/archive/2025-11-{'9' * 5000}.rss"):  # fmt: skip
        assert resolve(path, {}, feed_limit=50, max_limit=500) is None, path


@pytest.mark.parametrize("raw", ["\u00b2", "\u0662", "9" * 5000, "-1", "0"])
def test_a_bad_page_number_is_a_bad_parameter(raw: str) -> None:
    with pytest.raises(BadParameter):
        resolve("/feeds/all.rss", {"page": raw}, feed_limit=50, max_limit=500)


def _doc(path: str) -> tuple[str, frozenset[str]]:
    doc = resolve(path, {}, feed_limit=50, max_limit=500)
    assert doc is not None
    return doc.key, doc.deps


def test_pages_are_keyed_apart_and_depend_on_their_month() -> None:
    first, first_deps = _doc("/feeds/archive/2025-11.rss")
    second, second_deps = _doc("/feeds/archive/2025-11-2.rss")
    assert first == "feed:month:2025-11:rss"
    assert second == "feed:month:2025-11:rss:page=2"
    assert second_deps == {"month:2025-11", "months"}
    # Page 1 also links back into the month before, whose count picks the page it links to.
    assert first_deps == {"month:2025-11", "months"} | earlier_counts("2025-11")


def test_earlier_counts_cover_exactly_the_earlier_months() -> None:
    months = [shift_month("2023-01", n) for n in range(60)] + ["0001-01", "0001-02", "9998-12"]
    for later in months:
        earlier = earlier_counts(later)
        assert len(earlier) <= 17
        for month in months:
            assert bool(count_tags(month) & earlier) == (month < later), (month, later)


async def test_a_count_change_reaches_the_page_that_links_to_it(
    store: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """December page 1 links back over an empty November to October's last page: a new
    October article moves that link and raises one of its tags; an edit does neither."""
    monkeypatch.setattr(archive, "PAGE_ITEMS", 4)
    await load(store, settings, _month("oct", datetime(2025, 10, 2, tzinfo=MSK), 4, timedelta(hours=3))
               + _month("dec", datetime(2025, 12, 2, tzinfo=MSK), 2, timedelta(hours=3)))  # fmt: skip
    ctx = context(store, settings)
    key, deps = _doc("/feeds/archive/2025-12.rss")
    before = await fetch(ctx, f"{BASE}/feeds/archive/2025-12.rss")
    assert before.links["prev-archive"] == f"{BASE}/feeds/archive/2025-10.rss"

    async def tags_of(articles: list[dict[str, Any]]) -> set[str]:
        since = await store.last_change_id()
        await load(store, settings, articles)
        return all_tags(await store.changes_since(since), settings.zone)

    edit = _month("oct", datetime(2025, 10, 2, tzinfo=MSK), 1, timedelta(hours=3))
    edit[0]["title"] = "Правка"
    assert not (await tags_of(edit)) & deps
    assert (await fetch(ctx, f"{BASE}/feeds/archive/2025-12.rss")).links == before.links

    added = [payload(0, id="oct-new", published_at="2025-10-20T10:00:00+03:00")]
    assert (await tags_of(added)) & deps
    after = await fetch(ctx, f"{BASE}/feeds/archive/2025-12.rss")
    assert after.links["prev-archive"] == f"{BASE}/feeds/archive/2025-10-2.rss"
    assert key == "feed:month:2025-12:rss"


async def test_page_one_dates_a_move_of_its_prev_archive_link(
    store: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """December page 1 names October's last page: a new October article moves that link, and
    Last-Modified moves with the bytes (the store stamps no month-count tag: page 1 takes the
    stamp of the month its link names)."""
    monkeypatch.setattr(archive, "PAGE_ITEMS", 4)
    await load(store, settings, _month("oct", datetime(2025, 10, 2, tzinfo=MSK), 4, timedelta(hours=3))
               + _month("dec", datetime(2025, 12, 2, tzinfo=MSK), 2, timedelta(hours=3)))  # fmt: skip
    # Real time a minute ahead: no render falls within a write's margin.
    cache = DocumentCache(store, settings, Metrics(), clock=lambda: time.time() + 60)
    doc = resolve("/feeds/archive/2025-12.rss", {}, feed_limit=50, max_limit=500)
    assert doc is not None
    before = await cache.get(doc)
    # The next write in a later second: stamps have whole seconds.
    await asyncio.sleep(int(time.time()) + 1 - time.time())
    await load(
        store, settings, [payload(0, id="oct-new", published_at="2025-10-20T10:00:00+03:00")]
    )
    after = await cache.get(doc)
    assert b"2025-10-2.rss" not in before.body
    assert b"2025-10-2.rss" in after.body
    assert after.last_modified > before.last_modified


async def test_through_the_cache_every_page_follows_its_writes(
    store: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real cache, a fixed clock: what each write re-renders, and the links stay true."""
    monkeypatch.setattr(archive, "PAGE_ITEMS", 4)
    sep = _month("sep", datetime(2025, 9, 2, tzinfo=MSK), 10, timedelta(hours=9))
    nov = _month("nov", datetime(2025, 11, 2, tzinfo=MSK), 11, timedelta(hours=9))
    await load(store, settings, sep + nov)
    cache = DocumentCache(store, settings, Metrics(), clock=NOW.timestamp)
    paths = [f"/feeds/archive/2025-{m}{p}.rss" for m in ("09", "11") for p in ("", "-2", "-3")]

    async def get(path: str) -> Page:
        doc = resolve(path, {}, feed_limit=50, max_limit=500)
        assert doc is not None
        entry = await cache.get(doc)
        assert entry.status == 200, path
        parsed = feedparser.parse(entry.body)
        return Page(path, [e.id for e in parsed.entries],
                    {k.rel: k.href for k in parsed.feed.links}, None)  # fmt: skip

    async def renders() -> dict[str, int]:
        for path in paths:
            await get(path)
        return {p.removeprefix("/feeds/archive/2025-"): cache.render_counts[_doc(p)[0]]
                for p in paths}  # fmt: skip

    assert set((await renders()).values()) == {1}
    # An edit in November: all of November's pages, nothing of September's.
    await load(store, settings, [{**nov[5], "title": "Правка"}])
    assert await renders() == {"09.rss": 1, "09-2.rss": 1, "09-3.rss": 1,
                               "11.rss": 2, "11-2.rss": 2, "11-3.rss": 2}  # fmt: skip
    # An edit in September: September's pages only.
    await load(store, settings, [{**sep[0], "title": "Правка"}])
    assert await renders() == {"09.rss": 2, "09-2.rss": 2, "09-3.rss": 2,
                               "11.rss": 2, "11-2.rss": 2, "11-3.rss": 2}  # fmt: skip
    # Three new September articles make a fourth page: November's page 1 links back to it.
    more = _month("sep-late", datetime(2025, 9, 28, tzinfo=MSK), 3, timedelta(hours=1))
    await load(store, settings, more)
    assert await renders() == {"09.rss": 3, "09-2.rss": 3, "09-3.rss": 3,
                               "11.rss": 3, "11-2.rss": 2, "11-3.rss": 2}  # fmt: skip
    first = await get("/feeds/archive/2025-11.rss")
    assert first.links["prev-archive"] == f"{BASE}/feeds/archive/2025-09-4.rss"
    fourth = await get("/feeds/archive/2025-09-4.rss")
    assert fourth.links["next-archive"] == f"{BASE}/feeds/archive/2025-11.rss"
    assert len(fourth.ids) == 1
