"""The images inside an article's text follow its lead image in its month sitemap: in body order,
each once, the lead image not again, at most content.BODY_IMAGES_MAX; found at ingest and stored
with the article (both stores, and filled in by the migration for articles stored before), so a
sitemap render never reads the HTML; counted in the bound that splits a month into parts."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import pytest

from sitemap import build_month
from sitemap.urlwriter import BODY_IMAGE_MARKUP, ROW_OVERHEAD
from syndication.config import Settings
from syndication.content import BODY_IMAGES_MAX, body_images_size, escaped_size
from syndication.ingest import validate_article
from syndication.model import SITEMAP_IMAGE_BYTES
from syndication.rendering import DocumentNotFound, RenderContext
from syndication.store import PostgresStore, SQLiteStore, Store
from syndication.store.postgres import schema as pg_schema
from syndication.store.sqlite.schema import add_calendar, migrate
from syndication.store.sqlite.sitemaps import _ROW
from syndication.timeutil import from_epoch, month_bounds, month_key, month_rows, to_epoch
from tests.conftest import Server, fresh_postgres_database, requires_shared
from tests.sitemap.helpers import IMG, SM, assert_valid, parse

pytestmark = [pytest.mark.backends]
NOW = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)
NOV = datetime(2025, 11, 5, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Moscow")
LEAD = "https://example.ru/i/lead.jpg"


def payload(n: int, content: str | None = None, *, lead: str | None = None, **more: Any) -> Any:
    p: dict[str, Any] = {
        "id": f"a{n}",
        "title": f"Новость {n}",
        "url": f"https://example.ru/news/{n}/",
        "published_at": (NOV + timedelta(hours=n)).isoformat(),
    }
    if content is not None:
        p["content_html"] = content
    if lead is not None:
        p["image"] = {"url": lead, "caption": "Подпись"}
    return {**p, **more}


async def put(store: Store, settings: Settings, *payloads: dict[str, Any]) -> None:
    await store.put_articles([validate_article(p, settings) for p in payloads])


def images_by_url(body: bytes) -> dict[str, list[str]]:
    """Each `<url>`'s `loc` → the `image:loc`s of its images, in document order."""
    return {
        u.findtext(f"{SM}loc") or "": [el.text or "" for el in u.iter(f"{IMG}loc")]
        for u in parse(body).iter(f"{SM}url")
    }


async def month_parts(store: Store, settings: Settings, month: str = "2025-11") -> list[bytes]:
    bodies = []
    for part in range(1, 1000):
        try:
            bodies.append(
                (await build_month(RenderContext(store, settings, NOW), month, part)).body
            )
        except DocumentNotFound:
            return bodies
    raise AssertionError("endless parts")


# The lead image shown again in the text, an image shown twice, a data: image (the sanitiser
# drops it), markup that is text, an entity in an attribute, relative addresses.
BODY = (
    '<p>Текст <img src="/i/b1.jpg" alt="первая"> и снова <img src="' + LEAD + '"></p>'
    '<figure><img src="/i/b2.jpg?w=1&amp;h=2"><figcaption>Подпись</figcaption></figure>'
    '<p><img src="/i/b1.jpg"><img src="data:image/png;base64,AAAA"></p>'
    '<p>&lt;img src="https://example.ru/i/text.jpg"&gt;</p>'
    + "".join(f'<p><img src="/i/m{k}.jpg"></p>' for k in range(30))
)
BODY_IMAGES = [
    "https://example.ru/i/b1.jpg",
    "https://example.ru/i/b2.jpg?w=1&h=2",
    *(f"https://example.ru/i/m{k}.jpg" for k in range(BODY_IMAGES_MAX - 2)),
]


