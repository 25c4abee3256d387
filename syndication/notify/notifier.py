"""The background task that delivers: leader election, debounce, batches, retries.

The write path only calls `wake()` (sets an asyncio.Event: no I/O, no await), so delivery can
never slow down or fail a write. Writes made by other processes (other workers, `syndication
import`) are noticed through the store's shared change counter, polled as a memory read. A
scheduled article going live needs no write: the deliverer wakes for the earliest upcoming
`published_at` (golive.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import httpx

from syndication.config import Settings
from syndication.notify import delivery
from syndication.notify.delivery import Verdict, backoff, send
from syndication.notify.metrics import NotifyMetrics
from syndication.notify.outbox import Outbox
from syndication.notify.targets import Target, configured_targets
from syndication.store.base import DeliveryCursor, Store

if TYPE_CHECKING:  # only its registry is used here
    from syndication.metrics import Metrics

log = logging.getLogger("syndication.notify")

T = TypeVar("T")

USER_AGENT = "syndication-notify/0.1"
# How long shutdown waits for the delivery task to finish once cancelled.
STOP_TIMEOUT = 5.0


class Notifier:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        *,
        poll_seconds: float = 0.5,
        leader_retry_seconds: float = 2.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.targets = configured_targets(settings)
        self.metrics = NotifyMetrics(metrics.registry)
        # How often the deliverer looks at the shared change counter for other processes'
        # writes, and how often a non-delivering worker tries to take over.
        self.poll_seconds = poll_seconds
        self.leader_retry_seconds = leader_retry_seconds
        self.rng = rng or random.Random()
        # "Now" for what readers can see (a scheduled article's `published_at` against it); the
        # debounce, polls and retry times run on real time.
        self.clock = clock
        self._lock = store.leadership("notify")
        self._workers: list[_TargetWorker] = []
        self._task: asyncio.Task[None] | None = None
        self.stopping = False
        self._stop = asyncio.Event()

    async def start(self) -> None:
        if not self.targets:
            return
        # Every worker makes sure the cursors exist before the server takes its first write, so
        # that no write can fall before a newly configured target's starting point.
        for target in self.targets:
            await Outbox(self.store, target, self.clock).cursor()
        self._task = asyncio.create_task(self._run(), name="notifier")

    async def stop(self) -> None:
        # No blind cancel: a store write cancelled mid-COMMIT (aiosqlite runs it on its own
        # thread) can turn the CancelledError into an OperationalError and leave the shared
        # writer connection inside a transaction. Instead the loops see the flag, and the
        # event interrupts their sleeps and an HTTP request in flight (safe to cancel).
        self.stopping = True
        self._stop.set()
        for worker in self._workers:
            worker.wake()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=STOP_TIMEOUT)
            if not done:  # a store call that hangs: last resort
                log.warning("notifier did not stop within %.0f s; cancelling", STOP_TIMEOUT)
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=1.0)
            self._task = None
        self._workers = []
        await self._lock.release()
        self.metrics.leader.set(0)

    def wake(self) -> None:
        """Called right after a write committed in this process."""
        for worker in self._workers:
            worker.wake()

    @property
    def delivering(self) -> bool:
        return self._lock.held

    async def pause(self, seconds: float) -> bool:
        """Sleep, cut short by stop(); True when stopping."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stop.wait()
        return self.stopping

    async def debounce(self) -> bool:
        """The debounce window before a batch goes out (a method of its own so that a test can
        hold it open); True when stopping."""
        return await self.pause(self.settings.notify_debounce_seconds)

    async def interruptible(self, work: Awaitable[T]) -> T | None:
        """`work`'s result, or None when stop() came first (and `work` was cancelled): only for
        work that is safe to cancel, such as an HTTP request."""
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None

    async def _run(self) -> None:
        while not self.stopping:
            # Polled: the lock's holder may be another process, which can signal no Event here.
            while not await self._lock.try_acquire():
                if await self.pause(self.leader_retry_seconds):
                    return
            log.info("process %d delivers push notifications to %s", os.getpid(),
                     ", ".join(t.name for t in self.targets))  # fmt: skip
            self.metrics.leader.set(1)
            try:
                await self._deliver()
            except* _LeadershipLost:
                # Another process may lead now: stop sending (what was acknowledged is in the
                # cursors; a batch cut short is sent again by whoever leads) and compete again.
                log.warning("process %d lost the delivery lock; stopped delivering", os.getpid())
            self._workers = []
            self.metrics.leader.set(0)

    async def _deliver(self) -> None:
        async with httpx.AsyncClient(
            timeout=self.settings.notify_timeout,
            follow_redirects=False,  # see delivery.send
            headers={"User-Agent": USER_AGENT},
        ) as client:
            self._workers = [_TargetWorker(self, target, client) for target in self.targets]
            # One task per target: a hub that is down does not hold back IndexNow, or back.
            async with asyncio.TaskGroup() as group:
                for worker in self._workers:
                    group.create_task(worker.run(), name=f"notify {worker.target.kind}")
                group.create_task(self._watch_leadership(), name="notify leadership")

    async def _watch_leadership(self) -> None:
        # A lock on a database connection goes with the connection (a replica's).
        while not self.stopping:
            if not self._lock.held:
                raise _LeadershipLost
            await self.pause(self.leader_retry_seconds)


