"""The static mirror (syndication/mirror.py) on real files, a real SQLite store and real renders."""

from __future__ import annotations

import asyncio
import gzip
import os
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import brotli
import pytest

from syndication import mirror as mirror_module
from syndication.cache import DocumentCache, Entry
from syndication.config import Settings
from syndication.documents import Document, resolve
from syndication.ingest import validate_article
from syndication.metrics import Metrics
from syndication.mirror import EXPIRY_MARGIN, LOCK, MANIFEST, Mirror, file_for
from syndication.rendering import RenderContext, Rendered
from syndication.store import SQLiteStore

pytestmark = pytest.mark.anyio

# Renders run 10 s ahead of the store's stamps: a Last-Modified is then never capped at the
# render's second (STAMP_MARGIN), which keeps a render out of the mirror.
AHEAD = 10.0
PATHS = [
    "/feeds/all.rss",
    "/feeds/rubric/glavnoe.atom",
    "/feeds/rubric/sport.json",
    "/feeds/tag/obshchestvo.rss",
    "/feeds/tag/futbol.rss",
    "/sitemaps/articles-2025-12.xml",
    "/sitemaps/articles-2025-11.xml",
    "/sitemaps/rubrics.xml",
    "/robots.txt",
    "/",
]


def clock() -> float:
    return time.time() + AHEAD


def article(settings: Settings, article_id: str, **fields: Any) -> Any:
    payload = {"id": article_id, "title": f"Статья {article_id}",
               "published_at": "2025-12-01T10:00:00+03:00", "rubrics": ["glavnoe"],
               "tags": ["Общество"], "content_html": "<p>" + "текст " * 200 + "</p>",
               **fields}  # fmt: skip
    return validate_article(payload, settings)


def document(settings: Settings, path: str) -> Document:
    doc = resolve(path, {}, feed_limit=settings.feed_limit, max_limit=settings.feed_max_limit)
    assert doc is not None, path
    return doc


@pytest.fixture
async def seeded(store: SQLiteStore, settings: Settings) -> SQLiteStore:
    await store.put_articles([
        article(settings, "a1"),
        article(settings, "a2", rubrics=["sport"], tags=["Футбол"]),
        article(settings, "a3", rubrics=["sport"], tags=["Футбол"],
                published_at="2025-11-20T10:00:00+03:00"),
    ])  # fmt: skip
    return store


@pytest.fixture
async def mirror(tmp_path: Path, settings: Settings) -> AsyncIterator[Mirror]:
    m = Mirror(tmp_path / "mirror", settings, clock=clock)
    await m.open()
    try:
        yield m
    finally:
        await m.close()


def cache_for(store: SQLiteStore, settings: Settings) -> DocumentCache:
    return DocumentCache(store, settings, Metrics(), clock=clock)


async def place_all(
    mirror: Mirror, cache: DocumentCache, settings: Settings, paths: list[str]
) -> None:
    for path in paths:
        placed = await mirror.place(path, await cache.get(document(settings, path)))
        assert placed.written, (path, placed.reason)


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".") and ".tmp" not in p.parts}  # fmt: skip


async def test_files_are_the_documents_with_their_twins_and_dates(
    seeded: SQLiteStore, settings: Settings, mirror: Mirror
) -> None:
    await mirror.sync(seeded)
    cache = cache_for(seeded, settings)
    await place_all(mirror, cache, settings, ["/feeds/all.rss", "/"])
    entry = await cache.get(document(settings, "/feeds/all.rss"))
    feed = mirror.root / "feeds" / "all.rss"
    assert feed.read_bytes() == entry.body
    assert gzip.decompress((mirror.root / "feeds" / "all.rss.gz").read_bytes()) == entry.body
    assert brotli.decompress((mirror.root / "feeds" / "all.rss.br").read_bytes()) == entry.body
    for name in ("all.rss", "all.rss.gz", "all.rss.br"):
        mtime = (mirror.root / "feeds" / name).stat().st_mtime
        assert mtime == entry.last_modified.timestamp()
    index = await cache.get(document(settings, "/"))
    assert (mirror.root / "index.html").read_bytes() == index.body
    # Nothing is left in the temporary folder.
    assert not list((mirror.root / ".tmp").iterdir())


