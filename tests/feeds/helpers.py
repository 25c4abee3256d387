"""Shared test data for the feed renderers: payloads through the real ingest, feed models."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from feeds.model import Category, Feed, Item, Link
from syndication.config import Settings
from syndication.ingest import validate_article
from syndication.model import Image, Rubric
from syndication.rendering import RenderContext
from syndication.store import SQLiteStore
from tests.conftest import SHARED

NOW = datetime(2025, 12, 20, 12, 0, tzinfo=UTC)
RUBRICS = (
    Rubric("glavnoe", "Главное", "Самые важные новости", position=0),
    Rubric("novosti_organov_vlasti", "Новости органов власти", position=1),
    Rubric("obshchestvo", "Общество & люди", position=2, url="https://example.ru/society/"),
)


def payload(n: int, **fields: Any) -> dict[str, Any]:
    """An article payload, numbered, published `n` hours before NOW unless told otherwise."""
    published = (NOW - timedelta(hours=n)).astimezone(ZoneInfo("Europe/Moscow"))
    data: dict[str, Any] = {
        "id": f"a-{n:04d}",
        "title": f"Новость № {n}: «Вологда» & <b>область</b>",
        "url": f"https://example.ru/novosti/{n}/",
        "summary": f"Краткое содержание новости {n}.",
        "content_html": f'<p>Текст новости {n}. <a href="/docs/{n}">Документ</a></p>',
        "published_at": published.isoformat(),
        "author": "Пресс-служба",
        "rubrics": ["novosti_organov_vlasti", "glavnoe"],
        "tags": ["Общество", {"name": "Александр Михайлович Мордвинов", "kind": "person"}],
        "image": {
            "url": f"https://example.ru/upload/{n}.jpg",
            "type": "image/jpeg",
            "length": 12345,
            "caption": "Фото пресс-службы",
        },
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


async def load(store: SQLiteStore, settings: Settings, payloads: Iterable[dict[str, Any]]) -> None:
    for rubric in RUBRICS:
        await store.put_rubric(rubric)
    await store.put_articles([validate_article(p, settings) for p in payloads])


def context(store: SQLiteStore, settings: Settings, now: datetime = NOW) -> RenderContext:
    return RenderContext(store, settings, now)


@cache
def atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SHARED / "schemas" / "atom.rng")))


def assert_valid_atom(body: bytes) -> None:
    schema = atom_schema()
    assert schema.validate(etree.fromstring(body)), schema.error_log


ZONE = ZoneInfo("Europe/Moscow")


def make_item(n: int = 1, **fields: Any) -> Item:
    data: dict[str, Any] = {
        "id": f"tag:example.ru,2025:article:a-{n}",
        "title": f"Заголовок {n}",
        "url": f"https://example.ru/novosti/{n}/",
        "summary": "Кратко.",
        "content_html": "<p>Текст.</p>",
        "published": NOW - timedelta(hours=n),
        "updated": None,
        "author": "Автор",
        "categories": (
            Category(
                "glavnoe",
                "Главное",
                "https://example.ru/rubric/",
                "https://example.ru/rubric/glavnoe/",
                "rubric",
            ),
            Category(
                "obshchestvo",
                "Общество",
                "https://example.ru/tag/",
                "https://example.ru/tag/obshchestvo/",
                "topic",
            ),
        ),
        "image": Image("https://example.ru/1.jpg", "image/jpeg", 100, "Подпись"),
    }
    data.update(fields)
    return Item(**data)


def make_feed(items: Iterable[Item] = (), **fields: Any) -> Feed:
    data: dict[str, Any] = {
        "id": "tag:example.ru,2025:feed:all",
        "title": "Новости региона",
        "description": "Описание",
        "home": "https://example.ru",
        "self_url": "https://feeds.example.ru/feeds/all.atom",
        "language": "ru",
        "zone": ZONE,
        "updated": NOW,
        "publisher": "Новости региона",
        "publisher_url": "https://example.ru",
        "generator": "syndication",
        "generator_version": "test",
        "items": tuple(items),
        "links": (Link("next", "https://feeds.example.ru/feeds/all.atom?page=2"),),
        "hub": "https://hub.example.ru/",
    }
    data.update(fields)
    return Feed(**data)
