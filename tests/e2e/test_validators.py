"""Validators come from the store: every process and every restart send the same Last-Modified
with the same bytes, and a client that revalidates by date alone never misses a change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from syndication.cache import STAMP_MARGIN
from tests.conftest import Server, start_server

pytestmark = pytest.mark.e2e

NOW = datetime.now(UTC).replace(microsecond=0)
FEEDS = ("/feeds/all.rss", "/feeds/all.atom", "/feeds/rubric/glavnoe.json", "/feeds/yandex.rss")
DOCUMENTS = (*FEEDS, "/sitemap.xml", "/sitemaps/news.xml", "/opml.xml", "/")


def _article(published: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "title": "Новость",
        "published_at": published.isoformat(),
        "rubrics": ["glavnoe"],
        "tags": ["Общество"],
        **fields,
    }


@contextmanager
def _serving(tmp: Path, db: Path) -> Iterator[Server]:
    # One public URL for all: the same store must give the same bytes in each process.
    server = start_server(tmp, db=db, env={"SYNDICATION_PUBLIC_URL": "https://feeds.example.ru"})
    try:
        yield server
    finally:
        server.stop()
        assert b"Traceback" not in server.log.read_bytes(), server.log.read_text()


def _after_second_of(http_date: str, seconds: float = 1) -> None:
    """Wait until the second an HTTP date names (and `seconds - 1` more) is over."""
    end = parsedate_to_datetime(http_date).timestamp() + seconds
    while time.time() < end:
        time.sleep(0.02)


def _validators(server: Server) -> dict[str, tuple[str, str]]:
    with server.client() as c:
        out = {}
        for path in DOCUMENTS:
            r = c.get(path)
            assert r.status_code == 200, (path, r.text)
            out[path] = (r.headers["etag"], r.headers["last-modified"])
        return out


def _write_in_a_past_second(server: Server, method: str, path: str, **kw: Any) -> None:
    with server.client() as c:
        r = c.request(method, path, **kw)
        assert r.status_code in (200, 201, 204), r.text
        # Until the change's stamp plus the margin, Last-Modified is capped at now: wait for
        # the date every process derives from the store alone.
        _after_second_of(r.headers["date"], STAMP_MARGIN.total_seconds())


def test_two_processes_and_a_restart_send_the_same_validators(tmp_path: Path) -> None:
    """Two processes on one store are what `serve --workers 2` runs, with a known answerer."""
    db = tmp_path / "shared.db"
    with _serving(tmp_path, db) as one, _serving(tmp_path, db) as two:
        _write_in_a_past_second(
            one, "PUT", "/api/articles/old", json=_article(NOW - timedelta(hours=3))
        )
        _write_in_a_past_second(
            one, "PUT", "/api/articles/new", json=_article(NOW - timedelta(hours=1))
        )
        first = _validators(one)  # process one caches every document
        # Deleting the newest article takes every document's newest date back in time; the
        # bytes change, so Last-Modified must move forward, in both processes alike.
        _write_in_a_past_second(two, "DELETE", "/api/articles/new")
        in_one, in_two = _validators(one), _validators(two)
        assert in_one == in_two
        moved = set()
        for path in DOCUMENTS:
            (etag, date), (old_etag, old_date) = in_one[path], first[path]
            if etag == old_etag:
                assert date == old_date, path  # OPML lists no article: its bytes stay
            else:
                assert parsedate_to_datetime(date) > parsedate_to_datetime(old_date), path
                moved.add(path)
        assert moved == set(DOCUMENTS) - {"/opml.xml"}
    with _serving(tmp_path, db) as three:
        assert _validators(three) == in_one


def test_a_backdated_article_after_a_restart_is_not_modified_for_nobody(tmp_path: Path) -> None:
    """The reported case: after a restart, an article dated before the feed's newest one left
    Last-Modified as it was, and If-Modified-Since alone got 304."""
    db = tmp_path / "store.db"
    with _serving(tmp_path, db) as server:
        _write_in_a_past_second(
            server, "PUT", "/api/articles/a", json=_article(NOW - timedelta(hours=1))
        )
        before = _validators(server)
    with _serving(tmp_path, db) as server:
        backdated = _article(NOW - timedelta(days=20), rubrics=["glavnoe"], title="Задним числом")
        _write_in_a_past_second(server, "PUT", "/api/articles/b", json=backdated)
        with server.client() as c:
            for path in DOCUMENTS:
                if path in ("/sitemaps/news.xml", "/opml.xml"):
                    continue  # 20 days back is no news, and OPML lists no article
                etag, last_modified = before[path]
                r = c.get(path, headers={"If-Modified-Since": last_modified})
                assert r.status_code == 200, path
                assert r.headers["etag"] != etag, path
                assert parsedate_to_datetime(r.headers["last-modified"]) > parsedate_to_datetime(
                    last_modified
                ), path
                # and with the new date, the same bytes are not sent again
                _after_second_of(r.headers["last-modified"])
                again = c.get(path, headers={"If-Modified-Since": r.headers["last-modified"]})
                assert again.status_code == 304, path
