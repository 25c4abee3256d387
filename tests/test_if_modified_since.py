"""Issue 10, "If-Modified-Since with the old date after any visible change gets 200": for each kind
of write a reader can see, every feed it changes answers a date-only revalidation in full.

Real time, as crawlers see it: a change's documents carry a Last-Modified capped at now (which
validates nothing) until the change's second plus STAMP_MARGIN is over, so each step waits for
that before it revalidates. The test asserts what is answered, never how fast.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from app import create_app
from syndication.cache import STAMP_MARGIN
from syndication.config import Settings
from tests.conftest import TOKEN

# Each backend stamps changes and dependencies its own way.
pytestmark = [pytest.mark.backends, pytest.mark.slow]

ALL = "/feeds/all.rss"
MONTH = "/sitemaps/articles-2025-11.xml"


def _rubric(slug: str) -> str:
    return f"/feeds/rubric/{slug}.atom"


def _article(title: str, rubric: str, **fields: Any) -> dict[str, Any]:
    return {
        "title": title,
        "published_at": "2025-11-10T12:00:00+03:00",
        "rubrics": [rubric],
        **fields,
    }


NEW = _article("Новая статья", "pervaya")


@dataclass(frozen=True)
class Write:
    name: str
    method: str
    path: str
    body: dict[str, Any] | None
    # The documents whose bytes this write changes, as a reader fetches them.
    documents: tuple[str, ...]


# One article's life (created, edited, moved, its rubric renamed, unpublished) and the deletion
# of another: each step is checked against what the one before it served.
WRITES = (
    Write("article created", "PUT", "/api/articles/new", NEW,
          (ALL, _rubric("pervaya"), MONTH)),
    Write("title edited", "PUT", "/api/articles/new", dict(NEW, title="Новый заголовок"),
          (ALL, _rubric("pervaya"))),
    Write("moved to another rubric", "PUT", "/api/articles/new",
          dict(NEW, title="Новый заголовок", rubrics=["vtoraya"]),
          (ALL, _rubric("pervaya"), _rubric("vtoraya"))),
    Write("rubric renamed", "PUT", "/api/rubrics/vtoraya", {"title": "Вторая, новое имя"},
          (ALL, _rubric("vtoraya"))),
    Write("unpublished", "PUT", "/api/articles/new",
          dict(NEW, title="Новый заголовок", rubrics=["vtoraya"], status="draft"),
          (ALL, _rubric("vtoraya"), MONTH)),
    Write("deleted", "DELETE", "/api/articles/old", None,
          (ALL, _rubric("pervaya"), MONTH)),
)  # fmt: skip


def _settle() -> None:
    """Wait until a write just acknowledged is more than STAMP_MARGIN old. Its stamp is no later
    than this second; from the second STAMP_MARGIN after it, its documents carry the date every
    worker derives from the store (no longer capped at now), and once that second is over too,
    an If-Modified-Since naming it is no longer "the current second", which is answered in full."""
    end = math.floor(time.time()) + STAMP_MARGIN.total_seconds() + 1
    while time.time() < end:
        time.sleep(0.02)


def _send(client: TestClient, write: Write) -> None:
    response = client.request(write.method, write.path, json=write.body)
    assert response.status_code in (200, 201, 204), (write.name, response.text)


def _fetch(client: TestClient, path: str, **headers: str) -> httpx.Response:
    response: httpx.Response = client.get(path, headers=headers)
    assert response.status_code in (200, 304), (path, response.status_code, response.text)
    return response


def test_a_date_only_client_sees_every_visible_change(settings: Settings) -> None:
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        # The first render records when the settings took effect, a date every document
        # carries: have it before the writes, so that the settle below covers it too.
        assert c.get(ALL).status_code == 200
        for slug, title in (("pervaya", "Первая"), ("vtoraya", "Вторая")):
            assert c.put(f"/api/rubrics/{slug}", json={"title": title}).status_code == 201
        for n, rubric in enumerate(("pervaya", "vtoraya")):
            filler = _article(f"Старая {n}", rubric, published_at="2025-11-05T12:00:00+03:00")
            assert c.put(f"/api/articles/filler-{n}", json=filler).status_code == 201
        old = _article("Удаляемая", "pervaya", published_at="2025-11-07T12:00:00+03:00")
        assert c.put("/api/articles/old", json=old).status_code == 201
        _settle()

        missed: list[str] = []
        for write in WRITES:
            before = {path: _fetch(c, path) for path in write.documents}
            for path, response in before.items():
                # The date validates these bytes: a server ignoring If-Modified-Since (or
                # answering it in full for a capped date) would prove nothing below.
                since = response.headers["last-modified"]
                assert _fetch(c, path, **{"If-Modified-Since": since}).status_code == 304, (
                    write.name,
                    path,
                )
            _send(c, write)
            _settle()
            for path, response in before.items():
                since = response.headers["last-modified"]
                again = _fetch(c, path, **{"If-Modified-Since": since})
                if again.status_code != 200:
                    missed.append(f"{write.name}: {path} {again.status_code} since {since}")
                elif again.content == response.content:
                    missed.append(f"{write.name}: {path} answered with unchanged bytes")
        assert not missed, "\n".join(missed)
