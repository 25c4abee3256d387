"""Feed rendering cost: one 50-item page with 3 KB bodies in every format, against a minimal
hand-written lxml serializer of the same items, plus the cold path end to end; then a busy month
archive: one bounded page against the whole month as the single document it used to be.

    .venv/bin/python bench/render.py [--runs 50] [--articles 2000] [--archive 5000]

Prints medians and ratios from one run. Targets (issue 3): each format <= 2x the lxml
reference; cold path (store query + render + gzip + brotli) <= 25 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from lxml import etree

from feeds import archive
from feeds.atom import render_atom
from feeds.build import build_feed, build_yandex
from feeds.items import image_type, to_item
from feeds.jsonfeed import render_json
from feeds.model import Feed, Item
from feeds.rss import render_rss
from feeds.xmltree import DC_NS
from feeds.yandex import render_yandex
from syndication.cache import BROTLI_QUALITY, GZIP_LEVEL, compress
from syndication.config import Settings
from syndication.demo import RUBRICS
from syndication.demo import articles as demo_articles
from syndication.ingest import validate_article
from syndication.model import ALL_NEWS, Rubric, Scope, ScopeKind
from syndication.rendering import RenderContext
from syndication.store import SQLiteStore

CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"


def reference(feed: Feed) -> bytes:
    """The least a serializer must do for the same items: a bare lxml RSS tree."""
    root = etree.Element("rss", version="2.0", nsmap={"content": CONTENT_NS, "dc": DC_NS})
    channel = etree.SubElement(root, "channel")
    etree.SubElement(channel, "title").text = feed.title
    for item in feed.items:
        el = etree.SubElement(channel, "item")
        etree.SubElement(el, "title").text = item.title
        etree.SubElement(el, "link").text = item.url
        etree.SubElement(el, "guid", isPermaLink="false").text = item.id
        etree.SubElement(el, "description").text = item.summary
        etree.SubElement(el, f"{{{CONTENT_NS}}}encoded").text = item.content_html
        etree.SubElement(el, "pubDate").text = item.published.astimezone(feed.zone).strftime(
            "%a, %d %b %Y %H:%M:%S %z"
        )
        if item.author:
            etree.SubElement(el, f"{{{DC_NS}}}creator").text = item.author
        for c in item.categories:
            etree.SubElement(el, "category", domain=c.page).text = c.label
        if item.image:
            etree.SubElement(
                el,
                "enclosure",
                url=item.image.url,
                length=str(item.image.length or 0),
                type=image_type(item.image),
            )
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def amedian_ms(fn: Callable[[], Awaitable[object]], runs: int) -> float:
    await fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def main(runs: int, count: int, busy: int) -> None:
    end = datetime(2025, 12, 10, 18, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        await with_store(Path(tmp) / "bench.db", end, run, runs,
                         demo_articles(count, body_bytes=3000, end=end, years=1.0))  # fmt: skip
        if busy:
            # The whole lot inside November 2025 (Moscow): Nov 3 .. Nov 28.
            month_end = datetime(2025, 11, 28, tzinfo=UTC)
            payloads = demo_articles(busy, body_bytes=3000, end=month_end, years=25 / 365)
            await with_store(Path(tmp) / "busy.db", end, run_archive, runs, payloads)


async def with_store(
    path: Path,
    end: datetime,
    bench: Callable[[RenderContext, int], Awaitable[None]],
    runs: int,
    payloads: Iterable[dict[str, Any]],
) -> None:
    settings = Settings.load(
        environ={},
        db=str(path),
        public_url="https://feeds.example.ru",
        site_url="https://example.ru",
    )
    store = SQLiteStore(settings.db, settings.zone)
    await store.open()
    try:
        for slug, title, description in RUBRICS:
            await store.put_rubric(Rubric(slug, title, description))
        await store.put_articles(validate_article(p, settings) for p in payloads)
        await bench(RenderContext(store, settings, end + timedelta(days=1)), runs)
    finally:
        await store.close()


async def run_archive(ctx: RenderContext, runs: int) -> None:
    month = Scope(ScopeKind.MONTH, "2025-11")
    count = await ctx.store.count(month, now=ctx.now)
    size = archive.PAGE_ITEMS
    pages = archive.page_count(count, size)
    print(f"month archive of {count} articles: {pages} pages of <= {size}; medians:")
    rubrics = {r.slug: r for r in await ctx.store.rubrics()}
    everything = await ctx.store.articles(month, now=ctx.now, limit=count)
    items = tuple(to_item(a, ctx.settings, rubrics) for a in everything)
    whole_runs = max(3, runs // 10)
    for fmt, render in (("rss", render_rss), ("atom", render_atom), ("json", render_json)):

        async def page(fmt: str = fmt) -> None:
            await build_feed(ctx, month, fmt, page=2)

        one = await amedian_ms(page, runs)
        size_kb = len((await build_feed(ctx, month, fmt, page=2)).body) // 1024
        feed = _feed(ctx, items, f"/feeds/archive/2025-11.{fmt}")
        whole = median_ms(lambda render=render, feed=feed: render(feed), whole_runs)  # type: ignore[misc]
        whole_mb = len(render(feed)) / 2**20
        print(
            f"  {fmt:<6} page (store + render) {one:7.1f} ms ({size_kb} KB);"
            f" whole month as one document (render only) {whole:7.1f} ms ({whole_mb:.1f} MB)"
        )


def _feed(ctx: RenderContext, items: tuple[Item, ...], path: str) -> Feed:
    settings = ctx.settings
    return Feed(
        id="tag:example.ru,2025:feed:all",
        title=settings.site_title,
        description=settings.site_description,
        home=settings.site,
        self_url=settings.public_url + path,
        language=settings.site_language,
        zone=settings.zone,
        updated=max(i.last_change for i in items),
        publisher=settings.site_title,
        publisher_url=settings.site,
        generator="syndication",
        generator_version="bench",
        items=items,
    )


async def run(ctx: RenderContext, runs: int) -> None:
    settings, store = ctx.settings, ctx.store
    rubrics = {r.slug: r for r in await store.rubrics()}
    articles = await store.articles(ALL_NEWS, now=ctx.now, limit=50)
    items: tuple[Item, ...] = tuple(to_item(a, settings, rubrics) for a in articles)
    feed = _feed(ctx, items, "/feeds/all.rss")
    body_kb = sum(len((i.content_html or "").encode()) for i in items) / len(items) / 1024
    print(f"{len(items)} items, mean body {body_kb:.1f} KB, {runs} runs each; medians:")
    ref = median_ms(lambda: reference(feed), runs)
    print(f"  lxml reference  {ref:7.2f} ms  ({len(reference(feed)) // 1024} KB)")
    renderers: list[tuple[str, Callable[[Feed], bytes]]] = [
        ("rss", render_rss),
        ("atom", render_atom),
        ("json", render_json),
        ("yandex", render_yandex),
    ]
    for name, render in renderers:
        ms = median_ms(lambda render=render: render(feed), runs)  # type: ignore[misc]
        size = len(render(feed)) // 1024
        print(f"  {name:<15} {ms:7.2f} ms  ({size} KB)  ratio {ms / ref:4.2f}x")

    print(
        f"cold path (SQLite query of 50 + render + the cache's gzip -{GZIP_LEVEL} and brotli"
        f" q{BROTLI_QUALITY}, compressed concurrently as the cache does):"
    )

    for fmt in ("rss", "atom", "json"):

        async def cold(fmt: str = fmt) -> None:
            await compress((await build_feed(ctx, ALL_NEWS, fmt)).body)

        async def query_only(fmt: str = fmt) -> None:
            await build_feed(ctx, ALL_NEWS, fmt)

        total = await amedian_ms(cold, runs)
        built = await amedian_ms(query_only, runs)
        print(
            f"  {fmt:<15} {total:7.2f} ms  (build {built:.2f} ms, compression {total - built:.2f} ms)"
        )

    async def cold_yandex() -> None:
        await compress((await build_yandex(ctx)).body)

    print(f"  {'yandex':<15} {await amedian_ms(cold_yandex, runs):7.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--archive", type=int, default=5000, help="articles of the busy month")
    args = parser.parse_args()
    anyio.run(main, args.runs, args.articles, args.archive)
