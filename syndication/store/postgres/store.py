"""The store for several replicas: one PostgreSQL database, reached through asyncpg."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from zoneinfo import ZoneInfo

from syndication.model import Tag
from syndication.store.postgres.articles import FeedQueries
from syndication.store.postgres.changelog import ChangeLog, DeliveryCursors, Stamps
from syndication.store.postgres.connections import Connections
from syndication.store.postgres.golive import GoLive
from syndication.store.postgres.sitemaps import SitemapQueries
from syndication.store.postgres.writes import Writes
from syndication.store.sqlite.writes import _Known


class PostgresStore(
    Writes, FeedQueries, SitemapQueries, ChangeLog, Stamps, DeliveryCursors, GoLive
):
    """Every store protocol (syndication/store/base.py) over one PostgreSQL database; each part
    lives in its own module and shares only the connections."""

    def __init__(self, dsn: str, zone: ZoneInfo, *, readers: int = 3) -> None:
        self.dsn = dsn
        self.zone = zone
        self.db = Connections(dsn, zone, readers=readers)
        self._known = _Known()
        self._tags_by_id: dict[int, Tag] = {}

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    def snapshot(self) -> AbstractAsyncContextManager[None]:
        return self.db.snapshot()

    async def ping(self) -> None:
        await self.db.fetchall("SELECT 1")
