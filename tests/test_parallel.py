"""Parallel validation: the compact wire form carries every field, and the pool keeps order."""

from __future__ import annotations

import orjson

from syndication.config import Settings
from syndication.demo import articles as demo_articles
from syndication.ingest import validate_article
from syndication.parallel import ParallelValidator, from_wire, to_wire

SETTINGS = Settings.load(environ={}, site_url="https://example.ru")


def test_wire_round_trip_is_lossless() -> None:
    for payload in demo_articles(60, seed=5):
        article = validate_article(payload, SETTINGS, raw=orjson.dumps(payload))
        back = from_wire(to_wire(article))
        assert back == article
        assert back.raw == article.raw


def test_pool_validates_in_order_and_reports_rejects() -> None:
    lines = [(i + 1, orjson.dumps(p)) for i, p in enumerate(demo_articles(30, seed=9))]
    lines[4] = (5, b'{"id": "bad", "title": ""}')
    validator = ParallelValidator(SETTINGS, workers=1)
    try:
        futures = [validator.submit(lines[i : i + 10]) for i in range(0, 30, 10)]
        results = [ParallelValidator.decode(f.result(timeout=60)) for f in futures]
    finally:
        validator.close()
    ids = [a.id for articles, _ in results for a in articles]
    assert ids == [f"demo-{n:06d}" for n in range(1, 31) if n != 5]
    rejected = [r for _, rej in results for r in rej]
    assert [n for n, _ in rejected] == [5]
    assert {e.field for e in rejected[0][1]} == {"title", "published_at"}
