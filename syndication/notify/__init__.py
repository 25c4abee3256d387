"""Push notifications: WebSub publish pings and IndexNow submissions, delivered from the change
log by one background task per server (see README "Push notifications").

  targets.py   which URLs a change announces to each target; the request bodies (pure)
  outbox.py    the durable queue: the change log after each target's delivery cursor
  golive.py    scheduled articles, announced when they go live: after each target's live mark
  delivery.py  one HTTP attempt and its verdict; backoff with jitter; Retry-After
  leader.py    the flock that makes exactly one worker process deliver
  notifier.py  the background task: wake-ups, debounce, batches, retries
  routes.py    the IndexNow key file
  report.py    what `syndication outbox` prints
"""

from __future__ import annotations

from syndication.notify.notifier import Notifier
from syndication.notify.routes import notify_routes

__all__ = ["Notifier", "notify_routes"]
