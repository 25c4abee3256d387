"""OPML is a subscription list: importing it subscribes a reader to every feed once, in one
format (RSS unless `?format=` asks for Atom or JSON Feed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lxml import etree, html
from starlette.testclient import TestClient

from app import create_app
from syndication.config import Settings
from tests.conftest import TOKEN

PUBLIC = "https://feeds.example.ru"
FEEDS = {  # every feed with articles, by the path it has in each format
    "/feeds/all",
    "/feeds/rubric/glavnoe",
    "/feeds/rubric/sport",
    "/feeds/tag/obshchestvo",
    "/feeds/tag/ivan_ivanov",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("opml") / "o.db"
    settings = Settings.load(environ={}, db=str(db), api_token=TOKEN, public_url=PUBLIC)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        tags = ["Общество", {"name": "Иван Иванов", "kind": "person"}]
        one = {"title": "Один", "published_at": "2025-12-01T10:00:00+03:00",
               "rubrics": ["glavnoe", "sport"], "tags": tags}  # fmt: skip
        two = {"title": "Два", "published_at": "2025-12-02T10:00:00+03:00", "rubrics": ["sport"]}
        assert c.put("/api/articles/one", json=one).status_code == 201
        assert c.put("/api/articles/two", json=two).status_code == 201
        yield c


def _subscriptions(body: bytes) -> list[str]:
    """What a reader imports: the xmlUrl of every outline, in document order."""
    return [str(o.get("xmlUrl")) for o in etree.fromstring(body).iter("outline") if o.get("xmlUrl")]


@pytest.mark.parametrize(
    ("query", "fmt"),
    [
        ("", "rss"),
        ("?format=rss", "rss"),
        ("?format=atom", "atom"),
        ("?format=json", "json"),
    ],
)
def test_each_feed_once_in_one_format(client: TestClient, query: str, fmt: str) -> None:
    response = client.get(f"/opml.xml{query}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/x-opml; charset=utf-8"
    urls = _subscriptions(response.content)
    # The Yandex feed is the all-news feed again: importing both would bring every story twice.
    assert sorted(urls) == sorted(f"{PUBLIC}{path}.{fmt}" for path in FEEDS)
    versions = {o.get("version") for o in etree.fromstring(response.content).iter("outline")}
    assert versions == {None, {"rss": "RSS2", "atom": "Atom1", "json": "JSONFeed1.1"}[fmt]}


def test_each_format_is_its_own_document(client: TestClient) -> None:
    """Cached under its own key: asking for RSS first does not answer an Atom request with it."""
    bodies = [client.get(f"/opml.xml?format={fmt}").content for fmt in ("rss", "atom", "json")]
    assert len(set(bodies)) == 3
    assert client.get("/opml.xml").content == bodies[0]


@pytest.mark.parametrize("value", ["xml", "RSS", "", "rss2", "atom,json"])
def test_an_unknown_format_is_a_bad_request(client: TestClient, value: str) -> None:
    response = client.get("/opml.xml", params={"format": value})
    assert response.status_code == 400
    assert "format" in response.text


def test_the_index_page_offers_the_list_in_each_format(client: TestClient) -> None:
    page = html.fromstring(client.get("/").content)
    links = {str(a.get("href")) for a in page.iter("a") if "/opml.xml" in str(a.get("href"))}
    assert links == {f"{PUBLIC}/opml.xml", f"{PUBLIC}/opml.xml?format=atom",
                     f"{PUBLIC}/opml.xml?format=json"}  # fmt: skip
    for url in links:
        assert client.get(url.removeprefix(PUBLIC)).status_code == 200
