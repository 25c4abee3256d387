"""Which media type a feed or OPML document is sent as: its registered type to feed readers,
`application/xml` to browsers, so that they apply its CSS stylesheet.

Chromium shows a document sent as `application/rss+xml` or `application/atom+xml` as plain source
text and ignores its `<?xml-stylesheet?>`; the same bytes as `application/xml` are laid out by
the stylesheet (Firefox and WebKit do the same). A browser navigating to a URL asks for
`text/html` first (`text/html,…,application/xml;q=0.9,*/*;q=0.8`), a feed reader for the feed
types or for anything (`*/*`, or no Accept at all). So the choice is made on `Accept`, and every
answer for such a URL says `Vary: Accept`.
"""

from __future__ import annotations

import re

BROWSER_TYPE = "application/xml; charset=utf-8"
# The registered types whose documents carry a stylesheet (feeds, OPML); sitemaps are
# application/xml already, JSON Feed has no stylesheet to apply.
STYLED = frozenset({"application/rss+xml", "application/atom+xml", "text/x-opml"})
_HTML = ("text/html", "application/xhtml+xml")


def qualities(header: str) -> dict[str, float]:
    """Name → q of an Accept or Accept-Encoding header (RFC 9110 §12.4.2, §12.5). Names are
    lower-cased; parameter names are case-insensitive and `q` may follow other parameters
    (`gzip;level=1;q=0`); a q that is not a valid qvalue counts as 0, so an unreadable
    preference never gets what the client may have refused. Media-type parameters other than q
    are dropped: no document of ours differs by them."""
    q: dict[str, float] = {}
    for part in header.split(","):
        name, *params = part.split(";")
        name = name.strip().lower()
        if not name:
            continue
        value = 1.0
        for param in params:
            key, _, raw = param.partition("=")
            if key.strip().lower() == "q":
                raw = raw.strip()
                value = float(raw) if _QVALUE.fullmatch(raw) else 0.0
        q[name] = value
    return q


# qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def has_browser_view(media_type: str) -> bool:
    styled = _HAS_VIEW.get(media_type)
    if styled is None:
        styled = media_type.partition(";")[0].strip().lower() in STYLED
        if len(_HAS_VIEW) < 64:  # the handful of types the renderers write
            _HAS_VIEW[media_type] = styled
    return styled


_HAS_VIEW: dict[str, bool] = {}


def wants_browser_view(accept: str | None, media_type: str) -> bool:
    """True when `accept` prefers HTML to the document's registered type: a browser.

    Only ranges the client names count: HTML named with a q above the registered type's (named
    exactly or as `application/*`). `*/*`, a missing header, or a feed reader naming the feed
    types as high as HTML keep the registered type.
    """
    if not accept:
        return False
    # On the path of every cached feed request: decided once per header and type.
    decided = _DECIDED.get((accept, media_type))
    if decided is None:
        decided = _decide(qualities(accept), media_type)
        if len(_DECIDED) < 256:  # a handful of distinct headers in practice
            _DECIDED[(accept, media_type)] = decided
    return decided


_DECIDED: dict[tuple[str, str], bool] = {}


def _decide(q: dict[str, float], media_type: str) -> bool:
    html = max(q.get(name, 0.0) for name in _HTML)
    if html <= 0:
        return False
    registered = media_type.partition(";")[0].strip().lower()
    major = registered.partition("/")[0]
    return html > q.get(registered, q.get(f"{major}/*", 0.0))
