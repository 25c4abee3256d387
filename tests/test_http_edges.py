"""HTTP at the edges of the public documents: methods, and how long a 404 may be kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import pytest
from starlette.testclient import TestClient

from app import create_app
from syndication.config import Settings
from tests.conftest import TOKEN

ARTICLE = {"title": "Новость", "published_at": "2025-12-01T10:00:00+03:00", "tags": ["Спорт"]}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.load(environ={}, db=str(tmp_path / "s.db"), api_token=TOKEN)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        assert c.put("/api/articles/a1", json=ARTICLE).status_code == 201
        yield c


@pytest.mark.parametrize("path", ["/feeds/all.rss", "/sitemap.xml", "/", "/feeds/tag/nope.atom"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_a_document_allows_only_get_and_head(client: TestClient, path: str, method: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"


def test_options_on_a_document_names_its_methods(client: TestClient) -> None:
    r = client.options("/feeds/all.atom")
    assert r.status_code == 204
    assert r.headers["allow"] == "GET, HEAD"
    assert r.content == b""


def test_other_paths_and_the_api_keep_their_answers(client: TestClient) -> None:
    assert client.post("/no/such/thing").status_code == 404
    assert client.post("/api/articles/a1", json=ARTICLE).status_code == 405  # Starlette's
    assert client.delete("/api/articles/a1").status_code == 204


def test_a_missing_document_is_not_kept_by_caches(client: TestClient) -> None:
    """A 404 for a feed that the next write may create must be asked again, not kept stale."""
    missing = client.get("/feeds/tag/futbol.rss")
    assert missing.status_code == 404
    assert missing.headers["cache-control"] == "no-cache"
    assert client.get("/feeds/tag/sport.rss").headers["cache-control"].startswith("public")
    art = {**ARTICLE, "tags": ["Футбол"]}
    assert client.put("/api/articles/a2", json=art).status_code == 201
    assert client.get("/feeds/tag/futbol.rss").status_code == 200


def test_feeds_announce_their_hub_and_self_in_link_headers(tmp_path: Path) -> None:
    """WebSub §4: discovery by HTTP headers as well as in the body, with the same self URL."""
    import re

    settings = Settings.load(environ={}, db=str(tmp_path / "h.db"), api_token=TOKEN,
                             websub_hub="https://hub.example.org/")  # fmt: skip
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        for article_id in ("a1", "a2"):
            art = {**ARTICLE, "rubrics": ["glavnoe"], "title": f"Новость {article_id}"}
            assert c.put(f"/api/articles/{article_id}", json=art).status_code == 201
        # Every kind of feed, pages after the first too.
        for path in ("/feeds/all.rss", "/feeds/all.atom?limit=10", "/feeds/rubric/glavnoe.json",
                     "/feeds/archive/2025-12.atom", "/feeds/yandex.rss", "/feeds/tag/sport.atom",
                     "/feeds/tag/sport.json", "/feeds/all.rss?limit=1&page=2",
                     "/feeds/rubric/glavnoe.atom?limit=1&page=2"):  # fmt: skip
            r = c.get(path)
            assert r.status_code == 200, path
            links = dict(
                (rel, url)
                for url, rel in re.findall(r'<([^>]+)>; rel="([^"]+)"', r.headers["link"])
            )
            assert links["hub"] == "https://hub.example.org/"
            assert links["self"].startswith(settings.public_url)
            # The body names the same topic URL.
            assert links["self"] in r.text or xml_escape(links["self"]) in r.text
            assert c.head(path).headers["link"] == r.headers["link"]
        assert "link" not in c.get("/sitemap.xml").headers


def test_no_hub_no_link_header(client: TestClient) -> None:
    assert "link" not in client.get("/feeds/all.rss").headers


@pytest.mark.parametrize(
    "query", ["page=²", "limit=¹", "page=①", "page=٢", "limit=5%C2%B2", "page=0", "limit=x"]
)
def test_a_number_that_is_no_ascii_number_is_a_400_over_http(
    client: TestClient, query: str
) -> None:
    """`isdigit()` accepts superscripts and other scripts' digits, `int()` does not: this was a
    500 with a traceback."""
    # (Month archives are fixed pages, `YYYY-MM-N`: they take no query parameters.)
    for path in ("/feeds/all.rss", "/feeds/tag/sport.json", "/feeds/rubric/glavnoe.atom"):
        r = client.get(f"{path}?{query}")
        assert r.status_code == 400, (path, query, r.text)
        assert "Traceback" not in r.text


@pytest.mark.parametrize(
    "accept_encoding", ["gzip;Q=0", "gzip;level=1;q=0", "gzip;q=0, br;q=0", "br;Q=0.0, gzip;q=0"]
)
def test_a_refused_coding_is_never_sent(client: TestClient, accept_encoding: str) -> None:
    """q is case-insensitive and may follow other parameters (RFC 9110 §12.5.3), over HTTP."""
    r = client.get("/feeds/all.rss", headers={"Accept-Encoding": accept_encoding})
    assert r.status_code == 200
    assert "content-encoding" not in r.headers
    assert r.content.startswith(b"<?xml")
