"""What readers see: plain text never in an HTML-typed field unescaped, no empty Atom entry, tags
listed by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
from lxml import etree
from lxml import html as lxml_html
from starlette.testclient import TestClient

from app import create_app
from syndication.config import Settings
from tests.conftest import TOKEN
from tests.feeds import hostile

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


# feedparser's types for HTML: what a reader renders as markup.
_HTML_TYPES = {"text/html", "application/xhtml+xml"}


def _text_constructs(node: Any, where: str) -> Iterator[tuple[str, str, str]]:
    """(where, type, value) of every text construct feedparser made of a document: any dict
    with a type and a value (titles, subtitles, summaries, contents, at any depth)."""
    if isinstance(node, dict):
        if "type" in node and "value" in node:
            yield where, str(node["type"]), str(node["value"])
        for key, value in node.items():
            yield from _text_constructs(value, f"{where}.{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _text_constructs(value, f"{where}[{n}]")


def _live(markup: str) -> list[str]:
    """What would run if `markup` were rendered: script elements and on* attributes."""
    fragment = lxml_html.fragment_fromstring(markup, create_parent="div")
    found = ["<script>" for el in fragment.iter() if el.tag == "script"]
    for el in fragment.iter():
        found += [f"{name!s}=" for name in el.attrib if str(name).lower().startswith("on")]
    return found


def _without_captions(body: bytes) -> bytes:
    """The document without its media:description elements. feedparser files an image's caption
    as the entry's summary, over the RSS description (or Atom summary) read before it: without
    them, what the item itself says as its summary is read too."""
    root = etree.fromstring(body)
    for caption in list(root.iter("{http://search.yahoo.com/mrss/}description")):
        parent = caption.getparent()
        assert parent is not None
        parent.remove(caption)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


@pytest.fixture(scope="module")
def hostile_feeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every RSS and Atom document of the hostile data set (tests/feeds/hostile.py)."""
    served = hostile.served_documents(tmp_path_factory.mktemp("hostile"))
    return {url: body for url, body, media_type in served if "json" not in media_type}


def test_the_crawl_reads_every_kind_of_feed(hostile_feeds: dict[str, bytes]) -> None:
    for path in ("all", "rubric/glavnoe", "rubric/sport", "tag/r_d_laboratoriya",
                 "tag/ivan_groznyy_ko_ceo", "archive/2025-12", "archive/2025-11"):  # fmt: skip
        for fmt in ("rss", "atom"):
            assert f"{hostile.PUBLIC}/feeds/{path}.{fmt}" in hostile_feeds
    assert f"{hostile.PUBLIC}/feeds/yandex.rss" in hostile_feeds
    assert f"{hostile.PUBLIC}/feeds/all.atom?page=2" in hostile_feeds


def test_no_html_field_of_any_feed_runs_anything(hostile_feeds: dict[str, bytes]) -> None:
    """Sanitising off, as a reader that trusts the feed renders it: hostile titles, leads and
    names reach every HTML-typed field of every feed as text, never as a live element."""
    live: list[str] = []
    shown_as_text = 0
    for url, served in hostile_feeds.items():
        for body in (served, _without_captions(served)):
            parsed = feedparser.parse(body, sanitize_html=False)
            assert not parsed.bozo, (url, parsed.get("bozo_exception"))
            constructs = list(_text_constructs(parsed.feed, "feed"))
            for n, entry in enumerate(parsed.entries):
                constructs += _text_constructs(entry, f"entries[{n}]")
            for where, kind, value in constructs:
                if kind not in _HTML_TYPES:
                    continue
                live += [f"{url} {where}: {found}" for found in _live(value)]
                text = lxml_html.fragment_fromstring(value, create_parent="div").text_content()
                shown_as_text += "<script>alert(" in text
    assert not live, "\n".join(live)
    # The hostile markup did reach HTML fields, as text a reader sees.
    assert shown_as_text
    assert len(hostile_feeds) > 20


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
