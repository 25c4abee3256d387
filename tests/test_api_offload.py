"""A large article is validated and sanitised in a thread, never on the event loop."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from syndication import api
from syndication.config import Settings
from syndication.store import SQLiteStore
from tests.conftest import TOKEN

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("body_bytes", "on_loop"), [(2_000, True), (200_000, False)])
async def test_large_articles_are_parsed_off_the_loop(
    store: SQLiteStore,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    body_bytes: int,
    on_loop: bool,
) -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []
    parse = getattr(api, "parse_article")  # noqa: B009 - patched below, read the same way

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return parse(*args, **kwargs)

    monkeypatch.setattr(api, "parse_article", recording)
    app = Starlette(routes=api.WriteAPI(settings, store).routes())
    payload = {
        "title": "Большая статья",
        "published_at": "2025-12-01T10:00:00+03:00",
        "content_html": "<p>" + "слово " * (body_bytes // 12) + "</p>",
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        r = await client.put(
            "/api/articles/big", json=payload, headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert r.status_code == 201, r.text
    assert len(threads) == 1
    assert (threads[0] == loop_thread) is on_loop
