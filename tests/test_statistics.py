"""Statistics equal what a scan of the rows would say, after any sequence of writes, on both
backends (SQLite keeps them in maintained tables, schema step 6; PostgreSQL counts them from
its indexes), and a SQLite write costs a handful of round trips to the writer's thread."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from syndication.config import Settings
from syndication.ingest import validate_article
from syndication.model import ALL_NEWS, MonthStat, Scope, ScopeKind, TermStat
from syndication.slugs import slugify
from syndication.store import SQLiteStore, Store
from syndication.store.sqlite import escaped_size
from syndication.store.sqlite.schema import rebuild_statistics
from syndication.timeutil import month_key, to_epoch
from tests.conftest import fresh_postgres_database, open_store_at

pytestmark = pytest.mark.backends

NOW = datetime(2025, 12, 10, 15, 0, tzinfo=UTC)
# Old months, this month before and after now, next month: scheduled articles fall in the last two.
DATES = [
    NOW - timedelta(days=70),
    NOW - timedelta(days=40),
    NOW - timedelta(days=3),
    NOW - timedelta(hours=1),
    NOW + timedelta(hours=2),
    NOW + timedelta(days=30),
]
RUBRICS = ["glavnoe", "vlast", "territorii"]
TAGS = ["Общество", "Экономика", "Спорт"]
IDS = [f"a{i}" for i in range(6)]


@dataclass(frozen=True)
class Put:
    article_id: str
    date: int
    updated_hours: int | None
    draft: bool
    rubrics: tuple[str, ...]
    tags: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class Delete:
    article_id: str


# One write of an article: a put or a delete.
op = st.one_of(
    st.builds(
        Put,
        article_id=st.sampled_from(IDS),
        date=st.integers(0, len(DATES) - 1),
        updated_hours=st.one_of(st.none(), st.integers(0, 100)),
        draft=st.booleans(),
        rubrics=st.lists(st.sampled_from(RUBRICS), max_size=3, unique=True).map(tuple),
        tags=st.lists(st.sampled_from(TAGS), max_size=3, unique=True).map(tuple),
        path=st.text("ab&<", max_size=6),
    ),
    st.builds(Delete, article_id=st.sampled_from(IDS)),
)
ops = st.lists(op, max_size=14)


def _payload(op: Put) -> dict[str, Any]:
    published = DATES[op.date]
    payload: dict[str, Any] = {
        "id": op.article_id,
        "title": f"Статья {op.article_id}",
        "url": f"https://example.ru/news/{op.article_id}/?q={op.path}",
        "published_at": published.isoformat(),
        "rubrics": list(op.rubrics),
        "tags": list(op.tags),
        "status": "draft" if op.draft else "published",
    }
    if op.updated_hours is not None:
        payload["updated_at"] = (published + timedelta(hours=op.updated_hours)).isoformat()
    return payload


class Model:
    """The visible articles as plain Python sees them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.articles: dict[str, dict[str, Any]] = {}

    def apply(self, op: Put | Delete) -> None:
        if isinstance(op, Delete):
            self.articles.pop(op.article_id, None)
            return
        a = validate_article(_payload(op), self.settings)
        self.articles[op.article_id] = {
            "published_at": a.published_at,
            "newest": a.updated_at or a.published_at,
            "visible": not op.draft and a.published_at <= NOW,
            "rubrics": list(a.rubrics),
            "tags": [slugify(t.name) for t in a.tags],
            "bytes": escaped_size(a.url),
        }

    def visible(self) -> list[dict[str, Any]]:
        return [a for a in self.articles.values() if a["visible"]]

    def aggregate(self, scope: Scope) -> tuple[int, datetime | None]:
        zone = self.settings.zone
        rows = [
            a
            for a in self.visible()
            if scope.kind is ScopeKind.ALL
            or (scope.kind is ScopeKind.RUBRIC and scope.key in a["rubrics"])
            or (scope.kind is ScopeKind.TAG and scope.key in a["tags"])
            or (scope.kind is ScopeKind.MONTH and month_key(a["published_at"], zone) == scope.key)
        ]
        return len(rows), max((a["newest"] for a in rows), default=None)

    def months(self) -> list[MonthStat]:
        by_month: dict[str, list[dict[str, Any]]] = {}
        for a in self.visible():
            by_month.setdefault(month_key(a["published_at"], self.settings.zone), []).append(a)
        return [
            MonthStat(
                month=m,
                count=len(rows),
                last_change=max(a["newest"] for a in rows),
                row_bound=max(a["bytes"] for a in rows),
            )
            for m, rows in sorted(by_month.items())
        ]

    def terms(self) -> list[tuple[str, int, datetime]]:
        out = []
        for kind, names in (("rubrics", RUBRICS), ("tags", [slugify(t) for t in TAGS])):
            for name in names:
                rows = [a for a in self.visible() if name in a[kind]]
                if rows:
                    out.append((name, len(rows), max(a["newest"] for a in rows)))
        return sorted(out)


def _months() -> Iterator[str]:
    zone = Settings.load(environ={}).zone
    return iter(sorted({month_key(d, zone) for d in DATES}))


async def _check(store: Store, model: Model) -> None:
    scopes = [ALL_NEWS]
    scopes += [Scope(ScopeKind.RUBRIC, r) for r in RUBRICS]
    scopes += [Scope(ScopeKind.TAG, slugify(t)) for t in TAGS]
    scopes += [Scope(ScopeKind.MONTH, m) for m in _months()]
    for scope in scopes:
        assert await store.aggregate(scope, now=NOW) == model.aggregate(scope), scope
    assert await store.months(now=NOW) == model.months()
    stats: list[TermStat] = await store.term_stats(now=NOW)
    assert sorted((s.slug, s.count, s.last_change) for s in stats) == model.terms()
    for m in model.months():
        start_end = _bounds(store, m.month)
        assert await store.url_row_bound(*start_end, now=NOW) == (m.count, m.row_bound)


