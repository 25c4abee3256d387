"""Pure text and HTML policy: sanitising, absolute URLs, XML-safe text, derived summaries.

Applied once at ingest, so every format renders the same stored HTML and renders stay cheap.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import nh3

SUMMARY_MAX = 300

# XML 1.0 Char production; everything else (C0 controls, lone surrogates, U+FFFE/FFFF) makes
# lxml refuse the document, which is how one bad article turns a whole feed into an error.
_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "div",
        "dl", "dt", "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i",
        "img", "ins", "li", "mark", "ol", "p", "picture", "pre", "q", "s", "small", "source",
        "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time",
        "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "srcset", "sizes", "alt", "title", "width", "height"},
    "source": {"srcset", "sizes", "type", "media"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "ol": {"start", "reversed"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "q": {"cite"},
}
# Whole subtrees that must vanish with their text, not just lose their tags.
_DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "form", "noscript",
                      "template", "svg", "math", "textarea", "select", "button"}  # fmt: skip
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
_SRCSET_ATTRIBUTES = frozenset({"srcset"})


def xml_safe(text: str) -> str:
    """Drop the characters XML 1.0 forbids (controls, lone surrogates, U+FFFE/FFFF)."""
    return _XML_FORBIDDEN.sub("", text)


def absolute_url(base: str, url: str) -> str | None:
    """`url` resolved against `base`; None when the result is not a URL we let through."""
    url = url.strip()
    if not url:
        return None
    joined = urljoin(base, url)
    scheme = urlsplit(joined).scheme.lower()
    return joined if scheme in URL_SCHEMES else None


def _absolute_srcset(base: str, value: str) -> str | None:
    candidates = []
    for candidate in value.split(","):
        parts = candidate.split()
        if not parts:
            continue
        url = absolute_url(base, parts[0])
        if url is not None and urlsplit(url).scheme in ("http", "https"):
            candidates.append(" ".join([url, *parts[1:]]))
    return ", ".join(candidates) or None


def _attribute_filter(base: str) -> Callable[[str, str, str], str | None]:
    def rewrite(tag: str, attribute: str, value: str) -> str | None:
        if attribute in _URL_ATTRIBUTES:
            return absolute_url(base, value)
        if attribute in _SRCSET_ATTRIBUTES:
            return _absolute_srcset(base, value)
        return value

    return rewrite


def sanitize_html(fragment: str, base_url: str) -> str:
    """Allow-list sanitising with every link and image made absolute against `base_url`."""
    cleaned = nh3.clean(
        xml_safe(fragment),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter(base_url),
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener",
        strip_comments=True,
    )
    return cleaned.strip()


_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"</(p|div|li|h[1-6]|blockquote|tr|figcaption|pre)>|<br\s*/?>", re.I)
_SPACE = re.compile(r"\s+")


def html_to_text(fragment: str) -> str:
    """Readable plain text of sanitised HTML: tags dropped, entities decoded, spaces folded."""
    text = _BLOCK_END.sub(" ", fragment)
    text = _TAG.sub("", text)
    return _SPACE.sub(" ", html.unescape(text)).strip()


def truncate_words(text: str, limit: int = SUMMARY_MAX) -> str:
    """At most `limit` characters, cut at a word boundary, with an ellipsis when cut."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    boundary = cut.rfind(" ")
    if boundary > limit // 2:
        cut = cut[:boundary]
    return cut.rstrip(" ,;:—–-.") + "…"


def derive_summary(content_html: str | None) -> str | None:
    if not content_html:
        return None
    return truncate_words(html_to_text(content_html)) or None


def clean_text(text: str) -> str:
    """A single-line plain-text field (titles, names): XML-safe, whitespace folded."""
    return _SPACE.sub(" ", xml_safe(text)).strip()
