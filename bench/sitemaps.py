"""Sitemap throughput and memory on a million-article store, against a string-join floor.

    .venv/bin/python bench/sitemaps.py [--articles 1000000] [--months 18] [--repeat 3]

The store (a 3 KB HTML body and a lead an article, images on two thirds, one rubric and two tags)
is generated once with bulk SQL through SQLiteStore's schema, its triggers included, and cached
under /tmp. Each measurement runs in a fresh child process, so peak memory (ru_maxrss) is that of
the rendering alone:

  sitemaps     the index and every child file (month parts, rubrics, tags, news), all through the
               real builders, store queries included
  floor        the same URLs read by the same store queries, joined as f-strings with no escaping
  cold         one 50,000-URL month part on a freshly opened store
  after-write  a running worker (the index rendered once), then one article written through the
               store: the first /sitemap.xml, /, /opml.xml and /feeds/all.rss after it, each
               through its real document builder

Targets (issue 9): after a write each of those four <= 100 ms; sitemaps <= 2x floor; peak <= 200
MB; cold 50,000-URL part <= 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sitemap import build_index, build_month, build_news, build_rubrics, build_tags
from sitemap.index import children
from syndication.config import Settings
from syndication.documents import resolve
from syndication.model import ArticleIn, Status, TagRef
from syndication.rendering import RenderContext
from syndication.store import SQLiteStore
from syndication.store.sqlite import escaped_size
from syndication.store.sqlite.schema import add_calendar, register_functions
from syndication.timeutil import month_bounds, shift_month
from syndication.urls import rubric_page, tag_page

ROOT = Path(__file__).resolve().parent.parent
END_MONTH = "2025-12"  # the generated articles end before this month starts
NOW = datetime(2025, 12, 15, tzinfo=UTC)
RUBRICS = 20
TAGS = 2000


def settings_for(db: Path) -> Settings:
    return Settings.load(
        environ={}, db=str(db), public_url="https://feeds.example.ru", site_url="https://example.ru"
    )


def build_store(path: Path, articles: int, months: int) -> None:
    """A fresh SQLite file through the store's own schema, then bulk SQL: ~1 minute a million."""
    if path.exists():
        return
    tmp = path.with_name(path.name + ".tmp")
    for leftover in path.parent.glob(tmp.name + "*"):
        leftover.unlink()
    settings = settings_for(tmp)

    async def create_schema() -> None:
        store = SQLiteStore(tmp, settings.zone)
        await store.open()
        await store.close()

    asyncio.run(create_schema())
    start, _ = month_bounds(shift_month(END_MONTH, -months), settings.zone)
    end, _ = month_bounds(END_MONTH, settings.zone)
    span = int((end - start).total_seconds())
    first = int(start.timestamp())
    rng = random.Random(1)
    conn = sqlite3.connect(tmp, isolation_level=None)
    register_functions(conn, settings.zone)  # the schema's triggers call them
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO rubrics (slug, title, position) VALUES (?, ?, ?)",
        [(f"rubric_{i}", f"Рубрика {i}", i) for i in range(RUBRICS)],
    )
    conn.executemany(
        "INSERT INTO tags (id, slug, name, kind) VALUES (?, ?, ?, 'topic')",
        [(i, f"tag_{i}", f"Тег {i}") for i in range(TAGS)],
    )
    add_calendar(conn, first, first + span, settings.zone)
    body = "<p>" + "Текст новости о работе органов власти региона. " * 40 + "</p>"
    chunk = 50_000
    for lo in range(0, articles, chunk):
        rows = []
        for i in range(lo, min(lo + chunk, articles)):
            published = first + span * i // articles
            image = f"https://example.ru/upload/{i % 997}/{i}.jpg" if i % 3 else None
            caption = f"Фото пресс-службы № {i}" if i % 3 == 1 else None
            updated = published + 3600 if i % 5 == 0 else None
            url = f"https://example.ru/novosti/{i}/"
            # The triggers write the link rows, the change log and the statistics from these.
            placement = (f'["rubric_{i % RUBRICS}"]', json.dumps(rng.sample(range(TAGS), 2)))
            rows.append((f"a{i}", f"Новость номер {i}", url, f"Лид новости {i}", body,
                         published, updated, image, caption, published,
                         escaped_size(url, image or "", caption or ""), *placement))  # fmt: skip
        conn.executemany(
            "INSERT INTO articles (id, title, url, summary, content_html, published_at,"
            " updated_at, image_url, image_caption, status, modified_at, raw, sitemap_bytes,"
            " rubrics, tag_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'published', ?, '{}', ?, ?, ?)",
            rows,
        )
        print(f"  {min(lo + chunk, articles):,} articles", file=sys.stderr, flush=True)
    conn.execute("DELETE FROM tx_notes")
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    for suffix in ("", "-wal", "-shm", "-changes"):
        src = tmp.with_name(tmp.name + suffix)
        if src.exists():
            src.rename(path.with_name(path.name + suffix))


