"""The "/" page: an HTML5 list of every feed and sitemap, with feed autodiscovery links."""

from __future__ import annotations

from html import escape

from feeds.labels import FORMATS
from feeds.model import Directory, FeedGroup, FeedRef
from syndication.content import xml_safe

MEDIA_TYPE = "text/html; charset=utf-8"


def _e(text: str) -> str:
    """Escaped for text and quoted attributes alike, minus characters HTML cannot carry."""
    return escape(xml_safe(text), quote=True)


def render_index(directory: Directory) -> bytes:
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{_e(directory.language)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(directory.title)}: ленты и карты сайта</title>",
    ]
    for media_type, title, url in directory.alternates:
        out.append(
            f'<link rel="alternate" type="{_e(media_type)}" title="{_e(title)}" href="{_e(url)}">'
        )
    out += [
        "</head>",
        "<body>",
        f"<h1>{_e(directory.title)}: ленты и карты сайта</h1>",
        f'<p>{_e(directory.description)}. Сайт: <a href="{_e(directory.site)}">'
        f"{_e(directory.site)}</a></p>",
    ]
    for group in directory.groups:
        _group(out, group, 2)
    if directory.archives:
        out.append("<h2>Архив по месяцам</h2>")
        _list(out, directory.archives)
    if directory.subscriptions:
        # One list per format: importing one subscribes a reader to every feed once.
        out.append("<h2>Все ленты одним списком (OPML)</h2>")
        out.append("<ul>")
        out += [
            f'<li><a href="{_e(url)}" type="text/x-opml">{_e(label)}</a></li>'
            for label, url in directory.subscriptions
        ]
        out.append("</ul>")
    if directory.sitemaps:
        out.append("<h2>Карты сайта</h2>")
        out.append("<ul>")
        out += [
            f'<li><a href="{_e(url)}">{_e(label)}</a></li>' for label, url in directory.sitemaps
        ]
        out.append("</ul>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out).encode("utf-8")


def _group(out: list[str], group: FeedGroup, level: int) -> None:
    out.append(f"<h{level}>{_e(group.title)}</h{level}>")
    if group.feeds:
        _list(out, group.feeds)
    for sub in group.groups:
        _group(out, sub, min(level + 1, 6))


def _list(out: list[str], feeds: tuple[FeedRef, ...]) -> None:
    out.append("<ul>")
    for feed in feeds:
        count = f" ({feed.count})" if feed.count is not None else ""
        links = ", ".join(
            f'<a href="{_e(url)}">{_e(FORMATS.get(fmt, fmt))}</a>' for fmt, url in feed.urls
        )
        out.append(f'<li><a href="{_e(feed.home)}">{_e(feed.title)}</a>{count}: {links}</li>')
    out.append("</ul>")
