"""Ingest: field checks, dates and text cleaning, including open-ended input (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import feedparser
import orjson
import pytest
from hypothesis import example, given
from hypothesis import settings as h_settings
from hypothesis import strategies as st
from lxml import etree
from starlette.testclient import TestClient

from app import create_app
from syndication.config import Settings
from syndication.content import derive_summary, sanitize_html, truncate_words, xml_safe
from syndication.ingest import InvalidPayload, parse_json, validate_article
from syndication.weburl import normalise_url
from tests.conftest import SHARED, TOKEN, requires_shared
from tests.feeds.feedrules import check
from tests.feeds.helpers import assert_valid_atom
from tests.sitemap.helpers import IMG, assert_valid, locs, parse

ATOM = "{http://www.w3.org/2005/Atom}"

SETTINGS = Settings.load(environ={}, site_url="https://example.ru")


def payload(**fields: Any) -> dict[str, Any]:
    return {"id": "a1", "title": "Заголовок", "published_at": "2025-12-10T18:08:00", **fields}


@given(st.text(max_size=600))
@h_settings(max_examples=200, deadline=None)
def test_any_title_is_accepted_clean_or_rejected_by_field(title: str) -> None:
    try:
        article = validate_article(payload(title=title), SETTINGS)
    except InvalidPayload as exc:
        assert [e.field for e in exc.errors] == ["title"]
        return
    assert 1 <= len(article.title) <= 500
    assert article.title == article.title.strip()
    assert xml_safe(article.title) == article.title
    etree.fromstring(f"<t>{escape(article.title)}</t>".encode())


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
       st.one_of(st.none(), st.integers(min_value=-14 * 60, max_value=14 * 60)))  # fmt: skip
@example(datetime(1930, 6, 21, 0, 30), None)  # in Moscow's gap of that night
@h_settings(max_examples=200, deadline=None)
def test_dates_keep_their_instant(moment: datetime, offset_minutes: int | None) -> None:
    moment = moment.replace(microsecond=0)
    if offset_minutes is None:
        expected = moment.replace(tzinfo=SETTINGS.zone)  # naive = the site's zone
        text = moment.isoformat()
    else:
        zone = timezone(timedelta(minutes=offset_minutes))
        expected = moment.replace(tzinfo=zone)
        text = expected.isoformat()
    article = validate_article(payload(published_at=text), SETTINGS)
    # The same instant. Not `==`: an aware time in a gap of the zone (Moscow skipped 00:00-01:00
    # on 1930-06-21) compares unequal to every time of another zone (PEP 495).
    assert article.published_at.timestamp() == expected.timestamp()
    assert article.published_at.tzinfo is UTC


@given(st.binary(max_size=200))
@h_settings(max_examples=200, deadline=None)
def test_arbitrary_bytes_never_crash_parsing(data: bytes) -> None:
    try:
        parsed = parse_json(data)
    except InvalidPayload as exc:
        assert exc.status == 400
        return
    try:
        validate_article(parsed, SETTINGS)
    except InvalidPayload as exc:
        assert exc.status == 422


def test_lone_surrogates_and_controls_are_cleaned_not_refused() -> None:
    raw = b'{"id": "s", "title": "A\\ud800B\\u0001C", "published_at": "2025-01-01T00:00:00Z"}'
    article = validate_article(parse_json(raw), SETTINGS)
    assert article.title == "ABC"


@pytest.mark.parametrize(
    "raw",
    [
        b'["\\u0041", NaN]',
        b'["\\u0041", Infinity]',
        b'["\\u0041", -Infinity]',
        b'["\\u0041", 1e400]',
        b'["\\u0041", 1' + b"0" * 5000 + b"]",
        b"[" * 100_000 + b'"\\u0041"' + b"]" * 100_000,
        '["\\u0041"]'.encode("utf-16"),
        '["\\u0041"]'.encode("utf-32"),
        b'["\\u0041", "\xed\xa0\x80"]',  # an encoded surrogate is not UTF-8
    ],
)
def test_the_fallback_parser_accepts_no_more_than_json(raw: bytes) -> None:
    """The stdlib parser (there for lone surrogate escapes) would take these, or crash on them."""
    with pytest.raises(InvalidPayload) as caught:
        parse_json(raw)
    assert caught.value.status == 400
    assert [e.field for e in caught.value.errors] == ["body"]


@given(st.integers(min_value=1, max_value=3000), st.sampled_from("[{"), st.booleans())
@h_settings(max_examples=60, deadline=None)
def test_any_nesting_depth_is_parsed_or_a_400(depth: int, bracket: str, escape: bool) -> None:
    """Up to orjson's 1,024 levels, and never deeper through the fallback parser (a lone
    surrogate escape sends the body there), which may stop sooner at Python's recursion limit."""
    inner = '"\\ud800"' if escape else "1"
    if bracket == "[":
        text = "[" * depth + inner + "]" * depth
    else:
        text = '{"a":' * depth + inner + "}" * depth
    try:
        parse_json(text.encode())
    except InvalidPayload as exc:
        assert exc.status == 400
        assert depth > 900  # only past the documented ~1,000 levels
    else:
        assert depth <= 1024


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a href="/doc">d</a>', '<a href="https://example.ru/doc" rel="noopener">d</a>'),
        ('<a href="doc">d</a>', '<a href="https://example.ru/news/x/doc" rel="noopener">d</a>'),
        ('<a href="../up">u</a>', '<a href="https://example.ru/news/up" rel="noopener">u</a>'),
        ('<img src="//cdn.example.ru/i.jpg">', '<img src="https://cdn.example.ru/i.jpg">'),
        ('<img srcset="a.jpg 1x, b.jpg 2x">', '<img srcset="https://example.ru/news/x/a.jpg 1x, https://example.ru/news/x/b.jpg 2x">'),
        ('<a href="javascript:alert(1)">j</a>', '<a rel="noopener">j</a>'),
        ('<img src="data:image/png;base64,AAAA">', "<img>"),
        ("<p onclick=\"x()\">p</p><script>alert(1)</script>", "<p>p</p>"),
        ('<iframe src="https://evil"></iframe><form><input></form>ok', "ok"),
        ("<style>p{}</style><p style=\"color:red\">s</p>", "<p>s</p>"),
        ("<p>&laquo;Ёлка&raquo; &amp; ёж</p>", "<p>«Ёлка» &amp; ёж</p>"),
        ("<p>a\x00b\x0bc</p>", "<p>abc</p>"),
        ('<a href="mailto:press@example.ru">m</a>', '<a href="mailto:press@example.ru" rel="noopener">m</a>'),
    ],
)  # fmt: skip
def test_sanitising_table(html: str, expected: str) -> None:
    assert sanitize_html(html, "https://example.ru/news/x/") == expected


