"""`syndication outbox`: what each push target still has to receive, read from the store only
(so it works beside a running server, or with none)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from syndication.config import Settings
from syndication.notify.outbox import Outbox, Pending
from syndication.notify.targets import configured_targets
from syndication.store.base import Store


async def pending(settings: Settings, store: Store) -> list[Pending]:
    """One row per configured target, then per cursor left by a target no longer configured."""
    rows: list[Pending] = []
    cursors = {c.target: c for c in await store.delivery_cursors()}
    for target in configured_targets(settings):
        cursor = cursors.pop(target.name, None)
        if cursor is None:
            rows.append(Pending(target.name, True, None, 0, 0, None))
            continue
        changes, urls, oldest = await Outbox(store, target).pending(cursor)
        rows.append(Pending(target.name, True, cursor, changes, urls, oldest))
    for name, cursor in cursors.items():
        behind = await store.last_change_id() - cursor.change_id
        rows.append(Pending(name, False, cursor, behind, 0, None))
    return rows


def _when(epoch: float, now: float) -> str:
    at = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    delta = epoch - now
    return f"{at} (in {delta:.0f} s)" if delta > 0 else f"{at} (due)"


def render(rows: list[Pending], now: float | None = None) -> str:
    now = time.time() if now is None else now
    if not rows:
        return "no push targets configured (SYNDICATION_WEBSUB_HUB, SYNDICATION_INDEXNOW_*)"
    lines = []
    for row in rows:
        lines.append(row.target + ("" if row.configured else "  (no longer configured)"))
        cursor = row.cursor
        if cursor is None:
            lines.append("  not started: the next server starts it at the end of the change log")
            continue
        lines.append(f"  delivered through change {cursor.change_id}")
        if row.configured:
            oldest = row.oldest.strftime("%Y-%m-%d %H:%M:%S UTC") if row.oldest else "-"
            lines.append(f"  pending: {row.changes} changes, {row.urls} URLs, oldest {oldest}")
        else:
            lines.append(f"  behind by {row.changes} changes")
        if cursor.next_attempt_at is not None:
            lines.append(
                f"  next attempt: {_when(cursor.next_attempt_at, now)}, "
                f"after {cursor.attempts} failed"
            )
        elif row.changes:
            lines.append("  next attempt: after the debounce, once a server runs")
        lines.append(f"  last error: {cursor.last_error or '-'}")
    return "\n".join(lines)
