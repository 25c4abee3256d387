"""JSON Feed 1.1 with orjson; RFC 5005 links in a `_paging` extension object."""

from __future__ import annotations

from typing import Any

import orjson

from feeds.items import image_type
from feeds.model import Feed, Item

MEDIA_TYPE = "application/feed+json; charset=utf-8"
VERSION = "https://jsonfeed.org/version/1.1"

# orjson writes control characters as escapes (valid JSON) and U+FFFE/FFFF as they are; the other
# formats drop them, so a body holding any of these is rendered again from cleaned text.
_SUSPECT = (b"\\u00", b"\\b", b"\\f", b"\xef\xbf\xbe", b"\xef\xbf\xbf")


def render_json(feed: Feed) -> bytes:
    try:
        body = orjson.dumps(_document(feed))
    except orjson.JSONEncodeError:  # lone surrogates
        body = orjson.dumps(_document(feed.cleaned()))
    else:
        if any(s in body for s in _SUSPECT):
            body = orjson.dumps(_document(feed.cleaned()))
    # "<" only ever occurs inside strings, where \u003c means the same; escaping it keeps markup
    # (a "</script>" in a title, say) inert wherever the JSON ends up, as Go's encoder does.
    return body.replace(b"<", b"\\u003c")


def _document(feed: Feed) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": VERSION,
        "title": feed.title,
        "home_page_url": feed.home,
        "feed_url": feed.self_url,
        "description": feed.description,
        "language": feed.language,
        "authors": [{"name": feed.publisher, "url": feed.publisher_url}],
    }
    if feed.logo:
        doc["icon"] = feed.logo
    if feed.icon:
        doc["favicon"] = feed.icon
    paging = {link.rel: link.href for link in feed.links}
    next_url = feed.next_url or paging.get("next")
    if next_url:
        doc["next_url"] = next_url
    if feed.hub:
        doc["hubs"] = [{"type": "WebSub", "url": feed.hub}]
    if paging or feed.archive:
        doc["_paging"] = {**paging, "archive": feed.archive}
    if feed.updated is not None:
        # JSON Feed has no feed-level date; readers of the extension get the same as Atom's.
        # (Extensions must be objects: the JSON Feed 1.1 schema refuses anything else.)
        doc["_syndication"] = {"updated": feed.updated.astimezone(feed.zone).isoformat()}
    doc["items"] = [_item(item, feed) for item in feed.items]
    return doc


def _item(item: Item, feed: Feed) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item.id, "url": item.url, "title": item.title}
    if item.content_html:
        out["content_html"] = item.content_html
    else:  # JSON Feed requires one of the two
        out["content_text"] = item.summary or item.title
    if item.summary:
        out["summary"] = item.summary
    out["date_published"] = item.published.astimezone(feed.zone).isoformat()
    if item.updated is not None:
        out["date_modified"] = item.updated.astimezone(feed.zone).isoformat()
    if item.author:
        out["authors"] = [{"name": item.author}]
    if item.categories:
        out["tags"] = [c.label for c in item.categories]
        # Tags are bare strings in JSON Feed; this says which are rubrics and which tags, with
        # the term and scheme of the Atom category and the slug of the feed URLs.
        out["_syndication"] = {
            "categories": [
                {
                    "term": c.label,
                    "label": c.label,
                    "slug": c.slug,
                    "kind": c.kind,
                    "scheme": c.scheme,
                    "url": c.page,
                }
                for c in item.categories
            ]
        }
    if item.image is not None:
        out["image"] = item.image.url
        attachment: dict[str, Any] = {"url": item.image.url, "mime_type": image_type(item.image)}
        if item.image.length:
            attachment["size_in_bytes"] = item.image.length
        if item.image.caption:
            attachment["title"] = item.image.caption
        out["attachments"] = [attachment]
    return out
