"""What only the PostgreSQL store has to show: migrations raced by several replicas, NOTIFY at
commit, snapshots, and a server that goes away answered as a store fault (503), never a 500.

The behaviour both stores share runs on both (tests marked `backends`: test_store.py,
test_statistics.py, test_invalidation.py, the sitemap and feed tests, e2e/test_write_api.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from syndication.config import Settings
from syndication.faults import is_store_fault
from syndication.ingest import validate_article
from syndication.model import ALL_NEWS, ArticleIn
from syndication.store import PostgresStore, StoreError
from syndication.store.postgres.connections import NOTIFY_CHANNEL
from syndication.store.postgres.schema import LATEST, SchemaTooNew, migrate
from syndication.timeutil import utcnow
from tests.conftest import ROOT, fresh_postgres_database

pytestmark = pytest.mark.anyio


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def pg_settings(pg_url: str) -> Settings:
    return Settings.load(environ={}, db=pg_url, site_url="https://example.ru")


@pytest.fixture
async def pg_store(pg_settings: Settings) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(pg_settings.db, pg_settings.zone)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _article(settings: Settings, article_id: str) -> ArticleIn:
    return validate_article(
        {"id": article_id, "title": "Т", "published_at": "2025-12-01T10:00:00+03:00",
         "rubrics": ["glavnoe"], "tags": ["Общество"]},
        settings,
    )  # fmt: skip


_MIGRATE = """
import asyncio, sys
import asyncpg
from zoneinfo import ZoneInfo
from syndication.store.postgres.schema import migrate
async def main():
    conn = await asyncpg.connect(sys.argv[1])
    try:
        print(await migrate(conn, zone=ZoneInfo("Europe/Moscow")))
    finally:
        await conn.close()
asyncio.run(main())
"""


def test_replicas_starting_together_migrate_once() -> None:
    """Four processes migrate one fresh database at once: all succeed, exactly one applies each
    step, and the version is the latest, recorded once."""
    for _ in range(2):
        with fresh_postgres_database() as url:
            procs = [
                subprocess.Popen(
                    [sys.executable, "-c", _MIGRATE, url],
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
                for _ in range(4)
            ]
            outputs = [p.communicate(timeout=120) for p in procs]
            assert [p.returncode for p in procs] == [0] * 4, [e.decode() for _, e in outputs]
            applied = [json.loads(out.decode()) for out, _ in outputs]
            # Each step applied once, by whichever process took the lock first for it.
            assert sorted(n for steps in applied for n in steps) == list(range(1, LATEST + 1))
            rows = asyncio.run(_fetch(url, "SELECT version FROM schema_version"))
            assert rows == [(LATEST,)]


async def test_concurrent_migrations_on_separate_connections(pg_url: str) -> None:
    from zoneinfo import ZoneInfo

    conns = [await asyncpg.connect(pg_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c, zone=ZoneInfo("Europe/Moscow")) for c in conns))
        # Each step applied once, by whichever connection took the lock first for it.
        assert sorted(n for steps in results for n in steps) == list(range(1, LATEST + 1))
        assert await conns[0].fetchval("SELECT value FROM meta WHERE key = 'zone'") == (
            "Europe/Moscow"
        )
    finally:
        for c in conns:
            await c.close()


async def test_a_newer_schema_is_refused(pg_url: str, pg_settings: Settings) -> None:
    store = PostgresStore(pg_url, pg_settings.zone)
    await store.open()
    await store.close()
    await _fetch(pg_url, "UPDATE schema_version SET version = 99")
    with pytest.raises(SchemaTooNew):
        await PostgresStore(pg_url, pg_settings.zone).open()


async def test_each_write_notifies_its_last_change_id_at_commit(
    pg_store: PostgresStore, pg_settings: Settings, pg_url: str
) -> None:
    listener = await asyncpg.connect(pg_url)
    got: asyncio.Queue[str] = asyncio.Queue()
    try:
        await listener.add_listener(NOTIFY_CHANNEL, lambda *args: got.put_nowait(args[3]))
        result = await pg_store.put_articles([_article(pg_settings, "a")])
        assert result.change_id > 0
        assert await asyncio.wait_for(got.get(), 30) == str(result.change_id)
        deleted = await pg_store.delete_article("a")
        assert await asyncio.wait_for(got.get(), 30) == str(deleted)
        # A failed write commits nothing and announces nothing.
        with pytest.raises(RuntimeError):
            await pg_store.put_articles(_failing(pg_settings))
        await pg_store.put_articles([_article(pg_settings, "b")])
        last = await pg_store.last_change_id()
        assert await asyncio.wait_for(got.get(), 30) == str(last)
        assert got.empty()
    finally:
        await listener.close()


def _failing(settings: Settings) -> Iterator[ArticleIn]:
    yield _article(settings, "never")
    raise RuntimeError("source failed midway")


async def test_a_snapshot_sees_one_state(pg_store: PostgresStore, pg_settings: Settings) -> None:
    now = utcnow()
    await pg_store.put_articles([_article(pg_settings, "a")])
    async with pg_store.snapshot():
        assert (await pg_store.aggregate(ALL_NEWS, now=now))[0] == 1
        # Written meanwhile (another connection of the pool), and committed:
        await pg_store.put_articles([_article(pg_settings, "b")])
        counts = await asyncio.gather(
            *(pg_store.aggregate(ALL_NEWS, now=now) for _ in range(3))
        )  # tasks inside one snapshot share its connection, one at a time
        assert [c[0] for c in counts] == [1, 1, 1]
        assert [a.id for a in await pg_store.articles(ALL_NEWS, now=now, limit=5)] == ["a"]
        # The change log is read outside the snapshot: a cache sees the write at once.
        assert [c.key for c in await pg_store.changes_since(0)][-1] == "b"
    assert (await pg_store.aggregate(ALL_NEWS, now=now))[0] == 2


async def test_an_unreachable_server_is_a_store_fault(pg_settings: Settings) -> None:
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/nothing", pg_settings.zone)
    with pytest.raises(StoreError):
        await store.open()
    with pytest.raises(StoreError, match="not open"):
        await store.ping()
    assert is_store_fault(asyncpg.ConnectionDoesNotExistError("gone"))
    assert is_store_fault(asyncpg.CannotConnectNowError("starting up"))
    assert not is_store_fault(asyncpg.UndefinedTableError("our bug"))


async def test_terminated_connections_are_a_store_fault_then_replaced(
    pg_store: PostgresStore, pg_url: str
) -> None:
    """An administrator (or a failover) cuts every connection of the store: a call in flight
    fails as a store fault (503), and the pool connects again for the next one."""
    await pg_store.ping()
    name = pg_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(pg_url)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        assert killed >= 2  # the pool's and the change log's connections
    finally:
        await admin.close()
    outcomes = []
    for _ in range(6):
        try:
            await pg_store.ping()
            await pg_store.last_change_id()
            outcomes.append("ok")
        except StoreError:
            outcomes.append("fault")
    assert outcomes[-1] == "ok", outcomes


async def _fetch(url: str, sql: str) -> list[tuple[object, ...]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()
