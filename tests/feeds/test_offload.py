"""Feed writers run in a worker thread: the event loop goes on serving while one renders."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import orjson
import pytest

from feeds import build, build_feed, build_index_page, build_opml, build_yandex, listing
from feeds.index_page import render_index
from feeds.opml import render_opml
from syndication.config import Settings
from syndication.model import ALL_NEWS, Scope, ScopeKind
from syndication.rendering import RenderContext, Rendered
from syndication.store import SQLiteStore
from tests.feeds.helpers import assert_valid_atom, context, load, payload

pytestmark = [pytest.mark.anyio, pytest.mark.backends]

# Only a hang reaches it: the writer is released as soon as the test has seen the loop serve.
DEADLINE = 60.0


async def test_a_render_held_in_its_writer_leaves_the_loop_serving(
    store: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load(store, settings, [payload(n) for n in range(1, 6)])
    ctx = context(store, settings)
    entered, release = threading.Event(), threading.Event()
    writer_threads: list[int] = []
    atom = build.FORMATS["atom"]

    def held(feed: Any) -> bytes:
        writer_threads.append(threading.get_ident())
        entered.set()
        if not release.wait(DEADLINE):
            raise AssertionError("the writer was never released: it blocked the loop")
        return atom.render(feed)

    monkeypatch.setitem(build.FORMATS, "atom", replace(atom, render=held))
    held_render = asyncio.create_task(build_feed(ctx, ALL_NEWS, "atom"))
    # Wait for the writer without holding the loop: a writer on the loop would block right here.
    assert await asyncio.to_thread(entered.wait, DEADLINE)
    other = await asyncio.create_task(build_feed(ctx, Scope(ScopeKind.RUBRIC, "glavnoe"), "json"))
    assert len(orjson.loads(other.body)["items"]) == 5
    assert not held_render.done()  # the other document was served while this one was held
    release.set()
    rendered = await held_render
    assert writer_threads
    assert threading.get_ident() not in writer_threads
    assert_valid_atom(rendered.body)


Builder = Callable[[RenderContext], Awaitable[Rendered]]


def _spy(threads: list[int], writer: Callable[..., bytes]) -> Callable[..., bytes]:
    def spy(*args: Any) -> bytes:
        threads.append(threading.get_ident())
        return writer(*args)

    return spy


@pytest.mark.parametrize("name", ["rss", "atom", "json", "yandex", "opml", "index"])
async def test_every_writer_runs_off_the_loop(
    store: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # Past the size JSON Feed writes inline; a month's worth of pages renders the same way.
    await load(store, settings, [payload(n) for n in range(1, build.JSON_INLINE_ITEMS + 2)])
    ctx = context(store, settings)
    threads: list[int] = []
    builder: Builder
    if name in build.FORMATS:
        form = build.FORMATS[name]
        monkeypatch.setitem(build.FORMATS, name, replace(form, render=_spy(threads, form.render)))
        builder = lambda ctx: build_feed(  # noqa: E731
            ctx, ALL_NEWS, name, limit=build.JSON_INLINE_ITEMS + 1
        )
    elif name == "yandex":
        yandex = build._YANDEX
        monkeypatch.setattr(build, "_YANDEX", replace(yandex, render=_spy(threads, yandex.render)))
        builder = build_yandex
    elif name == "opml":
        monkeypatch.setattr(listing, "render_opml", _spy(threads, render_opml))
        builder = build_opml
    else:
        monkeypatch.setattr(listing, "render_index", _spy(threads, render_index))
        builder = build_index_page
    assert (await builder(ctx)).body
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


async def test_writers_in_parallel_threads_give_the_same_bytes(
    store: SQLiteStore, settings: Settings
) -> None:
    """Renders sharing worker threads (feedgen, lxml, orjson at once) agree byte for byte."""
    await load(store, settings, [payload(n) for n in range(1, 41)])
    ctx = context(store, settings)
    jobs: list[Callable[[], Awaitable[Rendered]]] = [
        *(
            lambda fmt=fmt: build_feed(ctx, ALL_NEWS, fmt, limit=30)
            for fmt in ("rss", "atom", "json")
        ),
        lambda: build_feed(ctx, Scope(ScopeKind.MONTH, "2025-12"), "atom"),
        lambda: build_yandex(ctx),
        lambda: build_opml(ctx),
        lambda: build_index_page(ctx),
    ]
    alone = [(await job()).body for job in jobs]
    together = await asyncio.gather(*(job() for _ in range(4) for job in jobs))
    assert [r.body for r in together] == alone * 4