@pytest.mark.anyio
async def test_body_images_follow_the_lead_image_once_each_in_order_capped(
    store: Store, settings: Settings
) -> None:
    await put(
        store,
        settings,
        payload(1, BODY, lead=LEAD),
        payload(2, '<p><img src="/i/only.jpg"> и <img src="/i/only2.jpg"></p>'),
        payload(3, "<p>Без картинок</p>", lead="https://example.ru/i/3.jpg"),
        payload(4),
        # The body's only image is the lead image: listed once.
        payload(5, f'<p><img src="{LEAD}"></p>', lead=LEAD),
    )
    (body,) = await month_parts(store, settings)
    assert images_by_url(body) == {
        "https://example.ru/news/1/": [LEAD, *BODY_IMAGES],
        "https://example.ru/news/2/": ["https://example.ru/i/only.jpg", "https://example.ru/i/only2.jpg"],
        "https://example.ru/news/3/": ["https://example.ru/i/3.jpg"],
        "https://example.ru/news/4/": [],
        "https://example.ru/news/5/": [LEAD],
    }  # fmt: skip
    assert len(BODY_IMAGES) == BODY_IMAGES_MAX == 20
    # A body image has no caption: the lead image keeps its own.
    first = next(parse(body).iter(f"{SM}url"))
    assert [el.text for el in first.iter(f"{IMG}caption")] == ["Подпись"]


@pytest.mark.anyio
async def test_an_edit_of_the_body_images_changes_the_month_sitemap(
    store: Store, settings: Settings
) -> None:
    await put(store, settings, payload(1, '<p><img src="/i/old.jpg"></p>', lead=LEAD))
    before = await month_parts(store, settings)
    await put(store, settings, payload(1, '<p><img src="/i/new.jpg"></p>', lead=LEAD))
    after = await month_parts(store, settings)
    assert images_by_url(before[0])["https://example.ru/news/1/"][1:] == [
        "https://example.ru/i/old.jpg"
    ]
    assert images_by_url(after[0])["https://example.ru/news/1/"][1:] == [
        "https://example.ru/i/new.jpg"
    ]


@requires_shared()
@pytest.mark.anyio
async def test_the_month_sitemap_validates_and_unusable_addresses_are_left_out(
    store: Store, settings: Settings
) -> None:
    # The sanitiser lets any http(s) `src` through as written; a sitemap takes only what the
    # URL rules at ingest accept (weburl.normalise_url), in their form.
    content = (
        '<p><img src="https://exa mple.ru/space-in-host.jpg">'
        '<img src="https://user:secret@example.ru/credentials.jpg">'
        f'<img src="https://example.ru/{"a" * 2100}.jpg">'
        '<img src="https://example.ru/фото дня.jpg">'
        '<img src="HTTPS://EXAMPLE.RU/upper.jpg">'
        '<img src="https://новости.рф/i.jpg?a=1&amp;b=<2>">'
        '<img src="http://example.ru:80/plain.jpg"></p>'
    )
    await put(store, settings, payload(1, BODY, lead=LEAD), payload(2, content))
    (body,) = await month_parts(store, settings)
    assert_valid(body)
    assert images_by_url(body)["https://example.ru/news/2/"] == [
        "https://example.ru/%D1%84%D0%BE%D1%82%D0%BE%20%D0%B4%D0%BD%D1%8F.jpg",
        "https://example.ru/upper.jpg",
        "https://xn--b1amnebsh.xn--p1ai/i.jpg?a=1&b=%3C2%3E",
        "http://example.ru/plain.jpg",
    ]


def test_the_stores_count_the_markup_of_a_body_image_exactly() -> None:
    assert SITEMAP_IMAGE_BYTES == BODY_IMAGE_MARKUP


@pytest.mark.anyio
async def test_row_bound_covers_a_row_with_body_images(store: Store, settings: Settings) -> None:
    await put(store, settings, payload(1, BODY, lead=LEAD))
    start, end = month_bounds("2025-11", settings.zone)
    count, bound = await store.url_row_bound(start, end, now=NOW)
    (body,) = await month_parts(store, settings)
    url = body[body.index(b"<url ") : body.index(b"</url>") + len(b"</url>")]
    # Safe, and loose only by the room kept for a longer zone offset and the lead image's
    # caption markup: every body image is counted to the byte.
    assert count == 1
    assert len(url) <= ROW_OVERHEAD + bound <= len(url) + 7 + 40