def _bounds(store: Store, month: str) -> tuple[datetime, datetime]:
    from syndication.timeutil import month_bounds

    return month_bounds(month, Settings.load(environ={}).zone)


def _tables(path: Path) -> tuple[list[Any], list[Any]]:
    conn = sqlite3.connect(path)
    try:
        return (
            sorted(conn.execute("SELECT scope, month, count, last_change, max_bytes FROM buckets")),
            sorted(conn.execute("SELECT scope, count, last_change FROM totals")),
        )
    finally:
        conn.close()


_files = itertools.count()


@hsettings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=ops)
def test_maintained_statistics_equal_a_scan(ops: list[Put | Delete], backend: str) -> None:
    if backend == "postgres":
        with fresh_postgres_database() as url:
            _run_ops(ops, url)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"s{next(_files)}.db"
        settings = _run_ops(ops, str(path))
        # The maintained tables equal a recount from the rows (scheduled articles included).
        maintained = _tables(path)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN")
        rebuild_statistics(conn, settings.zone)
        recounted = _tables_of(conn)
        conn.execute("ROLLBACK")
        conn.close()
        assert maintained == recounted
        assert to_epoch(NOW)  # keeps NOW in use for readers of the file


def _run_ops(ops: list[Put | Delete], db: str) -> Settings:
    """Apply `ops` to a new store at `db` and check every statistic against the model."""
    settings = Settings.load(environ={}, db=db)
    model = Model(settings)

    async def run() -> None:
        store = open_store_at(db, settings.zone)
        await store.open()
        try:
            for op in ops:
                if isinstance(op, Put):
                    await store.put_articles([validate_article(_payload(op), settings)])
                else:
                    await store.delete_article(op.article_id)
                model.apply(op)
            await _check(store, model)
        finally:
            await store.close()

    asyncio.run(run())
    return settings


def _tables_of(conn: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
    return (
        sorted(conn.execute("SELECT scope, month, count, last_change, max_bytes FROM buckets")),
        sorted(conn.execute("SELECT scope, count, last_change FROM totals")),
    )


@pytest.mark.anyio
@pytest.mark.backends("sqlite")
async def test_a_write_is_a_few_round_trips(
    store: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each aiosqlite call is one hop to the connection's thread and back: count them."""
    payload = {
        "id": "warm",
        "title": "Тёплая",
        "published_at": "2025-12-01T10:00:00+03:00",
        "rubrics": ["glavnoe"],
        "tags": ["Общество", "Александр Михайлович Мордвинов"],
    }
    await store.put_articles([validate_article(payload, settings)])
    trips = 0
    original: Callable[..., Awaitable[Any]] = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal trips
        trips += 1
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    new = validate_article({**payload, "id": "new"}, settings)
    result = await store.put_articles([new])
    assert result.created == 1
    # The upsert (BEGIN IMMEDIATE goes with it), the transaction's notes (their read folds the
    # change stamps), COMMIT.
    assert trips == 3
    trips = 0
    edited = validate_article({**payload, "id": "new", "title": "Правка"}, settings)
    assert (await store.put_articles([edited])).replaced == 1
    assert trips == 3
    trips = 0
    assert await store.delete_article("new") is not None
    assert trips == 3
    trips = 0
    assert await store.aggregate(ALL_NEWS, now=NOW) == (1, datetime(2025, 12, 1, 7, tzinfo=UTC))
    assert trips == 1


@pytest.mark.anyio
@pytest.mark.backends("sqlite")
async def test_a_held_reader_delays_neither_short_reads_nor_the_change_log(
    store: SQLiteStore, settings: Settings
) -> None:
    """A long render holds one pooled connection; short queries and the change log go on."""
    await store.put_articles(
        [validate_article({"id": "x", "title": "T", "published_at": "2025-12-01"}, settings)]
    )
    async with store.db.reader(), store.db.reader():
        # Two of the three pooled readers are busy (a render each): reads still answer.
        assert (await store.aggregate(ALL_NEWS, now=NOW))[0] == 1
        async with store.db.reader():
            # All three busy: the change log has a connection of its own.
            assert [c.key for c in await store.changes_since(0)][:1] == ["x"]
            assert await store.last_change_id() >= 1


@pytest.mark.anyio
async def test_a_store_opened_in_another_zone_recounts_its_months(
    settings: Settings, db_url: str
) -> None:
    """Months are the site zone's: 22:30 UTC on 30 November is already December in Moscow."""
    from zoneinfo import ZoneInfo

    moscow = open_store_at(db_url, settings.zone)
    await moscow.open()
    try:
        await moscow.put_articles(
            [validate_article({"id": "edge", "title": "T",
                               "published_at": "2025-11-30T22:30:00+00:00"}, settings)]
        )  # fmt: skip
        assert [m.month for m in await moscow.months(now=NOW)] == ["2025-12"]
    finally:
        await moscow.close()
    utc = open_store_at(db_url, ZoneInfo("UTC"))
    await utc.open()
    try:
        assert [m.month for m in await utc.months(now=NOW)] == ["2025-11"]
        assert await utc.aggregate(Scope(ScopeKind.MONTH, "2025-11"), now=NOW) == (
            1,
            datetime(2025, 11, 30, 22, 30, tzinfo=UTC),
        )
    finally:
        await utc.close()
