"""Issue 11, against `syndication serve` over a damaged copy of a real store: every answer tells
the truth about the store — a 503 that no cache keeps, never a 500, never a 404 — and /healthz
notices.

Two kinds of damage: pages overwritten with garbage (SQLite reports "database disk image is
malformed"), and a table's page overwritten by a valid empty one (SQLite reports nothing: the
table reads as empty, and a rubric's feed would be a 404).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from syndication.cli import load_demo
from syndication.config import Settings
from syndication.model import ALL_NEWS
from syndication.store import SQLiteStore
from syndication.timeutil import utcnow
from tests.conftest import ROOT, TOKEN, Server, free_port

DOCUMENTS = [
    "/",
    "/feeds/all.rss",
    "/feeds/all.json?page=2",
    "/feeds/rubric/glavnoe.rss",
    "/feeds/rubric/ekonomika.atom",
    "/feeds/yandex.rss",
    "/sitemap.xml",
    "/sitemaps/rubrics.xml",
    "/opml.xml",
]


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A store written as the service writes it (the demo data set), its WAL folded in; and the
    id of its newest article."""
    db = tmp_path_factory.mktemp("healthy") / "store.db"
    settings = Settings.load(environ={}, db=str(db), site_url="https://example.ru")

    async def write() -> str:
        store = SQLiteStore(db, settings.zone)
        await store.open()
        try:
            await load_demo(store, settings, count=150, if_empty=False, quiet=True)
            newest = await store.articles(ALL_NEWS, now=utcnow(), limit=1)
            return newest[0].id
        finally:
            await store.close()

    newest = asyncio.run(write())
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db, newest


def _pages(db: Path, names: list[str]) -> dict[str, int]:
    """The root page of each named table or index."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name, rootpage FROM sqlite_schema").fetchall()
    roots = dict(rows)
    return {name: roots[name] for name in names}


def _page_size(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def _overwrite(db: Path, page: int, data: bytes) -> None:
    with db.open("r+b") as f:
        f.seek((page - 1) * len(data))
        f.write(data)


def _serve(tmp: Path, db: Path) -> Server:
    """`syndication serve` on a store that may fail its health check (conftest's start_server
    waits for a 200 from /healthz): ready once /healthz answers anything."""
    port = free_port()
    log = tmp / f"server-{port}.log"
    env = {**os.environ, "SYNDICATION_DB": str(db), "SYNDICATION_API_TOKEN": TOKEN,
           "SYNDICATION_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "SYNDICATION_SITE_URL": "https://example.ru"}  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "syndication.cli", "serve", "--port", str(port)],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", db, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            httpx.get(f"{server.base_url}/healthz", timeout=5)
            return server
        except httpx.TransportError:
            time.sleep(0.05)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


@pytest.fixture
def damaged(tmp_path: Path, healthy: tuple[Path, str]) -> tuple[Path, str]:
    db = tmp_path / "store.db"
    shutil.copy(healthy[0], db)
    return db, healthy[1]


def _check_truthful(server: Server, documents: list[str]) -> None:
    with server.client() as c:
        for _ in range(2):  # the second time: nothing of the first answer was kept
            for path in documents:
                r = c.get(path)
                assert r.status_code in (200, 503), (path, r.status_code, r.text[:200])
                if r.status_code == 503:
                    assert r.headers["cache-control"] == "no-store", path
        health = c.get("/healthz")
        assert health.status_code == 503, health.text
        assert health.headers["cache-control"] == "no-store"


def test_garbage_pages_are_503s_and_an_unhealthy_store(
    tmp_path: Path, damaged: tuple[Path, str]
) -> None:
    db, newest = damaged
    size = _page_size(db)
    count = db.stat().st_size // size
    rng = random.Random(11)

    def garbage() -> bytes:
        # Random bytes with an invalid page-type flag first: SQLite then reports the page as
        # malformed wherever it is read (a page that happens to look valid is the other test).
        return b"\x00" + bytes(rng.randrange(256) for _ in range(size - 1))

    # Some pages in the middle of the file, and the articles table's root page, which every
    # article read goes through.
    targets = [*range(count // 2, count // 2 + 8), _pages(db, ["articles"])["articles"]]
    for page in targets:
        _overwrite(db, page, garbage())
    server = _serve(tmp_path, db)
    try:
        _check_truthful(server, [*DOCUMENTS, f"/api/articles/{newest}"])
        with server.client() as c:
            # A document that reads the articles answers 503, and says so.
            r = c.get("/feeds/all.rss")
            assert r.status_code == 503
            assert "unavailable" in r.text
            api = c.get(f"/api/articles/{newest}")
            assert api.status_code == 503
            assert api.headers["content-type"] == "application/problem+json"
    finally:
        server.stop()
    log = server.log.read_text()
    assert "Traceback" not in log, log[-5000:]
    assert "malformed" in log  # the log says what the store said


def test_a_table_read_as_empty_is_no_cached_404(tmp_path: Path, damaged: tuple[Path, str]) -> None:
    db, _ = damaged
    size = _page_size(db)
    # A valid, empty table leaf (type 13, no cells, content area at the page's end) over the
    # rubrics table's only page: SQLite reads "no rubrics", without an error.
    empty = bytearray(size)
    empty[0] = 13
    empty[5:7] = (size % 65536).to_bytes(2, "big")
    _overwrite(db, _pages(db, ["rubrics"])["rubrics"], bytes(empty))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT * FROM rubrics").fetchall() == []
    server = _serve(tmp_path, db)
    try:
        _check_truthful(server, DOCUMENTS)
        with server.client() as c:
            for _ in range(2):
                r = c.get("/feeds/rubric/glavnoe.rss")
                assert r.status_code == 503, r.text  # not "no rubric 'glavnoe'" (404)
                assert r.headers["cache-control"] == "no-store"
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()
