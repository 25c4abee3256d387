"""The store, on SQLite and on PostgreSQL: writes, the change log, visibility, months and scope queries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syndication.config import Settings
from syndication.ingest import validate_article
from syndication.model import ALL_NEWS, ArticleIn, Scope, ScopeKind
from syndication.store import SQLiteStore, make_store

NOW = datetime(2025, 12, 10, 15, 0, tzinfo=UTC)


def art(settings: Settings, article_id: str, **fields: Any) -> ArticleIn:
    payload: dict[str, Any] = {
        "id": article_id,
        "title": f"Статья {article_id}",
        "published_at": "2025-12-01T10:00:00+03:00",
        "rubrics": ["glavnoe"],
        "tags": ["Общество"],
    }
    payload.update(fields)
    return validate_article(payload, settings)


pytestmark = [pytest.mark.anyio, pytest.mark.backends]


async def test_change_log_records_placement_before_and_after(
    store: SQLiteStore, settings: Settings
) -> None:
    first = await store.put_articles([art(settings, "a")])
    assert (first.created, first.replaced) == (1, 0)
    second = await store.put_articles(
        [art(settings, "a", rubrics=["ekonomika"], tags=["Финансы"],
             published_at="2024-05-01T10:00:00+03:00")]
    )  # fmt: skip
    assert (second.created, second.replaced) == (0, 1)
    assert second.change_id == first.change_id + 2
    deleted = await store.delete_article("a")
    assert deleted == second.change_id + 2
    assert await store.delete_article("a") is None

    changes = await store.changes_since(0)
    assert [c.kind for c in changes] == [
        "article", "terms", "article", "terms", "article-delete", "terms",
    ]  # fmt: skip
    create, appeared, move, moved, delete, gone = changes
    assert create.before is None
    assert create.after is not None
    assert create.after["rubrics"] == ["glavnoe"]
    assert appeared.after == {
        "rubrics": ["glavnoe"],
        "tags": ["obshchestvo"],
        "months": ["2025-12"],
    }
    assert move.before == create.after
    assert move.after is not None
    assert move.after["rubrics"] == ["ekonomika"]
    assert move.after["tags"] == ["finansy"]
    assert moved.after == {
        "rubrics": ["ekonomika", "glavnoe"],
        "tags": ["finansy", "obshchestvo"],
        "months": ["2024-05", "2025-12"],
    }
    assert delete.before == move.after
    assert delete.after is None
    assert gone.after == {"rubrics": ["ekonomika"], "tags": ["finansy"], "months": ["2024-05"]}
    assert await store.last_change_id() == deleted


async def test_an_edit_that_moves_nothing_records_no_terms(
    store: SQLiteStore, settings: Settings
) -> None:
    await store.put_articles([art(settings, "a"), art(settings, "b")])
    before = await store.last_change_id()
    await store.put_articles([art(settings, "a", title="Новый заголовок")])
    assert [c.kind for c in await store.changes_since(before)] == ["article"]
    await store.put_articles([art(settings, "a", status="draft")])  # b keeps everything present
    assert [c.kind for c in await store.changes_since(before + 1)] == ["article"]


async def test_change_hint_is_shared_between_stores_of_one_file(
    store: SQLiteStore, settings: Settings, backend: str
) -> None:
    other = make_store(settings)
    await other.open()
    try:
        assert other.change_hint() == store.change_hint() == 0
        result = await store.put_articles([art(settings, "a")])
        assert store.change_hint() == result.change_id
        # Another process's write: its change head says so at once (the host's mmap'd counter
        # on SQLite, a head query on PostgreSQL); the hint follows (NOTIFY, on PostgreSQL).
        assert await other.change_head() == result.change_id
        async with asyncio.timeout(60):  # only a hang misses this
            while other.change_hint() != result.change_id:  # noqa: ASYNC110 - set by a callback
                await asyncio.sleep(0.01)
    finally:
        await other.close()


async def test_visibility_drafts_and_future(store: SQLiteStore, settings: Settings) -> None:
    await store.put_articles([
        art(settings, "pub"),
        art(settings, "draft", status="draft"),
        art(settings, "future", published_at="2025-12-10T18:00:01+03:00"),
        art(settings, "now", published_at="2025-12-10T18:00:00+03:00"),
    ])  # fmt: skip
    visible = [a.id for a in await store.articles(ALL_NEWS, now=NOW, limit=10)]
    assert visible == ["now", "pub"]
    assert await store.count(Scope(ScopeKind.RUBRIC, "glavnoe"), now=NOW) == 2
    assert await store.count(Scope(ScopeKind.TAG, "obshchestvo"), now=NOW) == 2
    nxt = await store.next_publication(after=NOW)
    assert nxt == NOW + timedelta(seconds=1)
    assert await store.count(ALL_NEWS, now=nxt) == 3


async def test_months_are_in_the_site_zone(store: SQLiteStore, settings: Settings) -> None:
    # 23:30 UTC on 30 November is already 1 December in Moscow.
    await store.put_articles([
        art(settings, "nov", published_at="2025-11-30T23:30:00+03:00"),
        art(settings, "dec", published_at="2025-11-30T21:30:00Z"),
        art(settings, "sep", published_at="2025-09-15T12:00:00+03:00"),
    ])  # fmt: skip
    months = await store.months(now=NOW)
    assert [(m.month, m.count) for m in months] == [("2025-09", 1), ("2025-11", 1), ("2025-12", 1)]
    dec = await store.articles(Scope(ScopeKind.MONTH, "2025-12"), now=NOW, limit=10)
    assert [a.id for a in dec] == ["dec"]


async def test_url_rows_stream_in_batches(store: SQLiteStore, settings: Settings) -> None:
    base = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)
    await store.put_articles(
        [art(settings, f"r{i:03d}", published_at=(base + timedelta(minutes=i % 7)).isoformat())
         for i in range(50)]
    )  # fmt: skip
    batches = [b async for b in store.url_rows(base, base + timedelta(days=1), now=NOW, batch=8)]
    assert [len(b) for b in batches] == [8, 8, 8, 8, 8, 8, 2]
    urls = [r.url for b in batches for r in b]
    assert len(set(urls)) == 50
    assert [r.published_at for b in batches for r in b] == sorted(
        r.published_at for b in batches for r in b
    )


async def test_term_stats(store: SQLiteStore, settings: Settings) -> None:
    await store.put_articles([
        art(settings, "a", rubrics=["glavnoe", "ekonomika"], tags=["Финансы"]),
        art(settings, "b", rubrics=["ekonomika"], tags=[], status="draft"),
    ])  # fmt: skip
    stats = {(s.kind, s.slug): s.count for s in await store.term_stats(now=NOW)}
    assert stats == {("rubric", "glavnoe"): 1, ("rubric", "ekonomika"): 1, ("topic", "finansy"): 1}


async def test_failed_batch_rolls_back(store: SQLiteStore, settings: Settings) -> None:
    good = art(settings, "ok")

    def items() -> Any:
        yield good
        raise RuntimeError("source failed midway")

    with pytest.raises(RuntimeError):
        await store.put_articles(items())
    assert await store.get_article("ok") is None
    assert await store.last_change_id() == 0
    await store.put_articles([good])  # the write connection is usable again
    assert await store.get_article("ok") is not None


async def test_a_cancelled_caller_does_not_interrupt_the_write(
    store: SQLiteStore, settings: Settings
) -> None:
    import asyncio

    task = asyncio.ensure_future(store.put_articles([art(settings, f"c{i}") for i in range(300)]))
    await asyncio.sleep(0)  # the write has started
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The write finished on its own, and the writer connection is usable again.
    await store.put_articles([art(settings, "after")])
    assert await store.get_article("c299") is not None
    assert await store.get_article("after") is not None


async def test_term_stats_follow_visibility_and_newest_dates(
    store: SQLiteStore, settings: Settings
) -> None:
    await store.put_articles([
        art(settings, "a", rubrics=["glavnoe"], tags=["Общество"],
            updated_at="2025-12-05T10:00:00+03:00"),
        art(settings, "b", rubrics=["glavnoe"], tags=["Общество"]),
        art(settings, "later", rubrics=["budushchee"], tags=["Завтра"],
            published_at="2025-12-31T10:00:00+03:00"),
    ])  # fmt: skip
    stats = {(s.kind, s.slug): (s.count, s.last_change) for s in await store.term_stats(now=NOW)}
    newest = datetime(2025, 12, 5, 7, 0, tzinfo=UTC)
    assert stats == {("rubric", "glavnoe"): (2, newest), ("topic", "obshchestvo"): (2, newest)}
    # Un-publishing moves the facts the links carry too.
    await store.put_articles([art(settings, "a", status="draft")])
    counts = {(s.kind, s.slug): s.count for s in await store.term_stats(now=NOW)}
    assert counts == {("rubric", "glavnoe"): 1, ("topic", "obshchestvo"): 1}
    later = {s.slug for s in await store.term_stats(now=datetime(2026, 1, 1, tzinfo=UTC))}
    assert {"budushchee", "zavtra"} <= later


async def test_unchanged_writes_clamping_stamps_cursors_and_marks(
    store: SQLiteStore, settings: Settings
) -> None:
    """The rest of what both backends share: an article or rubric sent again unchanged writes
    no change row, an update date past the write is clamped to it, stamps follow the tags a
    write raises, and cursors, live marks and the settings stamp never move backwards."""
    import time

    from syndication.model import Rubric
    from syndication.store.base import DeliveryCursor, LiveMark

    first = await store.put_articles([art(settings, "a")])
    again = await store.put_articles([art(settings, "a")])
    assert (again.created, again.replaced, again.change_id) == (0, 1, 0)
    assert await store.last_change_id() == first.change_id

    assert await store.put_rubric(Rubric("glavnoe", "Главное")) == (False, first.change_id + 1)
    assert await store.put_rubric(Rubric("glavnoe", "Главное")) == (False, 0)
    assert await store.put_rubric(Rubric("novaya", "Новая")) == (True, first.change_id + 2)

    ahead = datetime.now(UTC) + timedelta(days=3)
    before_write = time.time()
    await store.put_articles([art(settings, "b", updated_at=ahead.isoformat())])
    stored = await store.get_article("b")
    assert stored is not None
    assert stored.updated_at is not None
    assert before_write - 1 <= stored.updated_at.timestamp() <= time.time()

    for tag in ("all", "rubric:glavnoe", "tag:obshchestvo", "month:2025-12", "rubric-list"):
        assert await store.dependency_stamp({tag}) is not None, tag
    assert await store.dependency_stamp({"rubric:sport"}) is None
    assert set(await store.month_stamps()) == {"2025-12"}

    at = await store.settings_stamp("digest-1")
    assert await store.settings_stamp("digest-1") == at

    cursor = await store.delivery_cursor("websub")
    assert cursor is not None
    assert cursor.change_id == await store.last_change_id()
    await store.save_delivery_cursor(DeliveryCursor("websub", cursor.change_id - 1, attempts=2))
    moved = await store.delivery_cursor("websub", create=False)
    assert moved is not None
    assert (moved.change_id, moved.attempts) == (cursor.change_id, 2)
    assert await store.delivery_cursor("indexnow", create=False) is None

    start = LiveMark(NOW, "")
    assert await store.live_mark("websub", start=start) == start
    await store.save_live_mark("websub", LiveMark(NOW, "m"))
    await store.save_live_mark("websub", LiveMark(NOW, "l"))  # behind: kept where it was
    assert await store.live_mark("websub", start=start) == LiveMark(NOW, "m")

    later = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    await store.put_articles(
        [art(settings, "s", published_at=later.isoformat(), tags=["Общество", "Спорт"])]
    )
    live = await store.went_live(LiveMark(NOW), later + timedelta(days=1), limit=10)
    assert [(a.id, a.published_at, a.rubrics, a.tags) for a in live] == [
        ("s", later, ["glavnoe"], ["obshchestvo", "sport"])
    ]
    assert await store.went_live(LiveMark(later, "s"), later, limit=10) == []
