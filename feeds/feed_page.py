"""A feed's HTML page (`/feeds/all`, `/feeds/rubric/{slug}`, `/feeds/tag/{slug}`,
`/feeds/archive/YYYY-MM`): what the feed is, its addresses in each format to give a reader,
its latest items, and autodiscovery links for that scope. Data in, bytes out."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from feeds.html import e, head, iso, plural, russian_date
from feeds.model import Item


@dataclass(frozen=True, slots=True)
class Subscription:
    label: str  # "RSS"
    media_type: str  # the format's registered type, for autodiscovery and the link
    url: str


@dataclass(frozen=True, slots=True)
class FeedPage:
    kind: str  # what the feed follows: "Рубрика", "Тег", "Архив", "Все новости"
    title: str
    description: str
    home: str  # the site's page of the scope
    site_title: str
    language: str
    zone: ZoneInfo
    index: str  # the service's "/" page
    assets: str  # base URL of the static files
    count: int  # visible articles in the scope
    subscriptions: tuple[Subscription, ...]
    items: tuple[Item, ...]  # the latest, newest first


def render_feed_page(page: FeedPage) -> bytes:
    out = head(
        language=page.language,
        title=page.title,
        assets=page.assets,
        alternates=tuple((s.media_type, f"{page.title} ({s.label})", s.url)
                         for s in page.subscriptions),
    )  # fmt: skip
    out += [
        "<header>",
        f'<p class="crumbs"><a href="{e(page.index)}">Все ленты {e(page.site_title)}</a></p>',
        f"<h1>{e(page.title)}</h1>",
        f'<p class="lead">{e(page.kind)}. {e(page.description)}. '
        f"{plural(page.count, 'материал', 'материала', 'материалов')}. "
        f'Страница на сайте: <a href="{e(page.home)}">{e(page.home)}</a></p>',
        "</header>",
        "<main>",
        '<section id="subscribe">',
        "<h2>Подписаться</h2>",
        "<p>Скопируйте адрес ленты в программу для чтения лент (Feedly, Inoreader, NetNewsWire, "
        "Thunderbird…): она будет показывать новые материалы сама. Формат выбирайте любой — "
        "содержание одно.</p>",
        '<ul class="subscribe">',
    ]
    for n, sub in enumerate(page.subscriptions, 1):
        field = f"feed-url-{n}"
        out.append(
            f'<li><span class="fmt">{e(sub.label)}</span>'
            f'<input id="{field}" type="url" readonly value="{e(sub.url)}" '
            f'aria-label="Адрес ленты в формате {e(sub.label)}">'
            f'<button type="button" data-copy="{e(sub.url)}" data-field="{field}" hidden>'
            "Копировать</button>"
            f'<a href="{e(sub.url)}" type="{e(sub.media_type)}">Открыть</a></li>'
        )
    out += ["</ul>", "</section>", '<section id="items">', "<h2>Последние материалы</h2>"]
    if not page.items:
        out.append('<p class="muted">Пока ни одного материала.</p>')
    for item in page.items:
        out += _item(item, page.zone)
    out += ["</section>", "</main>", "</body>", "</html>", ""]
    return "\n".join(out).encode("utf-8")


def _item(item: Item, zone: ZoneInfo) -> list[str]:
    out = ['<article class="item">']
    if item.image is not None:
        alt = item.image.caption or ""
        out.append(f'<img src="{e(item.image.url)}" alt="{e(alt)}" loading="lazy">')
    out.append(f'<h3><a href="{e(item.url)}">{e(item.title or item.url)}</a></h3>')
    meta = [f'<time datetime="{iso(item.published, zone)}">'
            f"{e(russian_date(item.published, zone))}</time>"]  # fmt: skip
    if item.author:
        meta.append(e(item.author))
    out.append(f'<p class="meta">{" · ".join(meta)}</p>')
    if item.summary:
        out.append(f"<p>{e(item.summary)}</p>")
    out.append("</article>")
    return out
