"""The store for several replicas: one PostgreSQL database, reached through asyncpg."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from zoneinfo import ZoneInfo

import asyncpg

from syndication.model import Tag
from syndication.store.freshness import ChangeListener, HeadCheck
from syndication.store.postgres.articles import FeedQueries
from syndication.store.postgres.changelog import ChangeLog, DeliveryCursors, Retractions, Stamps
from syndication.store.postgres.connections import Connections
from syndication.store.postgres.golive import GoLive
from syndication.store.postgres.leader import AdvisoryLeader
from syndication.store.postgres.sitemaps import SitemapQueries
from syndication.store.postgres.writes import Writes
from syndication.store.sqlite.writes import _Known


class PostgresStore(
    Writes, FeedQueries, SitemapQueries, ChangeLog, Retractions, Stamps, DeliveryCursors, GoLive
):
    """Every store protocol (syndication/store/base.py) over one PostgreSQL database; each part
    lives in its own module and shares only the connections."""

    def __init__(self, dsn: str, zone: ZoneInfo, *, readers: int = 3) -> None:
        self.dsn = dsn
        self.zone = zone
        self.db = Connections(dsn, zone, readers=readers)
        self._known = _Known()
        self._tags_by_id: dict[int, Tag] = {}
        # Freshness across replicas (README, "Freshness across replicas"): every request waits
        # for a head query begun after it arrived; LISTEN only brings the news early.
        self._head = HeadCheck(self.db.head)
        self._listener = ChangeListener(
            self._listen_connection, self.db.last_change_id, self._heard
        )

    async def _listen_connection(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn, timeout=10)

    def _heard(self, change_id: int) -> None:
        self.db.hint = max(self.db.hint, change_id)

    async def open(self) -> None:
        await self.db.open()
        self._listener.start()

    async def close(self) -> None:
        await self._listener.stop()
        await self.db.close()

    async def change_head(self) -> int:
        return await self._head.current()

    def snapshot(self) -> AbstractAsyncContextManager[None]:
        return self.db.snapshot()

    def leadership(self, name: str) -> AdvisoryLeader:
        return AdvisoryLeader(self.dsn, name)

    async def ping(self) -> None:
        await self.db.fetchall("SELECT 1")
