"""HTTP semantics of every public document, in one place: validators, 304, encodings, HEAD."""

from __future__ import annotations

import gzip
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from syndication.cache import GZIP_LEVEL, DocumentCache, Entry
from syndication.documents import Document
from syndication.faults import describe, is_store_fault
from syndication.mediatype import BROWSER_TYPE, has_browser_view, qualities, wants_browser_view
from syndication.metrics import Metrics
from syndication.mirror import Mirror
from syndication.rendering import BadParameter

log = logging.getLogger("syndication.serving")

CACHE_CONTROL = b"public, max-age=60, stale-while-revalidate=300"
# A missing document may appear with the next write (a new tag's feed, the news sitemap): caches
# must ask again every time rather than keep the 404 for minutes.
NOT_FOUND_CACHE_CONTROL = b"no-cache"
ALLOW = b"GET, HEAD"
_VARY = (b"vary", b"Accept-Encoding")
# Feeds and OPML are sent as application/xml to browsers (syndication.mediatype).
_VARY_VIEW = (b"vary", b"Accept-Encoding, Accept")
_BROWSER = "-x"  # the ETag suffix of the browser view, before the coding's
# On every answer: a browser must not guess a type other than the one we send (a feed or a
# plain-text 404 sniffed as HTML would run whatever markup it quotes).
NOSNIFF = (b"x-content-type-options", b"nosniff")
# The HTML pages (the index, each feed's page) load only the service's own stylesheet and
# script files (syndication/assets: no inline script or style anywhere) and the articles'
# images, wherever the CMS keeps them; no form posts anywhere, and no site may frame them
# (clickjacking). X-Frame-Options for browsers that do not know frame-ancestors.
HTML_POLICY = (
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self'; script-src 'self'; img-src https: http:; "
     b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
)  # fmt: skip
# A store that cannot answer: say so, and let no cache keep the answer.
NO_STORE = (b"cache-control", b"no-store")
_SUFFIX = {"gzip": "-gz", "br": "-br"}
_QUALITIES: dict[str, dict[str, float]] = {}


def choose_encoding(accept: str | None, *, br: bool, gz: bool) -> str | None:
    """'br', 'gzip' or None (identity) by the client's Accept-Encoding q-values; br wins ties."""
    if not accept:
        return None
    q = _QUALITIES.get(accept)
    if q is None:
        q = qualities(accept)
        if len(_QUALITIES) < 256:  # a handful of distinct headers in practice
            _QUALITIES[accept] = q
    star = q.get("*", 0.0)
    q_br = q.get("br", star) if br else 0.0
    q_gz = q.get("gzip", q.get("x-gzip", star)) if gz else 0.0
    if q_br > 0 and q_br >= q_gz:
        return "br"
    return "gzip" if q_gz > 0 else None


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): W/ and our per-encoding suffix are ignored; the
    browser view's suffix is not (`etag` names the view answered: another media type)."""
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        candidate = candidate.removeprefix("W/").strip('"')
        for suffix in ("-gz", "-br"):
            candidate = candidate.removesuffix(suffix)
        if candidate == etag:
            return True
    return False


def _not_modified_since(header: str, last_modified: datetime, now: float) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        return False
    # Dates have whole seconds: a client that holds the bytes of the current second (or claims a
    # later date) may hold bytes that a write later in this second replaced. It gets them anew.
    if since.timestamp() >= int(now):
        return False
    return last_modified <= since


@dataclass(frozen=True, slots=True)
class Representation:
    """One content coding of a cached document, with its answers ready to send."""

    etag: str
    body: bytes
    headers: list[tuple[bytes, bytes]]  # for 200 (and HEAD)
    not_modified: list[tuple[bytes, bytes]]  # for 304


def representation(
    entry: Entry, coding: str | None, *, gzip_only: bool = False, browser: bool = False
) -> Representation:
    """The answer for one content coding; with `browser`, of the browser view of a feed or OPML
    (the same bytes as application/xml, syndication.mediatype). The browser view is prepared
    anew for each request, not kept: browsers are few beside readers, the few microseconds
    are theirs, and an entry keeps no more variants than the cache charges it for."""
    name = "gz-only" if gzip_only else (coding or "identity")
    ready: Representation | None = None if browser else entry.variants.get(name)
    if ready is not None:
        return ready
    vary = _VARY_VIEW if entry.status == 200 and has_browser_view(entry.media_type) else _VARY
    if gzip_only:
        body = entry.gzip or gzip.compress(entry.body, compresslevel=GZIP_LEVEL, mtime=0)
        media_type, etag = "application/gzip", f'"{entry.etag}-gz"'
    else:
        body = entry.body if coding is None else (entry.br if coding == "br" else entry.gzip) or b""
        view = _BROWSER if browser else ""
        media_type = BROWSER_TYPE if browser else entry.media_type
        etag = f'"{entry.etag}{view}{_SUFFIX.get(coding or "", "")}"'
    validators = [
        (b"etag", etag.encode()),
        (b"last-modified", entry.last_modified_http.encode()),
        (b"cache-control", CACHE_CONTROL if entry.status == 200 else NOT_FOUND_CACHE_CONTROL),
        vary,
        NOSNIFF,
    ]
    headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *validators,
    ]
    if coding is not None and not gzip_only:
        headers.append((b"content-encoding", coding.encode()))
    if media_type.startswith("text/html"):
        headers.extend(HTML_POLICY)
    if entry.links:
        # WebSub §4: subscribers discover the hub and the topic URL from the HTTP headers too.
        link = ", ".join(f'<{url}>; rel="{rel}"' for url, rel in entry.links)
        headers.append((b"link", link.encode()))
    ready = Representation(etag, body, headers, validators)
    if not browser:
        entry.variants[name] = ready
    return ready


