"""How a month's articles split into files no larger than the configured limits.

A month is cut by count alone: every part but the last holds exactly `per_part` URLs, in the order
of `url_rows` (oldest first), so the index can name every part without rendering any. `per_part` is
the URL limit, lowered when the month's largest row could push a full part past the byte limit:

    per_part = min(max_urls, (max_bytes - frame) // (row_overhead + largest escaped row text))

The store keeps the largest row text of each month with its statistics (`url_row_bound`,
`MonthStat.row_bound`); a row's text includes its body images, each with the markup of its
`<image:image>` (`SITEMAP_IMAGE_BYTES`, which sitemap/urlwriter checks against its output). The
bound is safe for every row, and it depends only on the month's own rows, so a write to one month
never moves the cut of another. One unusually long URL or caption shortens the parts of its month
only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sitemap.urlwriter import FRAME_BYTES, ROW_OVERHEAD
from syndication.config import Settings
from syndication.model import MonthStat
from syndication.rendering import RenderContext
from syndication.stylesheet import instruction, stylesheet_url
from syndication.timeutil import month_bounds


def frame_bytes(settings: Settings) -> int:
    """An empty month sitemap as served: the measured frame and the stylesheet instruction,
    whose URL (and so length) is the settings'."""
    return FRAME_BYTES + len(instruction(stylesheet_url(settings)))


def urls_per_part(settings: Settings, row_text_bound: int) -> int:
    budget = settings.sitemap_max_bytes - frame_bytes(settings)
    # A single URL larger than the whole byte limit cannot be split further; it gets a file alone.
    return max(1, min(settings.sitemap_max_urls, budget // (ROW_OVERHEAD + row_text_bound)))


@dataclass(frozen=True, slots=True)
class MonthLayout:
    month: str
    start: datetime
    end: datetime
    count: int
    per_part: int

    @property
    def parts(self) -> int:
        return -(-self.count // self.per_part)


async def month_layout(ctx: RenderContext, month: str) -> MonthLayout | None:
    """The month's split, or None when `month` is malformed or has no visible article."""
    try:
        start, end = month_bounds(month, ctx.settings.zone)
    except ValueError:
        return None
    count, row_bound = await ctx.store.url_row_bound(start, end, now=ctx.now)
    if count == 0:
        return None
    return MonthLayout(month, start, end, count, urls_per_part(ctx.settings, row_bound))


def stat_layout(settings: Settings, stat: MonthStat) -> MonthLayout:
    """The split of a month the statistics already describe: no query."""
    start, end = month_bounds(stat.month, settings.zone)
    return MonthLayout(stat.month, start, end, stat.count, urls_per_part(settings, stat.row_bound))
