"""Issue 13: feeds and OPML reach browsers as application/xml (their stylesheet applies) and
feed readers as their registered types; one URL, `Vary: Accept`, an ETag per view."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import brotli
import pytest

from syndication.cache import Entry
from syndication.mediatype import BROWSER_TYPE, has_browser_view, wants_browser_view
from syndication.serving import answer

RSS = "application/rss+xml; charset=utf-8"
CHROME = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SAFARI = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
MINIFLUX = (
    "application/rss+xml,application/rdf+xml,application/atom+xml,application/xml;q=0.9,"
    "text/xml;q=0.8,*/*;q=0.7"
)
NETNEWSWIRE = "application/rss+xml, application/atom+xml, application/feed+json, */*"


@pytest.mark.parametrize(
    ("accept", "media_type", "browser"),
    [
        (CHROME, RSS, True), (FIREFOX, RSS, True), (SAFARI, "application/atom+xml", True),
        (CHROME, "text/x-opml; charset=utf-8", True),
        (MINIFLUX, RSS, False), (NETNEWSWIRE, RSS, False), (NETNEWSWIRE, "text/x-opml", False),
        (None, RSS, False), ("", RSS, False), ("*/*", RSS, False),
        ("text/*", RSS, False),  # HTML named only through a wildcard: no preference for it
        ("text/html;q=0, */*", RSS, False),
        ("application/rss+xml, text/html", RSS, False),  # a tie keeps the registered type
        ("text/html, application/*;q=0.5", RSS, True),
        ("text/html;q=0.5, application/*", RSS, False),
        ("TEXT/HTML;Q=1, application/rss+xml;q=0.9", RSS, True),
        ("text/html;q=bogus, application/rss+xml;q=0.1", RSS, False),  # unreadable q: 0
        ("application/xhtml+xml", RSS, True),
    ],
)  # fmt: skip
def test_who_gets_the_browser_view(accept: str | None, media_type: str, browser: bool) -> None:
    assert wants_browser_view(accept, media_type) is browser


def test_which_documents_have_a_browser_view() -> None:
    for media_type in (RSS, "application/atom+xml; charset=utf-8", "text/x-opml; charset=utf-8"):
        assert has_browser_view(media_type)
    for media_type in ("application/xml; charset=utf-8", "application/feed+json; charset=utf-8",
                       "text/html; charset=utf-8", "text/plain; charset=utf-8", "text/css"):  # fmt: skip
        assert not has_browser_view(media_type)


def entry(media_type: str = RSS, status: int = 200) -> Entry:
    body = b"<rss>" + "новости ".encode() * 200 + b"</rss>"
    return Entry(
        key="k", kind="feed", deps=frozenset(), status=status, media_type=media_type,
        body=body, gzip=gzip.compress(body, mtime=0), br=brotli.compress(body), etag="abc123",
        last_modified=datetime(2025, 12, 10, 15, 8, tzinfo=UTC),
        last_modified_http="Wed, 10 Dec 2025 15:08:00 GMT", change_id=0, expires=float("inf"),
    )  # fmt: skip


def headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw}


def get(e: Entry, accept: str | None, coding: str | None = None, inm: str | None = None,
        method: str = "GET") -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    status, raw, body = answer(method, e, accept_encoding=coding, if_none_match=inm,
                               if_modified_since=None, accept=accept)  # fmt: skip
    return status, headers(raw), body


def test_the_same_bytes_as_application_xml_with_an_etag_of_their_own() -> None:
    e = entry()
    for coding, suffix in ((None, ""), ("gzip", "-gz"), ("br", "-br")):
        _, reader, reader_body = get(e, MINIFLUX, coding)
        _, person, person_body = get(e, CHROME, coding)
        assert reader["content-type"] == RSS
        assert person["content-type"] == BROWSER_TYPE
        assert person_body == reader_body
        assert reader["etag"] == f'"abc123{suffix}"'
        assert person["etag"] == f'"abc123-x{suffix}"'
        assert reader["vary"] == person["vary"] == "Accept-Encoding, Accept"
    # HEAD: the headers of GET, no body.
    status, head, body = get(e, CHROME, method="HEAD")
    assert (status, body, head["content-type"]) == (200, b"", BROWSER_TYPE)
    # The browser view is prepared per request: the entry keeps only the readers' variants.
    assert set(e.variants) == {"identity", "gzip", "br"}


def test_a_304_only_for_the_view_the_client_holds() -> None:
    e = entry()
    assert get(e, CHROME, "gzip", inm='"abc123-x-br"')[0] == 304
    assert get(e, CHROME, None, inm='"abc123-x"')[0] == 304
    status, h, _ = get(e, CHROME, "br", inm='"abc123-x"')
    assert (status, h["etag"], h["vary"]) == (304, '"abc123-x-br"', "Accept-Encoding, Accept")
    assert get(e, MINIFLUX, "gzip", inm='"abc123"')[0] == 304
    # The other view's copy has another media type: answered in full.
    assert get(e, CHROME, None, inm='"abc123"')[0] == 200
    assert get(e, MINIFLUX, None, inm='"abc123-x-gz"')[0] == 200
    assert get(e, CHROME, None, inm="*")[0] == 304


def test_documents_without_a_browser_view_do_not_vary_on_accept() -> None:
    for media_type in ("application/xml; charset=utf-8", "application/feed+json; charset=utf-8",
                       "text/html; charset=utf-8"):  # fmt: skip
        _, h, _ = get(entry(media_type), CHROME)
        assert h["content-type"] == media_type
        assert h["vary"] == "Accept-Encoding"
        assert "-x" not in h["etag"]
    # A missing feed is plain text, whoever asks.
    _, h, _ = get(entry("text/plain; charset=utf-8", status=404), CHROME)
    assert h["vary"] == "Accept-Encoding"
