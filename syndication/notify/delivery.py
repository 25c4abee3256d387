"""One HTTP attempt at a target and what to do next: delivered, drop, or retry (and when)."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from enum import StrEnum

import httpx

from syndication.notify.targets import Request


class Verdict(StrEnum):
    DELIVERED = "delivered"
    DROP = "drop"  # the endpoint refused the batch for good (4xx other than 429)
    RETRY = "retry"  # 5xx, 429, timeout, refused connection: the batch may go through later


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    detail: str  # "HTTP 503: …" or "ConnectError: …", for logs and `syndication outbox`
    reason: str  # metrics label: "http-503", "timeout", "transport"
    retry_after: float | None = None  # seconds the endpoint asked us to wait


async def send(client: httpx.AsyncClient, request: Request) -> Outcome:
    try:
        response = await client.post(request.url, content=request.body, headers=request.headers)
    except httpx.TimeoutException as exc:
        return Outcome(Verdict.RETRY, f"timeout: {type(exc).__name__}", "timeout")
    except httpx.TransportError as exc:  # refused or reset connections, DNS, protocol errors
        return Outcome(Verdict.RETRY, f"{type(exc).__name__}: {exc}", "transport")
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED, f"HTTP {status}", f"http-{status}")
    detail = f"HTTP {status}: {response.text[:200].strip()}".rstrip(": ")
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
        return Outcome(Verdict.RETRY, detail, f"http-{status}", retry_after)
    return Outcome(Verdict.DROP, detail, f"http-{status}")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an obsolete date form without a zone is GMT by definition
        return None
    return max(0.0, when.timestamp() - now)


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Delay before retry number `attempt` (1, 2, …): base·2^(attempt-1), capped, times a random
    factor in [0.5, 1). The jitter spreads retries of many senders after an outage; keeping at
    least half of the exponential delay keeps each delay longer than the one before it."""
    raw = min(cap, base * 2.0 ** (attempt - 1))
    return raw * (0.5 + rng.random() / 2)
