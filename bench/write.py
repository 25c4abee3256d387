"""Single-article write latency, against a plain-sqlite3 floor running the same statements.

    .venv/bin/python bench/write.py [--articles 20000] [--writes 300]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres | --no-postgres]

One store file, preloaded with demo-like articles (3 KB bodies, a rubric and two tags each). Each
write creates one new article in the current month. Rows, side by side in one run:

  floor            a plain sqlite3 connection, one Python call: BEGIN IMMEDIATE, the store's own
                   upsert (its triggers do the same work), the notes read (its trigger folds the
                   change stamps, with the same SQL function), COMMIT
  store quiet      SQLiteStore.put_articles([article]) in-process, nothing else running
  store + renders  the same while a task in the same event loop renders cold documents (all-news
                   feeds of several sizes, a month archive, the sitemap index; store queries,
                   rendering and compression as the cache does them), nonstop
  http quiet       PUT /api/articles/{id} on a `syndication serve` worker (validation and
                   sanitising included), nothing else running
  http + renders   the same while two clients keep that worker rendering cold documents

Floor and store blocks alternate round by round. Medians and p99 in milliseconds; targets from
issue 9: store quiet p50 <= 2x the floor's p50, store + renders p99 <= 50 ms.

With PostgreSQL reachable (`--postgres` names a server where a scratch database is created and
dropped), the same articles are loaded into it too and the run adds, side by side:

  pg store quiet / pg store + renders / pg http quiet / pg http + renders
                   the rows above on the PostgreSQL store (ratios against the same SQLite floor)
  cold render      each document of the renders above built from the store (queries and
                   rendering, no cache), median of several builds, SQLite and PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app import SWITCH_INTERVAL
from syndication.cache import compress
from syndication.config import Settings
from syndication.documents import resolve
from syndication.ingest import validate_article
from syndication.memory import freeze_startup_objects
from syndication.model import ArticleIn
from syndication.rendering import RenderContext
from syndication.store import PostgresStore, SQLiteStore, Store, is_postgres_url
from syndication.store.sqlite.schema import register_functions
from syndication.store.sqlite.writes import _UPSERT_ARTICLE, _row
from syndication.timeutil import month_key

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789"
BODY = "<p>" + "Текст новости о работе органов власти и территорий края. " * 52 + "</p>"
RUBRICS = ["glavnoe", "novosti-organov-vlasti", "novosti-territoriy"]
TAGS = ["Общество", "Экономика", "Александр Михайлович Мордвинов", "Здравоохранение"]
COLD = [
    "/feeds/all.rss?limit=100",
    "/feeds/all.atom?limit=200",
    "/feeds/all.json?limit=300",
    "/feeds/all.rss?limit=500",
    "/sitemap.xml",
]
_ids = itertools.count()


def payload(i: int, when: datetime) -> dict[str, Any]:
    return {
        "id": f"w{i}",
        "title": f"Новость {i}",
        "published_at": when.isoformat(),
        "summary": f"Лид новости {i}",
        "content_html": BODY,
        "rubrics": [RUBRICS[i % 3]],
        "tags": [TAGS[i % 4], TAGS[(i + 1) % 4]],
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(label: str, ms: list[float], floor: float | None = None) -> str:
    p50, p99 = statistics.median(ms), pct(ms, 0.99)
    ratio = f"  p50 {p50 / floor:5.2f}x floor" if floor else ""
    return f"{label:18} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  ({len(ms)} writes){ratio}"


# --- in-process -------------------------------------------------------------------------------
def floor_write(conn: sqlite3.Connection, article: ArticleIn, tag_ids: dict[str, int]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(_UPSERT_ARTICLE, _row(article, tag_ids, int(time.time())))
    # Its trigger folds the change rows into the stamps, as in the store.
    conn.execute("DELETE FROM tx_notes RETURNING kind, key, was, now").fetchall()
    conn.execute("COMMIT")


def open_store(db: str | Path, settings: Settings) -> Store:
    if is_postgres_url(str(db)):
        return PostgresStore(str(db), settings.zone)
    return SQLiteStore(db, settings.zone)


async def renders(store: Store, settings: Settings, stop: asyncio.Event) -> int:
    """Cold renders nonstop, as a worker's cache would run them: query, write, compress."""
    done = 0
    while not stop.is_set():
        for path in COLD:
            path, _, query = path.partition("?")
            params = dict([query.split("=")]) if query else {}
            doc = resolve(path, params, feed_limit=50, max_limit=500)
            assert doc is not None
            body = (await doc.build(RenderContext(store, settings, datetime.now(UTC)))).body
            await compress(body)
            done += 1
            if stop.is_set():
                break
    return done


