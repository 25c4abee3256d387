"""The Starlette application: routes wired to handlers, store opened and closed with the app."""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from syndication.api import WriteAPI
from syndication.cache import DocumentCache
from syndication.config import Settings
from syndication.documents import Document, resolve
from syndication.logs import configure as configure_logging
from syndication.memory import freeze_startup_objects, limit_malloc_arenas
from syndication.metrics import CONTENT_TYPE_LATEST, Metrics
from syndication.notify import Notifier, notify_routes
from syndication.parallel import close_shared_validator
from syndication.problems import Problem
from syndication.serving import DocumentServer
from syndication.store import Store, StoreError, make_store

log = logging.getLogger("syndication")


SWITCH_INTERVAL = 0.001


def create_app(settings: Settings | None = None, store: Store | None = None) -> DocumentServer:
    configure_logging()
    settings = settings or Settings.load()
    store = store or make_store(settings)
    metrics = Metrics()
    cache = DocumentCache(store, settings, metrics)

    notifier = Notifier(settings, store, metrics)

    async def after_write(change_id: int) -> None:
        # This worker sees its own write at once; the others through the shared counter.
        notifier.wake()  # no I/O: push delivery runs in the background, never holds up a write
        await cache.sync()

    api = WriteAPI(settings, store, on_write=after_write)

    async def healthz(request: Request) -> Response:
        try:
            await store.ping()
        except StoreError as exc:
            return PlainTextResponse(f"store unreachable: {exc}\n", status_code=503)
        return PlainTextResponse("ok\n")

    async def metrics_endpoint(request: Request) -> Response:
        metrics.cached_documents.set(len(cache.cached_keys()))
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Renders and compression run in threads; the event loop and the store's connection
        # threads need the GIL back quickly to answer cached hits and finish writes. Python's
        # default 5 ms hand-over made a 4-trip write wait up to ~40 ms behind one render
        # (bench/write.py: p99 under renders 58 -> 30 ms with 1 ms).
        sys.setswitchinterval(SWITCH_INTERVAL)
        limit_malloc_arenas()
        await store.open()
        log.info("store open: %s", settings.db)
        await notifier.start()
        freeze_startup_objects()
        try:
            yield
        finally:
            await notifier.stop()
            close_shared_validator()
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

    routes = [
        *api.routes(),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        *notify_routes(settings),  # the IndexNow key file, when a key is configured
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            Problem: on_problem,
            HTTPException: on_http_error,
            StoreError: on_store_error,
            sqlite3.OperationalError: on_store_error,
            Exception: on_crash,
        },
    )

    def resolver(path: str, query: dict[str, str]) -> Document | None:
        return resolve(
            path, query, feed_limit=settings.feed_limit, max_limit=settings.feed_max_limit
        )

    # Public documents take the short path; the API, health and metrics go through Starlette.
    return DocumentServer(app, cache, metrics, resolver)
