"""What both stores make of their change-log rows for `FeedReader.retractions`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from syndication.model import Retraction
from syndication.timeutil import from_epoch


def latest_per_article(rows: Iterable[tuple[Any, ...]], limit: int) -> list[Retraction]:
    """Rows of (article id, epoch seconds, placement before as JSON text), newest first: the
    newest of each article, at most `limit`; the placement is the one readers saw."""
    found: dict[str, Retraction] = {}
    for key, at, before in rows:
        if key in found:
            continue  # an older retraction of the same article
        state = orjson.loads(before)
        found[key] = Retraction(
            article_id=key,
            at=from_epoch(at),
            url=state["url"],
            rubrics=tuple(state.get("rubrics") or ()),
            tags=tuple(state.get("tags") or ()),
        )
        if len(found) >= limit:
            break
    return list(found.values())
