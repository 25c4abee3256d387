"""Scheduled articles: announced when they go live, not when they are written.

A change is announced for what readers can see when it is delivered (targets.py): the placement
of an article whose `published_at` is still ahead is left out. Such an article becomes visible
later with no write, so the change log never says when; the store does (`went_live`: published
articles whose `published_at` came after their last write). Each target keeps a *live mark* in
the store: every article going live at or before it has been announced. Pending is what went
live after the mark, up to now; the mark moves only once the endpoint acknowledged the batch, as
the delivery cursor does, so a restart or a new leader goes on from it and nothing is lost.

Between the two no article is missed: a change is judged after it was read, so after its commit;
when its article's `published_at` was still ahead then, it was also ahead of the write, and
`went_live` reports the article when that moment comes (unless a later write replaced it, whose
own change then speaks for it).
"""

from __future__ import annotations

import math
from datetime import timedelta

from syndication.model import Change
from syndication.notify.targets import Target
from syndication.store.base import LiveArticle, LiveMark, Store
from syndication.timeutil import from_epoch, to_epoch

# Articles read per query while a batch is assembled.
PAGE = 500


def start_mark(now: float) -> LiveMark:
    """The mark of a new target: what went live until now is history, not replayed."""
    return LiveMark(from_epoch(math.floor(now) + 1))


def as_change(article: LiveArticle) -> Change:
    """The article's going live as the change it amounts to: from nowhere to its placement."""
    state = {
        "status": "published",
        "published_at": to_epoch(article.published_at),
        "url": article.url,
        "rubrics": article.rubrics,
        "tags": article.tags,
    }
    return Change(0, article.published_at, "article", article.id, None, state)


class LiveQueue:
    """One target's articles going live after its mark."""

    def __init__(self, store: Store, target: Target) -> None:
        self.store = store
        self.target = target
        self.mark: LiveMark | None = None
        self.next_at = math.inf  # epoch seconds when an article after the mark may go live
        self.page = PAGE

    async def load(self, now: float) -> LiveMark:
        self.mark = await self.store.live_mark(self.target.name, start=start_mark(now))
        return self.mark

    async def plan(self) -> float:
        """When the next article after the mark goes live, at the earliest. Every published
        article counts here, written scheduled or not (the store's cheap `next_publication`); a
        scan then finds the scheduled ones, and moves the mark past the rest."""
        assert self.mark is not None
        # The mark's own second may still hold articles after its id.
        after = self.mark.published_at - timedelta(seconds=1)
        nxt = await self.store.next_publication(after=after)
        self.next_at = nxt.timestamp() if nxt is not None else math.inf
        return self.next_at

    def due(self, now: float) -> bool:
        return self.next_at <= now

    async def scan(self, now: float) -> tuple[list[str], int, LiveMark] | None:
        """(URLs, articles, the mark once they are announced) of the articles that went live
        after the mark by `now`, as many as fit one request; None when the mark is there."""
        assert self.mark is not None
        until = math.floor(now)
        end = start_mark(now)  # everything through second `until`
        if self.mark >= end:
            return None
        urls: dict[str, None] = {}
        mark, count = self.mark, 0
        while True:
            articles = await self.store.went_live(mark, from_epoch(until), limit=self.page)
            for article in articles:
                new = [u for u in self.target.urls(as_change(article), now) if u not in urls]
                if urls and len(urls) + len(new) > self.target.max_urls:
                    return list(urls), count, mark
                urls.update(dict.fromkeys(new))
                mark, count = LiveMark(article.published_at, article.id), count + 1
            if len(articles) < self.page:
                return list(urls), count, end

    def moved(self, mark: LiveMark) -> None:
        self.mark = max(self.mark, mark) if self.mark is not None else mark
