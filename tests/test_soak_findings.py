"""What bench/soak.py found, pinned down deterministically (issue 11): an archive page read
apart from its month's count, and a change stamped with the clock read before its commit."""

from __future__ import annotations

import time
import types
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from starlette.testclient import TestClient

import syndication.store.sqlite.writes as writes
from app import create_app
from syndication.config import Settings
from syndication.documents import resolve
from syndication.ingest import validate_article
from syndication.rendering import RenderContext
from syndication.store import SQLiteStore, Store
from tests.conftest import TOKEN
from tests.feeds.helpers import NOW, load, payload


def november(article_id: str, day: int) -> dict[str, Any]:
    return payload(0, id=article_id, published_at=f"2025-11-{day:02d}T12:00:00+03:00")


class WriteBetweenReads:
    """The store, with one write landing just before the first `articles()` read: after what
    the render read before it (the month's count), before the items."""

    def __init__(self, inner: SQLiteStore, settings: Settings) -> None:
        self.inner = inner
        self.settings = settings
        self.written = False
        # What the render asked the store for before the write: proof that the write landed
        # inside the render, not before it began.
        self.read_before: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if not self.written:
                self.read_before.append(name)
            return attribute(*args, **kwargs)

        return call

    async def articles(self, *args: Any, **kwargs: Any) -> Any:
        if not self.written:
            await self.inner.put_articles([validate_article(november("n3", 25), self.settings)])
            self.written = True
        return await self.inner.articles(*args, **kwargs)


@pytest.mark.anyio
async def test_an_archive_page_rendered_across_a_write_shows_one_state(
    store: SQLiteStore, settings: Settings
) -> None:
    await load(store, settings, [november(f"n{i}", 10 + i) for i in range(3)])
    doc = resolve("/feeds/archive/2025-11.json", {}, feed_limit=50, max_limit=500)
    assert doc is not None
    racing = WriteBetweenReads(store, settings)
    body = (await doc.build(RenderContext(cast(Store, racing), settings, NOW))).body
    shown = {item["id"].rsplit(":article:", 1)[1] for item in orjson.loads(body)["items"]}
    # The race was on: the write committed after the render had read the month, before its items.
    assert racing.written
    assert "months" in racing.read_before, racing.read_before
    assert (await store.get_article("n3")) is not None
    assert shown in ({"n0", "n1", "n2"}, {"n0", "n1", "n2", "n3"})


def _until(instant: float) -> None:
    while time.time() < instant:
        time.sleep(0.01)


def test_bytes_changed_by_a_write_never_keep_their_last_modified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.load(environ={}, db=str(tmp_path / "s.db"), api_token=TOKEN)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        first = dict(november("a", 5), title="До правки")
        assert c.put("/api/articles/a", json=first).status_code == 201
        stamped = c.get("/api/articles/a").json()["modified_at"]
        second = int(datetime.fromisoformat(stamped).timestamp()) + 1
        _until(second)  # the first write's second is over: its bytes' Last-Modified is `second`
        before = c.get("/feeds/all.rss")
        # The next write reads its clock in the first write's second and commits in the next
        # one (a slow hop to the store's thread, a busy GIL): the same clock reading, made late.
        monkeypatch.setattr(writes, "time", types.SimpleNamespace(time=lambda: second - 0.5))
        assert c.put("/api/articles/a", json=dict(first, title="После правки")).status_code == 200
        monkeypatch.undo()
        _until(second + 1)
        after = c.get("/feeds/all.rss")
        assert "После правки" not in before.text
        assert "После правки" in after.text
        since = before.headers["last-modified"]
        again = c.get("/feeds/all.rss", headers={"If-Modified-Since": since})
        assert again.status_code == 200, (since, after.headers["last-modified"])
