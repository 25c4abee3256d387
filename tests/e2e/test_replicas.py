"""Two service instances on one PostgreSQL database: a write acknowledged by A is visible on the
very next request to B, also while B's listening connection is killed and re-established."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, fresh_postgres_database, start_server

CYCLES = 500
KILL_AT = CYCLES // 2


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[Server, Server, str]]:
    with fresh_postgres_database() as dsn:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        a = start_server(tmp_path / "a", db=dsn)
        try:
            b = start_server(tmp_path / "b", db=dsn, workers=2)
            try:
                yield a, b, dsn
            finally:
                b.stop()
        finally:
            a.stop()
        for server in (a, b):
            assert b"Traceback" not in server.log.read_bytes(), server.log.read_text()


def _payload(i: int, title: str) -> dict[str, object]:
    return {
        "id": f"r{i}",
        "title": title,
        "url": f"https://example.ru/news/r{i}/",
        "published_at": f"2026-03-{1 + i // 60:02d}T{(i // 60) % 24:02d}:{i % 60:02d}:00+03:00",
        "summary": "Лид",
        "rubrics": ["glavnoe"],
        "tags": ["Реплики"],
    }


def _listeners(dsn: str) -> list[int]:
    import asyncio

    import asyncpg

    async def find() -> list[int]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
            )
            pids = [int(r["pid"]) for r in rows]
            for pid in pids:
                await conn.execute("SELECT pg_terminate_backend($1)", pid)
            return pids
        finally:
            await conn.close()

    return asyncio.run(find())


def test_a_write_through_one_instance_is_seen_by_the_next_read_from_the_other(
    replicas: tuple[Server, Server, str],
) -> None:
    a, b, dsn = replicas
    stale: list[str] = []
    killed: list[int] = []
    with a.client() as writer, httpx.Client(base_url=b.base_url, timeout=30) as reader:
        for i in range(CYCLES):
            if i == KILL_AT:
                # Every listening connection of the database: B's two workers' and A's.
                killed = _listeners(dsn)
            if i % 2 and i > 1:
                # An edit of an article already shown: the feed must show the new title.
                target, title = i - 1, f"Правка {i}"
            else:
                target, title = i, f"Новость {i}"
            r = writer.put(f"/api/articles/r{target}", json=_payload(target, title))
            assert r.status_code in (200, 201), r.text
            feed = reader.get("/feeds/rubric/glavnoe.rss")
            sitemap = reader.get("/sitemaps/articles-2026-03.xml")
            assert feed.status_code == 200
            assert sitemap.status_code == 200
            if f"<title>{title}</title>" not in feed.text:
                stale.append(f"cycle {i}: feed lacks {title!r}")
            if f"https://example.ru/news/r{target}/" not in sitemap.text:
                stale.append(f"cycle {i}: sitemap lacks r{target}")
    assert len(killed) >= 2, "the run did not kill B's listening connections"
    assert stale == []
    # B's workers reconnected and caught up from the change log (only a hang misses this).
    deadline = time.monotonic() + 60
    while len(re.findall(rb"listening for changes \(connection 2\)", b.log.read_bytes())) < 2:
        assert time.monotonic() < deadline, b.log.read_text()
        time.sleep(0.1)
