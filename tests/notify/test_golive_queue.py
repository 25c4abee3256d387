"""The store's `went_live` and live marks, and the live queue's batches over them: every article
that goes live is announced once, in order, only once its time has come."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import cast

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from syndication.config import Settings
from syndication.notify import targets
from syndication.notify.golive import LiveQueue, start_mark
from syndication.store import SQLiteStore
from syndication.store.base import LiveArticle, LiveMark, Store
from syndication.timeutil import from_epoch, to_epoch
from tests.notify.helpers import payload, put

pytestmark = [pytest.mark.anyio, pytest.mark.backends]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


async def test_went_live_lists_articles_written_before_their_time(
    settings: Settings, store: SQLiteStore
) -> None:
    now = int(time.time())
    at = now + 100
    await put(store, settings, "old", payload(["r"], [], published_at=_iso(now - 100)))
    await put(store, settings, "b", payload(["r", "q"], ["Выборы", "Спорт"], published_at=_iso(at)))
    await put(store, settings, "a", payload(["r"], [], published_at=_iso(at)))
    await put(store, settings, "later", payload(["r"], [], published_at=_iso(at + 50)))
    await put(store, settings, "draft", payload(["r"], [], published_at=_iso(at), status="draft"))
    start = LiveMark(from_epoch(now - 1000))

    assert await store.went_live(start, from_epoch(at - 1), limit=10) == []
    live = await store.went_live(start, from_epoch(at), limit=10)
    assert [(x.id, to_epoch(x.published_at)) for x in live] == [("a", at), ("b", at)]
    assert live[1] == LiveArticle(
        "b", from_epoch(at), "https://example.ru/news/b/", ["r", "q"], ["vybory", "sport"]
    )
    until = from_epoch(at + 50)
    assert [x.id for x in await store.went_live(start, until, limit=10)] == ["a", "b", "later"]
    assert [x.id for x in await store.went_live(start, until, limit=1)] == ["a"]
    after_a = LiveMark(from_epoch(at), "a")
    assert [x.id for x in await store.went_live(after_a, until, limit=10)] == ["b", "later"]
    whole_second = LiveMark(from_epoch(at))
    assert [x.id for x in await store.went_live(whole_second, until, limit=10)] == [
        "a", "b", "later"
    ]  # fmt: skip

    # Rewritten once live, an article was announced by that write: no longer "went live".
    await put(store, settings, "a", payload(["r"], [], published_at=_iso(now)))
    assert [x.id for x in await store.went_live(start, until, limit=10)] == ["b", "later"]


async def test_live_marks_start_once_and_never_move_back(store: SQLiteStore) -> None:
    first = LiveMark(from_epoch(1_000), "")
    assert await store.live_mark("websub x", start=first) == first
    assert await store.live_mark("websub x", start=LiveMark(from_epoch(5_000))) == first
    assert await store.live_mark("indexnow y", start=LiveMark(from_epoch(7))) == LiveMark(
        from_epoch(7)
    )
    await store.save_live_mark("websub x", LiveMark(from_epoch(2_000), "b"))
    await store.save_live_mark("websub x", LiveMark(from_epoch(2_000), "a"))  # behind: ignored
    await store.save_live_mark("websub x", LiveMark(from_epoch(1_500), "z"))  # behind: ignored
    assert await store.live_mark("websub x", start=first) == LiveMark(from_epoch(2_000), "b")
    await store.save_live_mark("websub x", LiveMark(from_epoch(2_001)))
    assert await store.live_mark("websub x", start=first) == LiveMark(from_epoch(2_001))


class _Articles:
    """`went_live` over a list, as the SQLite store answers it (the rows it would return)."""

    def __init__(self, articles: list[LiveArticle]) -> None:
        self.articles = sorted(articles, key=lambda a: (a.published_at, a.id))

    async def went_live(self, after: LiveMark, until: datetime, *, limit: int) -> list[LiveArticle]:
        rows = [
            a
            for a in self.articles
            if (a.published_at, a.id) > (after.published_at, after.id) and a.published_at <= until
        ]
        return rows[:limit]


BASE = 1_765_379_280

articles_st = st.lists(
    st.tuples(st.integers(0, 4), st.text("abc", min_size=1, max_size=3)),
    unique_by=lambda t: t[1],
    max_size=40,
)


@given(articles_st, st.integers(1, 9), st.integers(1, 7), st.sampled_from([0.0, 0.5, 0.999]))
@hsettings(deadline=None, max_examples=150)
def test_every_article_is_announced_once_in_order_when_its_time_comes(
    rows: list[tuple[int, str]], max_urls: int, page: int, fraction: float
) -> None:
    live = [
        LiveArticle(i, from_epoch(BASE + s), f"https://example.ru/news/{i}/", [], [])
        for s, i in rows
    ]
    settings = Settings.load(
        environ={},
        db=":memory:",
        public_url="https://feeds.example.ru",
        site_url="https://example.ru",
        indexnow_endpoint="https://api.indexnow.org/indexnow",
        indexnow_key="0123456789abcdef",
    )
    target = targets.IndexNowTarget(settings)
    target.max_urls = max_urls
    queue = LiveQueue(cast(Store, _Articles(live)), target)
    queue.page = page  # short pages exercise the paging too
    queue.mark = start_mark(BASE - 1)  # a target started just before the first second
    sent: list[str] = []

    async def drain(now: float) -> None:
        while (scanned := await queue.scan(now)) is not None:
            urls, count, mark = scanned
            assert len(urls) <= max_urls
            assert count == len(urls)  # one URL an article here
            assert queue.mark is not None
            assert mark > queue.mark
            sent.extend(urls)
            queue.moved(mark)

    async def run() -> None:
        for second in range(5):
            await drain(BASE + second + fraction)
            due = sorted((a for a in live if to_epoch(a.published_at) <= BASE + second),
                         key=lambda a: (a.published_at, a.id))  # fmt: skip
            assert sent == [a.url for a in due]

    asyncio.run(run())
