"""URL normalisation at ingest: IDNA hosts, percent-encoding without double-encoding, the 2,048
limit on the encoded form, and what is refused; a property test over open-ended text."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import settings as h_settings
from hypothesis import strategies as st

from syndication.config import ConfigError, Settings
from syndication.weburl import MAX_LENGTH, normalise_url

# RFC 3986 Appendix A, written out independently of the module under test: an absolute URI
# with an authority (http and https have one), no userinfo (we refuse it anyway).
_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED = r"[A-Za-z0-9\-._~]"
_SUB_DELIMS = r"[!$&'()*+,;=]"
_PCHAR = rf"(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|[:@])"
_REG_NAME = rf"(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS})*"
_IP_LITERAL = r"\[[0-9A-Fa-f:.]+\]"
RFC3986_HTTP_URI = re.compile(
    rf"(?:http|https)://(?:{_IP_LITERAL}|{_REG_NAME})(?::[0-9]*)?"
    rf"(?:/{_PCHAR}*)*"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?"
    rf"(?:#(?:{_PCHAR}|[/?])*)?"
)


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        # IDN host → IDNA A-labels, the path's Cyrillic → UTF-8 escapes.
        ("https://новости.рф/главное/", "https://xn--b1amnebsh.xn--p1ai/%D0%B3%D0%BB%D0%B0%D0%B2%D0%BD%D0%BE%D0%B5/"),
        # IDNA 2008 (the `idna` package), not the stdlib's IDNA 2003 that maps ß to ss.
        ("https://faß.de/", "https://xn--fa-hia.de/"),
        ("https://xn--b1amnebsh.xn--p1ai/", "https://xn--b1amnebsh.xn--p1ai/"),
        # A host the old ingest stored percent-encoded comes out as IDNA.
        ("https://%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8.%D1%80%D1%84/", "https://xn--b1amnebsh.xn--p1ai/"),
        # Stray % → %25; a valid escape is kept (upper-cased), never double-encoded.
        ("https://example.ru/100%/скидка", "https://example.ru/100%25/%D1%81%D0%BA%D0%B8%D0%B4%D0%BA%D0%B0"),
        ("https://example.ru/a%2fb%20c%D0%B0", "https://example.ru/a%2Fb%20c%D0%B0"),
        ("https://example.ru/%zz%4", "https://example.ru/%25zz%254"),
        ("https://example.ru/?q=50%", "https://example.ru/?q=50%25"),
        # Query and fragment: reserved characters kept, the rest encoded.
        ("https://example.ru/поиск?q=ёлка&page=2#итоги", "https://example.ru/%D0%BF%D0%BE%D0%B8%D1%81%D0%BA?q=%D1%91%D0%BB%D0%BA%D0%B0&page=2#%D0%B8%D1%82%D0%BE%D0%B3%D0%B8"),
        ("https://example.ru/a:b@c;d=e,f+g!h$i'j(k)l*m~n?x=/y?z#/f?g", "https://example.ru/a:b@c;d=e,f+g!h$i'j(k)l*m~n?x=/y?z#/f?g"),
        ("https://example.ru/a b[1]?x=[y] z#f#g", "https://example.ru/a%20b%5B1%5D?x=%5By%5D%20z#f%23g"),
        ('https://example.ru/<"{|}>^`\\', "https://example.ru/%3C%22%7B%7C%7D%3E%5E%60%5C"),
        ("https://example.ru?", "https://example.ru/?"),
        ("https://example.ru#", "https://example.ru/#"),
        # Port: kept unless it is the scheme's default; an empty one is dropped.
        ("https://example.ru:8443/a", "https://example.ru:8443/a"),
        ("https://example.ru:443/a", "https://example.ru/a"),
        ("http://example.ru:0080/a", "http://example.ru/a"),
        ("http://example.ru:443/a", "http://example.ru:443/a"),
        ("https://example.ru:/a", "https://example.ru/a"),
        # Upper-case scheme and host are lower-cased; the path's case is the site's business.
        ("HTTPS://Example.RU/Path/To", "https://example.ru/Path/To"),
        ("https://НОВОСТИ.РФ", "https://xn--b1amnebsh.xn--p1ai/"),
        ("https://[2001:DB8::1]:8080/x", "https://[2001:db8::1]:8080/x"),
        ("https://static_1.example.ru/i.jpg", "https://static_1.example.ru/i.jpg"),
        # Copy-paste leftovers, as a browser treats them.
        ("  https://example.ru/a\n/b\t \u00a0", "https://example.ru/a/b"),
    ],
)  # fmt: skip
def test_normalised_form(given_url: str, expected: str) -> None:
    assert normalise_url(given_url) == expected
    assert normalise_url(expected) == expected


@pytest.mark.parametrize(
    ("given_url", "message"),
    [
        ("ftp://example.ru/", "must be an absolute http(s) URL"),
        ("/news/1/", "must be an absolute http(s) URL"),
        ("//example.ru/news/1/", "must be an absolute http(s) URL"),
        ("https:example.ru", "must be an absolute http(s) URL"),
        ("javascript://example.ru/%0aalert(1)", "must be an absolute http(s) URL"),
        ("", "must be an absolute http(s) URL"),
        ("https:///path", "has no host"),
        ("https://?q", "has no host"),
        ("https://user:pass@example.ru/", "user name or password"),
        ("https://example.ru@evil.example/", "user name or password"),
        ("https://exa mple.ru/", "not a domain name"),
        ("https://a..ru/", "empty label"),
        ("https://-a.ru/", "not a domain name"),
        ("https://xn--zz.ru/", "not a domain name"),
        ("https://😀.ru/", "not a domain name"),
        ("https://" + "a" * 64 + ".ru/", "not a domain name"),
        ("https://%FF.ru/", "not a domain name"),
        ("https://example.ru:99999/", "bad port"),
        ("https://example.ru:0/", "bad port"),
        ("https://example.ru:8o/", "bad port"),
        ("https://example.ru:８０/", "bad port"),
        ("https://[::1%25eth0]/", "zone id"),
        ("https://[nope]/", "bad IPv6 host"),
        ("https://[::1]x/", "after its IPv6 host"),
        ("https://example.ru/\ud800", "lone surrogate"),
    ],
)
def test_refused(given_url: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        normalise_url(given_url)


def test_the_limit_applies_to_the_encoded_form() -> None:
    # 300 Cyrillic letters are 1,800 characters once encoded: accepted.
    short = normalise_url("https://example.ru/" + "я" * 300)
    assert len(short) == len("https://example.ru/") + 300 * 6 <= MAX_LENGTH
    # 1,500 of them are 1,519 characters as given but 9,019 encoded: refused, saying so.
    with pytest.raises(ValueError, match="9019 characters once encoded"):
        normalise_url("https://example.ru/" + "я" * 1500)
    # Exactly at the limit is fine, one over is not.
    base = "https://example.ru/"
    assert len(normalise_url(base + "a" * (MAX_LENGTH - len(base)))) == MAX_LENGTH
    with pytest.raises(ValueError, match="2049 characters once encoded"):
        normalise_url(base + "%" + "z" * (MAX_LENGTH - len(base) - 2))


def _urlish() -> st.SearchStrategy[str]:
    """Text shaped like a URL often enough to reach every branch."""
    scheme = st.sampled_from(["http", "https", "HTTPS", "hTtP"] * 3 + ["ftp"])
    sep = st.sampled_from(["://"] * 12 + [":/"])
    host = st.one_of(
        st.sampled_from(["example.ru", "НОВОСТИ.рф", "faß.de", "xn--p1ai", "[::1]", "a_b.ru",
                         "u@h.ru", "h.ru.", "%D1%80%D1%84", "", "a..b", "[fe80::1%25x]", "e.ru", "ёж.рф"]),
        st.text(alphabet="abcXYZ0-._%:@[]ёя ", min_size=1, max_size=20),
    )  # fmt: skip
    port = st.one_of(st.just(""), st.integers(-1, 70_000).map(lambda p: f":{p}"), st.just(":"))
    rest = st.text(alphabet=st.sampled_from(list("/?#%aF09 ёя[]<>\\\"'+&=;:@~\t\n")) | st.characters(), max_size=400)  # fmt: skip
    start = st.sampled_from(["/", "?", "#", ""])
    return st.builds(lambda *parts: "".join(parts), scheme, sep, host, port, start, rest)


@given(st.one_of(st.text(max_size=300), _urlish()))
@example("https://example.ru/" + "я" * 1500)
@example("https://example.ru/100%/%41%4")
@example(" HTTP://Новости.РФ:80?#")
@h_settings(max_examples=1000, deadline=None)
def test_any_text_is_refused_or_a_strict_idempotent_uri(text: str) -> None:
    try:
        url = normalise_url(text)
    except ValueError as exc:
        assert str(exc)
        return
    assert url.isascii()
    assert len(url) <= MAX_LENGTH
    assert RFC3986_HTTP_URI.fullmatch(url), url
    assert normalise_url(url) == url


def test_the_site_and_public_bases_are_normalised_too() -> None:
    """Default article URLs and rubric, tag and month pages are built on them: an IDN site must
    give the same IDNA host the ingest gives the CMS's URLs (IndexNow compares hosts)."""
    settings = Settings.load(
        environ={}, site_url="https://Новости.рф/", public_url="https://feeds.ru"
    )
    assert settings.site == "https://xn--b1amnebsh.xn--p1ai"
    assert settings.public_url == "https://feeds.ru"
    with pytest.raises(ConfigError, match="SITE_URL"):
        Settings.load(environ={}, site_url="https://user:pw@example.ru")
