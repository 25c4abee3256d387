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
    last_modified: datetime | None = None
    # The document may change with no write at this instant (a scheduled article going live, an
    # article leaving the 48-hour news window); the cache treats it as stale from then on.
    expires: datetime | None = None
    # RFC 8288 links sent as `Link` headers (WebSub discovery: the hub and the feed's self URL).
    links: tuple[tuple[str, str], ...] = ()  # (url, rel)


class DocumentNotFound(LookupError):
    """No such document (unknown rubric, tag, month or page): 404."""


class BadParameter(ValueError):
    """A query parameter is out of range or malformed: 400."""
