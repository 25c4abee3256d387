"""Push-notification metrics, in the worker's registry (`Metrics.registry`), labelled by target
kind ("websub", "indexnow") so the series stay few."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.depth = Gauge(
            "syndication_notify_outbox_depth", "Changes not yet delivered to the target",
            ["target"], registry=r,
        )  # fmt: skip
        self.deliveries = Counter(
            "syndication_notify_deliveries", "Requests the target acknowledged", ["target"],
            registry=r,
        )  # fmt: skip
        self.urls = Counter(
            "syndication_notify_urls", "URLs in acknowledged requests", ["target"], registry=r
        )
        self.failures = Counter(
            "syndication_notify_failures", "Failed attempts by reason (http-NNN, timeout, transport)",
            ["target", "reason"], registry=r,
        )  # fmt: skip
        self.retries = Counter(
            "syndication_notify_retries", "Retries scheduled after a failed attempt", ["target"],
            registry=r,
        )  # fmt: skip
        self.dropped = Counter(
            "syndication_notify_dropped", "Batches given up (4xx, or attempts exhausted)",
            ["target"], registry=r,
        )  # fmt: skip
        self.leader = Gauge(
            "syndication_notify_leader", "1 in the worker process that delivers notifications",
            registry=r,
        )  # fmt: skip
