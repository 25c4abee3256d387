"""The IndexNow key file, `{public}/{key}.txt`: how the endpoint checks we own the host."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from syndication.config import Settings


def _key_response(key: str) -> Response:
    return PlainTextResponse(key, headers={"Cache-Control": "public, max-age=3600"})


def notify_routes(settings: Settings) -> list[Route]:
    """Starlette routes, for a route list that ends in a documents catch-all. Only the configured
    key's exact path is routed: every other `.txt` name (robots.txt included) goes on to the
    catch-all, which answers it or 404."""
    key = settings.indexnow_key
    if not key:
        return []

    async def indexnow_key_file(request: Request) -> Response:
        return _key_response(key)

    return [Route(f"/{key}.txt", indexnow_key_file, methods=["GET", "HEAD"])]