@pytest.mark.anyio
@pytest.mark.parametrize("max_bytes", [120_000, 300_000])
async def test_long_body_images_split_the_month_under_the_byte_limit(
    store: Store, settings: Settings, max_bytes: int
) -> None:
    # Up to 20 body images of ~2,000 characters each, full of & (5 bytes once escaped): one
    # article's <url> is up to ~80 kB, more than its URL and lead image by far.
    def long_image(n: int, k: int) -> str:
        return f"https://example.ru/i/{n}/{k}.jpg?" + "&x=1" * 480 + f"&k={k}"

    payloads = []
    for n in range(24):
        imgs = "".join(f'<img src="{long_image(n, k)}">' for k in range(1 + n % BODY_IMAGES_MAX))
        payloads.append(payload(n, f"<p>{imgs}</p>", lead=f"https://example.ru/i/{n}.jpg"))
    await put(store, settings, *payloads)
    small = replace(settings, sitemap_max_bytes=max_bytes)
    bodies = await month_parts(store, small)
    assert len(bodies) > 1
    assert all(len(b) <= max_bytes for b in bodies), [len(b) for b in bodies]
    listed: dict[str, list[str]] = {}
    for b in bodies:
        listed.update(images_by_url(b))
    assert listed == {
        f"https://example.ru/news/{n}/": [
            f"https://example.ru/i/{n}.jpg",
            *(long_image(n, k) for k in range(1 + n % BODY_IMAGES_MAX)),
        ]
        for n in range(24)
    }
    # The largest rows are nearly the whole allowance: a part holds what fits, not one row.
    assert max(len(b) for b in bodies) > max_bytes // 2


def _http_date(value: str) -> datetime:
    return parsedate_to_datetime(value)


def test_a_body_image_edit_moves_the_served_month_sitemap(server: Server) -> None:
    published = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    path = f"/sitemaps/articles-{month_key(published, ZONE)}.xml"
    article = {
        "title": "Новость с картинками",
        "published_at": published.isoformat(),
        "image": {"url": LEAD},
        "content_html": '<p><img src="/i/old.jpg"></p>',
    }
    with server.client() as client:
        assert client.put("/api/articles/body-img", json=article).status_code in (200, 201)
        first = client.get(path)
        assert first.status_code == 200
        assert b"https://example.ru/i/old.jpg" in first.content
        # Last-Modified has whole seconds: the edit comes in a later second than the first
        # answer's date (a wait for the clock, not a bound on anything).
        shown = _http_date(first.headers["last-modified"])
        while datetime.now(UTC) < shown + timedelta(seconds=1):
            time.sleep(0.05)
        edited = {**article, "content_html": '<p><img src="/i/new.jpg"></p>'}
        assert client.put("/api/articles/body-img", json=edited).status_code == 200
        second = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert second.status_code == 200
        assert b"https://example.ru/i/new.jpg" in second.content
        assert b"https://example.ru/i/old.jpg" not in second.content
        assert second.headers["etag"] != first.headers["etag"]
        assert _http_date(second.headers["last-modified"]) > shown


# --- migrations -------------------------------------------------------------------------------

STORED_BODY = (
    '<p><img src="https://example.ru/i/b1.jpg"><img src="https://example.ru/i/lead.jpg">'
    '<img src="https://example.ru/i/b2.jpg?w=1&amp;h=2"><img src="https://example.ru/i/b1.jpg">'
    "</p>"
)
STORED_IMAGES = ("https://example.ru/i/b1.jpg", "https://example.ru/i/b2.jpg?w=1&h=2")
# Rows stored before the column: (id, published_at, content_html, lead image, status). More
# rows with images than one batch of the fill.
PUBLISHED = to_epoch(NOV)


