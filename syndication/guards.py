"""In front of Starlette (the API, /healthz, /metrics, the 404s): the headers every answer carries,
and how long a request body may take to arrive.

Public documents do not come through here: `serving.DocumentServer` prepares the same headers
with each cached answer, and never reads a body.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syndication.problems import Problem
from syndication.serving import NOSNIFF

log = logging.getLogger("syndication.guards")


class Guards:
    """Adds `X-Content-Type-Options: nosniff` to every response, and answers 408 (then closes
    the connection) when a request body has not arrived in full `body_timeout` seconds after the
    request head: a client trickling a body byte by byte holds a connection and a request for
    that long, and no longer. The server's own timers cut slow heads (syndication/supervisor.py)."""

    def __init__(self, app: ASGIApp, *, body_timeout: float) -> None:
        self.app = app
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        complete = False

        async def receive_in_time() -> Message:
            nonlocal complete
            if complete:  # the body is in: what follows is the wait for a disconnect
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                log.info(
                    "request body not complete after %g s: %s %s (408)",
                    self.body_timeout, scope["method"], scope["path"],
                )  # fmt: skip
                raise Problem(
                    408,
                    f"the request body did not arrive within {self.body_timeout:g} s",
                    errors=[{"field": "body", "message": "sent too slowly"}],
                    headers={"Connection": "close"},
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), NOSNIFF]
            await send(message)

        await self.app(scope, receive_in_time, send_with_headers)
