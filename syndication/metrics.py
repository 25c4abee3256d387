"""Prometheus metrics of one worker process: requests, cache behaviour, renders, invalidations."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "syndication_requests", "HTTP requests by route and status", ["route", "status"],
            registry=r,
        )  # fmt: skip
        self.cache = Counter(
            "syndication_cache", "Cache lookups by document kind and result", ["kind", "result"],
            registry=r,
        )  # fmt: skip
        self.render_seconds = Histogram(
            "syndication_render_seconds", "Time to build and compress a document", ["kind"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )  # fmt: skip
        self.invalidations = Counter(
            "syndication_invalidations", "Cached documents dropped by a change", ["kind"],
            registry=r,
        )  # fmt: skip
        self.cached_documents = Gauge(
            "syndication_cached_documents", "Documents held in this worker's cache", registry=r
        )
        self.cache_bytes = Gauge(
            "syndication_cache_bytes",
            "Bytes this worker's cache holds (bodies, encodings, headers, per-URL records)",
            registry=r,
        )
        self.evictions = Counter(
            "syndication_cache_evictions",
            "Documents dropped (or never kept) to stay within the cache's byte bound",
            ["kind"], registry=r,
        )  # fmt: skip
        # /metrics answers for one worker process: say which.
        Gauge("syndication_worker", "The worker process answering", ["pid"], registry=r).labels(
            str(os.getpid())
        ).set(1)
        # Label lookups cost more than the increment: the hot path reuses the children.
        self._request_children: dict[tuple[str, int], Counter] = {}
        self._cache_children: dict[tuple[str, str], Counter] = {}

    def request(self, route: str, status: int) -> None:
        child = self._request_children.get((route, status))
        if child is None:
            child = self.requests.labels(route, str(status))
            self._request_children[(route, status)] = child
        child.inc()

    def _cache(self, kind: str, result: str) -> None:
        child = self._cache_children.get((kind, result))
        if child is None:
            child = self.cache.labels(kind, result)
            self._cache_children[(kind, result)] = child
        child.inc()

    def hit(self, kind: str) -> None:
        self._cache(kind, "hit")

    def miss(self, kind: str) -> None:
        self._cache(kind, "miss")

    def rendered(self, kind: str, seconds: float) -> None:
        self._cache(kind, "render")
        self.render_seconds.labels(kind).observe(seconds)

    def invalidated(self, kind: str, count: int) -> None:
        self.invalidations.labels(kind).inc(count)

    def evicted(self, kind: str, count: int) -> None:
        self.evictions.labels(kind).inc(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
