"""The stack limit for bench/serve.py: a bare Starlette endpoint returning fixed bytes from memory.

BENCH_BODY_FILE names the bytes; BENCH_ENCODING, when set, is sent as Content-Encoding.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
HEADERS = (
    {"Content-Encoding": os.environ["BENCH_ENCODING"]} if os.environ.get("BENCH_ENCODING") else {}
)


async def endpoint(request: Request) -> Response:
    return Response(BODY, media_type="application/rss+xml; charset=utf-8", headers=HEADERS)


app = Starlette(routes=[Route("/{path:path}", endpoint)])
