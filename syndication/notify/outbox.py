"""The durable queue of one target: the change log after the target's delivery cursor, then the
articles that went live after its live mark (golive.py).

Nothing is written on the write path: the change log row, committed in the write's own
transaction, *is* the outbox entry. Delivering a batch moves the cursor past it, and only after
the endpoint acknowledged it, so a crash between sending and moving resends the batch (delivery is
at least once) and a crash anywhere else loses nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from syndication.notify.golive import LiveQueue
from syndication.notify.targets import Target
from syndication.store.base import DeliveryCursor, LiveMark, Store

# Change-log rows read per query while a batch is assembled.
PAGE = 1000


@dataclass(frozen=True, slots=True)
class Batch:
    after: int  # the cursor the batch starts after
    last_change_id: int  # where the cursor moves once the batch is acknowledged
    urls: list[str]  # each once, in the order the changes named them
    changes: int  # change-log rows; for articles going live, articles
    oldest: datetime | None
    # Articles going live (then `after` == `last_change_id`): the live mark once acknowledged.
    live_through: LiveMark | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    """What `syndication outbox` shows for one target."""

    target: str
    configured: bool
    cursor: DeliveryCursor | None
    changes: int
    urls: int
    oldest: datetime | None


class Outbox:
    def __init__(
        self, store: Store, target: Target, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.target = target
        # What is visible is judged by this clock (epoch seconds); retry times are not.
        self.clock = clock
        self.live = LiveQueue(store, target)
        self._memo: Batch | None = None  # the last batch scanned, resumed when asked again

    async def cursor(self) -> DeliveryCursor:
        """The delivery cursor; both it and the live mark are created at their starting points
        when the target has none."""
        cursor = await self.store.delivery_cursor(self.target.name, create=True)
        assert cursor is not None
        await self.live.load(self.clock())
        return cursor

    async def next_batch(self, after: int) -> Batch | None:
        """The changes after `after` whose URLs fit one request; None when there are none.

        A batch ends at a change boundary, so that the cursor can say exactly what was sent.
        While the endpoint is down, the same cursor is asked again at every retry: the scan
        resumes where the previous one stopped instead of re-reading the whole backlog (the
        result is the same, the scan being a left-to-right fold over the change log).
        """
        urls: dict[str, None] = {}
        last, count, oldest = after, 0, None
        if self._memo is not None and self._memo.after == after:
            memo = self._memo
            urls = dict.fromkeys(memo.urls)
            last, count, oldest = memo.last_change_id, memo.changes, memo.oldest
        batch = await self._scan(after, urls, last, count, oldest)
        self._memo = batch
        return batch

    async def _scan(
        self, after: int, urls: dict[str, None], last: int, count: int, oldest: datetime | None
    ) -> Batch | None:
        while True:
            changes = await self.store.changes_since(last, limit=PAGE)
            # Read after the changes, so after their commits (see golive.py).
            now = self.clock()
            for change in changes:
                new = [u for u in self.target.urls(change, now) if u not in urls]
                if urls and len(urls) + len(new) > self.target.max_urls:
                    return Batch(after, last, list(urls), count, oldest)
                urls.update(dict.fromkeys(new))
                last, count = change.id, count + 1
                oldest = oldest or change.at
            if len(changes) < PAGE:
                break
        if last == after:
            return None
        return Batch(after, last, list(urls), count, oldest)

    async def next_live_batch(self, after: int) -> Batch | None:
        """The articles that went live after the live mark, as many as fit one request; None
        when there are none. `after` is the delivery cursor, which the batch leaves as it is."""
        scanned = await self.live.scan(self.clock())
        if scanned is None:
            return None
        urls, count, mark = scanned
        return Batch(after, after, urls, count, None, live_through=mark)

    async def acknowledge(self, cursor: DeliveryCursor, batch: Batch) -> DeliveryCursor:
        return await self._move_past(cursor, batch, last_error=None)

    async def _move_past(
        self, cursor: DeliveryCursor, batch: Batch, *, last_error: str | None
    ) -> DeliveryCursor:
        if batch.live_through is not None:
            # First the mark: a crash before the cursor's retry state is cleared retries
            # whatever is pending then, and has lost nothing.
            await self.store.save_live_mark(self.target.name, batch.live_through)
            self.live.moved(batch.live_through)
            if not batch.urls and last_error is None:
                return cursor  # nothing was sent: the cursor's state still says what it said
            clean = (cursor.attempts, cursor.next_attempt_at, cursor.last_error) == (0, None, None)
            if clean and last_error is None:
                return cursor
        return await self._save(
            replace(
                cursor,
                change_id=batch.last_change_id,
                attempts=0,
                next_attempt_at=None,
                last_error=last_error,
            )
        )

    async def drop(self, cursor: DeliveryCursor, batch: Batch, error: str) -> DeliveryCursor:
        """Move past a batch the endpoint will never take; the error stays on show."""
        return await self._move_past(cursor, batch, last_error=f"dropped: {error}")

    async def retry_later(
        self, cursor: DeliveryCursor, *, attempts: int, at: float, error: str
    ) -> DeliveryCursor:
        # Persisted, so a restart keeps honouring the endpoint's Retry-After and the backoff.
        return await self._save(
            replace(cursor, attempts=attempts, next_attempt_at=at, last_error=error)
        )

    async def settle(self, cursor: DeliveryCursor) -> DeliveryCursor:
        """Forget a retry when nothing is pending any more."""
        return await self._save(replace(cursor, attempts=0, next_attempt_at=None))

    async def _save(self, cursor: DeliveryCursor) -> DeliveryCursor:
        cursor = replace(cursor, updated_at=time.time())
        await self.store.save_delivery_cursor(cursor)
        return cursor

    async def pending(self, cursor: DeliveryCursor) -> tuple[int, int, datetime | None]:
        """(changes, distinct URLs, oldest change time) after the cursor."""
        urls: set[str] = set()
        last, count, oldest = cursor.change_id, 0, None
        while True:
            changes = await self.store.changes_since(last, limit=PAGE)
            now = self.clock()
            for change in changes:
                urls.update(self.target.urls(change, now))
                last, count = change.id, count + 1
                oldest = oldest or change.at
            if len(changes) < PAGE:
                return count, len(urls), oldest
