"""RFC 5005: walking `next` pages and `prev-archive` archives visits every article once."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import feedparser
import orjson
import pytest

from feeds import build_feed
from syndication.config import Settings
from syndication.model import ALL_NEWS, Scope, ScopeKind
from syndication.rendering import RenderContext
from syndication.store import SQLiteStore
from tests.feeds.helpers import NOW, context, load, payload

pytestmark = [pytest.mark.anyio, pytest.mark.backends]

BASE = "https://feeds.example.ru"


def _scope_and_page(url: str) -> tuple[Scope, int, int | None]:
    """A feed URL back to what build_feed takes, as the serving layer would route it."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    path = parts.path.rsplit(".", 1)[0]
    page = int(query.get("page", ["1"])[0])
    limit = int(query["limit"][0]) if "limit" in query else None
    if path == "/feeds/all":
        return ALL_NEWS, page, limit
    kind, key = path.removeprefix("/feeds/").split("/")
    return Scope(ScopeKind.MONTH if kind == "archive" else ScopeKind(kind), key), page, limit


async def _links(ctx: RenderContext, url: str, fmt: str) -> tuple[list[str], dict[str, str]]:
    scope, page, limit = _scope_and_page(url)
    body = (await build_feed(ctx, scope, fmt, page=page, limit=limit)).body
    if fmt == "json":
        doc = orjson.loads(body)
        return [i["id"] for i in doc["items"]], doc.get("_paging", {})
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    links = {link.rel: link.href for link in parsed.feed.links}
    return [e.id for e in parsed.entries], links


async def _mixed_store(store: SQLiteStore, settings: Settings) -> set[str]:
    """Articles over three months with one empty month between, plus the invisible kinds."""
    hours = [*range(1, 12), 24 * 25, 24 * 26, 24 * 70, 24 * 71, 24 * 72]  # Dec, Nov, Oct; no Sep
    payloads = [payload(h) for h in hours]
    payloads.append(payload(9001, published_at=(NOW - timedelta(days=110)).isoformat()))  # Sep
    payloads.append(payload(9002, published_at=(NOW - timedelta(days=170)).isoformat()))  # Jul
    payloads.append(payload(9003, status="draft"))
    payloads.append(payload(9004, published_at=(NOW + timedelta(minutes=1)).isoformat()))
    payloads.append(payload(9005))
    await load(store, settings, payloads)
    assert await store.delete_article("a-9005") is not None
    visible = {p["id"] for p in payloads} - {"a-9003", "a-9004", "a-9005"}
    return {f"tag:example.ru,2025:article:{i}" for i in visible}


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
async def test_walking_next_visits_every_article_once(
    store: SQLiteStore, settings: Settings, fmt: str
) -> None:
    expected = await _mixed_store(store, settings)
    ctx = context(store, settings)
    url: str | None = f"{BASE}/feeds/all.{fmt}?limit=4"
    seen: list[str] = []
    pages = 0
    while url:
        ids, links = await _links(ctx, url, fmt)
        seen += ids
        pages += 1
        assert links["first"] == f"{BASE}/feeds/all.{fmt}?limit=4"
        assert links["last"] == f"{BASE}/feeds/all.{fmt}?page=5&limit=4"
        url = links.get("next")
    assert pages == 5
    assert len(seen) == len(set(seen))
    assert set(seen) == expected


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
async def test_walking_prev_archive_visits_every_article_once(
    store: SQLiteStore, settings: Settings, fmt: str
) -> None:
    expected = await _mixed_store(store, settings)
    ctx = context(store, settings)
    _, links = await _links(ctx, f"{BASE}/feeds/all.{fmt}", fmt)
    url: str | None = links["prev-archive"]
    assert url == f"{BASE}/feeds/archive/2025-12.{fmt}"
    seen: list[str] = []
    months = []
    while url:
        ids, links = await _links(ctx, url, fmt)
        months.append(_scope_and_page(url)[0].key)
        seen += ids
        assert links["current"] == f"{BASE}/feeds/all.{fmt}"
        url = links.get("prev-archive")
    assert months == ["2025-12", "2025-11", "2025-10", "2025-09", "2025-07"]  # August skipped
    assert len(seen) == len(set(seen))
    assert set(seen) == expected


async def test_archive_marking(store: SQLiteStore, settings: Settings) -> None:
    await _mixed_store(store, settings)
    ctx = context(store, settings)
    current = (await build_feed(ctx, Scope(ScopeKind.MONTH, "2025-12"), "atom")).body
    closed = (await build_feed(ctx, Scope(ScopeKind.MONTH, "2025-11"), "atom")).body
    assert b"<fh:archive/>" not in current  # December is still running at NOW
    assert b'xmlns:fh="http://purl.org/syndication/history/1.0"' in closed
    assert b"<fh:archive/>" in closed
    rss = (await build_feed(ctx, Scope(ScopeKind.MONTH, "2025-11"), "rss")).body
    assert b"<fh:archive/>" in rss
    doc = orjson.loads((await build_feed(ctx, Scope(ScopeKind.MONTH, "2025-11"), "json")).body)
    assert doc["_paging"]["archive"] is True
    assert doc["_paging"]["next-archive"] == f"{BASE}/feeds/archive/2025-12.json"
    # Once January begins, December is closed too.
    january = context(store, settings, NOW + timedelta(days=15))
    december = (await build_feed(january, Scope(ScopeKind.MONTH, "2025-12"), "atom")).body
    assert b"<fh:archive/>" in december


async def test_page_links_and_self(store: SQLiteStore, settings: Settings) -> None:
    await load(store, settings, [payload(n) for n in range(1, 8)])
    body = (await build_feed(context(store, settings), ALL_NEWS, "atom", page=2, limit=3)).body
    links = {link.rel: link.href for link in feedparser.parse(body).feed.links}
    assert links["self"] == f"{BASE}/feeds/all.atom?page=2&limit=3"
    assert links["previous"] == f"{BASE}/feeds/all.atom?limit=3"
    assert links["next"] == f"{BASE}/feeds/all.atom?page=3&limit=3"
    default = (await build_feed(context(store, settings), ALL_NEWS, "rss")).body
    assert b"limit=" not in default
    assert b'rel="next"' not in default