async def in_process(
    db: Path, settings: Settings, writes: int, rounds: int, pg: str | None
) -> None:
    # As every worker of the service does (app.py).
    sys.setswitchinterval(SWITCH_INTERVAL)
    freeze_startup_objects()
    store = open_store(db, settings)
    await store.open()
    pg_store = open_store(pg, settings) if pg else None
    if pg_store is not None:
        await pg_store.open()
    pg_quiet: list[float] = []
    pg_loaded: list[float] = []
    pg_rendered = 0
    cold: dict[str, dict[str, float]] = {}
    conn = sqlite3.connect(db, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
        conn.execute(f"PRAGMA {pragma}")
    register_functions(conn, settings.zone)
    tag_ids = dict(conn.execute("SELECT name, id FROM tags").fetchall())
    now = datetime.now(UTC)

    def article() -> ArticleIn:
        return validate_article(payload(next(_ids), now), settings)

    floor: list[float] = []
    quiet: list[float] = []
    loaded: list[float] = []
    per = writes // rounds
    rendered = 0
    try:
        for _ in range(rounds):
            for _ in range(per):
                a = article()
                t0 = time.perf_counter()
                floor_write(conn, a, tag_ids)
                floor.append((time.perf_counter() - t0) * 1000)
            rendered += await store_block(store, settings, article, per, quiet, loaded)
            if pg_store is not None:
                pg_rendered += await store_block(
                    pg_store, settings, article, per, pg_quiet, pg_loaded
                )
        if pg_store is not None:
            cold["sqlite"] = await cold_renders(store, settings)
            cold["postgres"] = await cold_renders(pg_store, settings)
    finally:
        conn.close()
        await store.close()
        if pg_store is not None:
            await pg_store.close()
    base = statistics.median(floor)
    print(row("floor", floor))
    print(row("store quiet", quiet, base) + "  (target <= 2x)")
    print(row("store + renders", loaded, base) + f"  (target p99 <= 50 ms; {rendered} renders)")
    if pg_store is not None:
        print(row("pg store quiet", pg_quiet, base))
        print(row("pg store + renders", pg_loaded, base) + f"  ({pg_rendered} renders)")
        print(f"{'cold render':30} {'sqlite':>10} {'postgres':>10}")
        for path in COLD:
            sq, pq = cold["sqlite"][path], cold["postgres"][path]
            print(f"  {path:28} {sq:7.2f} ms {pq:7.2f} ms  ({pq / sq:4.2f}x)")


async def store_block(
    store: Store,
    settings: Settings,
    article: Any,
    per: int,
    quiet: list[float],
    loaded: list[float],
) -> int:
    """One round of the store rows (quiet, then under renders) on `store`; renders done."""
    for _ in range(per):
        a = article()
        t0 = time.perf_counter()
        await store.put_articles([a])
        quiet.append((time.perf_counter() - t0) * 1000)
    stop = asyncio.Event()
    load = asyncio.create_task(renders(store, settings, stop))
    await asyncio.sleep(0.2)  # let the renders get going
    for _ in range(per):
        a = article()
        t0 = time.perf_counter()
        await store.put_articles([a])
        loaded.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.01)  # writes arrive one by one, between render steps
    stop.set()
    return await load


