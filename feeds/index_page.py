"""The "/" page: every feed (with its count and its own page) and sitemap, grouped, styled,
with a filter box over the tags and feed autodiscovery links."""

from __future__ import annotations

from feeds.html import MEDIA_TYPE, e, head
from feeds.labels import FORMATS
from feeds.model import Directory, FeedGroup, FeedRef

__all__ = ["MEDIA_TYPE", "fold", "render_index"]


def fold(name: str) -> str:
    """What the filter box compares (page.js folds the query alike): small letters, ё as е."""
    return name.lower().replace("ё", "е")


def render_index(directory: Directory) -> bytes:
    title = f"{directory.title}: ленты и карты сайта"
    out = head(
        language=directory.language,
        title=title,
        assets=directory.assets,
        alternates=directory.alternates,
    )
    out += [
        "<header>",
        f"<h1>{e(title)}</h1>",
        f'<p class="lead">{e(directory.description)}. Сайт: <a href="{e(directory.site)}">'
        f"{e(directory.site)}</a></p>",
        '<p class="lead">Каждая лента есть в форматах RSS, Atom и JSON Feed; на странице ленты — '
        "адреса для подписки и последние материалы.</p>",
        "</header>",
        "<main>",
    ]
    for group in directory.groups:
        _group(out, group)
    if directory.archives:
        out += [
            '<section id="archives">',
            f'<h2>Архив по месяцам <span class="count">{len(directory.archives)}</span></h2>',
            "<details>",
            "<summary>Показать все месяцы</summary>",
        ]
        _list(out, directory.archives, filterable=False)
        out += ["</details>", "</section>"]
    if directory.subscriptions:
        # One list per format: importing one subscribes a reader to every feed once.
        out += ['<section id="opml">', "<h2>Все ленты одним списком (OPML)</h2>",
                '<ul class="plain">']  # fmt: skip
        out += [
            f'<li><a href="{e(url)}" type="text/x-opml">{e(label)}</a></li>'
            for label, url in directory.subscriptions
        ]
        out += ["</ul>", "</section>"]
    if directory.sitemaps:
        out += [
            '<section id="sitemaps">',
            f'<h2>Карты сайта <span class="count">{len(directory.sitemaps)}</span></h2>',
            "<details>",
            "<summary>Показать все карты сайта</summary>",
            '<ul class="plain">',
        ]
        out += [f'<li><a href="{e(url)}">{e(label)}</a></li>' for label, url in directory.sitemaps]
        out += ["</ul>", "</details>", "</section>"]
    out += ["</main>", "</body>", "</html>", ""]
    return "\n".join(out).encode("utf-8")


def _size(group: FeedGroup) -> int:
    return len(group.feeds) + sum(_size(g) for g in group.groups)


def _group(out: list[str], group: FeedGroup) -> None:
    out += [
        "<section>",
        f'<h2>{e(group.title)} <span class="count">{_size(group)}</span></h2>',
    ]
    if group.filterable:
        # Shown by page.js, which does the filtering; without it the lists are all there is.
        out += [
            '<div class="filter" data-filter-box hidden>',
            '<label for="tag-filter">Найти:</label>',
            '<input id="tag-filter" type="search" autocomplete="off" '
            'placeholder="начните вводить название">',
            '<output id="filter-status" for="tag-filter" aria-live="polite"></output>',
            "</div>",
        ]
    if group.feeds:
        _list(out, group.feeds, filterable=False)
    for sub in group.groups:
        marker = " data-filter-group" if group.filterable else ""
        out += [
            f'<section class="kind"{marker}>',
            f'<h3>{e(sub.title)} <span class="count" data-filter-count>{_size(sub)}</span></h3>',
        ]
        _list(out, sub.feeds, filterable=group.filterable)
        out.append("</section>")
    out.append("</section>")


def _list(out: list[str], feeds: tuple[FeedRef, ...], *, filterable: bool) -> None:
    out.append('<ul class="feeds">')
    for feed in feeds:
        name = f' data-name="{e(fold(feed.title))}"' if filterable else ""
        count = f' <span class="count">{feed.count}</span>' if feed.count is not None else ""
        links = " ".join(
            f'<a href="{e(url)}">{e(FORMATS.get(fmt, fmt))}</a>' for fmt, url in feed.urls
        )
        out.append(
            f'<li{name}><a class="name" href="{e(feed.page or feed.home)}">{e(feed.title)}</a>'
            f'{count}<span class="formats">{links}</span></li>'
        )
    out.append("</ul>")