async def test_a_write_removes_exactly_the_affected_files(
    seeded: SQLiteStore, settings: Settings, mirror: Mirror
) -> None:
    await mirror.sync(seeded)
    cache = cache_for(seeded, settings)
    await place_all(mirror, cache, settings, PATHS)
    before = files(mirror.root)
    # A new article in December, rubric glavnoe, tag obshchestvo: sport, futbol and November
    # are untouched, and the robots file depends on nothing.
    await seeded.put_articles([article(settings, "a4")])
    await mirror.sync(seeded)
    gone = {"feeds/all.rss", "feeds/rubric/glavnoe.atom", "feeds/tag/obshchestvo.rss",
            "sitemaps/articles-2025-12.xml", "sitemaps/rubrics.xml", "index.html"}  # fmt: skip
    expected = {f for f in before if not any(f.startswith(g) for g in gone)}
    assert files(mirror.root) == expected
    assert "feeds/rubric/sport.json" in expected
    assert "sitemaps/articles-2025-11.xml" in expected
    # An edit of the November article in sport removes the sport, futbol and November files.
    await seeded.put_articles([article(settings, "a3", title="Правка", rubrics=["sport"],
                                       tags=["Футбол"],
                                       published_at="2025-11-20T10:00:00+03:00")])  # fmt: skip
    await mirror.sync(seeded)
    assert files(mirror.root) == {"robots.txt"}


async def test_a_render_that_started_before_a_write_is_not_placed(
    seeded: SQLiteStore, settings: Settings, mirror: Mirror
) -> None:
    """The race: a render reads the store, a write commits and its sync runs, then the render
    finishes. Its bytes predate the write: placing them would serve them after the ack."""
    await mirror.sync(seeded)
    cache = cache_for(seeded, settings)
    real = document(settings, "/feeds/rubric/glavnoe.rss")
    rendered, release = asyncio.Event(), asyncio.Event()

    async def held(ctx: RenderContext) -> Rendered:
        result = await real.build(ctx)
        rendered.set()
        await release.wait()
        return result

    render = asyncio.create_task(cache.get(replace(real, build=held)))
    await rendered.wait()  # the render has read the store
    await seeded.put_articles([article(settings, "a4")])  # glavnoe: the render is stale
    await mirror.sync(seeded)  # what after_write does before the ack
    release.set()
    entry = await render
    assert entry.change_id < await seeded.last_change_id()  # it did start before the write
    placed = await mirror.place("/feeds/rubric/glavnoe.rss", entry)
    assert (placed.written, placed.reason) == (False, "stale: a change after the render touched it")
    assert not (mirror.root / "feeds" / "rubric" / "glavnoe.rss").exists()
    # A render whose tags the write did not raise is placed, though it started before it too.
    other = await cache_for(seeded, settings).get(document(settings, "/feeds/rubric/sport.rss"))
    assert (
        await mirror.place("/feeds/rubric/sport.rss", replace(other, change_id=entry.change_id))
    ).written
    # And the next render of the changed feed is.
    fresh = await cache_for(seeded, settings).get(real)
    assert (await mirror.place("/feeds/rubric/glavnoe.rss", fresh)).written
    assert b"a4" in (mirror.root / "feeds" / "rubric" / "glavnoe.rss").read_bytes()


async def test_processes_sharing_a_folder_agree(
    seeded: SQLiteStore, settings: Settings, mirror: Mirror
) -> None:
    """A second Mirror on the same folder (another worker, the CLI): its sync removes what the
    first placed, and the first then refuses a render older than that sync."""
    await mirror.sync(seeded)
    other = Mirror(mirror.root, settings, clock=clock)
    await other.open()
    try:
        cache = cache_for(seeded, settings)
        old = await cache.get(document(settings, "/feeds/all.rss"))
        assert (await mirror.place("/feeds/all.rss", old)).written
        await seeded.put_articles([article(settings, "a4")])
        await other.sync(seeded)
        assert not (mirror.root / "feeds" / "all.rss").exists()
        assert not (await mirror.place("/feeds/all.rss", old)).written
        assert not (await mirror.place("/feeds/tag/obshchestvo.rss", replace(
            await cache.get(document(settings, "/feeds/tag/obshchestvo.rss")), change_id=old.change_id
        ))).written  # fmt: skip
    finally:
        await other.close()


