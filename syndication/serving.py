"""HTTP semantics of every public document, in one place: validators, 304, encodings, HEAD."""

from __future__ import annotations

import gzip
from datetime import datetime
from email.utils import parsedate_to_datetime

from starlette.datastructures import Headers
from starlette.responses import Response

from syndication.cache import GZIP_LEVEL, Entry

CACHE_CONTROL = b"public, max-age=60, stale-while-revalidate=300"
_VARY = (b"vary", b"Accept-Encoding")
_SUFFIX = {"gzip": "-gz", "br": "-br"}
_QUALITIES: dict[str, dict[str, float]] = {}


class PreparedResponse(Response):
    """A response whose raw headers are already built: nothing is re-derived per request."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status
        self.body = body
        self.raw_headers = headers
        self.background = None


def choose_encoding(accept: str | None, *, br: bool, gz: bool) -> str | None:
    """'br', 'gzip' or None (identity) by the client's Accept-Encoding q-values; br wins ties."""
    if not accept:
        return None
    q = _QUALITIES.get(accept)
    if q is None:
        q = _qualities(accept)
        if len(_QUALITIES) < 256:  # a handful of distinct headers in practice
            _QUALITIES[accept] = q
    star = q.get("*", 0.0)
    q_br = q.get("br", star) if br else 0.0
    q_gz = q.get("gzip", q.get("x-gzip", star)) if gz else 0.0
    if q_br > 0 and q_br >= q_gz:
        return "br"
    return "gzip" if q_gz > 0 else None


def _qualities(accept: str) -> dict[str, float]:
    q: dict[str, float] = {}
    for part in accept.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        value = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                value = float(params[2:])
            except ValueError:
                value = 0.0
        q[name] = value
    return q


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): W/ and our per-encoding suffix are ignored."""
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


def _not_modified_since(header: str, last_modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        return False
    return last_modified <= since


def respond(method: str, headers: Headers, entry: Entry, *, gzip_only: bool = False) -> Response:
    if gzip_only:
        body = entry.gzip or gzip.compress(entry.body, compresslevel=GZIP_LEVEL, mtime=0)
        media_type, encoding = "application/gzip", None
        etag = f'"{entry.etag}-gz"'
    else:
        encoding = choose_encoding(
            headers.get("accept-encoding"), br=entry.br is not None, gz=entry.gzip is not None
        )
        body = (
            entry.body
            if encoding is None
            else (entry.br if encoding == "br" else entry.gzip) or b""
        )
        media_type = entry.media_type
        etag = f'"{entry.etag}{_SUFFIX.get(encoding or "", "")}"'

    validators = [
        (b"etag", etag.encode()),
        (b"last-modified", entry.last_modified_http.encode()),
        (b"cache-control", CACHE_CONTROL),
        _VARY,
    ]
    if entry.status == 200:
        inm = headers.get("if-none-match")
        if inm is not None:
            if _etag_matches(inm, entry.etag):
                return PreparedResponse(304, validators, b"")
        else:
            ims = headers.get("if-modified-since")
            if ims is not None and _not_modified_since(ims, entry.last_modified):
                return PreparedResponse(304, validators, b"")

    raw = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *validators,
    ]
    if encoding is not None:
        raw.append((b"content-encoding", encoding.encode()))
    return PreparedResponse(entry.status, raw, b"" if method == "HEAD" else body)