def test_summary_is_cut_at_a_word_boundary() -> None:
    words = " ".join(["слово"] * 100)
    summary = derive_summary(f"<p>{words}</p>")
    assert summary is not None
    assert len(summary) <= 300
    assert summary.endswith("слово…")
    assert truncate_words("короткий текст") == "короткий текст"
    assert derive_summary("<ul><li>Один</li><li>Два</li></ul><p>Три &amp; четыре</p>") == (
        "Один Два Три & четыре"
    )


@given(st.text(max_size=2000))
@h_settings(max_examples=150, deadline=None)
def test_sanitised_html_is_safe_and_xml_clean(html: str) -> None:
    out = sanitize_html(html, "https://example.ru/a/")
    assert "<script" not in out.lower()
    assert xml_safe(out) == out
    summary = derive_summary(out)
    assert summary is None or len(summary) <= 300


@given(
    st.sampled_from(["https://example.ru/a/b/", "https://example.ru", "http://e.ru:8080/x?q=1#f",
                     "https://e.ru?x=1", "HTTPS://E.RU/a"]),
    st.text(alphabet="/.\\?#abc %:", max_size=20).map(lambda s: "/" + s),
)  # fmt: skip
@h_settings(max_examples=300, deadline=None)
def test_root_relative_fast_path_agrees_with_urljoin(base: str, url: str) -> None:
    from urllib.parse import urljoin

    from syndication.content import absolute_url

    assert absolute_url(base, url) == urljoin(base, url.strip())


# --- URLs at ingest: normalised for sitemaps and feeds, the unfixable refused by field --------

ARTICLE_URL = "https://Новости.РФ/новости/100%/итоги года?id=5&a=%d0%b0#фото"
ARTICLE_LOC = (
    "https://xn--b1amnebsh.xn--p1ai/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/100%25/"
    "%D0%B8%D1%82%D0%BE%D0%B3%D0%B8%20%D0%B3%D0%BE%D0%B4%D0%B0?id=5&a=%D0%B0#%D1%84%D0%BE%D1%82%D0%BE"
)
IMAGE_URL = "https://CDN.новости.рф:443/фото/1 [большое].jpg"
IMAGE_LOC = (
    "https://cdn.xn--b1amnebsh.xn--p1ai/%D1%84%D0%BE%D1%82%D0%BE/1%20%5B%D0%B1%D0%BE%D0%BB%D1%8C"
    "%D1%88%D0%BE%D0%B5%5D.jpg"
)
LONG_URL = "https://новости.рф/" + "я" * 300  # 1,800 characters once encoded: fits


def _put_url_articles(client: TestClient) -> None:
    rubric = {"title": "Итоги", "url": "https://новости.рф/рубрика/итоги/"}
    assert client.put("/api/rubrics/itogi", json=rubric).status_code == 201
    first = payload(url=ARTICLE_URL, image={"url": IMAGE_URL, "type": "image/jpeg"},
                    rubrics=["itogi"], published_at="2025-12-10T18:08:00+03:00")  # fmt: skip
    second = payload(id="a2", url=LONG_URL, published_at="2025-12-11T10:00:00+03:00")
    assert client.put("/api/articles/a1", json=first).status_code == 201
    assert client.put("/api/articles/a2", json=second).status_code == 201


