"""The sanitiser rewrites URLs on the parsed tree: text that looks like markup stays text, and
every promise holds for any input (it parses, keeps its text, has only absolute links, and a
second pass changes nothing)."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import settings as h_settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from syndication.content import sanitize_html, xml_safe

BASE = "https://example.ru/news/x/"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # A quote in text once let the URL pass swallow everything up to the next tag's quote.
        ('<b>bold href="javascript:</b><a title="t">link</a>',
         '<b>bold href="javascript:</b><a title="t" rel="noopener">link</a>'),
        ('<p>Write href="/docs" in the link</p>', '<p>Write href="/docs" in the link</p>'),
        ('Plain text with src="i.jpg" and cite="/q"', 'Plain text with src="i.jpg" and cite="/q"'),
        ('<a title=\' href="/docs"\' href="/d">t</a>',
         '<a title=" href=&quot;/docs&quot;" href="https://example.ru/d" rel="noopener">t</a>'),
        ('<q cite="/source">q</q><blockquote cite="javascript:alert(1)">b</blockquote>',
         '<q cite="https://example.ru/source">q</q><blockquote>b</blockquote>'),
        ('<img srcset="a.jpg 1x, javascript:x 2x" src="/i.jpg">',
         '<img srcset="https://example.ru/news/x/a.jpg 1x" src="https://example.ru/i.jpg">'),
        # Only links may leave the web; an image or a quotation source must be a web URL.
        ('<img src="mailto:a@e.ru"><q cite="tel:+7">q</q><a href="tel:+7">t</a>',
         '<img><q>q</q><a href="tel:+7" rel="noopener">t</a>'),
    ],
)  # fmt: skip
def test_text_that_looks_like_an_attribute_is_left_alone(given: str, expected: str) -> None:
    assert sanitize_html(given, BASE) == expected


# --- properties -----------------------------------------------------------------------------

# Pieces that look like markup, so that hypothesis meets them often; joined with arbitrary text.
_TRICKY = st.sampled_from([
    ' href="', ' src="', ' cite="', ' srcset="', '"', "'", "/docs", "doc", "../up", "//cdn.example.ru/i",
    "javascript:alert(1)", "data:text/html,x", "https://e.ru/a", "mailto:a@e.ru", " 2x, ", "<", ">",
    "&", "&amp;", "=", ' href="/docs"', " ",
])  # fmt: skip
TEXT = st.lists(st.one_of(_TRICKY, st.text(max_size=8)), max_size=8).map("".join)

# Tags whose parsing keeps text in document order (tables move stray text out of them, so they
# are left out); tags ammonia strips but whose text stays; tags dropped with their content.
_KEPT = ["a", "b", "i", "p", "div", "span", "em", "strong", "q", "blockquote", "ul", "li", "h2",
         "code", "small", "figure", "figcaption", "time", "abbr", "img", "br", "source", "picture"]  # fmt: skip
_STRIPPED = ["font", "center", "section", "custom-tag"]
_DROPPED = ["script", "style", "iframe"]
_ATTRIBUTES = ["href", "src", "cite", "srcset", "title", "alt", "onclick", "style", "class"]


@st.composite
def _attributes(draw: st.DrawFn) -> str:
    names = draw(st.lists(st.sampled_from(_ATTRIBUTES), max_size=3, unique=True))
    return "".join(f' {name}="{html.escape(draw(TEXT), quote=True)}"' for name in names)


def _element(children: st.SearchStrategy[tuple[str, str]]) -> st.SearchStrategy[tuple[str, str]]:
    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, str]:
        tag = draw(st.sampled_from(_KEPT + _STRIPPED + _DROPPED))
        attributes = draw(_attributes())
        if tag in _DROPPED:  # raw text inside, gone with the element
            return f"<{tag}{attributes}>{html.escape(draw(TEXT))}</{tag}>", ""
        parts = draw(st.lists(children, max_size=4))
        inner = "".join(markup for markup, _ in parts)
        return f"<{tag}{attributes}>{inner}</{tag}>", "".join(text for _, text in parts)

    return build()


def _text_node() -> st.SearchStrategy[tuple[str, str]]:
    return TEXT.map(lambda text: (html.escape(text, quote=False), text))


# (markup, the text of its text nodes that must survive)
FRAGMENTS = st.recursive(_text_node(), _element, max_leaves=12)


def _parse(out: str) -> lxml_html.HtmlElement:
    return lxml_html.fragment_fromstring(out, create_parent="div")


def _no_space(text: str) -> str:
    # Whitespace is the parser's to fold (a newline after <pre>, CR LF); the rest must survive.
    return "".join(xml_safe(text).split())


def _check_urls(root: lxml_html.HtmlElement) -> None:
    for element in root.iter():
        for name, value in ((n, v.lower()) for n, v in element.attrib.items()):
            if name in ("src", "cite"):
                assert value.startswith(("https://", "http://")), (name, value)
            elif name == "href":
                assert value.startswith(("https://", "http://", "mailto:", "tel:")), value
            elif name == "srcset":
                for candidate in value.split(","):
                    assert candidate.split()[0].startswith(("https://", "http://")), value


def _check(markup: str, text: str) -> None:
    out = sanitize_html(markup, BASE)
    root = _parse(out) if out else _parse("<span></span>")
    assert _no_space(root.text_content()) == _no_space(text)
    _check_urls(root)
    assert sanitize_html(out, BASE) == out  # idempotent


@given(st.text(max_size=300) | TEXT)
@h_settings(max_examples=300, deadline=None)
def test_any_plain_text_survives_as_text(text: str) -> None:
    for escaped in (html.escape(text, quote=False), html.escape(text)):
        _check(escaped, text)


@given(FRAGMENTS)
@h_settings(max_examples=400, deadline=None)
def test_generated_html_keeps_its_text_and_gets_only_absolute_urls(node: tuple[str, str]) -> None:
    markup, text = node
    _check(markup, text)


@given(st.text(max_size=300))
@h_settings(max_examples=200, deadline=None)
def test_arbitrary_input_is_stable_and_absolute(markup: str) -> None:
    out = sanitize_html(markup, BASE)
    if out:
        _check_urls(_parse(out))
    assert sanitize_html(out, BASE) == out


def test_an_empty_link_is_the_document_itself_and_sanitising_it_again_changes_nothing() -> None:
    """Found by the property above: an empty href was dropped, which left ammonia's rel where it
    stood, and a second pass moved it."""
    base = "https://example.ru/novosti/1/"
    once = sanitize_html('<a href="" title="">x</a>', base)
    assert once == f'<a href="{base}" title="" rel="noopener">x</a>'
    assert sanitize_html(once, base) == once
