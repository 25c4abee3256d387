"""Issue 5 end to end: exact invalidation, freshness across workers, scheduled publication,
conditional GET and compression, against real hypercorn servers and SQLite files."""

from __future__ import annotations

import gzip
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import brotli
import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from app import create_app
from syndication.cache import STAMP_MARGIN, DocumentCache
from syndication.config import Settings
from tests.conftest import TOKEN, Server, start_server

NOW = datetime.now(UTC).replace(microsecond=0)
THIS_MONTH = NOW.astimezone(Settings().zone).strftime("%Y-%m")


def payload(article_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": article_id,
        "title": f"Новость {article_id}",
        "published_at": (NOW - timedelta(hours=2)).isoformat(),
        "content_html": "<p>Текст новости со <a href='/x'>ссылкой</a>.</p>",
        "rubrics": ["glavnoe"],
        "tags": ["Общество"],
        **fields,
    }


SEED = [
    payload("a1"),
    payload("a2", rubrics=["ekonomika"], tags=["Финансы"]),
    payload("a3", rubrics=["ekonomika", "glavnoe"], tags=["Финансы", "Общество"]),
    payload(
        "old", published_at="2024-03-05T12:00:00+03:00", rubrics=["ekonomika"], tags=["Финансы"]
    ),
]

DOCUMENTS = [
    "/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json", "/feeds/yandex.rss",
    "/feeds/rubric/glavnoe.rss", "/feeds/rubric/ekonomika.rss",
    "/feeds/tag/obshchestvo.rss", "/feeds/tag/finansy.rss",
    f"/feeds/archive/{THIS_MONTH}.atom", "/feeds/archive/2024-03.atom",
    "/sitemap.xml", f"/sitemaps/articles-{THIS_MONTH}.xml", "/sitemaps/articles-2024-03.xml",
    "/sitemaps/rubrics.xml", "/sitemaps/tags.xml", "/sitemaps/news.xml",
    "/opml.xml", "/", "/robots.txt",
]  # fmt: skip


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.load(environ={}, db=str(tmp_path / "s.db"), api_token=TOKEN,
                             site_url="https://example.ru")  # fmt: skip
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        for item in SEED:
            assert c.put(f"/api/articles/{item['id']}", json=item).status_code == 201
        yield c


def renders_after(client: TestClient, action: Any, gone: frozenset[str] = frozenset()) -> set[str]:
    cache: DocumentCache = client.app.cache  # type: ignore[attr-defined]
    for path in DOCUMENTS:
        assert client.get(path).status_code == 200, path
    # What was rendered within the seed's STAMP_MARGIN is rendered once more after it (its
    # Last-Modified was capped at now): let that happen before counting.
    _after_second_of(formatdate(usegmt=True), STAMP_MARGIN.total_seconds())
    for path in DOCUMENTS:
        assert client.get(path).status_code == 200, path
    before = dict(cache.render_counts)
    action()
    for path in DOCUMENTS:
        assert client.get(path).status_code == (404 if path in gone else 200), path
    return {key for key, n in cache.render_counts.items() if n != before.get(key, 0)}


ALWAYS = {
    "feed:all:rss:page=1:limit=50", "feed:all:atom:page=1:limit=50",
    "feed:all:json:page=1:limit=50", "feed:yandex", "sitemap:index", "sitemap:news",
    "index",  # the index page shows each feed's article count
}  # fmt: skip


def test_an_edit_re_renders_exactly_what_shows_the_article(client: TestClient) -> None:
    rendered = renders_after(
        client, lambda: client.put("/api/articles/a1", json=payload("a1", title="Правка"))
    )
    assert rendered == ALWAYS | {
        "feed:rubric:glavnoe:rss:page=1:limit=50",
        "feed:tag:obshchestvo:rss:page=1:limit=50",
        f"feed:month:{THIS_MONTH}:atom",
        f"sitemap:month:{THIS_MONTH}:1",
        "sitemap:rubrics",
        "sitemap:tags",
    }
    assert "Правка" in client.get("/feeds/rubric/glavnoe.rss").text


