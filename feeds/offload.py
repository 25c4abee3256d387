"""Run a pure writer (data in, bytes out) in a worker thread.

Building and serialising a large document takes the CPU for tens to hundreds of milliseconds
(a 500-item archive page: ~0.1 s); on the event loop that stalls every request the worker is
serving, cached hits included. In a thread the loop keeps its turn: the interpreter hands the GIL
back and forth every switch interval (1 ms in the service's workers, see app.py), so a render
delays a cached hit by about that much instead of by the whole render. Builders await their store queries first, so the thread never
touches the store or the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


async def off_loop(writer: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    return await asyncio.to_thread(writer, *args, **kwargs)
