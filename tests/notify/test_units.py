"""Pure pieces: Retry-After parsing, backoff growth, target URL selection."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime

from syndication.config import Settings
from syndication.model import Change
from syndication.notify.delivery import RETRY_AFTER_MAX, backoff, parse_retry_after
from syndication.notify.targets import IndexNowTarget, WebSubTarget
from tests.notify.helpers import ALL, DECEMBER, feeds


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


def test_retry_after_is_read_strictly_and_capped() -> None:
    now = 1_765_000_000.0
    # Digits to str.isdigit(), not to RFC 9110 (int() refuses the first two, takes the third).
    for value in ["²", "①", "٣", "1.5", "-1", "+5", "1e3", "0x10", "", "  "]:
        assert parse_retry_after(value, now) is None, value
    assert parse_retry_after("007", now) == 7.0
    assert parse_retry_after("99999999999", now) == RETRY_AFTER_MAX
    assert parse_retry_after("9" * 5000, now) == RETRY_AFTER_MAX  # no int() digit limit
    assert parse_retry_after("600", now, limit=60.0) == 60.0
    far = format_datetime(datetime(5195, 1, 1, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(far, now) == RETRY_AFTER_MAX
    assert parse_retry_after("Sun, 06 Nov 99999 08:49:37 GMT", now) is None
    # The obsolete asctime form has no zone and means GMT.
    asctime = datetime.fromtimestamp(now + 30, UTC).strftime("%a %b %d %H:%M:%S %Y")
    assert parse_retry_after(asctime, now) == 30.0


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


# 2025-12-10 15:08 UTC; each state below is published at it unless it says otherwise.
PUBLISHED = 1_765_379_280
NOW = PUBLISHED + 60.0


def _state(
    status: str = "published", url: str = "https://example.ru/news/x/", at: int = PUBLISHED
) -> dict[str, object]:
    return {"status": status, "published_at": at, "url": url, "rubrics": ["r"], "tags": ["t"]}


def _targets(settings: Settings) -> tuple[WebSubTarget, IndexNowTarget]:
    s = replace(
        settings,
        websub_hub="https://hub.example/",
        indexnow_endpoint="https://api.indexnow.org/indexnow",
        indexnow_key="0123456789abcdef",
    )
    return WebSubTarget(s), IndexNowTarget(s)


def test_targets_select_urls(settings: Settings) -> None:
    hub, indexnow = _targets(settings)
    created = _change("article", None, _state())
    assert hub.urls(created, NOW) == [*ALL, *feeds("rubric/r"), *feeds("tag/t"), *DECEMBER]
    assert indexnow.urls(created, NOW) == ["https://example.ru/news/x/"]
    unpublished = _change("article", _state(), _state("draft"))
    assert indexnow.urls(unpublished, NOW) == ["https://example.ru/news/x/"]
    drafts = _change("article", _state("draft"), _state("draft"))
    assert hub.urls(drafts, NOW) == indexnow.urls(drafts, NOW) == []
    # another site's URL would make IndexNow refuse the whole batch
    elsewhere = _change("article", None, _state(url="https://other.example/news/x/"))
    assert indexnow.urls(elsewhere, NOW) == []
    assert hub.urls(_change("rubric", None, {"title": "R"}), NOW) == feeds("rubric/x")
    assert indexnow.urls(_change("rubric", None, {"title": "R"}), NOW) == []
    assert hub.urls(_change("terms", None, {"rubrics": ["r"]}), NOW) == []


def test_month_archives_of_both_states_in_the_site_zone(settings: Settings) -> None:
    hub, _ = _targets(settings)
    assert settings.zone.key == "Europe/Moscow"
    # 2025-11-30 21:30 UTC is already December in Moscow (UTC+3).
    late_november_utc = int(datetime(2025, 11, 30, 21, 30, tzinfo=UTC).timestamp())
    october = int(datetime(2025, 10, 5, 12, 0, tzinfo=UTC).timestamp())
    moved = _change("article", _state(at=october), _state(at=late_november_utc))
    urls = hub.urls(moved, NOW)
    assert [u for u in urls if "/archive/" in u] == [*feeds("archive/2025-10"), *DECEMBER]
    assert feeds("archive/2025-11")[0] not in urls


def test_a_placement_not_yet_visible_is_not_announced(settings: Settings) -> None:
    hub, indexnow = _targets(settings)
    scheduled = _change("article", None, _state(at=PUBLISHED + 3600))
    assert hub.urls(scheduled, NOW) == indexnow.urls(scheduled, NOW) == []
    # once its time has come (a delivery that comes late), it is what readers see
    assert indexnow.urls(scheduled, PUBLISHED + 3600) == ["https://example.ru/news/x/"]
    # edited before it went live: nothing yet
    edited = _change("article", _state(at=PUBLISHED + 3600), _state(at=PUBLISHED + 7200))
    assert hub.urls(edited, NOW) == indexnow.urls(edited, NOW) == []
    # a live article moved into the future leaves its feeds now; its new place waits
    postponed = _change(
        "article", _state(), _state(at=PUBLISHED + 3600, url="https://example.ru/y/")
    )
    assert indexnow.urls(postponed, NOW) == ["https://example.ru/news/x/"]
    assert hub.urls(postponed, NOW) == [*ALL, *feeds("rubric/r"), *feeds("tag/t"), *DECEMBER]