def answer(
    method: str,
    entry: Entry,
    *,
    accept_encoding: str | None,
    if_none_match: str | None,
    if_modified_since: str | None,
    gzip_only: bool = False,
    now: float | None = None,
    accept: str | None = None,
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) for a GET or HEAD of a cached document; `accept` chooses the
    browser view of a feed or OPML (syndication.mediatype)."""
    coding = None
    browser = False
    if not gzip_only:
        coding = choose_encoding(
            accept_encoding, br=entry.br is not None, gz=entry.gzip is not None
        )
        browser = (
            entry.status == 200
            and has_browser_view(entry.media_type)
            and wants_browser_view(accept, entry.media_type)
        )
    rep = representation(entry, coding, gzip_only=gzip_only, browser=browser)
    if entry.status == 200:
        if if_none_match is not None:
            if _etag_matches(if_none_match, entry.etag + _BROWSER if browser else entry.etag):
                return 304, rep.not_modified, b""
        elif (
            if_modified_since is not None
            and not entry.capped
            and _not_modified_since(
                if_modified_since, entry.last_modified, time.time() if now is None else now
            )
        ):
            return 304, rep.not_modified, b""
    return entry.status, rep.headers, b"" if method == "HEAD" else rep.body


_PLAIN = b"text/plain; charset=utf-8"


class DocumentServer:
    """The read path as a bare ASGI app in front of Starlette: a cached document costs a dict
    lookup, a counter read and two `send` calls. Anything that is not a GET or HEAD of a public
    document (the API, /healthz, /metrics, lifespan, unknown paths) goes to `fallback`."""

    def __init__(
        self,
        fallback: ASGIApp,
        cache: DocumentCache,
        metrics: Metrics,
        resolve: Callable[[str, dict[str, str]], Document | None],
        *,
        mirror: Mirror | None = None,
    ) -> None:
        self.fallback = fallback
        self.mirror = mirror
        self.cache = cache
        self.metrics = metrics
        self.resolve = resolve
        # (path, query) → document: resolving costs more than serving a cached hit.
        self._documents: OrderedDict[tuple[str, bytes], Document | None] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_NOT_DOCUMENTS):
            await self.fallback(scope, receive, send)
            return
        try:
            await self._serve(scope, receive, send)
        except Exception as exc:
            # Never a traceback to the client. A store that cannot answer is a 503 that no cache
            # keeps (the cache kept nothing either: an error is never an entry); the log says
            # what the store said, in one line. Anything else is ours: a 500, with its traceback
            # in the log.
            if is_store_fault(exc):
                log.error("store error serving %s: %s", scope["path"], describe(exc))
                self.metrics.request("store-error", 503)
                await _plain(send, 503, b"the store is unavailable; try again later\n", [NO_STORE])
                return
            log.exception("error serving %s", scope["path"])
            self.metrics.request("error", 500)
            await _plain(send, 500, b"internal error; it has been logged\n")

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        path, query = scope["path"], scope["query_string"]
        if method not in ("GET", "HEAD"):
            await self._other_method(scope, receive, send)
            return
        key = (path, query)
        documents = self._documents
        if key in documents:
            doc = documents[key]
            documents.move_to_end(key)
        else:
            try:
                doc = self.resolve(path, _query(query))
            except BadParameter as exc:
                self.metrics.request("bad-request", 400)
                await _plain(send, 400, f"{exc}\n".encode())
                return
            documents[key] = doc
            if len(documents) > _RESOLVED:  # a crawl of distinct URLs: the least recent go
                documents.popitem(last=False)
        if doc is None:
            # Not a document: other routes (the IndexNow key file) or Starlette's 404.
            await self.fallback(scope, receive, send)
            return
        accept = inm = ims = media = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value.decode("latin-1")
            elif name == b"accept":
                media = value.decode("latin-1")
            elif name == b"if-none-match":
                inm = value.decode("latin-1")
            elif name == b"if-modified-since":
                ims = value.decode("latin-1")
        entry = await self.cache.get(doc)
        status, headers, body = answer(
            method, entry, accept_encoding=accept, if_none_match=inm, if_modified_since=ims,
            gzip_only=doc.gzip_only, accept=media,
        )  # fmt: skip
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self.metrics.request(doc.kind, status)
        if self.mirror is not None and not query and entry.status == 200 and not doc.gzip_only:
            self.mirror.offer(path, entry)

    async def _other_method(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A public document answers only GET and HEAD: 405 with Allow (RFC 9110 §15.5.6), and
        OPTIONS says so with 204. Anything else (the API) is Starlette's."""
        path = scope["path"]
        try:
            doc = None if path.startswith(_NOT_DOCUMENTS) else self.resolve(path, {})
        except BadParameter:
            doc = None
        if doc is None:
            await self.fallback(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            self.metrics.request(doc.kind, 204)
            await send({"type": "http.response.start", "status": 204,
                        "headers": [(b"allow", ALLOW), NOSNIFF]})  # fmt: skip
            await send({"type": "http.response.body", "body": b""})
            return
        self.metrics.request(doc.kind, 405)
        await _plain(send, 405, b"method not allowed: use GET or HEAD\n", [(b"allow", ALLOW)])


# URLs whose resolution is remembered (a Document is well under 1 KB): a bound on per-URL state
# that a crawl cannot grow.
_RESOLVED = 4096
_NOT_DOCUMENTS = ("/api/", "/healthz", "/metrics")


def _query(raw: bytes) -> dict[str, str]:
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}


async def _plain(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", _PLAIN), (b"content-length", str(len(body)).encode()),
               NOSNIFF, *(extra or [])]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