class _LeadershipLost(Exception):
    """The delivery lock is no longer this process's."""


class _TargetWorker:
    def __init__(self, owner: Notifier, target: Target, client: httpx.AsyncClient) -> None:
        self.owner = owner
        self.settings = owner.settings
        self.store = owner.store
        self.target = target
        self.outbox = Outbox(owner.store, target, owner.clock)
        self.client = client
        self.metrics = owner.metrics
        self.label = target.kind
        self._woken = asyncio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def run(self) -> None:
        cursor: DeliveryCursor | None = None
        while not self.owner.stopping:
            try:
                if cursor is None:
                    cursor = await self.outbox.cursor()
                    await self.outbox.live.plan()
                cursor = await self._step(cursor)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The store or a bug: never let the task die silently; start over from the
                # durable cursor after a pause.
                log.exception("%s: delivery loop error; retrying", self.target.name)
                cursor = None
                await self.owner.pause(max(1.0, self.owner.poll_seconds))

    def _depth(self, cursor: DeliveryCursor) -> None:
        self.metrics.depth.labels(self.label).set(
            max(0, self.store.change_hint() - cursor.change_id)
        )

    async def _step(self, cursor: DeliveryCursor) -> DeliveryCursor:
        self._depth(cursor)
        if cursor.next_attempt_at is not None:
            # A retry time stored before Retry-After was capped (up to the year 5195) waits no
            # longer than any this version chooses: its deadline is pulled in, in memory.
            longest = max(delivery.RETRY_AFTER_MAX, self.settings.notify_backoff_max_seconds)
            at = cursor.next_attempt_at
            if at - time.time() > longest:
                at = time.time() + longest
                cursor = dataclasses.replace(cursor, next_attempt_at=at)
            # A failed batch waits for its time; writes meanwhile join it when it is rebuilt.
            delay = at - time.time()
            if delay > 0 and await self.owner.pause(delay):
                return cursor
        else:
            self._woken.clear()
            live = self.outbox.live
            if self.store.change_hint() <= cursor.change_id and not live.due(self.owner.clock()):
                # Until the next write, or the moment a scheduled article may go live.
                wait = min(self.owner.poll_seconds, live.next_at - self.owner.clock())
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that races with its timeout, and stop() would wait for this loop forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, wait)):
                        await self._woken.wait()
                return cursor
            # Debounce: let the burst of writes finish, then send it all at once. An article
            # going live starts the window as a write does.
            if await self.owner.debounce():
                return cursor
        return await self._drain(cursor)

    async def _drain(self, cursor: DeliveryCursor) -> DeliveryCursor:
        """Send every pending batch; stop at the first one that must wait for a retry."""
        while not self.owner.stopping:
            batch = await self.outbox.next_batch(cursor.change_id)
            if batch is None:
                batch = await self.outbox.next_live_batch(cursor.change_id)
            if batch is None:
                if cursor.next_attempt_at is not None:  # nothing left to retry
                    cursor = await self.outbox.settle(cursor)
                self._depth(cursor)
                # Writes may have scheduled an article sooner than the one awaited.
                await self.outbox.live.plan()
                return cursor
            if not batch.urls:  # drafts, 'terms' rows…: nothing to announce
                cursor = await self.outbox.acknowledge(cursor, batch)
                continue
            outcome = await self.owner.interruptible(
                send(self.client, self.target.request(batch.urls))
            )
            if outcome is None:  # stopping: the batch stays pending
                return cursor
            span = (
                f"changes {batch.after + 1}-{batch.last_change_id}"
                if batch.live_through is None
                else f"{batch.changes} articles going live"
            )
            if outcome.verdict is Verdict.DELIVERED:
                self.metrics.deliveries.labels(self.label).inc()
                self.metrics.urls.labels(self.label).inc(len(batch.urls))
                log.info("%s: delivered %d URLs (%s): %s", self.target.name, len(batch.urls),
                         span, outcome.detail)  # fmt: skip
                cursor = await self.outbox.acknowledge(cursor, batch)
                continue
            self.metrics.failures.labels(self.label, outcome.reason).inc()
            attempts = cursor.attempts + 1
            if outcome.verdict is Verdict.DROP or attempts >= self.settings.notify_max_attempts:
                why = "refused" if outcome.verdict is Verdict.DROP else f"{attempts} attempts"
                log.error("%s: dropped %d URLs (%s) after %s: %s", self.target.name,
                          len(batch.urls), span, why, outcome.detail)  # fmt: skip
                self.metrics.dropped.labels(self.label).inc()
                cursor = await self.outbox.drop(cursor, batch, outcome.detail)
                continue
            delay = backoff(
                attempts,
                self.settings.notify_backoff_seconds,
                self.settings.notify_backoff_max_seconds,
                self.owner.rng,
            )
            if outcome.retry_after is not None:
                delay = max(delay, outcome.retry_after)  # never sooner than the endpoint asked
            log.warning("%s: attempt %d failed (%s): %s; next in %.1f s", self.target.name,
                        attempts, span, outcome.detail, delay)  # fmt: skip
            self.metrics.retries.labels(self.label).inc()
            return await self.outbox.retry_later(
                cursor, attempts=attempts, at=time.time() + delay, error=outcome.detail
            )
        return cursor