async def test_what_is_never_a_file(
    seeded: SQLiteStore, settings: Settings, mirror: Mirror
) -> None:
    await mirror.sync(seeded)
    entry = await cache_for(seeded, settings).get(document(settings, "/feeds/all.rss"))
    cases: list[tuple[str, Entry, str]] = [
        ("/feeds/all.rss", replace(entry, status=404), "not a 200"),
        ("/feeds/all.rss", replace(entry, capped=True), "Last-Modified capped at the render's second"),
        ("/feeds/all.rss", replace(entry, expires=clock() + 59), "changes with time too soon"),
        ("/opml.xml", replace(entry, media_type="text/x-opml; charset=utf-8"),
         "media type nginx would not send"),
        ("/feeds/all.rss", replace(entry, links=(("https://hub.example", "hub"),)),
         "Link headers nginx would not send"),
        ("/index.html", entry, "not a mirrored path"),
        ("/feeds/../x.rss", entry, "not a mirrored path"),
        ("/.mirror.sqlite", entry, "not a mirrored path"),
        ("/feeds/all.rss.gz", entry, "not a mirrored path"),
    ]  # fmt: skip
    for path, candidate, reason in cases:
        assert (await mirror.place(path, candidate)).reason == reason, path
    assert files(mirror.root) == set()
    assert file_for("/") == "index.html"
    assert file_for("/sitemaps/articles-2025-12-2.xml") == "sitemaps/articles-2025-12-2.xml"
    assert file_for("/feeds/.hidden/x.rss") is None


async def test_files_leave_before_their_document_changes_with_time(
    seeded: SQLiteStore, settings: Settings, tmp_path: Path
) -> None:
    now = [clock()]
    m = Mirror(tmp_path / "mirror", settings, clock=lambda: now[0])
    await m.open()
    try:
        await m.sync(seeded)
        entry = await cache_for(seeded, settings).get(document(settings, "/feeds/all.rss"))
        soon = replace(entry, expires=now[0] + 600)
        assert (await m.place("/feeds/all.rss", soon)).written
        assert (await m.place("/robots.txt", await cache_for(seeded, settings).get(
            document(settings, "/robots.txt")))).written  # fmt: skip
        assert await m.sweep() == 0
        now[0] += 600 - EXPIRY_MARGIN - 1
        assert await m.sweep() == 0
        now[0] += 2  # within the margin of the expiry
        assert await m.sweep() == 1
        assert files(m.root) == {"robots.txt"}
    finally:
        await m.close()


