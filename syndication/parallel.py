"""Validation of NDJSON lines in worker processes, for bulk imports.

Validation (JSON, checks, HTML sanitising) is pure Python-bound CPU work, ~0.3 ms a 3 KB article;
in threads it fights the store's own Python work for the GIL. Worker processes run it truly in
parallel. Results travel back in a compact tuple form, pickled once in the worker: pickling the
dataclasses with their datetimes and enums costs ~130 µs an article, the tuples ~30 µs, and the
parent receives one bytes object a chunk that it can spool to disk without decoding it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from datetime import UTC, datetime
from typing import IO, Any

from syndication.config import Settings
from syndication.ingest import FieldError, InvalidPayload, parse_article
from syndication.model import ArticleIn, Image, Status, TagKind, TagRef

Wire = tuple[Any, ...]
Rejected = list[tuple[int, list[FieldError]]]
# (the chunk's articles in wire form, pickled; how many; the rejected lines)
Packed = tuple[bytes, int, Rejected]

# How often a validator process checks that the process that started it is still alive. A
# validator whose parent was SIGKILLed would otherwise wait for work forever: it holds both ends
# of its own task queue, so it never sees end-of-file.
PARENT_POLL_SECONDS = 0.2

_settings: Settings | None = None


def _init(settings: Settings, parent: int) -> None:
    global _settings
    _settings = settings
    # Ctrl-C reaches the whole process group; the parent decides when the pool stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A polling thread rather than prctl(PR_SET_PDEATHSIG): the kernel ties that signal to the
    # *thread* that forked the child, and ProcessPoolExecutor forks from whichever thread submits.
    threading.Thread(
        target=_exit_when_orphaned, args=(parent,), name="parent-watch", daemon=True
    ).start()


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def to_wire(a: ArticleIn) -> Wire:
    image = a.image
    return (
        a.id, a.title, a.url, a.summary, a.content_html, int(a.published_at.timestamp()),
        int(a.updated_at.timestamp()) if a.updated_at else None, a.author, a.rubrics,
        tuple((t.name, t.kind.value) for t in a.tags),
        (image.url, image.type, image.length, image.caption) if image else None,
        a.status.value, a.raw, a.body_images,
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
        body_images=w[13],
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


def _validate_packed(lines: Sequence[tuple[int, bytes]]) -> Packed:
    articles, rejected = validate_lines(lines)
    wires = [to_wire(a) for a in articles]
    return pickle.dumps(wires, protocol=pickle.HIGHEST_PROTOCOL), len(wires), rejected


def unpack(packed: bytes) -> list[ArticleIn]:
    return [from_wire(w) for w in pickle.loads(packed)]


class ParallelValidator:
    """Submit batches of lines; collect (articles, rejected) in submission order.

    Works in any process that may have children (the CLI, a `serve` worker). No validator process
    outlives the process that started it, even when that one is SIGKILLed.
    """

    def __init__(self, settings: Settings, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else max(1, (os.cpu_count() or 2) - 1)
        self._pool: Executor = ProcessPoolExecutor(
            max_workers=self.workers,
            # spawn: forking a process that runs an event loop and SQLite threads is unsafe.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(settings, os.getpid()),
        )

    def submit(self, lines: Sequence[tuple[int, bytes]]) -> Future[Packed]:
        return self._pool.submit(_validate_packed, list(lines))

    @staticmethod
    def decode(result: Packed) -> tuple[list[ArticleIn], Rejected]:
        packed, _, rejected = result
        return unpack(packed), rejected

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class Spool:
    """Validated articles parked on disk in their packed wire form, read back one chunk at a time:
    a large bulk is validated in full before it is stored (so the store's write lock is held only
    while inserting) without holding every article in memory."""

    def __init__(self) -> None:
        # Unlinked at once: nothing is left behind, even by a SIGKILL. Closed by close() or by
        # reading it through, not by a with-block: the store may read it after the request left.
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="syndication-bulk-")  # noqa: SIM115
        self._sizes: list[int] = []
        self.count = 0

    def add(self, packed: bytes, count: int) -> None:
        if count:
            self._file.write(packed)
            self._sizes.append(len(packed))
            self.count += count

    def __iter__(self) -> Iterator[ArticleIn]:
        """One pass; closes the spool at its end (its reader may outlive the one who filled it)."""
        try:
            self._file.flush()
            self._file.seek(0)
            for size in self._sizes:
                yield from unpack(self._file.read(size))
        finally:
            self.close()

    def close(self) -> None:
        self._file.close()


async def validate_to_spool(
    lines: Sequence[tuple[int, bytes]],
    validator: ParallelValidator,
    spool: Spool,
    *,
    chunk: int = 500,
    ahead: int = 4,
) -> Rejected:
    """Validate every line in the pool, `ahead` chunks at a time; the valid articles go to
    `spool` in order until the first rejected line (after it nothing will be stored, but the
    remaining lines are still checked so that every bad line is reported)."""
    rejected: Rejected = []
    pending: deque[asyncio.Future[Packed]] = deque()

    def take(result: Packed) -> None:
        packed, count, bad = result
        rejected.extend(bad)
        if not rejected:
            spool.add(packed, count)

    try:
        for start in range(0, len(lines), chunk):
            pending.append(asyncio.wrap_future(validator.submit(lines[start : start + chunk])))
            if len(pending) >= ahead:
                take(await pending.popleft())
        while pending:
            take(await pending.popleft())
    finally:
        for future in pending:
            future.cancel()
    return rejected


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
