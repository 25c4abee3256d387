"""RFC 6721: an article readers saw that is deleted or unpublished appears in the Atom feeds that
showed it as <at:deleted-entry ref when> for the retraction period, then leaves them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from lxml import etree

import feeds
from feeds.items import article_guid
from syndication.config import Settings
from syndication.ingest import validate_article
from syndication.model import Scope, ScopeKind
from syndication.rendering import RenderContext, Rendered
from syndication.store import SQLiteStore
from tests.conftest import SHARED, requires_shared
from tests.feeds.feedrules import check
from tests.feeds.helpers import load, payload

pytestmark = [pytest.mark.anyio, pytest.mark.backends]

AT = "{http://purl.org/atompub/tombstones/1.0}"
ALL = Scope(ScopeKind.ALL)
GLAVNOE = Scope(ScopeKind.RUBRIC, "glavnoe")
OTHER = Scope(ScopeKind.RUBRIC, "obshchestvo")
PERSON = Scope(ScopeKind.TAG, "aleksandr_mikhaylovich_mordvinov")


def _now() -> datetime:
    # Deletions are stamped with the real clock: render at or after it.
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)


async def _atom(store: SQLiteStore, settings: Settings, scope: Scope, now: datetime) -> Rendered:
    return await feeds.build_feed(RenderContext(store, settings, now), scope, "atom")


def _tombstones(body: bytes) -> list[tuple[str, str, str]]:
    root = etree.fromstring(body)
    return [
        (t.get("ref") or "", t.get("when") or "", t[0].get("href") or "")
        for t in root.iter(f"{AT}deleted-entry")
    ]


async def test_a_deleted_article_is_a_deleted_entry_where_readers_saw_it(
    store: SQLiteStore, settings: Settings
) -> None:
    await load(store, settings, [payload(1), payload(2, rubrics=["obshchestvo"], tags=[])])
    await store.delete_article("a-0001")
    now = _now()
    guid = article_guid(settings, "a-0001")
    for scope in (ALL, GLAVNOE, PERSON):
        body = (await _atom(store, settings, scope, now)).body
        stones = _tombstones(body)
        assert [(ref, url) for ref, _, url in stones] == [(guid, "https://example.ru/novosti/1/")]
        when = datetime.fromisoformat(stones[0][1])
        assert when.utcoffset() == timedelta(hours=3)  # the site's zone, as every other date
        assert now - timedelta(minutes=5) < when <= now
        assert b"a-0001</id>" not in body  # the entry itself is gone
        # Feed readers still parse the document as before.
        parsed = feedparser.parse(body)
        assert not parsed.bozo
        assert "a-0001" not in " ".join(e.id for e in parsed.entries)
    # A rubric that never showed it lists no tombstone; neither do RSS and JSON.
    assert _tombstones((await _atom(store, settings, OTHER, now)).body) == []
    ctx = RenderContext(store, settings, now)
    for fmt in ("rss", "json"):
        body = (await feeds.build_feed(ctx, ALL, fmt)).body
        assert b"a-0001" not in body
        assert b"deleted-entry" not in body


async def test_unpublished_then_published_again(store: SQLiteStore, settings: Settings) -> None:
    await load(store, settings, [payload(1), payload(2)])
    await store.put_articles([validate_article(payload(1, status="draft"), settings)])
    assert len(_tombstones((await _atom(store, settings, ALL, _now())).body)) == 1
    await store.put_articles([validate_article(payload(1), settings)])
    assert _tombstones((await _atom(store, settings, ALL, _now())).body) == []


async def test_an_article_nobody_saw_leaves_no_tombstone(
    store: SQLiteStore, settings: Settings
) -> None:
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    await load(store, settings, [payload(1), payload(9, published_at=future), payload(8)])
    await store.put_articles([validate_article(payload(8, status="draft"), settings)])
    await store.delete_article("a-0009")  # scheduled, never visible
    await store.delete_article("a-0008")  # a draft already: its tombstone is the unpublishing
    stones = _tombstones((await _atom(store, settings, ALL, _now())).body)
    assert [ref for ref, _, _ in stones] == [article_guid(settings, "a-0008")]


async def test_the_tombstone_leaves_after_the_period_and_the_feed_says_when(
    store: SQLiteStore, settings: Settings
) -> None:
    settings = replace(settings, retraction_days=2)
    await load(store, settings, [payload(1), payload(2)])
    await store.delete_article("a-0001")
    now = _now()
    during = await _atom(store, settings, ALL, now)
    assert len(_tombstones(during.body)) == 1
    # The document changes with no write when the tombstone leaves: the cache must know when.
    assert during.expires is not None
    assert (
        now + timedelta(days=2) - timedelta(minutes=5) < during.expires <= now + timedelta(days=2)
    )
    later = now + timedelta(days=2, seconds=5)
    after = await _atom(store, settings, ALL, later)
    assert _tombstones(after.body) == []
    assert after.expires is None
    # Its Last-Modified is the moment it left, not the older date of the newest article.
    assert after.last_modified == during.expires
    # Disabled: no tombstones at all.
    off = await _atom(store, replace(settings, retraction_days=0), ALL, now)
    assert _tombstones(off.body) == []


async def test_at_most_the_newest_hundred(store: SQLiteStore, settings: Settings) -> None:
    await load(store, settings, [payload(n) for n in range(1, 106)])
    for n in range(1, 106):
        await store.delete_article(f"a-{n:04d}")
    stones = _tombstones((await _atom(store, settings, ALL, _now())).body)
    assert len(stones) == feeds.build.MAX_RETRACTIONS == 100
    assert stones[0][0] == article_guid(settings, "a-0105")  # newest first


@requires_shared()
async def test_a_feed_with_tombstones_is_valid_atom(store: SQLiteStore, settings: Settings) -> None:
    await load(store, settings, [payload(1), payload(2)])
    await store.delete_article("a-0001")
    body = (await _atom(store, settings, ALL, _now())).body
    assert len(_tombstones(body)) == 1
    schema = etree.RelaxNG(etree.parse(str(SHARED / "schemas" / "atom.rng")))
    assert schema.validate(etree.fromstring(body)), schema.error_log
    problems = check(body, f"{settings.public_url}/feeds/all.atom", atom_schema=schema)
    assert problems == []
