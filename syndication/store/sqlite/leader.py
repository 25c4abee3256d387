"""Leadership among the processes of one host (`Store.leadership`): an exclusive flock on a
file beside the SQLite database. The kernel drops the lock when its holder dies (even by
SIGKILL), so a process that retries now and then takes over from a dead one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class LeaderLock:
    """The flock beside a SQLite file: once taken, held until released or the process ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.held = False

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self.held = True
        return True

    async def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
        self._fd = None
        self.held = False