# --- child process work ---------------------------------------------------------------------------
async def render_everything(ctx: RenderContext) -> tuple[int, int]:
    """(files, bytes) of the index and every child, through the real builders."""
    index = await build_index(ctx)
    files, total = 1, len(index.body)
    entries, _, _ = await children(ctx)
    for path, _lastmod in entries:
        name = path.removeprefix("/sitemaps/").removesuffix(".xml")
        if name.startswith("articles-"):
            key = name.removeprefix("articles-")
            month, _, part = key[:7], key[7:8], key[8:]
            body = (await build_month(ctx, month, int(part) if part else 1)).body
        else:
            builder = {"rubrics": build_rubrics, "tags": build_tags, "news": build_news}[name]
            body = (await builder(ctx)).body
        files += 1
        total += len(body)
    return files, total


async def string_join_floor(ctx: RenderContext) -> tuple[int, int]:
    """The same URLs from the same queries, joined with no XML writer and no escaping."""
    store, zone, now = ctx.store, ctx.settings.zone, ctx.now
    files, total = 0, 0
    for stat in await store.months(now=now):
        start, end = month_bounds(stat.month, zone)
        parts = []
        async for batch in store.url_rows(start, end, now=now):
            for r in batch:
                lm = r.last_change.astimezone(zone).isoformat(timespec="seconds")
                image = (
                    f"<image:image><image:loc>{r.image.url}</image:loc>"
                    + (
                        f"<image:caption>{r.image.caption}</image:caption>"
                        if r.image.caption
                        else ""
                    )
                    + "</image:image>"
                    if r.image
                    else ""
                )
                parts.append(f"<url><loc>{r.url}</loc><lastmod>{lm}</lastmod>{image}</url>")
        body = ("<urlset>" + "".join(parts) + "</urlset>").encode()
        files, total = files + 1, total + len(body)
    stats = await store.term_stats(now=now)
    pages = [
        f"<url><loc>{rubric_page(ctx.settings, s.slug) if s.kind == 'rubric' else tag_page(ctx.settings, s.slug)}</loc>"
        f"<lastmod>{s.last_change.astimezone(zone).isoformat(timespec='seconds')}</lastmod></url>"
        for s in stats
    ]
    total += len("".join(pages).encode())
    return files + 2, total


async def child(kind: str, db: Path, month: str) -> dict[str, Any]:
    settings = settings_for(db)
    store = SQLiteStore(db, settings.zone)
    await store.open()
    try:
        ctx = RenderContext(store=store, settings=settings, now=NOW)
        t0 = time.perf_counter()
        if kind == "sitemaps":
            files, size = await render_everything(ctx)
        elif kind == "floor":
            files, size = await string_join_floor(ctx)
        elif kind == "index":
            files, size = 1, len((await build_index(ctx)).body)
        elif kind == "after-write":
            return await after_write(ctx)
        else:
            files, size = 1, len((await build_month(ctx, month, 1)).body)
        seconds = time.perf_counter() - t0
    finally:
        await store.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "files": files, "bytes": size, "peak_mb": peak_mb}


AFTER_WRITE = ("/sitemap.xml", "/", "/opml.xml", "/feeds/all.rss")


