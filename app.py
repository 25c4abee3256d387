"""The Starlette application: routes wired to handlers, store opened and closed with the app."""

from __future__ import annotations

import asyncio
import hmac
import logging
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from syndication.api import WriteAPI
from syndication.cache import DocumentCache
from syndication.config import Settings
from syndication.documents import Document, resolve
from syndication.faults import check_store, describe, is_store_fault
from syndication.guards import Guards
from syndication.logs import configure as configure_logging
from syndication.memory import freeze_startup_objects, limit_malloc_arenas
from syndication.metrics import CONTENT_TYPE_LATEST, Metrics
from syndication.mirror import Mirror
from syndication.notify import Notifier, notify_routes
from syndication.parallel import close_shared_validator
from syndication.problems import Problem
from syndication.serving import DocumentServer
from syndication.store import Store, StoreError, make_store
from syndication.timeutil import utcnow
from syndication.watchdog import LoopWatchdog

log = logging.getLogger("syndication")


SWITCH_INTERVAL = 0.001
# Answers about the store's state (health, metrics, a store fault) are for now, not for keeping.
NO_STORE = {"Cache-Control": "no-store"}


def create_app(settings: Settings | None = None, store: Store | None = None) -> DocumentServer:
    configure_logging()
    settings = settings or Settings.load()
    store = store or make_store(settings)
    metrics = Metrics()

    async def verify_store() -> None:
        await check_store(store, utcnow())

    cache = DocumentCache(store, settings, metrics, verify_missing=verify_store)

    notifier = Notifier(settings, store, metrics)
    mirror = Mirror(Path(settings.mirror), settings) if settings.mirror else None

    async def after_write(change_id: int) -> None:
        # This worker sees its own write at once; the others through the shared counter.
        notifier.wake()  # no I/O: push delivery runs in the background, never holds up a write
        await cache.sync()
        if mirror is not None:
            # nginx serves the mirror's files without asking: the stale ones go before the ack.
            await mirror.sync(store)

    api = WriteAPI(settings, store, on_write=after_write)

    async def healthz(request: Request) -> Response:
        # Real queries, not `SELECT 1`: a store whose pages are damaged still opens and pings.
        try:
            await verify_store()
        except Exception as exc:
            if not is_store_fault(exc):
                raise
            log.error("health check: the store cannot answer: %s", describe(exc))
            # What the store said is for the log, not for anyone who asks.
            return PlainTextResponse("store cannot answer\n", status_code=503, headers=NO_STORE)
        return PlainTextResponse("ok\n", headers=NO_STORE)

    # Who may read /metrics (README, "What is public"): a bearer of the metrics token, else of
    # the API token; with neither configured, nobody.
    metrics_token = settings.metrics_token or settings.api_token

    async def metrics_endpoint(request: Request) -> Response:
        if not metrics_token:
            return PlainTextResponse(
                "metrics are disabled: set SYNDICATION_METRICS_TOKEN (or SYNDICATION_API_TOKEN)\n",
                status_code=403, headers=NO_STORE,
            )  # fmt: skip
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        # compare_digest takes the same time wherever the first difference is.
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), metrics_token.encode()
        ):
            return PlainTextResponse(
                "a bearer token is required for /metrics\n", status_code=401,
                headers={**NO_STORE, "WWW-Authenticate": 'Bearer realm="metrics"'},
            )  # fmt: skip
        metrics.cached_documents.set(len(cache.cached_keys()))
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)

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
        if mirror is not None:
            await mirror.open()
            await mirror.sync(store)
            mirror.start(store)
        freeze_startup_objects()
        watchdog = None
        if settings.stall_seconds > 0:
            # Started last: startup's own waits (migrations, the mirror's first sync) run in
            # threads, but a slow disk must not look like a stuck loop.
            watchdog = LoopWatchdog(settings.stall_seconds)
            watchdog.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            if watchdog is not None:
                watchdog.stop()
            if mirror is not None:
                await mirror.close()
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
        if not is_store_fault(exc):  # sqlite3.ProgrammingError: a bug of ours
            return await on_crash(request, exc)
        # One line: the store's message says it all, a traceback per request would flood the log.
        log.error("store error on %s %s: %s", request.method, request.url.path, describe(exc))
        problem = Problem(503, "the store is unavailable; try again", headers=NO_STORE)
        return problem.response(request.url.path)

    async def on_disconnect(request: Request, exc: Exception) -> Response:
        # The client hung up before its body was in: nothing to answer, nothing went wrong here.
        # One line, no traceback (formatting one per hang-up stalled the worker).
        log.info("client went away during the request: %s %s", request.method, request.url.path)
        return Response(status_code=400)  # goes nowhere: the connection is gone

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
            sqlite3.DatabaseError: on_store_error,
            ClientDisconnect: on_disconnect,
            Exception: on_crash,
        },
    )

    # A path with a trailing slash is not another name for the API's resources: Starlette would
    # answer 307 with a Location built from the request's Host header (any host a client
    # names). Every URL of ours is named exactly; anything else is a 404.
    app.router.redirect_slashes = False

    def resolver(path: str, query: dict[str, str]) -> Document | None:
        return resolve(
            path, query, feed_limit=settings.feed_limit, max_limit=settings.feed_max_limit
        )

    # Public documents take the short path; the API, health and metrics go through Starlette.
    return DocumentServer(
        Guards(app, body_timeout=settings.body_timeout), cache, metrics, resolver, mirror=mirror
    )
