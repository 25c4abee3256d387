"""The loop watchdog: a worker whose event loop stops turning is ended (to be replaced), one
whose loop turns is left alone."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from syndication.config import ConfigError, Settings
from syndication.watchdog import EX_SOFTWARE, LoopWatchdog

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.anyio
async def test_a_loop_that_turns_is_never_reported() -> None:
    # The clock moves only when the test's coroutine runs on the loop, so a loop that is merely
    # slow (a loaded machine) delays the clock as much as the beat; only missing beats add up.
    now = [0.0]
    stalls: list[float] = []
    dog = LoopWatchdog(5, period=0.01, on_stall=stalls.append, clock=lambda: now[0])
    dog.start(asyncio.get_running_loop())
    try:
        for _ in range(40):
            now[0] += 1
            await asyncio.sleep(0.02)
    finally:
        dog.stop()
    assert stalls == []
    assert dog._last >= 35  # the beat ran all along


@pytest.mark.anyio
async def test_a_stuck_loop_is_reported_by_the_watching_thread() -> None:
    released = threading.Event()
    stalls: list[float] = []

    def on_stall(late: float) -> None:
        stalls.append(late)
        released.set()

    dog = LoopWatchdog(0.2, period=0.05, on_stall=on_stall)
    dog.start(asyncio.get_running_loop())
    try:
        # Blocks the event loop itself, as a coroutine that never yields would; only the
        # watchdog's thread can end it (the 60 s are for a watchdog that never fires).
        released.wait(60)
    finally:
        dog.stop()
    assert len(stalls) == 1
    assert stalls[0] > 0.2


def test_the_default_action_logs_the_stacks_and_exits_for_a_replacement() -> None:
    script = textwrap.dedent(
        """
        import asyncio, logging, threading
        from syndication.watchdog import LoopWatchdog

        async def main():
            LoopWatchdog(0.2, period=0.05).start(asyncio.get_running_loop())
            threading.Event().wait()  # the loop never comes back

        logging.basicConfig(level=logging.INFO)
        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == EX_SOFTWARE, done.stderr
    assert "the event loop has not turned for" in done.stderr
    # faulthandler's dump of every thread: the stuck main thread's frame is named.
    assert "Current thread" in done.stderr or "Thread 0x" in done.stderr
    assert "in main" in done.stderr


def test_the_limit_is_a_setting() -> None:
    assert Settings.load(environ={"SYNDICATION_STALL_SECONDS": "0"}).stall_seconds == 0
    assert Settings.load(environ={}).stall_seconds == 30
    with pytest.raises(ConfigError, match="STALL_SECONDS"):
        Settings.load(environ={"SYNDICATION_STALL_SECONDS": "-1"})