async def after_write(ctx: RenderContext) -> dict[str, Any]:
    """A worker that has rendered the index once; one write; the first renders after it."""
    t0 = time.perf_counter()
    await build_index(ctx)
    warm = time.perf_counter() - t0
    n = int(time.time() * 1000)
    article = ArticleIn(
        id=f"fresh-{n}", title="Свежая новость", url=f"https://example.ru/novosti/fresh-{n}/",
        summary="Лид", content_html="<p>Текст</p>", published_at=NOW, updated_at=None,
        author=None, rubrics=("rubric_1",), tags=(TagRef("Тег 7"),), image=None,
        status=Status.PUBLISHED, raw=b"{}",
    )  # fmt: skip
    t0 = time.perf_counter()
    await ctx.store.put_articles([article])
    out: dict[str, Any] = {"write": time.perf_counter() - t0, "warm-index": warm}
    settings = ctx.settings
    for path in AFTER_WRITE:
        doc = resolve(path, {}, feed_limit=settings.feed_limit, max_limit=settings.feed_max_limit)
        assert doc is not None
        t0 = time.perf_counter()
        await doc.build(ctx)
        out[path] = time.perf_counter() - t0
    await ctx.store.delete_article(article.id)
    out["seconds"] = out["/sitemap.xml"]
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_child(kind: str, db: Path, month: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--db", str(db), "--month", month],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=["sitemaps", "floor", "index", "cold", "after-write"])
    parser.add_argument("--db", type=Path)
    parser.add_argument("--month", default=shift_month(END_MONTH, -2))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.db, args.month))))
        return

    db = args.db or Path(f"/tmp/syndication-bench-sitemaps-v7-{args.articles}-{args.months}.db")
    t0 = time.perf_counter()
    build_store(db, args.articles, args.months)
    print(
        f"store: {db} ({db.stat().st_size / 2**20:.0f} MB, ready in {time.perf_counter() - t0:.1f} s)"
    )
    print(f"{args.articles:,} articles over {args.months} months; medians of {args.repeat} runs")

    results: dict[str, list[dict[str, Any]]] = {}
    for kind in ("after-write", "floor", "sitemaps", "index", "cold"):
        results[kind] = [run_child(kind, db, args.month) for _ in range(args.repeat)]

    def median(kind: str) -> float:
        return float(statistics.median(r["seconds"] for r in results[kind]))

    def peak(kind: str) -> float:
        return float(max(r["peak_mb"] for r in results[kind]))

    floor, full = median("floor"), median("sitemaps")
    first = results["sitemaps"][0]
    print(f"sitemaps:  {full:6.2f} s  {first['files']} files, {first['bytes'] / 2**20:.0f} MB,"
          f" peak {peak('sitemaps'):.0f} MB")  # fmt: skip
    print(f"floor:     {floor:6.2f} s  string join of the same URLs, peak {peak('floor'):.0f} MB")
    print(f"ratio:     {full / floor:6.2f}x  (target <= 2x)")
    print(f"index:     {median('index'):6.2f} s  /sitemap.xml alone")
    cold = results["cold"][0]
    print(f"cold part: {median('cold'):6.2f} s  articles-{args.month}.xml,"
          f" {cold['bytes'] / 2**20:.1f} MB (target <= 0.5 s)")  # fmt: skip
    writes = results["after-write"]
    print(f"write:     {statistics.median(r['write'] for r in writes) * 1000:6.1f} ms"
          " one article through the store")  # fmt: skip
    print(f"warm-up:   {statistics.median(r['warm-index'] for r in writes):6.2f} s"
          " /sitemap.xml on a freshly opened store")  # fmt: skip
    after = {p: float(statistics.median(r[p] for r in writes)) for p in AFTER_WRITE}
    for path, seconds in after.items():
        print(f"after write {path:15} {seconds * 1000:7.1f} ms (target <= 100 ms)")
    ok = (
        full <= 2 * floor
        and peak("sitemaps") <= 200
        and median("cold") <= 0.5
        and max(after.values()) <= 0.1
    )
    print("targets met" if ok else "targets NOT met")


if __name__ == "__main__":
    main()
