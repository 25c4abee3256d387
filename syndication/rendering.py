"""What every document builder takes and returns; the serving path knows nothing more of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syndication.config import Settings
from syndication.store.base import Store


@dataclass(frozen=True, slots=True)
class RenderContext:
    store: Store
    settings: Settings
    now: datetime  # aware UTC; "visible" means published_at <= now


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    media_type: str  # with charset, e.g. "application/rss+xml; charset=utf-8"
    # The newest date of what the document shows, or later: the last instant at which its
    # bytes changed with no write (an article going live, a month closing, the news window
    # moving). Never later than the render's `now`. The cache adds the store's change stamps.
    last_modified: datetime | None = None
    # The document may change with no write at this instant (a scheduled article going live, an
    # article leaving the 48-hour news window); the cache treats it as stale from then on.
    expires: datetime | None = None
    # RFC 8288 links sent as `Link` headers (WebSub discovery: the hub and the feed's self URL).
    links: tuple[tuple[str, str], ...] = ()  # (url, rel)
    # Dependency tags known only once rendered (syndication/dependencies.py), added to the
    # document's own: e.g. "rubric-meta:SLUG" for each rubric its items show as a category.
    deps: frozenset[str] = frozenset()
    # Tags whose last change also moves Last-Modified, though they do not make the document
    # stale: a coarser stand-in for tags the store keeps no stamp of (the month-count tags).
    stamped: frozenset[str] = frozenset()


class DocumentNotFound(LookupError):
    """No such document (unknown rubric, tag, month or page): 404."""


class BadParameter(ValueError):
    """A query parameter is out of range or malformed: 400."""
