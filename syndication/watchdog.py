"""A worker whose event loop stops turning is ended, so that a fresh one takes its place.

Every request of a worker is served by its one event loop. A bug that keeps the loop from
coming back (a coroutine that loops without yielding, a blocking call made on it) leaves the
process alive and its listening socket accepting, so nothing restarts it and every client that
reaches it waits until it gives up. The loop beats once a second; a thread of its own checks the
beat, and when it is `limit` seconds late the thread writes every thread's stack to the log and
ends the process with EX_SOFTWARE. The supervisor (`serve --workers N`) starts another, as for
any exit; a single-worker `serve` exits and is restarted by systemd (deploy/systemd).

Also, SIGUSR1 writes every thread's stack to the log without stopping anything: what an operator
asks of a worker that is slow rather than stuck.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger("syndication.watchdog")

EX_SOFTWARE = 70  # sysexits.h: an internal software error


def dump_and_exit(stalled: float) -> None:
    log.critical(
        "the event loop has not turned for %.0f s: ending this worker so that another replaces it;"
        " the stacks of its threads follow",
        stalled,
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(EX_SOFTWARE)


class LoopWatchdog:
    """Beats on the event loop every `period` seconds; a thread calls `on_stall(seconds late)`
    once the beat is more than `limit` seconds old, then stops watching."""

    def __init__(
        self,
        limit: float,
        *,
        period: float = 1.0,
        on_stall: Callable[[float], None] = dump_and_exit,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.period = period
        self.on_stall = on_stall
        self.clock = clock
        self._last = clock()
        self._stop = threading.Event()
        self._handle: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._beat()
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _beat(self) -> None:
        self._last = self.clock()
        self._handle = self._loop.call_later(self.period, self._beat)

    def _watch(self) -> None:
        while not self._stop.wait(self.period):
            late = self.clock() - self._last
            if late > self.limit:
                self.on_stall(late)
                return


def dump_stacks_on_sigusr1() -> None:
    """SIGUSR1: every thread's stack to stderr (the log), the process carries on. Written by
    faulthandler from the signal itself, so it works while the event loop is stuck."""
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True, chain=False)
