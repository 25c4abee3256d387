"""The write API: auth, body limits, content types; validation is ingest's, storage the store's."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syndication.config import Settings
from syndication.ingest import (
    ID_PATTERN,
    ID_RULE,
    InvalidPayload,
    parse_article,
    parse_json,
    validate_rubric,
)
from syndication.model import Article, ArticleIn, Rubric
from syndication.openapi import openapi_document
from syndication.parallel import Spool, shared_validator, validate_lines, validate_to_spool
from syndication.problems import Problem
from syndication.store.base import Store

log = logging.getLogger("syndication.api")

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)

UTF8_NAMES = frozenset({"utf-8", "utf8"})

# A refusal sent before the request body was read: the connection cannot carry another request
# (the unread bytes would be taken for one), so the client is told not to reuse it.
UNREAD_BODY = {"Connection": "close"}

# Below this many lines, starting or feeding worker processes costs more than it saves.
PARALLEL_FROM_LINES = 2000

Handler = Callable[[Request], Awaitable[Response]]
WriteHook = Callable[[int], Awaitable[None]]


def article_json(article: Article, settings: Settings) -> dict[str, Any]:
    zone = settings.zone
    return {
        "id": article.id,
        "title": article.title,
        "url": article.url,
        "summary": article.summary,
        "content_html": article.content_html,
        "published_at": article.published_at.astimezone(zone).isoformat(),
        "updated_at": article.updated_at.astimezone(zone).isoformat()
        if article.updated_at
        else None,
        "author": article.author,
        "rubrics": list(article.rubrics),
        "tags": [{"name": t.name, "slug": t.slug, "kind": t.kind.value} for t in article.tags],
        "image": (
            {
                "url": article.image.url,
                "type": article.image.type,
                "length": article.image.length,
                "caption": article.image.caption,
            }
            if article.image
            else None
        ),
        "status": article.status.value,
        "modified_at": article.modified_at.astimezone(zone).isoformat(),
    }


def rubric_json(rubric: Rubric) -> dict[str, Any]:
    return {
        "slug": rubric.slug,
        "title": rubric.title,
        "description": rubric.description,
        "url": rubric.url,
        "parent": rubric.parent,
        "position": rubric.position,
    }


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


def _invalid(exc: InvalidPayload) -> Problem:
    return Problem(
        exc.status,
        "the request body is not valid" if exc.status == 422 else "the request body is unreadable",
        errors=[e.as_dict() for e in exc.errors],
    )


# A typical article (3 KB) validates in ~0.1 ms, about the cost of a hop to a thread and back;
# past this size the hop is the cheaper of the two for the event loop.
INLINE_PARSE_BYTES = 32 * 1024


class WriteAPI:
    """Endpoints under /api. `on_write` runs after each committed change (cache, notifications)."""

    def __init__(self, settings: Settings, store: Store, on_write: WriteHook | None = None) -> None:
        self.settings = settings
        self.store = store
        self.on_write = on_write

    def routes(self) -> list[Route]:
        return [
            Route("/api/openapi.json", self.openapi, methods=["GET"]),
            Route("/api/articles:bulk", self.bulk, methods=["POST"]),
            Route(
                "/api/articles/{article_id}",
                self.article,
                methods=["GET", "PUT", "DELETE"],
            ),
            Route("/api/rubrics/{slug}", self.rubric, methods=["GET", "PUT"]),
        ]

    # --- guards -------------------------------------------------------------------------------
    def _authorize(self, request: Request) -> None:
        token = self.settings.api_token
        if not token:
            raise Problem(
                403,
                "writes are disabled: no API token is configured (SYNDICATION_API_TOKEN)",
                errors=[{"field": "Authorization", "message": "writes are disabled"}],
                headers=UNREAD_BODY,
            )
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        challenge = {**UNREAD_BODY, "WWW-Authenticate": 'Bearer realm="syndication"'}
        if not header or scheme.lower() != "bearer" or not given.strip():
            raise Problem(
                401,
                "a bearer token is required",
                errors=[{"field": "Authorization", "message": "missing bearer token"}],
                headers=challenge,
            )
        # compare_digest takes the same time wherever the first difference is.
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise Problem(
                401,
                "the bearer token is not valid",
                errors=[{"field": "Authorization", "message": "wrong token"}],
                headers={**challenge, "WWW-Authenticate": 'Bearer error="invalid_token"'},
            )

    @staticmethod
    def _require_type(request: Request, allowed: frozenset[str]) -> None:
        media, *params = request.headers.get("content-type", "").split(";")
        media = media.strip().lower()
        if media not in allowed:
            raise Problem(
                415,
                f"Content-Type must be {' or '.join(sorted(allowed))}",
                errors=[{"field": "Content-Type", "message": f"got {media or 'none'!r}"}],
                headers=UNREAD_BODY,
            )
        # JSON is UTF-8 (RFC 8259); a body declared in another charset is refused before it is
        # read, rather than misread.
        for param in params:
            name, _, value = param.partition("=")
            charset = value.strip().strip('"').lower()
            if name.strip().lower() == "charset" and charset not in UTF8_NAMES:
                raise Problem(
                    415,
                    "the body must be UTF-8",
                    errors=[{"field": "Content-Type", "message": f"charset {charset!r}"}],
                    headers=UNREAD_BODY,
                )

    @staticmethod
    async def _read_body(request: Request, limit: int) -> bytes:
        """The body, refused with 413 as soon as it passes `limit` (not after reading it all)."""
        too_large = Problem(
            413,
            f"the request body exceeds {limit} bytes",
            errors=[{"field": "body", "message": f"at most {limit} bytes"}],
            headers=UNREAD_BODY,
        )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _article_id(request: Request) -> str:
        article_id: str = request.path_params["article_id"]
        if not ID_PATTERN.match(article_id):
            raise Problem(
                400,
                "the article id in the URL is not valid",
                errors=[{"field": "id", "message": ID_RULE}],
                headers=UNREAD_BODY,
            )
        return article_id

    async def _changed(self, change_id: int) -> None:
        if self.on_write is not None:
            await self.on_write(change_id)

    # --- endpoints ----------------------------------------------------------------------------
    async def openapi(self, request: Request) -> Response:
        return _json(openapi_document(self.settings))

    async def article(self, request: Request) -> Response:
        if request.method == "GET":
            return await self._get_article(request)
        self._authorize(request)
        article_id = self._article_id(request)
        if request.method == "DELETE":
            change_id = await self.store.delete_article(article_id)
            if change_id is None:
                raise Problem(404, f"no article {article_id!r}")
            log.info("deleted article %s (change %d)", article_id, change_id)
            await self._changed(change_id)
            return Response(status_code=204)
        self._require_type(request, JSON_TYPES)
        body = await self._read_body(request, self.settings.max_article_bytes)
        try:
            if len(body) < INLINE_PARSE_BYTES:
                article = parse_article(body, self.settings, article_id=article_id)
            else:
                # Sanitising a large body is milliseconds of CPU: not on the event loop.
                article = await asyncio.to_thread(
                    parse_article, body, self.settings, article_id=article_id
                )
        except InvalidPayload as exc:
            raise _invalid(exc) from None
        result = await self.store.put_articles([article])
        log.info(
            "%s article %s (change %d)",
            "created" if result.created else "replaced",
            article_id,
            result.change_id,
        )
        await self._changed(result.change_id)
        stored = await self.store.get_article(article_id)
        assert stored is not None
        return _json(
            article_json(stored, self.settings),
            status=201 if result.created else 200,
            headers={"Location": f"/api/articles/{article_id}"},
        )

    async def _get_article(self, request: Request) -> Response:
        article_id = self._article_id(request)
        article = await self.store.get_article(article_id)
        if article is None:
            raise Problem(404, f"no article {article_id!r}")
        return _json(article_json(article, self.settings))

    async def bulk(self, request: Request) -> Response:
        self._authorize(request)
        self._require_type(request, NDJSON_TYPES | JSON_TYPES)
        body = await self._read_body(request, self.settings.max_bulk_bytes)
        lines = numbered_lines(body)
        del body  # the lines hold their own copies
        if not lines:
            raise Problem(
                422, "the body holds no articles", errors=[{"field": "body", "message": "empty"}]
            )
        # Every line is validated before the store's transaction begins: the write lock (shared
        # by every worker process) is then held only while inserting, not while parsing.
        spool = Spool()
        try:
            articles = await self._validated(lines, spool)
        except BaseException:
            spool.close()
            raise
        del lines
        started = time.perf_counter()
        try:
            result = await self.store.put_articles(articles)
        except asyncio.CancelledError:
            # The client left; the write runs on without this request (the store's writes run to
            # completion) and still reads the spool, which closes itself once read through.
            raise
        except BaseException:
            spool.close()
            raise
        spool.close()
        log.info(
            "bulk: %d created, %d replaced (change %d), stored in %.2f s",
            result.created,
            result.replaced,
            result.change_id,
            time.perf_counter() - started,
        )
        await self._changed(result.change_id)
        return _json({"created": result.created, "replaced": result.replaced, "rejected_lines": []})

    async def _validated(self, lines: list[tuple[int, bytes]], spool: Spool) -> Iterable[ArticleIn]:
        """Every line's article, or a 422 naming every bad line. Large bulks are validated in
        worker processes, their articles parked in `spool` so memory does not grow with the bulk."""
        log.info("bulk: validating %d lines", len(lines))
        started = time.perf_counter()
        articles: Iterable[ArticleIn]
        if len(lines) >= PARALLEL_FROM_LINES:
            rejected = await validate_to_spool(lines, shared_validator(self.settings), spool)
            articles = spool
        else:  # a few lines: a thread, so the event loop keeps serving reads meanwhile
            articles, rejected = await asyncio.to_thread(validate_lines, lines, self.settings)
        log.info(
            "bulk: validated in %.2f s, %d rejected line(s)",
            time.perf_counter() - started,
            len(rejected),
        )
        if rejected:
            raise Problem(
                422,
                f"{len(rejected)} line(s) rejected; nothing was stored",
                errors=[{"line": line, **e.as_dict()} for line, errs in rejected for e in errs],
                rejected_lines=[line for line, _ in rejected],
                created=0,
                replaced=0,
            )
        return articles

    async def rubric(self, request: Request) -> Response:
        slug: str = request.path_params["slug"]
        if request.method == "GET":
            found = await self.store.get_rubric(slug)
            if found is None:
                raise Problem(404, f"no rubric {slug!r}")
            return _json(rubric_json(found))
        self._authorize(request)
        self._require_type(request, JSON_TYPES)
        body = await self._read_body(request, self.settings.max_article_bytes)
        try:
            rubric = validate_rubric(parse_json(body), slug)
        except InvalidPayload as exc:
            raise _invalid(exc) from None
        created, change_id = await self.store.put_rubric(rubric)
        log.info("%s rubric %s (change %d)", "created" if created else "replaced", slug, change_id)
        await self._changed(change_id)
        return _json(rubric_json(rubric), status=201 if created else 200)


def numbered_lines(body: bytes) -> list[tuple[int, bytes]]:
    """The non-blank lines of an NDJSON body with their 1-based line numbers."""
    return [(n, line) for n, line in enumerate(body.split(b"\n"), start=1) if line.strip()]
