"""Building stores and reading sitemaps back, for the sitemap tests."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from lxml import etree

from sitemap import build_index, build_month, build_news, build_rubrics, build_tags
from syndication.config import Settings
from syndication.model import ArticleIn, Image, Status, TagRef
from syndication.rendering import DocumentNotFound, RenderContext, Rendered
from syndication.store import SQLiteStore, is_postgres_url
from syndication.store.sqlite import escaped_size
from syndication.store.sqlite.schema import add_calendar
from syndication.timeutil import from_epoch, month_rows, to_epoch
from tests.conftest import SHARED

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
IMG = "{http://www.google.com/schemas/sitemap-image/1.1}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
W3C_WITH_ZONE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def article(
    n: int,
    published_at: datetime,
    *,
    status: Status = Status.PUBLISHED,
    updated_at: datetime | None = None,
    image: Image | None = None,
    rubrics: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    title: str | None = None,
) -> ArticleIn:
    return ArticleIn(
        id=f"a{n}",
        title=title or f"Новость {n}",
        url=f"https://example.ru/news/{n}/",
        summary=None,
        content_html=None,
        published_at=published_at.astimezone(UTC),
        updated_at=updated_at.astimezone(UTC) if updated_at else None,
        author=None,
        rubrics=rubrics,
        tags=tuple(TagRef(t) for t in tags),
        image=image,
        status=status,
    )


def bulk_insert(db: str | Path, rows: Iterable[tuple[str, str, int]]) -> None:
    """(id, url, published_at epoch) rows of minimal published articles, straight into SQLite
    (or PostgreSQL): the store's write path costs ~100 µs an article, far too slow for 50,000 in
    a test. The schema's triggers still write the change log and the link rows."""
    rows = list(rows)
    if is_postgres_url(str(db)):
        # The caller is a coroutine: a loop of its own, in a thread.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _pg_bulk_insert(str(db), rows)).result()
        return
    conn = sqlite3.connect(db)
    try:
        with conn:
            if rows:
                dates = [p for _, _, p in rows]
                add_calendar(conn, min(dates), max(dates), ZoneInfo("Europe/Moscow"))
            conn.executemany(
                "INSERT INTO articles (id, title, url, published_at, status, modified_at, raw,"
                " sitemap_bytes) VALUES (?, 't', ?, ?, 'published', 0, '{}', ?)",
                ((i, url, p, escaped_size(url)) for i, url, p in rows),
            )
    finally:
        conn.close()


async def _pg_bulk_insert(db: str, rows: list[tuple[str, str, int]]) -> None:
    conn = await asyncpg.connect(db)
    try:
        async with conn.transaction():
            if rows:
                dates = [p for _, _, p in rows]
                await conn.executemany(
                    "INSERT INTO calendar (lo, hi, month) VALUES ($1, $2, $3)"
                    " ON CONFLICT DO NOTHING",
                    month_rows(
                        from_epoch(min(dates)), from_epoch(max(dates)), ZoneInfo("Europe/Moscow")
                    ),
                )
            await conn.executemany(
                "INSERT INTO articles (id, title, url, published_at, status, modified_at, raw,"
                " sitemap_bytes) VALUES ($1, 't', $2, $3, 'published', 0, '{}', $4)",
                [(i, url, p, escaped_size(url)) for i, url, p in rows],
            )
    finally:
        await conn.close()


def ctx(store: SQLiteStore, settings: Settings, now: datetime) -> RenderContext:
    return RenderContext(store=store, settings=settings, now=now)


def parse(body: bytes) -> etree._Element:
    return etree.fromstring(body, etree.XMLParser(huge_tree=True))


def locs(body: bytes) -> list[str]:
    return [el.text or "" for el in parse(body).iter(f"{SM}loc")]


@dataclass
class Site:
    """Every sitemap document of a store at one instant, keyed by public path."""

    index: Rendered
    children: dict[str, Rendered]

    def month_paths(self) -> list[str]:
        return [p for p in self.children if p.startswith("/sitemaps/articles-")]


async def render_all(c: RenderContext) -> Site:
    index = await build_index(c)
    base = c.settings.public_url
    children: dict[str, Rendered] = {}
    for loc in locs(index.body):
        path = loc.removeprefix(base)
        children[path] = await render_path(c, path)
    return Site(index, children)


async def render_path(c: RenderContext, path: str) -> Rendered:
    fixed = {
        "/sitemaps/rubrics.xml": build_rubrics,
        "/sitemaps/tags.xml": build_tags,
        "/sitemaps/news.xml": build_news,
    }
    if path in fixed:
        return await fixed[path](c)
    m = re.fullmatch(r"/sitemaps/articles-(\d{4}-\d\d)(?:-(\d+))?\.xml", path)
    if m is None:
        raise DocumentNotFound(path)
    return await build_month(c, m[1], int(m[2] or 1))


def index_lastmods(index: bytes) -> dict[str, str]:
    root = parse(index)
    return {
        el.findtext(f"{SM}loc") or "": el.findtext(f"{SM}lastmod") or ""
        for el in root.iter(f"{SM}sitemap")
    }


@cache
def schemas() -> tuple[etree.XMLSchema, etree.XMLSchema]:
    """(urlset schema, sitemap index schema); the catalog maps their imports to local files."""
    folder = SHARED / "schemas"
    os.environ["XML_CATALOG_FILES"] = str(folder / "catalog.xml")
    return (
        etree.XMLSchema(etree.parse(str(folder / "sitemap-all.xsd"))),
        etree.XMLSchema(etree.parse(str(folder / "siteindex-all.xsd"))),
    )


def assert_valid(body: bytes, *, index: bool = False) -> None:
    urlset, siteindex = schemas()
    schema = siteindex if index else urlset
    doc = parse(body)
    assert schema.validate(doc), schema.error_log
    for el in doc.iter(f"{SM}lastmod", f"{NEWS}publication_date"):
        assert W3C_WITH_ZONE.match(el.text or ""), el.text


def epoch(dt: datetime) -> int:
    return to_epoch(dt)
