"""Instants in UTC, months in the site's zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# "No upper bound" for queries that take a `now`; far from datetime.max so arithmetic stays safe.
FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_epoch(dt: datetime) -> int:
    """Whole seconds since the epoch; feeds and sitemaps show no finer precision."""
    return int(dt.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def parse_month(key: str) -> tuple[int, int]:
    """'YYYY-MM' → (year, month); ValueError when it is not a real month."""
    match = _MONTH.match(key)
    if not match:
        raise ValueError(f"not a month: {key!r}")
    year, month = int(match[1]), int(match[2])
    if not (1 <= month <= 12 and 1 <= year <= 9998):
        raise ValueError(f"not a month: {key!r}")
    return year, month


def month_bounds(key: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where month `key` of the site's calendar starts and the next one starts."""
    year, month = parse_month(key)
    start = datetime(year, month, 1, tzinfo=zone)
    nxt = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), nxt.astimezone(UTC)


def month_key(dt: datetime, zone: ZoneInfo) -> str:
    local = dt.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


def month_rows(first: datetime, last: datetime, zone: ZoneInfo) -> list[tuple[int, int, str]]:
    """(lo, hi, month), in epoch seconds, of every month of the site's calendar from `first`'s to `last`'s."""
    rows = []
    key, end_key = month_key(first, zone), month_key(last, zone)
    while True:
        lo, hi = month_bounds(key, zone)
        rows.append((to_epoch(lo), to_epoch(hi), key))
        if key == end_key:
            return rows
        key = month_key(hi, zone)


def shift_month(key: str, delta: int) -> str:
    year, month = parse_month(key)
    index = year * 12 + (month - 1) + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
