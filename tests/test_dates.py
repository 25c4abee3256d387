"""No date in any header or document is later than the moment it is served, whatever
`updated_at` the CMS sends; and the sitemap index dates each month by its last change."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from starlette.testclient import TestClient

from app import create_app
from syndication.config import Settings
from syndication.ingest import validate_article
from syndication.store import SQLiteStore
from tests.conftest import TOKEN

pytestmark = pytest.mark.backends

NOW = datetime.now(UTC).replace(microsecond=0)
ISO = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
RFC822 = re.compile(rb"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d (?:[+-]\d{4}|GMT)")
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _payload(**fields: Any) -> dict[str, Any]:
    return {
        "title": "Новость",
        "published_at": (NOW - timedelta(hours=1)).isoformat(),
        "rubrics": ["glavnoe"],
        "tags": ["Общество"],
        **fields,
    }


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.load(environ={}, db=str(tmp_path / "s.db"), api_token=TOKEN)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def _next_second() -> None:
    """Wait for the next whole second: dates here have no finer precision."""
    end = int(time.time()) + 1
    while time.time() < end:
        time.sleep(0.02)


def _dates(body: bytes) -> list[datetime]:
    found = [datetime.fromisoformat(m.decode().replace("Z", "+00:00")) for m in ISO.findall(body)]
    return found + [parsedate_to_datetime(m.decode()) for m in RFC822.findall(body)]


def test_a_future_updated_at_never_yields_a_future_date(client: TestClient) -> None:
    ahead = NOW + timedelta(days=3)
    r = client.put("/api/articles/a", json=_payload(updated_at=ahead.isoformat()))
    assert r.status_code == 201
    written = datetime.now(UTC)
    stored = datetime.fromisoformat(client.get("/api/articles/a").json()["updated_at"])
    assert NOW - timedelta(hours=1) <= stored <= written
    month = NOW.astimezone(Settings().zone).strftime("%Y-%m")
    paths = [
        "/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json", "/feeds/yandex.rss",
        "/feeds/rubric/glavnoe.atom", "/feeds/tag/obshchestvo.rss", f"/feeds/archive/{month}.atom",
        "/sitemap.xml", f"/sitemaps/articles-{month}.xml", "/sitemaps/news.xml",
        "/sitemaps/rubrics.xml", "/sitemaps/tags.xml", "/opml.xml", "/",
    ]  # fmt: skip
    for path in paths:
        response = client.get(path)
        served = datetime.now(UTC)
        assert response.status_code == 200, path
        dates = _dates(response.content)
        assert dates or path in ("/opml.xml", "/"), path
        assert all(d <= served for d in dates), (path, max(dates))
        assert parsedate_to_datetime(response.headers["last-modified"]) <= served, path


@pytest.mark.anyio
async def test_updated_at_is_clamped_to_the_write_or_the_publication(
    store: SQLiteStore, settings: Settings
) -> None:
    """Later than the write means "now"; for a scheduled article, "when it goes live"."""
    live = validate_article(_payload(id="live", updated_at=(NOW + timedelta(days=3)).isoformat()),
                            settings)  # fmt: skip
    due = NOW + timedelta(days=1)
    scheduled = validate_article(
        _payload(id="later", published_at=due.isoformat(),
                 updated_at=(NOW + timedelta(days=2)).isoformat()), settings,
    )  # fmt: skip
    honest = validate_article(
        _payload(id="past", updated_at=(NOW - timedelta(minutes=5)).isoformat()), settings
    )
    await store.put_articles([live, scheduled, honest])
    after = datetime.now(UTC)
    updated = {}
    for article_id in ("live", "later", "past"):
        stored = await store.get_article(article_id)
        assert stored is not None
        updated[article_id] = stored.updated_at
    assert updated["live"] is not None
    assert NOW <= updated["live"] <= after
    assert updated["later"] == due
    assert updated["past"] == NOW - timedelta(minutes=5)


def test_the_index_dates_a_month_by_its_last_change(client: TestClient) -> None:
    """An old article edited with no new date, or a new one dated in an old month, changes that
    month's sitemap: its lastmod in the index moves to the write; other months' stay."""
    old = NOW - timedelta(days=120)
    older = NOW - timedelta(days=200)
    for article_id, when in (("old", old), ("older", older), ("new", NOW - timedelta(hours=2))):
        payload = _payload(published_at=when.isoformat())
        assert client.put(f"/api/articles/{article_id}", json=payload).status_code == 201

    def lastmods() -> dict[str, datetime]:
        tree = etree.fromstring(client.get("/sitemap.xml").content)
        return {
            s.findtext(f"{SM}loc").rsplit("/", 1)[1]: datetime.fromisoformat(  # type: ignore[union-attr]
                s.findtext(f"{SM}lastmod")  # type: ignore[arg-type]
            )
            for s in tree.iter(f"{SM}sitemap")
        }

    zone = Settings().zone
    month = f"articles-{old.astimezone(zone):%Y-%m}.xml"
    other = f"articles-{older.astimezone(zone):%Y-%m}.xml"
    before = lastmods()
    # Writing the old article changed that month's file then (not at its old date).
    assert before[month] > old
    assert before[other] > older
    body = client.get(f"/sitemaps/{month}").content
    _next_second()
    start = datetime.now(UTC).replace(microsecond=0)  # a second later than every write so far
    # An edit with no updated_at: the month's file changes (its image), the dates don't.
    edit = _payload(published_at=old.isoformat(), image={"url": "https://example.ru/i.jpg"})
    assert client.put("/api/articles/old", json=edit).status_code == 200
    assert client.get(f"/sitemaps/{month}").content != body
    after = lastmods()
    assert before[month] < start <= after[month] <= datetime.now(UTC)
    assert after[other] == before[other]
    # And one more, dated in that old month: it moves again, never back.
    extra = _payload(published_at=(old + timedelta(hours=1)).isoformat())
    assert client.put("/api/articles/extra", json=extra).status_code == 201
    assert lastmods()[month] >= after[month]
