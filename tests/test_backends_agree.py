"""SQLite and PostgreSQL agree, write for write: after any sequence of article writes, deletes
and rubric edits, both return the same write results and hold the same change log (ids, kinds,
keys, placement before and after) and the same stamps (which change last raised each dependency
tag): what the cache, the notifier and Last-Modified read is the same whichever store is used."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from syndication.config import Settings
from syndication.ingest import validate_article
from syndication.model import Rubric
from syndication.store import Store
from tests.conftest import fresh_postgres_database, open_store_at
from tests.test_statistics import Delete, Put, _payload
from tests.test_statistics import op as article_op

ops = st.lists(
    st.one_of(
        article_op,
        st.builds(
            Rubric,
            slug=st.sampled_from(["glavnoe", "vlast"]),
            title=st.sampled_from(["Главное", "Власть"]),
            position=st.integers(0, 2),
        ),
    ),
    max_size=10,
)


async def _apply(store: Store, settings: Settings, steps: list[Put | Delete | Rubric]) -> list[Any]:
    results: list[Any] = []
    for step in steps:
        if isinstance(step, Put):
            r = await store.put_articles([validate_article(_payload(step), settings)])
            results.append((r.created, r.replaced, r.change_id))
        elif isinstance(step, Delete):
            results.append(await store.delete_article(step.article_id))
        else:
            results.append(await store.put_rubric(step))
    changes = [(c.id, c.kind, c.key, c.before, c.after) for c in await store.changes_since(0)]
    return [results, changes, await store.last_change_id()]


def _run(db: str, steps: list[Put | Delete | Rubric]) -> list[Any]:
    settings = Settings.load(environ={}, db=db)

    async def run() -> list[Any]:
        store = open_store_at(db, settings.zone)
        await store.open()
        try:
            return await _apply(store, settings, steps)
        finally:
            await store.close()

    return asyncio.run(run())


async def _pg_stamps(url: str) -> list[tuple[str, int]]:
    conn = await asyncpg.connect(url)
    try:
        return sorted((r[0], r[1]) for r in await conn.fetch("SELECT dep, change_id FROM stamps"))
    finally:
        await conn.close()


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=ops)
def test_both_backends_write_the_same_change_log_and_stamps(
    steps: list[Put | Delete | Rubric],
) -> None:
    with tempfile.TemporaryDirectory() as tmp, fresh_postgres_database() as url:
        path = Path(tmp) / "agree.db"
        on_sqlite = _run(str(path), steps)
        on_postgres = _run(url, steps)
        assert on_postgres == on_sqlite
        conn = sqlite3.connect(path)
        try:
            sqlite_stamps = sorted(conn.execute("SELECT dep, change_id FROM stamps"))
        finally:
            conn.close()
        assert asyncio.run(_pg_stamps(url)) == sqlite_stamps
