"""A change counter shared by every process on the host: one 8-byte integer in an mmap'd file.

The change log in the store is the truth; this counter only says, for about a microsecond of
work, whether the log has grown since a worker last looked. Writers bump it after they commit
(before they answer their client), so the next request to any worker sees the write.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from pathlib import Path

_FORMAT = struct.Struct("<q")


class ChangeCounter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if os.fstat(self._fd).st_size < _FORMAT.size:
            os.ftruncate(self._fd, _FORMAT.size)
        self._map = mmap.mmap(self._fd, _FORMAT.size)

    def get(self) -> int:
        return int(_FORMAT.unpack_from(self._map, 0)[0])

    def advance(self, change_id: int) -> None:
        """Raise the counter to `change_id`, never lower it: writers in several processes may
        finish out of order, so the read-compare-write holds an exclusive lock on the file.
        Readers take no lock: an aligned 8-byte store is seen whole."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if change_id > self.get():
                _FORMAT.pack_into(self._map, 0, change_id)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)
