"""Validation of NDJSON lines in worker processes, for bulk imports.

Validation (JSON, checks, HTML sanitising) is pure Python-bound CPU work, ~0.3 ms a 3 KB article;
in threads it fights the store's own Python work for the GIL. Worker processes run it truly in
parallel. Results travel back in a compact tuple form: pickling the dataclasses with their
datetimes and enums costs ~130 µs an article, the tuples ~30 µs.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

from syndication.config import Settings
from syndication.ingest import FieldError, InvalidPayload, parse_article
from syndication.model import ArticleIn, Image, Status, TagKind, TagRef

Wire = tuple[Any, ...]
Rejected = list[tuple[int, list[FieldError]]]

_settings: Settings | None = None


def _init(settings: Settings) -> None:
    global _settings
    _settings = settings


def to_wire(a: ArticleIn) -> Wire:
    image = a.image
    return (
        a.id, a.title, a.url, a.summary, a.content_html, int(a.published_at.timestamp()),
        int(a.updated_at.timestamp()) if a.updated_at else None, a.author, a.rubrics,
        tuple((t.name, t.kind.value) for t in a.tags),
        (image.url, image.type, image.length, image.caption) if image else None,
        a.status.value, a.raw,
    )  # fmt: skip


_KINDS = {k.value: k for k in TagKind}
_STATUSES = {s.value: s for s in Status}


def from_wire(w: Wire) -> ArticleIn:
    return ArticleIn(
        id=w[0], title=w[1], url=w[2], summary=w[3], content_html=w[4],
        published_at=datetime.fromtimestamp(w[5], UTC),
        updated_at=datetime.fromtimestamp(w[6], UTC) if w[6] is not None else None,
        author=w[7], rubrics=w[8], tags=tuple(TagRef(n, _KINDS[k]) for n, k in w[9]),
        image=Image(*w[10]) if w[10] else None, status=_STATUSES[w[11]], raw=w[12],
    )  # fmt: skip


def validate_lines(
    lines: Sequence[tuple[int, bytes]], settings: Settings | None = None
) -> tuple[list[ArticleIn], Rejected]:
    """(numbered lines) → (articles, rejected line numbers with their errors)."""
    settings = settings or _settings
    assert settings is not None
    articles, rejected = [], []
    for number, line in lines:
        try:
            articles.append(parse_article(line, settings))
        except InvalidPayload as exc:
            rejected.append((number, exc.errors))
    return articles, rejected


def _validate_to_wire(lines: Sequence[tuple[int, bytes]]) -> tuple[list[Wire], Rejected]:
    articles, rejected = validate_lines(lines)
    return [to_wire(a) for a in articles], rejected


class ParallelValidator:
    """Submit batches of lines; collect (articles, rejected) in submission order."""

    def __init__(self, settings: Settings, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else max(1, (os.cpu_count() or 2) - 1)
        self._pool: Executor = ProcessPoolExecutor(
            max_workers=self.workers,
            # spawn: forking a process that runs an event loop and SQLite threads is unsafe.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(settings,),
        )

    def submit(self, lines: Sequence[tuple[int, bytes]]) -> Any:
        return self._pool.submit(_validate_to_wire, list(lines))

    @staticmethod
    def decode(result: tuple[list[Wire], Rejected]) -> tuple[list[ArticleIn], Rejected]:
        wires, rejected = result
        return [from_wire(w) for w in wires], rejected

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


async def validate_stream(
    lines: Sequence[tuple[int, bytes]],
    validator: ParallelValidator,
    *,
    chunk: int = 500,
    ahead: int = 4,
) -> AsyncIterator[tuple[list[ArticleIn], Rejected]]:
    """(articles, rejected) per chunk of `lines`, in order, with up to `ahead` chunks being
    validated in the pool while the consumer (the store) works on the current one."""
    pending: deque[asyncio.Future[Any]] = deque()
    try:
        for start in range(0, len(lines), chunk):
            pending.append(asyncio.wrap_future(validator.submit(lines[start : start + chunk])))
            if len(pending) >= ahead:
                yield ParallelValidator.decode(await pending.popleft())
        while pending:
            yield ParallelValidator.decode(await pending.popleft())
    finally:
        for future in pending:
            future.cancel()


_shared: ParallelValidator | None = None


def shared_validator(settings: Settings) -> ParallelValidator:
    """One pool per server process, started on the first large bulk request."""
    global _shared
    if _shared is None:
        _shared = ParallelValidator(settings)
    return _shared


def close_shared_validator() -> None:
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None
