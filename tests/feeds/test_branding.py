"""The site's icon and logo in every format, served by the service itself unless configured, and
the lead image on top of the full text for readers that show no enclosure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import feedparser
import orjson
import pytest
from lxml import etree
from starlette.testclient import TestClient

import feeds
from app import create_app
from feeds.items import with_lead_image
from syndication.config import ConfigError, Settings
from syndication.model import ALL_NEWS, Image
from syndication.store import SQLiteStore
from tests.conftest import TOKEN
from tests.feeds.helpers import context, load, payload

pytestmark = pytest.mark.anyio

YANDEX = "{http://news.yandex.ru}"


async def _bodies(store: SQLiteStore, settings: Settings) -> dict[str, bytes]:
    await load(store, settings, [payload(1), payload(2, content_html=None)])
    ctx = context(store, settings)
    out = {
        fmt: (await feeds.build_feed(ctx, ALL_NEWS, fmt)).body for fmt in ("rss", "atom", "json")
    }
    out["yandex"] = (await feeds.build_yandex(ctx)).body
    return out


async def test_every_format_names_the_icon_and_logo(store: SQLiteStore, settings: Settings) -> None:
    bodies = await _bodies(store, settings)
    logo, icon = f"{settings.public_url}/logo.png", f"{settings.public_url}/favicon.ico"
    rss = etree.fromstring(bodies["rss"]).find("channel")
    assert rss is not None
    image = rss.find("image")
    assert image is not None
    # RSS 2.0: the image's title and link are the channel's.
    assert image.findtext("url") == logo
    assert image.findtext("title") == rss.findtext("title")
    assert image.findtext("link") == rss.findtext("link")
    atom = feedparser.parse(bodies["atom"]).feed
    assert atom.icon == icon
    assert atom.logo == logo
    doc = orjson.loads(bodies["json"])
    assert (doc["icon"], doc["favicon"]) == (logo, icon)
    channel = etree.fromstring(bodies["yandex"]).find("channel")
    assert channel is not None
    logos = channel.findall(f"{YANDEX}logo")
    assert [(e.text, e.get("type")) for e in logos] == [(logo, None), (logo, "square")]


async def test_configured_icon_and_logo_replace_the_bundled_ones(
    store: SQLiteStore, settings: Settings
) -> None:
    settings = replace(
        settings, site_icon="https://example.ru/i.ico", site_logo="https://example.ru/l.png"
    )
    bodies = await _bodies(store, settings)
    doc = orjson.loads(bodies["json"])
    assert (doc["icon"], doc["favicon"]) == ("https://example.ru/l.png", "https://example.ru/i.ico")
    assert b"https://example.ru/l.png" in bodies["rss"]
    with pytest.raises(ConfigError, match="SITE_LOGO"):
        Settings.load({}, site_logo="javascript:alert(1)")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.load({}, db=str(tmp_path / "b.db"), api_token=TOKEN)
    with TestClient(create_app(settings)) as c:
        yield c


def test_the_bundled_icon_and_logo_are_served(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert (
        client.get("/favicon.ico", headers={"If-None-Match": icon.headers["etag"]}).status_code
        == 304
    )
    logo = client.get("/logo.png")
    assert logo.headers["content-type"] == "image/png"
    assert logo.content.startswith(b"\x89PNG")
    width, height = int.from_bytes(logo.content[16:20]), int.from_bytes(logo.content[20:24])
    assert width == height >= 180  # Yandex's square logo minimum


def test_the_lead_image_tops_the_full_text_once() -> None:
    image = Image(url="https://example.ru/upload/1.jpg?a=1&b=2", caption='Фото "пресс-службы"')
    shown = with_lead_image("<p>Текст</p>", image)
    assert shown == (
        '<p><img src="https://example.ru/upload/1.jpg?a=1&amp;b=2"'
        ' alt="Фото &quot;пресс-службы&quot;"></p><p>Текст</p>'
    )
    # Already in the text (as the sanitiser writes it, & escaped): not again.
    assert with_lead_image(shown, image) == shown
    raw = '<img src="https://example.ru/upload/1.jpg?a=1&b=2">'
    assert with_lead_image(raw, image) == raw
    assert with_lead_image(None, image) is None
    assert with_lead_image("<p>Текст</p>", None) == "<p>Текст</p>"


async def test_readers_get_the_lead_image_in_the_content(
    store: SQLiteStore, settings: Settings
) -> None:
    bodies = await _bodies(store, settings)
    entries = feedparser.parse(bodies["rss"]).entries
    first = next(e for e in entries if e.id.endswith("a-0001"))
    lead, _, text = first.content[0].value.partition("<p>Текст")
    assert lead.startswith("<p><img")
    assert 'src="https://example.ru/upload/1.jpg"' in lead
    assert text
    # Without full text the summary stands for it, without an image inside.
    second = next(e for e in entries if e.id.endswith("a-0002"))
    # (feedparser reads the image's media:description as content, as plain text)
    assert all("<img" not in c.value for c in second.get("content", []))
    # Yandex's full text is plain text: the image adds nothing to it.
    assert b"upload/1.jpg&quot;" not in bodies["yandex"]
