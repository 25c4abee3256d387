"""What readers see: plain text never in an HTML-typed field unescaped, no empty Atom entry, tags
listed by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from starlette.testclient import TestClient

from app import create_app
from syndication.config import Settings
from tests.conftest import TOKEN

LEAD = "Лид <script>alert(1)</script> & <b>жирный</b>"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.load(environ={}, db=str(tmp_path / "s.db"), api_token=TOKEN)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        lead = {"title": "С лидом", "published_at": "2025-12-01T10:00:00+03:00", "summary": LEAD}
        bare = {"title": "Только заголовок", "published_at": "2025-12-01T11:00:00+03:00"}
        assert c.put("/api/articles/lead", json=lead).status_code == 201
        assert c.put("/api/articles/bare", json=bare).status_code == 201
        yield c


def _entry(parsed: feedparser.FeedParserDict, title: str) -> feedparser.FeedParserDict:
    return next(e for e in parsed.entries if e.title == title)


def test_a_lead_with_markup_is_text_to_rss_readers(client: TestClient) -> None:
    # Sanitising off: what a reader that trusts the feed would render. RSS descriptions are HTML.
    parsed = feedparser.parse(client.get("/feeds/all.rss").content, sanitize_html=False)
    summary = _entry(parsed, "С лидом").summary_detail
    assert summary.type == "text/html"
    assert "<script" not in summary.value
    assert "<b>" not in summary.value
    assert "&lt;script&gt;alert(1)" in summary.value


def test_a_lead_with_markup_is_text_to_atom_readers(client: TestClient) -> None:
    # Atom says what its text is: the lead goes out as type="text", which no reader runs.
    parsed = feedparser.parse(client.get("/feeds/all.atom").content, sanitize_html=False)
    summary = _entry(parsed, "С лидом").summary_detail
    assert summary.type == "text/plain"
    assert summary.value == LEAD


def test_the_yandex_description_is_escaped(client: TestClient) -> None:
    root = etree.fromstring(client.get("/feeds/yandex.rss").content)
    (description,) = root.xpath("//item[title='С лидом']/description/text()")
    # The element's text is HTML source: markup in the lead shows as text, never as a tag.
    assert "<script" not in description
    assert "&lt;script&gt;" in description


def test_an_atom_entry_without_content_or_summary_carries_its_title(client: TestClient) -> None:
    root = etree.fromstring(client.get("/feeds/all.atom").content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    (entry,) = root.xpath("//a:entry[a:title='Только заголовок']", namespaces=ns)
    assert entry.xpath("string(a:summary)", namespaces=ns) == "Только заголовок"


def test_tags_are_listed_by_their_names(tmp_path: Path) -> None:
    """Russian readers look for Жильё before Здоровье; the slugs (zhile, zdorove) sort the
    other way."""
    settings = Settings.load(environ={}, db=str(tmp_path / "t.db"), api_token=TOKEN)
    names = ["Здоровье", "Ёлки", "Жильё", "Евпатория", "Агрокомплекс"]
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        article = {"title": "Т", "published_at": "2025-12-01T10:00:00+03:00", "tags": names}
        assert c.put("/api/articles/t", json=article).status_code == 201
        expected = ["Агрокомплекс", "Евпатория", "Ёлки", "Жильё", "Здоровье"]
        for path in ("/", "/opml.xml"):
            text = c.get(path).text
            positions = [text.index(f">{n}<" if path == "/" else f'text="{n}"') for n in expected]
            assert positions == sorted(positions), (path, positions)


def test_categories_carry_names_and_the_taxonomy_of_the_site(tmp_path: Path) -> None:
    """rss2email and others print the Atom term: «Общество», never the slug "obshchestvo". A rubric
    and a tag of one name differ by scheme; a rubric with a page of its own keeps the rubrics'
    scheme (the taxonomy), its page stays in JSON Feed's `_syndication`."""
    site = "https://example.ru"
    settings = Settings.load(environ={}, db=str(tmp_path / "c.db"), api_token=TOKEN,
                             site_url=site, public_url="https://feeds.example.ru")  # fmt: skip
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        rubric = {"title": "Общество", "url": f"{site}/society/"}
        assert c.put("/api/rubrics/obshchestvo", json=rubric).status_code == 201
        tags = ["Общество", {"name": "Иван & <Ко>", "kind": "person"}]
        article = {"title": "Т", "published_at": "2025-12-01T10:00:00+03:00",
                   "rubrics": ["obshchestvo"], "tags": tags}  # fmt: skip
        assert c.put("/api/articles/t", json=article).status_code == 201
        expected = [
            ("Общество", f"{site}/rubric/", "Общество"),
            ("Общество", f"{site}/tag/", "Общество"),
            ("Иван & <Ко>", f"{site}/tag/", "Иван & <Ко>"),
        ]
        atom = c.get("/feeds/all.atom").content
        root = etree.fromstring(atom)
        categories = root.findall("{*}entry/{*}category")
        assert [(e.get("term"), e.get("scheme"), e.get("label")) for e in categories] == expected
        (entry,) = feedparser.parse(atom).entries
        assert [(t.term, t.scheme, t.label) for t in entry.tags] == expected

        rss = etree.fromstring(c.get("/feeds/all.rss").content)
        assert [(e.text, e.get("domain")) for e in rss.iter("category")] == [
            (term, scheme) for term, scheme, _ in expected
        ]
        (item,) = c.get("/feeds/all.json").json()["items"]
        assert item["tags"] == [term for term, _, _ in expected]
        extension = item["_syndication"]["categories"]
        assert [(x["term"], x["scheme"], x["label"]) for x in extension] == expected
        assert [x["slug"] for x in extension] == ["obshchestvo", "obshchestvo", "ivan_ko"]
        assert extension[0]["url"] == f"{site}/society/"