@requires_shared("jsonschema")
def test_urls_from_the_cms_reach_sitemaps_and_feeds_schema_valid(settings: Settings) -> None:
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        _put_url_articles(client)

        sitemap = client.get("/sitemaps/articles-2025-12.xml")
        assert sitemap.status_code == 200
        assert_valid(sitemap.content)
        long_loc = normalise_url(LONG_URL)
        assert len(long_loc) <= 2048
        assert locs(sitemap.content) == [ARTICLE_LOC, long_loc]
        images = [el.text for el in parse(sitemap.content).iter(f"{IMG}loc")]
        assert images == [IMAGE_LOC]

        rubrics = client.get("/sitemaps/rubrics.xml")
        assert_valid(rubrics.content)
        rubric_loc = "https://xn--b1amnebsh.xn--p1ai/%D1%80%D1%83%D0%B1%D1%80%D0%B8%D0%BA%D0%B0/%D0%B8%D1%82%D0%BE%D0%B3%D0%B8/"  # fmt: skip
        assert rubric_loc in locs(rubrics.content)

        atom = client.get("/feeds/all.atom")
        assert_valid_atom(atom.content)
        links = {el.get("href") for el in etree.fromstring(atom.content).iter(f"{ATOM}link")}
        assert {ARTICLE_LOC, long_loc, IMAGE_LOC} <= links

        rss = client.get("/feeds/all.rss")
        assert check(rss.content, f"{settings.public_url}/feeds/all.rss") == []
        parsed = feedparser.parse(rss.content)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert [e.link for e in parsed.entries] == [long_loc, ARTICLE_LOC]
        enclosures = [el.get("url") for el in etree.fromstring(rss.content).iter("enclosure")]
        assert enclosures == [IMAGE_LOC]

        feed = client.get("/feeds/all.json").json()
        _json_feed_schema().validate(feed)
        assert [i["url"] for i in feed["items"]] == [long_loc, ARTICLE_LOC]
        assert [i.get("image") for i in feed["items"]] == [None, IMAGE_LOC]

        stored = client.get("/api/articles/a1").json()
        assert stored["url"] == ARTICLE_LOC
        assert stored["image"]["url"] == IMAGE_LOC


def _json_feed_schema() -> Any:
    import jsonschema  # type: ignore[import-untyped,unused-ignore]

    schema = orjson.loads((SHARED / "schemas" / "jsonfeed-1.1.schema.json").read_bytes())
    return jsonschema.validators.validator_for(schema)(schema)


def test_unfixable_urls_are_a_422_naming_each_field(settings: Settings) -> None:
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        bad = payload(url="https://новости.рф/" + "я" * 1500,
                      image={"url": "https://exa mple.ru/i.jpg"})  # fmt: skip
        answer = client.put("/api/articles/a1", json=bad)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        errors = {e["field"]: e["message"] for e in answer.json()["errors"]}
        assert set(errors) == {"url", "image.url"}
        assert "9031 characters once encoded" in errors["url"]
        assert "not a domain name" in errors["image.url"]
        assert client.get("/api/articles/a1").status_code == 404

        credentials = client.put("/api/articles/a1", json=payload(url="https://u:p@example.ru/"))
        assert credentials.status_code == 422
        assert [e["field"] for e in credentials.json()["errors"]] == ["url"]

        rubric = client.put("/api/rubrics/r", json={"title": "R", "url": "https://e.ru:99999/"})
        assert rubric.status_code == 422
        assert [e["field"] for e in rubric.json()["errors"]] == ["url"]

        line = orjson.dumps(payload(url="https://example.ru/", image="ftp://example.ru/i.jpg"))
        bulk = client.post("/api/articles:bulk", content=line,
                           headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
        assert bulk.status_code == 422
        assert [(e["line"], e["field"]) for e in bulk.json()["errors"]] == [(1, "image.url")]


@given(
    st.builds(
        "{}://{}/{}".format,
        st.sampled_from(["https", "HTTP", "ftp"]),
        st.sampled_from(["example.ru", "Новости.рф", "EXAMPLE.RU:443", "a b.ru", "u@example.ru"]),
        st.text(max_size=200),
    )
    | st.text(max_size=50)
)
@h_settings(max_examples=200, deadline=None)
def test_any_url_text_is_stored_normalised_or_refused_by_field(text: str) -> None:
    try:
        article = validate_article(payload(url=text, image={"url": text}), SETTINGS)
    except InvalidPayload as exc:
        assert {e.field for e in exc.errors} == {"url", "image.url"}
        return
    assert article.url == normalise_url(text)
    assert article.image is not None
    assert article.image.url == article.url
