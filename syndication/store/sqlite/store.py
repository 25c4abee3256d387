"""The embedded default store: one SQLite file in WAL mode, reached through aiosqlite."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from zoneinfo import ZoneInfo

from syndication.model import Tag
from syndication.store.base import StoreError
from syndication.store.sqlite.articles import FeedQueries
from syndication.store.sqlite.changelog import ChangeLog, DeliveryCursors, Retractions, Stamps
from syndication.store.sqlite.connections import Connections
from syndication.store.sqlite.golive import GoLive
from syndication.store.sqlite.leader import LeaderLock
from syndication.store.sqlite.sitemaps import SitemapQueries
from syndication.store.sqlite.writes import Writes, _Known


class SQLiteStore(
    Writes, FeedQueries, SitemapQueries, ChangeLog, Retractions, Stamps, DeliveryCursors, GoLive
):
    """Every store protocol (syndication/store/base.py) over one SQLite file; each part lives in
    its own module and shares only the connections."""

    def __init__(self, path: str | Path, zone: ZoneInfo, *, readers: int = 3) -> None:
        self.path = Path(path)
        self.zone = zone
        self.db = Connections(self.path, zone, readers=readers)
        self._known = _Known()
        self._tags_by_id: dict[int, Tag] = {}
        self._part_memo = OrderedDict()

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    def snapshot(self) -> AbstractAsyncContextManager[None]:
        return self.db.snapshot()

    def leadership(self, name: str) -> LeaderLock:
        # A file beside the database: every process on the host that opens it agrees.
        return LeaderLock(self.path.with_name(f"{self.path.name}-{name}.lock"))

    async def ping(self) -> None:
        try:
            await self.db.fetchall("SELECT 1")
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
