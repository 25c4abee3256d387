"""A demo-like data set with hostile content, and a crawl of every feed document it is served as.

Markup and `& < >` in titles, names, leads and rubric titles; Cyrillic and emoji; articles with
no summary, content, image, author, rubric or tag; an image with neither type nor length; two
months, so that month archives exist; a small feed limit, so that every feed has a page 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree, html
from starlette.testclient import TestClient

from app import create_app
from syndication.config import Settings
from tests.conftest import TOKEN

PUBLIC = "https://feeds.example.ru"
SITE = "https://example.ru"
FEED_LIMIT = 3
RUBRICS: dict[str, dict[str, Any]] = {
    "glavnoe": {"title": "Главное <b>!</b>", "description": "Самое & важное <i>сегодня</i>"},
    "obshchestvo": {"title": "Общество & «люди» 👥", "url": f"{SITE}/общество/?a=1&b=2"},
    "sport": {"title": "Спорт"},
}
_HOSTILE_TITLE = '<script>alert("x")</script> Вологда & <b>область</b> 🎉 "кавычки" \'апостроф\''
_TAGS: list[Any] = [
    "Общество",
    "R&D <лаборатория>",
    {"name": "Иван «Грозный» & Ко <CEO>", "kind": "person"},
    {"name": 'ООО "Ромашка" > всех 🌼', "kind": "org"},
]


def _articles() -> list[dict[str, Any]]:
    articles: list[dict[str, Any]] = []
    for n in range(1, 8):  # December: more than two pages at FEED_LIMIT
        articles.append(
            {
                "id": f"dec-{n}",
                "title": f"{_HOSTILE_TITLE} № {n}",
                "url": f"{SITE}/news/dec-{n}/?utm=a&x=<y>",
                "summary": f"Лид {n}: <script>alert(1)</script> & <b>жирный</b> ]]> 😀",
                "content_html": (
                    f'<p>Текст {n} &amp; <a href="/docs/{n}?a=1&amp;b=2">документ</a> ]]&gt;</p>'
                    '<img src="/img/x.png" alt="&lt;картинка&gt;"><p>Эмодзи 🚀 и 𝔘𝔫𝔦𝔠𝔬𝔡𝔢</p>'
                ),
                "published_at": f"2025-12-{n + 1:02d}T1{n}:05:00+03:00",
                "updated_at": f"2025-12-{n + 2:02d}T09:00:00+03:00",
                "author": "Иван <Петров> & «Сидоров»",
                "rubrics": ["glavnoe", "obshchestvo"],
                "tags": _TAGS,
                "image": {
                    "url": f"{SITE}/upload/{n}.jpg?w=1&h=2",
                    "type": "image/jpeg",
                    "length": 1000 + n,
                    "caption": "Фото <пресс-службы> & 📷",
                },
            }
        )
    articles += [
        {  # nothing but what the contract requires
            "id": "bare",
            "title": "Только заголовок",
            "published_at": "2025-11-20T10:00:00+03:00",
        },
        {  # content without a summary (derived), image with no type or length
            "id": "content-only",
            "title": "Только текст & <i>курсив</i>",
            "content_html": "<p>Длинный текст. " + "Слово & ещё слово. " * 40 + "</p>",
            "published_at": "2025-11-21T10:00:00+03:00",
            "rubrics": ["sport"],
            "tags": ["Спорт & <отдых>"],
            "image": {"url": f"{SITE}/upload/no-type-no-length"},
        },
        {  # Cyrillic in the URLs of the page and the image
            "id": "cyrillic-url",
            "title": "Адрес по-русски",
            "url": f"{SITE}/новости/ёлка 1/?тег=а&b=<c>",
            "published_at": "2025-11-21T12:00:00+03:00",
            "rubrics": ["sport"],
            "image": {"url": f"{SITE}/фото/снимок 1.jpg", "length": 5},
        },
        {  # summary only, no rubrics, a tag of its own
            "id": "summary-only",
            "title": "Ёлки-палки",
            "summary": "Только лид & <ничего> больше",
            "published_at": "2025-11-22T10:00:00+03:00",
            "author": "Пресс-служба",
            "tags": ["Ёлки"],
        },
        {
            "id": "draft",
            "title": "Черновик",
            "published_at": "2025-11-23T10:00:00+03:00",
            "status": "draft",
        },
    ]
    return articles


def settings(folder: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "db": str(folder / "hostile.db"),
        "public_url": PUBLIC,
        "site_url": SITE,
        "api_token": TOKEN,
        "feed_limit": FEED_LIMIT,
        "site_title": "Новости <региона> & 🌍",
        **overrides,
    }
    return Settings.load(environ={}, **values)


def load(client: TestClient) -> None:
    for slug, rubric in RUBRICS.items():
        assert client.put(f"/api/rubrics/{slug}", json=rubric).status_code in (200, 201)
    for article in _articles():
        article_id = article.pop("id")
        response = client.put(f"/api/articles/{article_id}", json=article)
        assert response.status_code in (200, 201), response.text


def _local(url: str) -> str | None:
    """The path and query of one of the service's own URLs; None for any other URL."""
    if not url.startswith(PUBLIC + "/"):
        return None
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


_FOLLOW = {"next", "previous", "first", "last", "prev-archive", "next-archive", "current"}


def _feed_links(body: bytes) -> list[str]:
    """The paging and archive links of an RSS or Atom document (any atom:link)."""
    root = etree.fromstring(body)
    links = root.iter("{http://www.w3.org/2005/Atom}link")
    return [link.get("href", "") for link in links if link.get("rel") in _FOLLOW]


def crawl(client: TestClient) -> Iterator[tuple[str, bytes, str]]:
    """(public URL, body, media type) of every feed document reachable from "/" and /opml.xml,
    following every paging and archive link: the all-news, rubric, tag, month and Yandex feeds
    in each format, and each of their further pages."""
    page = html.fromstring(client.get("/").content)
    start = [str(a.get("href", "")) for a in page.iter("a")]
    start += [str(link.get("href", "")) for link in page.iter("link")]
    for fmt in ("rss", "atom", "json"):
        opml = etree.fromstring(client.get(f"/opml.xml?format={fmt}").content)
        start += [str(o.get("xmlUrl")) for o in opml.iter("outline") if o.get("xmlUrl")]
    # Feed documents only: each feed's HTML page (/feeds/rubric/x) is no feed.
    queue = [
        u
        for u in start
        if (_local(u) or "").startswith("/feeds/")
        and (_local(u) or "").split("?")[0].endswith((".rss", ".atom", ".json"))
    ]
    seen: set[str] = set()
    while queue:
        url = queue.pop(0)
        path = _local(url)
        if path is None or url in seen:
            continue
        seen.add(url)
        response = client.get(path)
        assert response.status_code == 200, (url, response.status_code)
        media_type = response.headers["content-type"]
        yield url, response.content, media_type
        if not path.split("?")[0].endswith(".json"):
            queue += _feed_links(response.content)


def served_documents(folder: Path) -> list[tuple[str, bytes, str]]:
    """Every feed document of the hostile data set, as the service serves it."""
    folder.mkdir(parents=True, exist_ok=True)
    app = create_app(settings(folder))
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        load(client)
        return list(crawl(client))
