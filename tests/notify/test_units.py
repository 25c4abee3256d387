"""Pure pieces: Retry-After parsing, backoff growth, target URL selection."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime

from syndication.config import Settings
from syndication.model import Change
from syndication.notify.delivery import backoff, parse_retry_after
from syndication.notify.targets import IndexNowTarget, WebSubTarget
from tests.notify.helpers import ALL, feeds


def test_retry_after_seconds_and_http_date() -> None:
    now = 1_765_000_000.0
    assert parse_retry_after("2", now) == 2.0
    assert parse_retry_after(" 120 ", now) == 120.0
    date = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)
    assert parse_retry_after(date, now) == 30.0
    past = format_datetime(datetime.fromtimestamp(now - 30, UTC), usegmt=True)
    assert parse_retry_after(past, now) == 0.0
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("soon", now) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    for _ in range(200):
        delays = [backoff(n, 1.0, 60.0, rng) for n in range(1, 10)]
        assert all(a < b for a, b in itertools.pairwise(delays[:7]))  # below the cap
        assert all(d < 60.0 for d in delays)
        assert 0.5 <= delays[0] < 1.0
    spread = {round(backoff(3, 1.0, 60.0, rng), 3) for _ in range(50)}
    assert len(spread) > 40  # jitter


def _change(kind: str, before: dict[str, object] | None, after: dict[str, object] | None) -> Change:
    return Change(1, datetime.now(UTC), kind, "x", before, after)


def _state(status: str = "published", url: str = "https://example.ru/news/x/") -> dict[str, object]:
    return {"status": status, "published_at": 1, "url": url, "rubrics": ["r"], "tags": ["t"]}


def test_targets_select_urls(settings: Settings) -> None:
    s = replace(
        settings,
        websub_hub="https://hub.example/",
        indexnow_endpoint="https://api.indexnow.org/indexnow",
        indexnow_key="0123456789abcdef",
    )
    hub, indexnow = WebSubTarget(s), IndexNowTarget(s)
    created = _change("article", None, _state())
    assert hub.urls(created) == [*ALL, *feeds("rubric/r"), *feeds("tag/t")]
    assert indexnow.urls(created) == ["https://example.ru/news/x/"]
    unpublished = _change("article", _state(), _state("draft"))
    assert indexnow.urls(unpublished) == ["https://example.ru/news/x/"]
    drafts = _change("article", _state("draft"), _state("draft"))
    assert hub.urls(drafts) == indexnow.urls(drafts) == []
    # another site's URL would make IndexNow refuse the whole batch
    elsewhere = _change("article", None, _state(url="https://other.example/news/x/"))
    assert indexnow.urls(elsewhere) == []
    assert hub.urls(_change("rubric", None, {"title": "R"})) == feeds("rubric/x")
    assert indexnow.urls(_change("rubric", None, {"title": "R"})) == []
    assert hub.urls(_change("terms", None, {"rubrics": ["r"]})) == []