async def test_other_settings_or_another_boot_start_afresh(
    seeded: SQLiteStore, settings: Settings, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    await mirror.sync(seeded)
    cache = cache_for(seeded, settings)
    await place_all(mirror, cache, settings, ["/feeds/all.rss"])
    # Same settings, same boot: a restart keeps the files.
    again = Mirror(mirror.root, settings, clock=clock)
    await again.open()
    await again.close()
    assert "feeds/all.rss" in files(mirror.root)
    retitled = Mirror(mirror.root, replace(settings, site_title="Другой"), clock=clock)
    await retitled.open()
    await retitled.close()
    assert files(mirror.root) == set()
    await place_all(mirror, cache, settings, ["/feeds/all.rss"])
    monkeypatch.setattr(mirror_module, "boot_id", lambda: "another boot")
    rebooted = Mirror(mirror.root, settings, clock=clock)
    await rebooted.open()
    await rebooted.close()
    assert files(mirror.root) == set()
    assert {p.name for p in mirror.root.iterdir()} >= {MANIFEST, LOCK}


async def test_a_bulk_of_changes_clears_everything(
    seeded: SQLiteStore, settings: Settings, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    await mirror.sync(seeded)
    await place_all(mirror, cache_for(seeded, settings), settings, ["/robots.txt"])
    monkeypatch.setattr(mirror_module, "MAX_CHANGES", 2)
    await seeded.put_articles([article(settings, f"b{i}") for i in range(3)])
    await mirror.sync(seeded)
    assert files(mirror.root) == set()  # robots.txt depends on nothing, and still went
    # A render from after the bulk is placed again.
    await place_all(mirror, cache_for(seeded, settings), settings, ["/robots.txt"])


async def test_a_failed_write_leaves_no_record(
    seeded: SQLiteStore, settings: Settings, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    await mirror.sync(seeded)
    entry = await cache_for(seeded, settings).get(document(settings, "/feeds/all.rss"))

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space left"):
        await mirror.place("/feeds/all.rss", entry)
    monkeypatch.undo()
    assert files(mirror.root) == set()
    assert (await mirror.place("/feeds/all.rss", entry)).written


async def test_a_capped_render_is_written_once_its_date_settles(
    seeded: SQLiteStore, settings: Settings, tmp_path: Path
) -> None:
    """Rendered right after a write, a document's Last-Modified is capped at the render's second
    (an older version may share it): its files wait until the margin is over and then carry the
    date the service gives the same bytes from then on. A write in between keeps them out."""
    asked, go = asyncio.Event(), asyncio.Event()
    waits: list[float] = []

    async def held(seconds: float) -> None:
        waits.append(seconds)
        asked.set()
        await go.wait()

    m = Mirror(tmp_path / "mirror", settings, sleep=held)
    await m.open()
    try:
        await m.sync(seeded)
        await seeded.put_articles([article(settings, "a4")])
        await m.sync(seeded)
        cache = DocumentCache(seeded, settings, Metrics())  # real time: within the margin
        for path, touched in (("/feeds/rubric/glavnoe.rss", True), ("/robots.txt", False)):
            entry = await cache.get(document(settings, path))
            if not touched:
                # Nothing stamps robots.txt: never capped, written at once.
                assert not entry.capped
                assert (await m.place(path, entry)).written
                continue
            assert entry.capped
            assert entry.settled is not None
            settles = entry.settled[0]
            # Held in its wait: a write to another rubric does not touch it.
            asked.clear()
            go.clear()
            placing = asyncio.create_task(m.place(path, entry))
            await asked.wait()
            await seeded.put_articles([article(settings, "s1", rubrics=["sport"],
                                               tags=["Футбол"])])  # fmt: skip
            await m.sync(seeded)
            go.set()
            assert (await placing).written
            feed = m.root / "feeds" / "rubric" / "glavnoe.rss"
            assert feed.stat().st_mtime == settles.timestamp()
            assert feed.read_bytes() == entry.body
            # Again, with a write to its rubric while it waits: not written.
            await seeded.put_articles([article(settings, "a5")])
            await m.sync(seeded)
            again = await DocumentCache(seeded, settings, Metrics()).get(document(settings, path))
            assert again.capped
            asked.clear()
            go.clear()
            placing = asyncio.create_task(m.place(path, again))
            await asked.wait()
            await seeded.put_articles([article(settings, "a6")])
            await m.sync(seeded)
            go.set()
            placed = await placing
            assert placed.reason == "stale: a change after the render touched it"
            assert not feed.exists()
        assert all(0 < w <= 2 for w in waits), waits
    finally:
        await m.close()


def test_the_app_offers_path_only_reads_and_removes_files_before_it_acknowledges(
    settings: Settings, tmp_path: Path
) -> None:
    """Through the real app (TestClient runs its lifespan): a read with a query string is never
    a file; a path-only read becomes one; a write's answer comes after its files are gone."""
    from starlette.testclient import TestClient

    from app import create_app
    from tests.conftest import TOKEN

    root = tmp_path / "mirror"
    feed = root / "feeds" / "all.rss"
    payload = {"title": "Первая", "published_at": "2025-12-01T10:00:00+03:00",
               "rubrics": ["glavnoe"]}  # fmt: skip
    app = create_app(replace(settings, mirror=str(root)))
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert client.put("/api/articles/a1", json=payload).status_code == 201
        limited = client.get("/feeds/all.rss?limit=5")
        assert limited.status_code == 200
        deadline = time.monotonic() + 60  # only a hang misses it
        while not feed.exists():
            assert time.monotonic() < deadline, "the feed never became a file"
            assert client.get("/feeds/all.rss").status_code == 200
            time.sleep(0.1)
        # The query's bytes (its paging links name the limit) never became the path's file.
        assert limited.content != feed.read_bytes() == client.get("/feeds/all.rss").content
        assert client.put("/api/articles/a2", json=payload).status_code == 201
        assert not feed.exists()
