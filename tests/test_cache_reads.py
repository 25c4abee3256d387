"""The cache's shared reads (`_OneAtATime`): whoever asks after a run finished gets a new run.

A run's bookkeeping (`_done`) is a callback queued when the run finishes; a caller woken in the
same turn of the event loop found the finished run still registered. Awaiting a finished task
returns without yielding, so `_publication_horizon`, which loops until the horizon was read for
its change id, spun forever without letting the loop run that callback: the worker stopped
answering (the soak's timed-out reads). `_catch_up` returned without reading the change log.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import FrameType
from typing import cast

import pytest

from syndication.cache import DocumentCache, _OneAtATime
from syndication.config import Settings
from syndication.metrics import Metrics
from syndication.store import Store

pytestmark = pytest.mark.anyio


class Spun(Exception):
    pass


@contextmanager
def interrupt_a_spin_after(seconds: int) -> Iterator[None]:
    """A loop that never yields cannot be timed out by asyncio; a signal handler runs between
    bytecodes and can. Only a real spin reaches the deadline."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Spun(f"the event loop did not come back within {seconds} s")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class HeldHorizon:
    """A store whose `next_publication` answers (None) once `gate` is open, with no other
    await: a read finishes in the turn the gate opens."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.reading = asyncio.Event()
        self.reads = 0

    async def next_publication(self, *, after: datetime) -> datetime | None:
        self.reads += 1
        self.reading.set()
        await self.gate.wait()
        return None


async def test_a_horizon_read_finished_for_an_older_change_is_not_reused(
    settings: Settings,
) -> None:
    store = HeldHorizon()
    cache = DocumentCache(cast(Store, store), settings, Metrics())
    cache._synced = 1
    first = asyncio.create_task(cache._publication_horizon(1))
    await store.reading.wait()  # the read for change 1 is under way
    cache._synced = 2  # a change is applied meanwhile
    woken = asyncio.Event()

    async def render_for_change_2() -> float:
        await woken.wait()
        return await cache._publication_horizon(2)

    second = asyncio.create_task(render_for_change_2())
    await asyncio.sleep(0)  # `second` waits on `woken`
    with interrupt_a_spin_after(60):
        # Both wake in the same turn: the read finishes first, then `second` asks for the
        # horizon of change 2 before the read's `_done` callback has run.
        store.gate.set()
        woken.set()
        results = await asyncio.gather(first, second)
    assert list(results) == [float("inf"), float("inf")]
    assert cache._horizon_for == 2
    assert store.reads == 2  # the second was read with change 2 applied


async def test_a_wait_after_a_run_finished_starts_a_new_run() -> None:
    runs = 0
    release = asyncio.Event()

    async def read() -> None:
        nonlocal runs
        runs += 1
        await release.wait()

    one = _OneAtATime(read)
    woken = asyncio.Event()
    first = asyncio.create_task(one.wait())
    await asyncio.sleep(0)

    async def late() -> None:
        await woken.wait()
        await one.wait()

    second = asyncio.create_task(late())
    await asyncio.sleep(0)
    release.set()
    woken.set()  # `late` asks in the turn the first run finishes, before its `_done` runs
    with interrupt_a_spin_after(60):
        await asyncio.gather(first, second)
    assert runs == 2