def test_a_move_re_renders_places_before_and_after(client: TestClient) -> None:
    moved = payload("a1", rubrics=["ekonomika"], tags=["Финансы"],
                    published_at="2024-03-20T10:00:00+03:00")  # fmt: skip
    rendered = renders_after(client, lambda: client.put("/api/articles/a1", json=moved))
    assert rendered == ALWAYS | {
        "feed:rubric:glavnoe:rss:page=1:limit=50",
        "feed:rubric:ekonomika:rss:page=1:limit=50",
        "feed:tag:obshchestvo:rss:page=1:limit=50",
        "feed:tag:finansy:rss:page=1:limit=50",
        f"feed:month:{THIS_MONTH}:atom",
        "feed:month:2024-03:atom",
        f"sitemap:month:{THIS_MONTH}:1",
        "sitemap:month:2024-03:1",
        "sitemap:rubrics",
        "sitemap:tags",
    }
    assert "Новость a1" in client.get("/feeds/archive/2024-03.atom").text
    assert "Новость a1" not in client.get("/feeds/rubric/glavnoe.rss").text


def test_a_new_tag_re_renders_the_lists_of_feeds(client: TestClient) -> None:
    rendered = renders_after(
        client, lambda: client.put("/api/articles/a9", json=payload("a9", tags=["Спорт"]))
    )
    assert "opml" in rendered
    assert "feed:tag:finansy:rss:page=1:limit=50" not in rendered
    assert "/feeds/tag/sport.rss" in client.get("/opml.xml").text


def test_a_delete_re_renders_and_removes(client: TestClient) -> None:
    gone = frozenset({"/feeds/archive/2024-03.atom", "/sitemaps/articles-2024-03.xml"})
    rendered = renders_after(client, lambda: client.delete("/api/articles/old"), gone)
    assert {"feed:month:2024-03:atom", "sitemap:month:2024-03:1", "sitemap:index"} <= rendered
    # The month disappears, so the neighbour archive's prev-archive link changes with it...
    assert f"feed:month:{THIS_MONTH}:atom" in rendered
    # ...but no rubric or tag disappears, and other rubrics and tags are untouched.
    assert not {"opml", "feed:rubric:glavnoe:rss:page=1:limit=50",
                "feed:tag:obshchestvo:rss:page=1:limit=50"} & rendered  # fmt: skip
    assert client.get("/sitemaps/articles-2024-03.xml").status_code == 404


# --- real servers ---------------------------------------------------------------------------
def _seed(server: Server) -> None:
    with server.client() as c:
        for item in SEED:
            assert c.put(f"/api/articles/{item['id']}", json=item).status_code == 201


