"""Issue 11, in process: headers on every answer, no redirect built from Host, Accept-Encoding
q-values read as RFC 9110 writes them, store faults answered 503 (never 500, 404 or cached), who
may read /metrics, and what robots.txt keeps crawlers out of."""

from __future__ import annotations

import re
import sqlite3
import urllib.robotparser
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from app import create_app
from syndication.config import Settings
from syndication.model import Article, Rubric, Scope
from syndication.serving import choose_encoding
from syndication.store import SQLiteStore, StoreError
from tests.conftest import TOKEN

ARTICLE = {
    "title": "Новость",
    "published_at": "2025-12-01T10:00:00+03:00",
    "rubrics": ["glavnoe"],
    "tags": ["Спорт"],
    "content_html": "<p>" + "Текст новости. " * 100 + "</p>",  # big enough to be compressed
}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FaultyStore(SQLiteStore):
    """A real store whose chosen reads fail (or read as empty) until told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.error: BaseException | None = None
        self.empty_rubrics = False

    def _fail(self) -> None:
        if self.error is not None:
            raise self.error

    async def rubrics(self) -> list[Rubric]:
        self._fail()
        return [] if self.empty_rubrics else await super().rubrics()

    async def get_article(self, article_id: str) -> Article | None:
        self._fail()
        return await super().get_article(article_id)

    async def aggregate(self, scope: Scope, *, now: datetime) -> tuple[int, datetime | None]:
        self._fail()
        return await super().aggregate(scope, now=now)


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings.load(environ={}, db=str(tmp_path / "s.db"), **overrides)


@pytest.fixture
def store(tmp_path: Path) -> FaultyStore:
    settings = _settings(tmp_path)
    return FaultyStore(settings.db, settings.zone)


@pytest.fixture
def client(tmp_path: Path, store: FaultyStore) -> Iterator[TestClient]:
    app = create_app(_settings(tmp_path, api_token=TOKEN), store=store)
    with TestClient(app) as c:
        assert c.put("/api/articles/a1", json=ARTICLE, headers=AUTH).status_code == 201
        yield c


# --- headers ----------------------------------------------------------------------------------


def test_every_answer_says_nosniff(client: TestClient) -> None:
    feed = client.get("/feeds/all.rss")
    answers = {
        "document": feed,
        "gzip": client.get("/feeds/all.atom", headers={"Accept-Encoding": "gzip"}),
        "304": client.get("/feeds/all.rss", headers={"If-None-Match": feed.headers["etag"]}),
        "HEAD": client.head("/feeds/all.rss"),
        "index": client.get("/"),
        "robots": client.get("/robots.txt"),
        "sitemap.gz": client.get("/sitemap.xml.gz"),
        "missing document": client.get("/feeds/tag/nope.rss"),
        "bad parameter": client.get("/feeds/all.rss?page=0"),
        "405": client.post("/feeds/all.rss"),
        "OPTIONS": client.options("/feeds/all.rss"),
        "unknown path": client.get("/no/such/thing"),
        "API": client.get("/api/articles/a1"),
        "API 404": client.get("/api/articles/nope"),
        "API 401": client.put("/api/articles/a2", json=ARTICLE),
        "openapi": client.get("/api/openapi.json"),
        "healthz": client.get("/healthz"),
        "metrics": client.get("/metrics", headers=AUTH),
        "metrics 401": client.get("/metrics"),
    }
    assert answers["304"].status_code == 304
    assert answers["gzip"].headers["content-encoding"] == "gzip"
    for name, response in answers.items():
        assert response.headers.get("x-content-type-options") == "nosniff", name


def test_the_html_pages_load_only_our_files_and_cannot_be_framed(client: TestClient) -> None:
    for path in ("/", "/feeds/all"):
        for headers in ({}, {"Accept-Encoding": "br"}):
            page = client.get(path, headers=headers)
            assert page.headers["content-type"].startswith("text/html")
            policy = [p.strip() for p in page.headers["content-security-policy"].split(";")]
            assert "default-src 'none'" in policy
            # The service's own stylesheet and script files; no inline script or style.
            assert "script-src 'self'" in policy
            assert "style-src 'self'" in policy
            assert "frame-ancestors 'none'" in policy
            assert page.headers["x-frame-options"] == "DENY"
        # The page needs nothing the policy forbids: no inline script, style or handler.
        body = client.get(path).text
        for forbidden in ("<script>", "<style", "style=", "<iframe", "<form", " onclick="):
            assert forbidden not in body
        assert body.count("<script") == 1
        assert re.search(r"<script src=\"http[^\"]*/assets/page.js\" defer></script>", body)
    # Feeds are no HTML: no policy to carry.
    assert "content-security-policy" not in client.get("/feeds/all.rss").headers


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize(
    "path", ["/api/articles/a1/", "/api/rubrics/glavnoe/", "/api/openapi.json/", "/healthz/"]
)
def test_a_trailing_slash_is_a_404_not_a_redirect_to_the_host_named(
    client: TestClient, method: str, path: str
) -> None:
    r = client.request(
        method, path, headers={**AUTH, "Host": "evil.example"}, follow_redirects=False
    )
    assert r.status_code in (404, 405), r.status_code
    assert "location" not in r.headers
    assert "evil.example" not in r.text


# --- Accept-Encoding --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    ["gzip;Q=0", "gzip;level=1;q=0", "gzip; Q=0.0", "gzip;foo=bar;Q=0.000", "gzip;q=0, br;q=0",
     "gzip;q=nan", "gzip;q=-1", "gzip;q=1e3", "x-gzip;q=0", "*;Q=0"],
)  # fmt: skip
def test_a_refused_coding_is_never_chosen(header: str) -> None:
    assert choose_encoding(header, br=False, gz=True) is None


def test_q_values_are_read_whatever_their_place_and_case() -> None:
    assert choose_encoding("gzip;level=1;Q=0.3, br;q=0.4", br=True, gz=True) == "br"
    assert choose_encoding("gzip;level=1;Q=0.5, br;q=0.4", br=True, gz=True) == "gzip"
    assert choose_encoding("gzip;Q=0.4, br;level=4;q=0.5", br=True, gz=True) == "br"
    assert choose_encoding("GZIP", br=True, gz=True) == "gzip"
    assert choose_encoding("br;q=1.000, gzip", br=True, gz=True) == "br"


_PARAM = st.sampled_from(["level=1", "foo=bar", 'x="y"', "charset=utf-8"])
_ZERO = st.sampled_from(["0", "0.", "0.0", "0.00", "0.000"])
_POSITIVE = st.sampled_from(["1", "1.0", "1.000", "0.5", "0.001", "0.25"])


@given(
    before=st.lists(_PARAM, max_size=3),
    after=st.lists(_PARAM, max_size=3),
    key=st.sampled_from(["q", "Q"]),
    refused=st.booleans(),
    zero=_ZERO,
    positive=_POSITIVE,
    space=st.sampled_from(["", " "]),
    others=st.lists(st.sampled_from(["deflate", "identity", "zstd;q=0.9", "compress"]), max_size=3),
)
def test_gzip_is_chosen_exactly_when_its_q_is_above_zero(
    before: list[str],
    after: list[str],
    key: str,
    refused: bool,
    zero: str,
    positive: str,
    space: str,
    others: list[str],
) -> None:
    """Wherever `q` stands among gzip's parameters and however it is spelt, gzip;q=0 is never
    gzip, and a q above zero is."""
    q = f"{key}={zero if refused else positive}"
    entry = f"{space};{space}".join(["gzip", *before, q, *after])
    header = ", ".join([*others, entry])
    assert choose_encoding(header, br=False, gz=True) == (None if refused else "gzip")


# --- store faults -----------------------------------------------------------------------------

DOCUMENTS = ["/feeds/all.rss", "/feeds/rubric/glavnoe.atom", "/feeds/yandex.rss", "/", "/opml.xml"]


@pytest.mark.parametrize(
    "error",
    [sqlite3.DatabaseError("database disk image is malformed"),
     sqlite3.OperationalError("disk I/O error"), StoreError("store is not open")],
)  # fmt: skip
def test_a_store_fault_is_a_503_that_nobody_keeps(
    client: TestClient, store: FaultyStore, error: BaseException
) -> None:
    store.error = error
    for path in DOCUMENTS:
        r = client.get(path)
        assert r.status_code == 503, (path, r.status_code)
        assert r.headers["cache-control"] == "no-store"
        assert "Traceback" not in r.text
    api = client.get("/api/articles/a1")
    assert api.status_code == 503
    assert api.headers["content-type"] == "application/problem+json"
    assert api.headers["cache-control"] == "no-store"
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.headers["cache-control"] == "no-store"
    # Nothing of the fault was kept: the store answers again, so do the documents.
    store.error = None
    for path in DOCUMENTS:
        assert client.get(path).status_code == 200, path
    assert client.get("/healthz").status_code == 200


def test_a_bug_in_our_sql_is_still_a_500(client: TestClient, store: FaultyStore) -> None:
    store.error = sqlite3.ProgrammingError("no such column: x")
    assert client.get("/feeds/all.rss").status_code == 500
    assert client.get("/api/articles/a1").status_code == 500


def test_a_table_that_reads_as_empty_is_no_404(client: TestClient, store: FaultyStore) -> None:
    """A damaged page can read as an empty table without an error: the rubric's feed must not
    become a 404 that stays in the cache."""
    store.empty_rubrics = True
    r = client.get("/feeds/rubric/glavnoe.rss")
    assert r.status_code == 503
    assert r.headers["cache-control"] == "no-store"
    assert client.get("/healthz").status_code == 503
    store.empty_rubrics = False
    assert client.get("/feeds/rubric/glavnoe.rss").status_code == 200
    assert client.get("/healthz").status_code == 200
    # A rubric that really does not exist is still a 404.
    assert client.get("/feeds/rubric/nope.rss").status_code == 404


# --- who may read /metrics --------------------------------------------------------------------


def test_metrics_take_the_api_token_when_no_metrics_token_is_set(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["www-authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers=AUTH)
    assert ok.status_code == 200
    assert "syndication_requests_total" in ok.text


def test_a_metrics_token_of_its_own(tmp_path: Path) -> None:
    settings = _settings(tmp_path, api_token=TOKEN, metrics_token="scraper-secret-123")
    with TestClient(create_app(settings)) as c:
        assert c.get("/metrics", headers=AUTH).status_code == 401  # the writer's token is not it
        r = c.get("/metrics", headers={"Authorization": "Bearer scraper-secret-123"})
        assert r.status_code == 200


def test_no_token_no_metrics(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(tmp_path))) as c:
        r = c.get("/metrics", headers=AUTH)
        assert r.status_code == 403
        assert "SYNDICATION_METRICS_TOKEN" in r.text


def test_robots_keep_crawlers_out_of_the_api_and_the_metrics(client: TestClient) -> None:
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(client.get("/robots.txt").text.splitlines())
    for path in ("/api/articles/a1", "/api/openapi.json", "/metrics", "/healthz"):
        assert not parser.can_fetch("AnyBot", path), path
    for path in ("/", "/feeds/all.rss", "/sitemap.xml", "/sitemaps/tags.xml", "/opml.xml"):
        assert parser.can_fetch("AnyBot", path), path
