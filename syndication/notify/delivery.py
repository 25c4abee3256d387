"""One HTTP attempt at a target and what to do next: delivered, drop, or retry (and when)."""

from __future__ import annotations

import email.utils
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC
from enum import StrEnum

import httpx

from syndication.notify.targets import Request


class Verdict(StrEnum):
    DELIVERED = "delivered"
    DROP = "drop"  # the endpoint refused the batch for good (4xx other than 429)
    RETRY = "retry"  # 5xx, 429, 3xx, timeout, refused connection: may go through later


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    detail: str  # "HTTP 503: …" or "ConnectError: …", for logs and `syndication outbox`
    reason: str  # metrics label: "http-503", "timeout", "transport"
    retry_after: float | None = None  # seconds the endpoint asked us to wait


# The longest wait a Retry-After can impose: an endpoint saying "in 3,000 years" (or sending
# garbage that parses as a far date) must not silence delivery until the backlog is forgotten.
RETRY_AFTER_MAX = 86_400.0
_DELAY_SECONDS = re.compile(r"[0-9]+")  # RFC 9110 delay-seconds: ASCII digits, nothing else


async def send(client: httpx.AsyncClient, request: Request) -> Outcome:
    """One POST. The client must not follow redirects: a redirect would re-send the body to
    wherever the endpoint points, so a 3xx is a failed attempt, reported with its Location."""
    try:
        response = await client.post(request.url, content=request.body, headers=request.headers)
    except httpx.TimeoutException as exc:
        return Outcome(Verdict.RETRY, f"timeout: {type(exc).__name__}", "timeout")
    except httpx.TransportError as exc:  # refused or reset connections, DNS, protocol errors
        return Outcome(Verdict.RETRY, f"{type(exc).__name__}: {_clip(str(exc))}", "transport")
    except httpx.RequestError as exc:  # a body that does not decode as its Content-Encoding says
        return Outcome(Verdict.RETRY, f"{type(exc).__name__}: {_clip(str(exc))}", "protocol")
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED, f"HTTP {status}", f"http-{status}")
    if 300 <= status < 400:
        location = _clip(response.headers.get("location", "")) or "(none)"
        return Outcome(Verdict.RETRY, f"HTTP {status}: redirect to {location} not followed",
                       f"http-{status}")  # fmt: skip
    detail = f"HTTP {status}: {_clip(response.text)}".rstrip(": ")
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
        return Outcome(Verdict.RETRY, detail, f"http-{status}", retry_after)
    return Outcome(Verdict.DROP, detail, f"http-{status}")


def _clip(text: str, limit: int = 200) -> str:
    """Endpoint-supplied text made fit for one log line: printable, spaces folded, cut."""
    printable = "".join(c if c.isprintable() else " " for c in text[: limit * 2])
    return " ".join(printable.split())[:limit]


def parse_retry_after(
    value: str | None, now: float, limit: float = RETRY_AFTER_MAX
) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date (RFC 9110), at
    most `limit`. Anything else (`²`, `1.5`, `-1`, a date we cannot read) is no hint: None."""
    if not value:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return min(limit, float(value))  # float(), unlike int(), takes any number of digits
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:  # the obsolete asctime form has no zone: GMT by definition
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return min(limit, max(0.0, seconds))


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Delay before retry number `attempt` (1, 2, …): base·2^(attempt-1), capped, times a random
    factor in [0.5, 1). The jitter spreads retries of many senders after an outage; keeping at
    least half of the exponential delay keeps each delay longer than the one before it."""
    raw = min(cap, base * 2.0 ** (attempt - 1))
    return raw * (0.5 + rng.random() / 2)