async def cold_renders(store: Store, settings: Settings, repeats: int = 9) -> dict[str, float]:
    """Median ms to build each document of COLD from the store (no cache, no compression)."""
    out = {}
    for full in COLD:
        path, _, query = full.partition("?")
        params = dict([query.split("=")]) if query else {}
        times = []
        for _ in range(repeats):
            doc = resolve(path, params, feed_limit=50, max_limit=500)
            assert doc is not None
            t0 = time.perf_counter()
            await doc.build(RenderContext(store, settings, datetime.now(UTC)))
            times.append((time.perf_counter() - t0) * 1000)
        out[full] = statistics.median(times)
    return out


# --- over HTTP --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(db: Path | str, writes: int, label: str = "") -> None:
    port = free_port()
    env = {
        **os.environ,
        "SYNDICATION_DB": str(db),
        "SYNDICATION_API_TOKEN": TOKEN,
        "SYNDICATION_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "syndication.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"})
        now = datetime.now(UTC)

        def put() -> float:
            i = next(_ids)
            t0 = time.perf_counter()
            r = client.put(f"/api/articles/w{i}", json=payload(i, now))
            assert r.status_code in (200, 201), r.text
            return (time.perf_counter() - t0) * 1000

        quiet = [put() for _ in range(writes)]
        stop = threading.Event()
        counts: list[int] = []

        def reader(offset: int) -> None:
            n = 0
            with httpx.Client(base_url=base, timeout=60) as c:
                while not stop.is_set():
                    # A new limit each time, and every write invalidates all-news documents
                    # anyway: each request is a cold render.
                    fmt = ("rss", "atom", "json")[n % 3]
                    c.get(f"/feeds/all.{fmt}?limit={100 + (2 * n + offset) % 400}")
                    if n % 5 == 0:
                        c.get("/sitemap.xml")
                    n += 1
            counts.append(n)

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        loaded = []
        for _ in range(writes):
            loaded.append(put())
            time.sleep(0.01)
        stop.set()
        for t in threads:
            t.join()
        print(row(f"{label}http quiet", quiet))
        print(row(f"{label}http + renders", loaded) + f"  ({sum(counts)} render requests)")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def preload(db: Path | str, settings: Settings, count: int) -> None:
    async def run() -> None:
        store = open_store(db, settings)
        await store.open()
        try:
            now = datetime.now(UTC).timestamp()
            batch = []
            for i in range(count):
                when = datetime.fromtimestamp(now - 600 * (count - i), UTC)
                batch.append(validate_article({**payload(i, when), "id": f"p{i}"}, settings))
                if len(batch) == 1000:
                    await store.put_articles(batch)
                    batch = []
            if batch:
                await store.put_articles(batch)
        finally:
            await store.close()
        if is_postgres_url(str(db)):
            # Planner statistics of the loaded tables now, as autovacuum would have them on a
            # database in service (right after a bulk load its plans are a scan's).
            conn = await asyncpg.connect(str(db))
            try:
                await conn.execute("VACUUM ANALYZE")
            finally:
                await conn.close()

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server (admin URL) for the pg rows; a scratch database is made there",
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    pg = None if args.no_postgres else scratch_database(args.postgres)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "write.db"
            settings = Settings.load(environ={}, db=str(db), api_token=TOKEN)
            for target in (db, pg):
                if target is None:
                    continue
                t0 = time.perf_counter()
                preload(target, settings, args.articles)
                month = month_key(datetime.now(UTC), settings.zone)
                print(f"{args.articles:,} articles preloaded into"
                      f" {'PostgreSQL' if target == pg else 'SQLite'} in"
                      f" {time.perf_counter() - t0:.0f} s; each write creates one article in"
                      f" {month}")  # fmt: skip
            asyncio.run(in_process(db, settings, args.writes, args.rounds, pg))
            if not args.no_http:
                http(db, args.writes // 2)
                if pg:
                    http(pg, args.writes // 2, "pg ")
    finally:
        if pg:
            drop_database(args.postgres, pg)


def _admin(url: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def scratch_database(admin: str) -> str | None:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        _admin(admin, f'CREATE DATABASE "{name}" TEMPLATE template0')
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL rows left out: {admin} is not reachable ({exc})")
        return None
    return admin.rsplit("/", 1)[0] + "/" + name


def drop_database(admin: str, url: str) -> None:
    _admin(admin, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
