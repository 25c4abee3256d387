"""The Starlette application: routes wired to handlers, store opened and closed with the app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from syndication.api import WriteAPI
from syndication.config import Settings
from syndication.problems import Problem
from syndication.store import Store, StoreError, make_store

log = logging.getLogger("syndication")


def create_app(settings: Settings | None = None, store: Store | None = None) -> Starlette:
    settings = settings or Settings.load()
    store = store or make_store(settings)
    api = WriteAPI(settings, store)

    async def healthz(request: Request) -> Response:
        try:
            await store.ping()
        except StoreError as exc:
            return PlainTextResponse(f"store unreachable: {exc}\n", status_code=503)
        return PlainTextResponse("ok\n")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        log.info("store open: %s", settings.db)
        try:
            yield
        finally:
            await store.close()

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return exc.response(instance=request.url.path)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith("/api/"):
            headers = dict(exc.headers or {})
            return Problem(exc.status_code, exc.detail, headers=headers).response(request.url.path)
        return PlainTextResponse(
            f"{exc.detail}\n", status_code=exc.status_code, headers=exc.headers
        )

    async def on_store_error(request: Request, exc: Exception) -> Response:
        log.error("store error on %s %s: %s", request.method, request.url.path, exc)
        return Problem(503, "the store is unavailable; try again").response(request.url.path)

    async def on_crash(request: Request, exc: Exception) -> Response:
        # Logged here with its traceback; the client gets no internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return Problem(500, "internal error; it has been logged").response(request.url.path)

    routes = [*api.routes(), Route("/healthz", healthz, methods=["GET", "HEAD"])]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            Problem: on_problem,
            HTTPException: on_http_error,
            StoreError: on_store_error,
            Exception: on_crash,
        },
    )
