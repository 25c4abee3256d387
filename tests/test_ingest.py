"""Ingest: field checks, dates and text cleaning, including open-ended input (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as h_settings
from hypothesis import strategies as st
from lxml import etree

from syndication.config import Settings
from syndication.content import derive_summary, sanitize_html, truncate_words, xml_safe
from syndication.ingest import InvalidPayload, parse_json, validate_article

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
    assert article.published_at == expected
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