def _old_rows() -> list[tuple[str, int, str | None, str | None, str]]:
    rows: list[tuple[str, int, str | None, str | None, str]] = [
        ("a1", PUBLISHED, STORED_BODY, LEAD, "published"),
        ("a2", PUBLISHED + 60, "<p>Без картинок</p>", None, "published"),
        ("a3", PUBLISHED + 120, None, LEAD, "published"),
        ("a4", PUBLISHED + 180, '<p><img src="https://user:pw@example.ru/x.jpg"></p>', None,
         "published"),
        ("a5", PUBLISHED + 240, STORED_BODY, None, "draft"),
    ]  # fmt: skip
    rows += [
        (f"m{i:04d}", PUBLISHED + 300 + i, f'<p><img src="https://example.ru/i/m{i}.jpg"></p>',
         None, "published")
        for i in range(1200)
    ]  # fmt: skip
    return rows


def _old_sitemap_bytes(article_id: str, lead: str | None) -> int:
    return escaped_size(f"https://example.ru/news/{article_id}/", lead or "")


def _expected(article_id: str, content: str | None, lead: str | None) -> tuple[str, ...]:
    if article_id == "a1":
        return STORED_IMAGES
    if article_id == "a5":  # a draft, without a lead image: the lead's address is a body image
        return (STORED_IMAGES[0], LEAD, STORED_IMAGES[1])
    if article_id.startswith("m"):
        return (f"https://example.ru/i/m{int(article_id[1:])}.jpg",)
    return ()


def test_a_version_8_sqlite_file_gets_its_body_images(tmp_path: Path) -> None:
    path = tmp_path / "v8.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=8, zone=ZONE) == list(range(1, 9))
    rows = _old_rows()
    conn.execute("BEGIN")
    add_calendar(conn, PUBLISHED, PUBLISHED + 2000, ZONE)
    conn.executemany(
        "INSERT INTO articles (id, title, url, content_html, published_at, image_url, status,"
        " modified_at, raw, sitemap_bytes) VALUES (?, 'Т', ?, ?, ?, ?, ?, ?, '{}', ?)",
        [
            (i, f"https://example.ru/news/{i}/", c, p, lead, status, p, _old_sitemap_bytes(i, lead))
            for i, p, c, lead, status in rows
        ],
    )
    conn.execute("DELETE FROM tx_notes")
    conn.execute("COMMIT")
    changes = conn.execute("SELECT count(*) FROM changes").fetchone()[0]
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    ).fetchall()
    assert migrate(conn, zone=ZONE) == [9]

    stored = dict(conn.execute("SELECT id, body_images FROM articles").fetchall())
    for i, _, c, lead, _ in rows:
        want = _expected(i, c, lead)
        assert (orjson.loads(stored[i]) if stored[i] else ()) == list(want) or (
            not want and stored[i] is None
        ), i
    sizes = dict(conn.execute("SELECT id, sitemap_bytes FROM articles").fetchall())
    for i, _, c, lead, _ in rows:
        assert sizes[i] == _old_sitemap_bytes(i, lead) + body_images_size(_expected(i, c, lead))
    # Filling a derived column is no write: no change-log row, the triggers as they were.
    assert conn.execute("SELECT count(*) FROM changes").fetchone()[0] == changes
    assert conn.execute("SELECT count(*) FROM tx_notes").fetchone()[0] == 0
    assert (
        conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        ).fetchall()
        == triggers
    )
    # The month's split bound counts the images.
    assert conn.execute("SELECT max_bytes FROM buckets WHERE scope = ''").fetchone()[0] == max(
        sizes[i] for i, *_, status in rows if status == "published"
    )
    # A month part is still read from the covering index alone.
    plan = " ".join(
        r[3]
        for r in conn.execute(
            f"EXPLAIN QUERY PLAN SELECT {_ROW} FROM articles INDEXED BY articles_sitemap"
            " WHERE status = 'published' AND published_at <= ? AND (published_at, id) > (?, ?)"
            " ORDER BY published_at, id LIMIT ?",
            (PUBLISHED + 10_000, 0, "", 5000),
        )
    )
    assert "USING COVERING INDEX articles_sitemap" in plan, plan
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


