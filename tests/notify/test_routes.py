"""The IndexNow key file is served at /{key}.txt and nowhere else."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from app import create_app
from syndication.config import Settings
from syndication.notify import notify_routes
from tests.notify.helpers import KEY


async def _catch_all(request: Request) -> Response:
    if request.url.path == "/robots.txt":
        return PlainTextResponse("User-agent: *\n")
    return PlainTextResponse("not found\n", status_code=404)


@pytest.mark.anyio
async def test_key_file(settings: Settings) -> None:
    s = replace(settings, indexnow_endpoint="https://api.indexnow.org/indexnow", indexnow_key=KEY)
    app = Starlette(routes=[*notify_routes(s), Route("/{path:path}", _catch_all)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get(f"/{KEY}.txt")
        assert r.status_code == 200
        assert r.text == KEY
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert (await client.head(f"/{KEY}.txt")).status_code == 200
        assert (await client.get("/other0123456789.txt")).status_code == 404
        assert (await client.get(f"/{KEY}x.txt")).status_code == 404
        assert (await client.get("/robots.txt")).status_code == 200  # not shadowed


def test_no_key_no_routes(settings: Settings) -> None:
    assert notify_routes(settings) == []


def test_key_file_through_the_app(settings: Settings, tmp_path: Path) -> None:
    """The documents' fast path hands unknown paths to Starlette, where the key route lives."""
    s = replace(settings, indexnow_endpoint="https://api.indexnow.org/indexnow", indexnow_key=KEY,
                db=str(tmp_path / "k.db"))  # fmt: skip
    with TestClient(create_app(s)) as client:
        r = client.get(f"/{KEY}.txt")
        assert (r.status_code, r.text) == (200, KEY)
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        head = client.head(f"/{KEY}.txt")
        assert (head.status_code, head.content) == (200, b"")
        assert client.get("/other0123456789.txt").status_code == 404
        assert client.get("/robots.txt").status_code == 200
