"""HTTP at the edges of the public documents: methods, and how long a 404 may be kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
        assert (
            c.put("/api/articles/a1", json={**ARTICLE, "rubrics": ["glavnoe"]}).status_code == 201
        )
        for path in ("/feeds/all.rss", "/feeds/all.atom?limit=10", "/feeds/rubric/glavnoe.json",
                     "/feeds/archive/2025-12.atom", "/feeds/yandex.rss"):  # fmt: skip
            r = c.get(path)
            assert r.status_code == 200, path
            links = dict(
                (rel, url)
                for url, rel in re.findall(r'<([^>]+)>; rel="([^"]+)"', r.headers["link"])
            )
            assert links["hub"] == "https://hub.example.org/"
            assert links["self"].startswith(settings.public_url)
            assert links["self"] in r.text  # the body names the same topic URL
            assert c.head(path).headers["link"] == r.headers["link"]
        assert "link" not in c.get("/sitemap.xml").headers


def test_no_hub_no_link_header(client: TestClient) -> None:
    assert "link" not in client.get("/feeds/all.rss").headers
