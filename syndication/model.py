"""The language every room speaks: plain, immutable data with no I/O.

Datetimes are always timezone-aware UTC here; renderers convert to the site's zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PUBLISHED = "published"
    DRAFT = "draft"


class TagKind(StrEnum):
    TOPIC = "topic"
    PERSON = "person"
    ORG = "org"


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    type: str | None = None
    length: int | None = None
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class TagRef:
    """A tag as an article names it; the store resolves it to a `Tag` with a slug."""

    name: str
    kind: TagKind = TagKind.TOPIC


@dataclass(frozen=True, slots=True)
class Tag:
    slug: str
    name: str
    kind: TagKind


@dataclass(frozen=True, slots=True)
class Rubric:
    slug: str
    title: str
    description: str | None = None
    url: str | None = None
    parent: str | None = None
    position: int = 0


@dataclass(frozen=True, slots=True)
class ArticleIn:
    """A validated write: what ingest hands to the store.

    `content_html` is already sanitised and absolutised; `raw` is the payload as received, kept so
    that a later policy change can be re-applied.
    """

    id: str
    title: str
    url: str
    summary: str | None
    content_html: str | None
    published_at: datetime
    updated_at: datetime | None
    author: str | None
    rubrics: tuple[str, ...]
    tags: tuple[TagRef, ...]
    image: Image | None
    status: Status
    raw: bytes = field(default=b"{}", compare=False)  # the payload as received (JSON)
    # The images of `content_html` a sitemap lists after `image` (content.body_images), found
    # once here rather than in every sitemap render.
    body_images: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Article:
    """An article as stored, with its tags resolved."""

    id: str
    title: str
    url: str
    summary: str | None
    content_html: str | None
    published_at: datetime
    updated_at: datetime | None
    author: str | None
    rubrics: tuple[str, ...]
    tags: tuple[Tag, ...]
    image: Image | None
    status: Status
    modified_at: datetime

    @property
    def last_change(self) -> datetime:
        """The newest date a reader should see for this article."""
        return self.updated_at or self.published_at


class ScopeKind(StrEnum):
    ALL = "all"
    RUBRIC = "rubric"
    TAG = "tag"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Scope:
    """A set of articles a feed shows: all news, one rubric, one tag or one month ("YYYY-MM")."""

    kind: ScopeKind
    key: str = ""

    @property
    def name(self) -> str:
        return self.kind.value if self.kind is ScopeKind.ALL else f"{self.kind.value}:{self.key}"


ALL_NEWS = Scope(ScopeKind.ALL)


@dataclass(frozen=True, slots=True)
class MonthStat:
    """One month (site zone) of published articles."""

    month: str  # "YYYY-MM"
    count: int
    last_change: datetime
    # The largest escaped sitemap text of one of its rows (see Store.url_row_bound).
    row_bound: int = 0


@dataclass(frozen=True, slots=True)
class TermStat:
    """A rubric or tag with its visible articles: how many, and the newest change among them."""

    slug: str
    title: str
    count: int
    last_change: datetime
    kind: str  # "rubric", or the tag kind


@dataclass(frozen=True, slots=True)
class UrlRow:
    """What a sitemap needs of one article."""

    url: str
    last_change: datetime
    published_at: datetime
    title: str
    image: Image | None
    body_images: tuple[str, ...] = ()  # after `image`, in body order


# Bytes one more `<image:image><image:loc>…</image:loc></image:image>` adds to a sitemap `<url>`
# beyond its escaped URL. The stores add it for each body image to the row's escaped sitemap
# text (`sitemap_bytes`), so a month's split bound covers them; sitemap/urlwriter measures its
# own markup and refuses to load if this is too small.
SITEMAP_IMAGE_BYTES = 50


@dataclass(frozen=True, slots=True)
class Change:
    """One row of the change log: what a write touched, before and after."""

    id: int
    at: datetime
    kind: str  # "article", "article-delete", "rubric"
    key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Retraction:
    """An article that readers saw and that went away (deleted or unpublished): what an Atom
    feed announces as an RFC 6721 deleted entry."""

    article_id: str
    at: datetime  # when it went away
    url: str
    rubrics: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WriteResult:
    created: int
    replaced: int
    change_id: int