@pytest.mark.anyio
async def test_a_migrated_sqlite_store_serves_the_filled_images(tmp_path: Path) -> None:
    path = tmp_path / "v8.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=8, zone=ZONE)
    conn.execute("BEGIN")
    add_calendar(conn, PUBLISHED, PUBLISHED, ZONE)
    conn.execute(
        "INSERT INTO articles (id, title, url, content_html, published_at, image_url, status,"
        " modified_at, raw, sitemap_bytes) VALUES ('a1', 'Т', ?, ?, ?, ?, 'published', ?, '{}',"
        " ?)",
        ("https://example.ru/news/a1/", STORED_BODY, PUBLISHED, LEAD, PUBLISHED,
         _old_sitemap_bytes("a1", LEAD)),
    )  # fmt: skip
    conn.execute("DELETE FROM tx_notes")
    conn.execute("COMMIT")
    conn.close()
    await _serves_the_filled_images(SQLiteStore(path, ZONE), str(path))


async def _serves_the_filled_images(store: Store, db: str) -> None:
    settings = Settings.load(environ={}, db=db, site_url="https://example.ru")
    await store.open()
    try:
        (body,) = await month_parts(store, settings)
        assert images_by_url(body) == {"https://example.ru/news/a1/": [LEAD, *STORED_IMAGES]}
        # The article triggers are back: a write after the migration is logged.
        since = await store.last_change_id()
        await put(
            store,
            settings,
            {
                "id": "a1",
                "title": "Т",
                "url": "https://example.ru/news/a1/",
                "published_at": NOV.isoformat(),
                "image": {"url": LEAD},
                "content_html": '<p><img src="/i/b3.jpg"></p>',
            },
        )
        assert [c.key for c in await store.changes_since(since)] == ["a1"]
        (body,) = await month_parts(store, settings)
        assert images_by_url(body) == {
            "https://example.ru/news/a1/": [LEAD, "https://example.ru/i/b3.jpg"]
        }
    finally:
        await store.close()


async def _pg_version_2(url: str, rows: list[tuple[str, int, str | None, str | None, str]]) -> int:
    conn = await asyncpg.connect(url)
    try:
        assert await pg_schema.migrate(conn, target=2, zone=ZONE) == [1, 2]
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO calendar (lo, hi, month) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                month_rows(from_epoch(PUBLISHED), from_epoch(PUBLISHED + 2000), ZONE),
            )
            await conn.executemany(
                "INSERT INTO articles (id, title, url, content_html, published_at, image_url,"
                " status, modified_at, raw, sitemap_bytes)"
                " VALUES ($1, 'Т', $2, $3, $4, $5, $6, $7, '{}', $8)",
                [
                    (i, f"https://example.ru/news/{i}/", c, p, lead, status, p,
                     _old_sitemap_bytes(i, lead))
                    for i, p, c, lead, status in rows
                ],
            )  # fmt: skip
        return int(await conn.fetchval("SELECT count(*) FROM changes"))
    finally:
        await conn.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.mark.anyio
async def test_a_version_2_postgres_database_gets_its_body_images(pg_url: str) -> None:
    rows = _old_rows()
    url = pg_url
    changes = await _pg_version_2(url, rows)
    conn = await asyncpg.connect(url)
    try:
        assert await pg_schema.migrate(conn, zone=ZONE) == [3]
        stored = {r[0]: r[1] for r in await conn.fetch("SELECT id, body_images FROM articles")}
        sizes = {r[0]: r[1] for r in await conn.fetch("SELECT id, sitemap_bytes FROM articles")}
        for i, _, c, lead, _ in rows:
            want = _expected(i, c, lead)
            assert tuple(stored[i] or ()) == want, i
            assert want or stored[i] is None, i
            assert sizes[i] == _old_sitemap_bytes(i, lead) + body_images_size(want), i
        # No change-log row for the fill, and the article trigger enabled again.
        assert await conn.fetchval("SELECT count(*) FROM changes") == changes
        assert (
            await conn.fetchval(
                "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'articles_changed'"
            )
            == "O"
        )
    finally:
        await conn.close()


@pytest.mark.anyio
async def test_a_migrated_postgres_store_serves_the_filled_images(pg_url: str) -> None:
    await _pg_version_2(pg_url, [("a1", PUBLISHED, STORED_BODY, LEAD, "published")])
    await _serves_the_filled_images(PostgresStore(pg_url, ZONE), pg_url)