@pytest.mark.slow
def test_no_stale_read_across_two_workers(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=2)
    try:
        _seed(server)
        stale: list[str] = []
        workers: set[str] = set()

        def cycles(article_id: str, rounds: int) -> None:
            # No keep-alive: every request may land on either worker. Two of these run at once,
            # so that while one worker is busy the shared socket hands connections to the other.
            transport = httpx.HTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
            with httpx.Client(base_url=server.base_url, transport=transport, timeout=30,
                              headers={"Authorization": f"Bearer {TOKEN}"}) as c:  # fmt: skip
                for i in range(rounds):
                    title = f"Заголовок {article_id} номер {i}"
                    updated = NOW - timedelta(hours=1) + timedelta(seconds=i)
                    r = c.put(
                        f"/api/articles/{article_id}",
                        json=payload(article_id, title=title, updated_at=updated.isoformat()),
                    )
                    if r.status_code not in (200, 201):
                        stale.append(f"{article_id} PUT {i}: {r.status_code}")
                        continue
                    if title not in c.get("/feeds/rubric/glavnoe.rss").text:
                        stale.append(f"{article_id} feed {i}")
                    lastmod = updated.astimezone(Settings().zone).isoformat()
                    if lastmod not in c.get(f"/sitemaps/articles-{THIS_MONTH}.xml").text:
                        stale.append(f"{article_id} sitemap {i}")
                    if i % 5 == 0:
                        workers.update(
                            re.findall(r'syndication_worker\{pid="(\d+)"', c.get("/metrics").text)
                        )

        def run(article_id: str) -> None:
            try:
                cycles(article_id, 250)
            except Exception as exc:  # a thread's exception would not fail the test by itself
                stale.append(f"{article_id}: {exc!r}")

        threads = [threading.Thread(target=run, args=(a,)) for a in ("a1", "a2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert stale == []
        assert len(workers) == 2  # both workers answered
        assert b"Traceback" not in server.log.read_bytes()
    finally:
        server.stop()


def test_scheduled_article_appears_on_time(tmp_path: Path) -> None:
    """No read that ended before `due` shows the article, and every read that began at or after
    `due` does (server and test share the clock). Only a server that never shows it reaches the
    deadline; how long after `due` the first poll lands does not matter."""
    server = start_server(tmp_path)
    try:
        _seed(server)
        with server.client() as c:
            feed = "/feeds/all.rss"
            assert c.get(feed).status_code == 200  # cached before the article is due
            due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
            r = c.put(
                "/api/articles/later",
                json=payload("later", title="Отложенная", published_at=due.isoformat()),
            )
            assert r.status_code == 201, r.text
            deadline = due + timedelta(seconds=60)
            while True:
                started = datetime.now(UTC)
                shown = "Отложенная" in c.get(feed).text
                ended = datetime.now(UTC)
                if ended < due:
                    assert not shown, "shown before its time"
                elif started >= due:
                    assert shown, f"a read begun {started - due} after due missed it"
                    break
                assert ended < deadline, "never appeared"
                time.sleep(0.05)
            assert "/news/later/" in c.get(f"/sitemaps/articles-{THIS_MONTH}.xml").text
    finally:
        server.stop()


def test_conditional_get_compression_and_head(server: Server) -> None:
    _seed_once(server)
    with server.client() as c:
        for path in ("/feeds/all.rss", "/feeds/all.json", "/sitemap.xml", "/opml.xml", "/"):
            plain = c.get(path, headers={"Accept-Encoding": "identity"})
            assert plain.status_code == 200
            assert "charset=utf-8" in plain.headers["content-type"]
            # Feeds and OPML go to browsers as application/xml (syndication.mediatype).
            styled = path.endswith((".rss", "opml.xml"))
            vary = "Accept-Encoding, Accept" if styled else "Accept-Encoding"
            assert plain.headers["vary"] == vary
            assert (
                plain.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=300"
            )
            raw = {}
            for coding in ("gzip", "br"):
                r = c.get(path, headers={"Accept-Encoding": coding})
                assert r.headers["content-encoding"] == coding
                raw[coding] = r
            assert gzip.decompress(_raw_body(c, path, "gzip")) == plain.content
            assert brotli.decompress(_raw_body(c, path, "br")) == plain.content
            etag, last_modified = plain.headers["etag"], plain.headers["last-modified"]
            assert etag.startswith('"')
            assert c.get(path, headers={"If-None-Match": etag}).status_code == 304
            assert (
                c.get(path, headers={"If-None-Match": raw["br"].headers["etag"]}).status_code == 304
            )
            # Within a write's STAMP_MARGIN, Last-Modified is capped at now and a date of the
            # current second is answered in full: past it, the date settles, and is honoured.
            _after_second_of(last_modified, STAMP_MARGIN.total_seconds())
            settled = c.get(path).headers["last-modified"]
            _after_second_of(settled)
            assert c.get(path, headers={"If-Modified-Since": settled}).status_code == 304
            assert c.get(path, headers={"If-None-Match": '"nope"'}).status_code == 200
            for coding in ("identity", "gzip", "br"):
                get = c.get(path, headers={"Accept-Encoding": coding})
                head = c.head(path, headers={"Accept-Encoding": coding})
                assert head.status_code == 200
                assert head.content == b""
                same = {k: v for k, v in get.headers.items() if k != "date"}
                assert {k: v for k, v in head.headers.items() if k != "date"} == same
        gz = c.get("/sitemap.xml.gz")
        assert gz.headers["content-type"] == "application/gzip"
        assert (
            gzip.decompress(_raw_body(c, "/sitemap.xml.gz", "identity"))
            == c.get("/sitemap.xml", headers={"Accept-Encoding": "identity"}).content
        )


def _after_second_of(http_date: str, seconds: float = 1) -> None:
    """Wait until the second an HTTP date names (and `seconds - 1` more) is over."""
    end = parsedate_to_datetime(http_date).timestamp() + seconds
    while time.time() < end:
        time.sleep(0.02)


_seeded: set[str] = set()


def _seed_once(server: Server) -> None:
    if server.base_url not in _seeded:
        _seed(server)
        _seeded.add(server.base_url)


def _raw_body(c: httpx.Client, path: str, coding: str) -> bytes:
    with c.stream("GET", path, headers={"Accept-Encoding": coding}) as r:
        return b"".join(r.iter_raw())


def test_errors_are_short_and_never_500(server: Server) -> None:
    _seed_once(server)
    with server.client() as c:
        for path, status in [
            ("/feeds/rubric/nope.rss", 404), ("/feeds/tag/nope.atom", 404),
            ("/feeds/all.rss?page=0", 400), ("/feeds/all.rss?page=x", 400),
            ("/feeds/all.rss?limit=501", 400), ("/feeds/all.rss?limit=-1", 400),
            ("/feeds/all.xml", 404), ("/feeds/archive/2024-13.rss", 404),
            ("/feeds/archive/1999-01.rss", 404), ("/sitemaps/articles-1999-01.xml", 404),
            ("/sitemaps/articles-2024-03-1.xml", 404), ("/nothing", 404),
        ]:  # fmt: skip
            r = c.get(path)
            assert r.status_code == status, path
            assert len(r.content) < 300


def test_metrics_and_health(server: Server) -> None:
    _seed_once(server)
    with server.client() as c:
        assert c.get("/healthz").text == "ok\n"
        c.get("/feeds/tag/finansy.atom")
        c.get("/feeds/tag/finansy.atom")
        c.get("/feeds/rubric/nope.rss")
        c.put("/api/articles/a2", json=payload("a2", title="Метрики", rubrics=["ekonomika"],
                                                tags=["Финансы"]))  # fmt: skip
        c.get("/feeds/tag/finansy.atom")
        text = c.get("/metrics").text
    assert 'syndication_requests_total{route="feed",status="200"}' in text
    assert 'syndication_requests_total{route="feed",status="404"}' in text
    assert 'syndication_cache_total{kind="feed",result="hit"}' in text
    assert 'syndication_cache_total{kind="feed",result="render"}' in text
    assert 'syndication_render_seconds_bucket{kind="feed",le="0.05"}' in text
    assert re.search(r'syndication_invalidations_total\{kind="feed"\} [1-9]', text)
    assert "syndication_cached_documents" in text


def test_single_flight_over_http(tmp_path: Path) -> None:
    """200 concurrent requests for a cold 500-item feed: one render, the same bytes for all."""
    import asyncio

    from syndication.demo import articles as demo_articles

    server = start_server(tmp_path)
    try:
        body = b"\n".join(orjson.dumps(p) for p in demo_articles(520, seed=4, end=NOW))
        with server.client() as c:
            r = c.post("/api/articles:bulk", content=body,
                       headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
            assert r.status_code == 200, r.text
            # A render within the write's STAMP_MARGIN is capped at now and rightly done once
            # more after it; this test is about concurrent requests, so it starts past the margin.
            time.sleep(STAMP_MARGIN.total_seconds() + 1.1)

            def renders() -> float:
                text = c.get("/metrics").text
                match = re.search(
                    r'syndication_cache_total\{kind="feed",result="render"\} (\S+)', text
                )
                return float(match.group(1)) if match else 0.0

            before = renders()

        async def fetch_all() -> list[bytes]:
            limits = httpx.Limits(max_connections=200)
            async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as ac:
                responses = await asyncio.gather(
                    *(ac.get("/feeds/all.rss?limit=500") for _ in range(200))
                )
            assert {r.status_code for r in responses} == {200}
            return [r.content for r in responses]

        bodies = asyncio.run(fetch_all())
        assert len(set(bodies)) == 1
        assert bodies[0].count(b"<item>") == 500
        with server.client() as c:
            assert renders() - before == 1
    finally:
        server.stop()
