"""Push targets: which URLs a change announces to each, and the HTTP request that carries them.

Pure functions of the change log rows (`_state` in the SQLite schema) and the time: no I/O here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from syndication.config import Settings
from syndication.model import ALL_NEWS, Change, Scope, ScopeKind
from syndication.timeutil import from_epoch, month_key
from syndication.urls import FEED_FORMATS, YANDEX_PATH, feed_url

# A publish request with a thousand repeated hub.url fields is about 100 KB: well inside what
# hubs accept, and far more feeds than one debounce window of a news site touches.
WEBSUB_MAX_URLS = 1000
# The IndexNow protocol's limit per request.
INDEXNOW_MAX_URLS = 10_000

_ARTICLE_KINDS = ("article", "article-delete")


@dataclass(frozen=True, slots=True)
class Request:
    """One POST to a target."""

    url: str
    headers: dict[str, str]
    body: bytes


def _visible_states(change: Change, now: float) -> list[dict[str, Any]]:
    """The article's placements before and after the change that readers could see by `now`
    (epoch seconds). A draft is nowhere, so a draft before and after the write changes no feed
    and no public page. A placement whose `published_at` is still ahead is not visible yet: it is
    announced when it goes live (syndication/notify/golive.py), not now."""
    if change.kind not in _ARTICLE_KINDS:
        return []
    return [
        s
        for s in (change.before, change.after)
        if s and s.get("status") == "published" and s["published_at"] <= now
    ]


class Target(ABC):
    kind: str  # "websub" | "indexnow": metrics label and the first word of the cursor name
    endpoint: str
    max_urls: int

    @property
    def name(self) -> str:
        """The delivery cursor's key: a new endpoint gets a cursor of its own."""
        return f"{self.kind} {self.endpoint}"

    @abstractmethod
    def urls(self, change: Change, now: float) -> list[str]:
        """The URLs this change announces to the target (possibly none) at `now` (epoch
        seconds): what it changed that readers can see by then."""

    @abstractmethod
    def request(self, urls: Sequence[str]) -> Request:
        """The request announcing `urls` (at most `max_urls`, each once)."""


class WebSubTarget(Target):
    """A WebSub / PubSubHubbub hub: a publish ping naming the topics (feed self URLs) that changed.

    All topics of a batch go in one request, `hub.url` repeated once per feed, as PubSubHubbub
    0.3 §7.1 specifies ("this field may be repeated") and the common hubs (Google's
    pubsubhubbub.appspot.com, Superfeedr, WebSub.rocks' hub) accept.
    """

    kind = "websub"
    max_urls = WEBSUB_MAX_URLS

    def __init__(self, settings: Settings) -> None:
        assert settings.websub_hub
        self.endpoint = settings.websub_hub
        self.settings = settings
        self._all = [feed_url(settings, ALL_NEWS, fmt) for fmt in FEED_FORMATS]
        self._all.append(settings.public_url + YANDEX_PATH)

    def _scope_feeds(self, scope: Scope) -> list[str]:
        return [feed_url(self.settings, scope, fmt) for fmt in FEED_FORMATS]

    def urls(self, change: Change, now: float) -> list[str]:
        if change.kind == "rubric":
            # A rubric's title or description is shown in its feeds' channel metadata.
            return self._scope_feeds(Scope(ScopeKind.RUBRIC, change.key))
        states = _visible_states(change, now)
        if not states:
            return []
        out = list(self._all)
        for state in states:
            for slug in state["rubrics"]:
                out += self._scope_feeds(Scope(ScopeKind.RUBRIC, slug))
        for state in states:
            for slug in state["tags"]:
                out += self._scope_feeds(Scope(ScopeKind.TAG, slug))
        for state in states:
            # The archive of the article's month (site zone), page 1 at the month's own URL.
            month = month_key(from_epoch(state["published_at"]), self.settings.zone)
            out += self._scope_feeds(Scope(ScopeKind.MONTH, month))
        return list(dict.fromkeys(out))

    def request(self, urls: Sequence[str]) -> Request:
        fields = [("hub.mode", "publish"), *(("hub.url", u) for u in urls)]
        return Request(
            url=self.endpoint,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=urlencode(fields).encode("ascii"),
        )


class IndexNowTarget(Target):
    """An IndexNow endpoint: the changed and deleted article URLs, in the batch JSON form."""

    kind = "indexnow"
    max_urls = INDEXNOW_MAX_URLS

    def __init__(self, settings: Settings) -> None:
        assert settings.indexnow_endpoint
        assert settings.indexnow_key
        self.endpoint = settings.indexnow_endpoint
        self.key = settings.indexnow_key
        self.host = (urlsplit(settings.site).hostname or "").lower()
        self.key_location = f"{settings.public_url}/{self.key}.txt"

    def urls(self, change: Change, now: float) -> list[str]:
        out = []
        for state in _visible_states(change, now):
            url = state["url"]
            # IndexNow rejects the whole request (422) when one URL is off the declared host;
            # an article the CMS placed on another site is that site's to announce.
            if (urlsplit(url).hostname or "").lower() == self.host:
                out.append(url)
        return list(dict.fromkeys(out))

    def request(self, urls: Sequence[str]) -> Request:
        body = {
            "host": self.host,
            "key": self.key,
            "keyLocation": self.key_location,
            "urlList": list(urls),
        }
        return Request(
            url=self.endpoint,
            headers={"Content-Type": "application/json; charset=utf-8"},
            body=orjson.dumps(body),
        )


def configured_targets(settings: Settings) -> list[Target]:
    targets: list[Target] = []
    if settings.websub_hub:
        targets.append(WebSubTarget(settings))
    if settings.indexnow_endpoint and settings.indexnow_key:
        targets.append(IndexNowTarget(settings))
    return targets
