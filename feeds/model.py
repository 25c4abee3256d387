"""What a feed document shows, already resolved: plain data that every renderer reads.

Builders fill these from the store; renderers turn them into bytes and nothing else. Dates stay
aware UTC here and meet the site's zone (`Feed.zone`) only in the renderers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from syndication.content import xml_safe
from syndication.model import Image


@dataclass(frozen=True, slots=True)
class Category:
    """A rubric or tag of an item; `kind` says which ("rubric", or the tag kind).

    Every format shows the name (`label`): it is the Atom term and label, the RSS category text
    and the JSON Feed tag, because readers show the term (rss2email prints it as is) and a slug
    such as "obshchestvo" means nothing to a reader of «Общество». The scheme tells a rubric
    from a tag of the same name.
    """

    slug: str
    label: str  # rubric title or tag name
    scheme: str  # the taxonomy: base URL of its pages, e.g. "https://example.ru/tag/"
    page: str  # the site's page of this rubric or tag
    kind: str


@dataclass(frozen=True, slots=True)
class Item:
    id: str  # stable identity (tag: URI), never the URL
    title: str
    url: str
    summary: str | None
    content_html: str | None  # sanitised and absolutised at ingest
    published: datetime
    updated: datetime | None
    author: str | None
    categories: tuple[Category, ...] = ()
    image: Image | None = None

    @property
    def last_change(self) -> datetime:
        return self.updated or self.published


@dataclass(frozen=True, slots=True)
class Link:
    rel: str  # RFC 5005 / WebSub relation: first, previous, next, last, prev-archive, ...
    href: str


@dataclass(frozen=True, slots=True)
class DeletedEntry:
    """An item readers may still hold that is gone (RFC 6721 at:deleted-entry, Atom only)."""

    ref: str  # the id the entry had
    when: datetime
    url: str  # the page it linked to


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed document in one format: the channel, its links and its items (in order)."""

    id: str  # stable identity of the logical feed (same on every page)
    title: str
    description: str
    home: str  # the site's page this feed mirrors
    self_url: str  # the exact public URL of this document
    language: str
    zone: ZoneInfo
    updated: datetime | None  # newest change in the scope; None when it has no articles
    publisher: str  # feed-level author: Atom requires one when items have none
    publisher_url: str
    generator: str
    generator_version: str
    items: tuple[Item, ...] = ()
    links: tuple[Link, ...] = ()  # paging and archive links, self/alternate excluded
    hub: str | None = None
    archive: bool = False  # RFC 5005 fh:archive: this document will not change any more
    ttl: int = 5  # minutes
    # JSON Feed's next_url where no rel="next" applies: the next page of a month archive.
    next_url: str | None = None
    deleted: tuple[DeletedEntry, ...] = ()  # newest first
    icon: str | None = None  # the site's icon (square, small)
    logo: str | None = None  # the site's logo (square, 180 px or more)
    # The CSS stylesheet the document names for browsers (syndication.stylesheet); JSON: none.
    stylesheet: str | None = None

    def cleaned(self) -> Feed:
        """This feed with every text stripped of characters XML forbids.

        Renderers try the data as it is first (ingest already cleaned it, and lxml checks every
        string anyway) and only pay for this copy when lxml or orjson refused a character.
        """
        return replace(
            self,
            id=xml_safe(self.id),
            title=xml_safe(self.title),
            description=xml_safe(self.description),
            home=xml_safe(self.home),
            self_url=xml_safe(self.self_url),
            language=xml_safe(self.language),
            publisher=xml_safe(self.publisher),
            publisher_url=xml_safe(self.publisher_url),
            items=tuple(_safe_item(i) for i in self.items),
            links=tuple(Link(xml_safe(k.rel), xml_safe(k.href)) for k in self.links),
            hub=_opt(self.hub),
            next_url=_opt(self.next_url),
            icon=_opt(self.icon),
            logo=_opt(self.logo),
            deleted=tuple(
                DeletedEntry(xml_safe(d.ref), d.when, xml_safe(d.url)) for d in self.deleted
            ),
        )


def _opt(text: str | None) -> str | None:
    return None if text is None else xml_safe(text)


def _safe_item(item: Item) -> Item:
    image = item.image
    if image is not None:
        image = Image(
            url=xml_safe(image.url),
            type=_opt(image.type),
            length=image.length,
            caption=_opt(image.caption),
        )
    return replace(
        item,
        id=xml_safe(item.id),
        title=xml_safe(item.title),
        url=xml_safe(item.url),
        summary=_opt(item.summary),
        content_html=_opt(item.content_html),
        author=_opt(item.author),
        categories=tuple(
            Category(
                slug=xml_safe(c.slug),
                label=xml_safe(c.label),
                scheme=xml_safe(c.scheme),
                page=xml_safe(c.page),
                kind=xml_safe(c.kind),
            )
            for c in item.categories
        ),
        image=image,
    )


@dataclass(frozen=True, slots=True)
class FeedRef:
    """One feed in its formats, as OPML and the index page list it."""

    title: str
    home: str  # the site's page the feed mirrors
    urls: tuple[tuple[str, str], ...]  # (format: "rss" | "atom" | "json", public URL)
    count: int | None = None  # visible articles, when known
    page: str | None = None  # the service's HTML page of this feed (feeds.feed_page), if any


@dataclass(frozen=True, slots=True)
class FeedGroup:
    title: str
    feeds: tuple[FeedRef, ...] = ()
    groups: tuple[FeedGroup, ...] = ()
    filterable: bool = False  # the index page offers a filter box over its subgroups (tags)


@dataclass(frozen=True, slots=True)
class Directory:
    """Every feed and sitemap the service publishes: what OPML and the index page render."""

    title: str
    description: str
    site: str
    language: str
    zone: ZoneInfo
    updated: datetime | None  # newest change of any article; None when there is none
    groups: tuple[FeedGroup, ...]
    archives: tuple[FeedRef, ...] = ()  # month archives, newest first
    sitemaps: tuple[tuple[str, str], ...] = ()  # (label, public URL)
    subscriptions: tuple[tuple[str, str], ...] = ()  # OPML of every feed: (format label, URL)
    alternates: tuple[tuple[str, str, str], ...] = ()  # autodiscovery: (media type, title, URL)
    stylesheet: str | None = None  # OPML's CSS for browsers (syndication.stylesheet)
    assets: str = ""  # base URL of the service's static files (the index page's CSS and script)
