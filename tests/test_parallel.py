"""Parallel validation: the compact wire form carries every field, the pool keeps order, the
spool gives back what it was given, and no validator outlives its parent."""

from __future__ import annotations

import signal
import subprocess
import sys

import orjson

from syndication.config import Settings
from syndication.demo import articles as demo_articles
from syndication.ingest import validate_article
from syndication.parallel import ParallelValidator, Spool, from_wire, to_wire
from tests.conftest import ROOT
from tests.processes import children, wait_until_gone

SETTINGS = Settings.load(environ={}, site_url="https://example.ru")


def test_wire_round_trip_is_lossless() -> None:
    for payload in demo_articles(60, seed=5):
        article = validate_article(payload, SETTINGS, raw=orjson.dumps(payload))
        back = from_wire(to_wire(article))
        assert back == article
        assert back.raw == article.raw


def test_wire_carries_the_body_images() -> None:
    # Found in the validating process; the store writes what the wire brings back.
    payload = {
        **next(iter(demo_articles(1, seed=5))),
        "content_html": '<p><img src="/i/1.jpg"></p>',
    }
    article = validate_article(payload, SETTINGS)
    assert article.body_images == ("https://example.ru/i/1.jpg",)
    assert from_wire(to_wire(article)).body_images == article.body_images


def test_pool_validates_in_order_and_reports_rejects() -> None:
    lines = [(i + 1, orjson.dumps(p)) for i, p in enumerate(demo_articles(30, seed=9))]
    lines[4] = (5, b'{"id": "bad", "title": ""}')
    validator = ParallelValidator(SETTINGS, workers=1)
    try:
        futures = [validator.submit(lines[i : i + 10]) for i in range(0, 30, 10)]
        packed = [f.result(timeout=60) for f in futures]
        results = [ParallelValidator.decode(p) for p in packed]
    finally:
        validator.close()
    ids = [a.id for articles, _ in results for a in articles]
    assert ids == [f"demo-{n:06d}" for n in range(1, 31) if n != 5]
    rejected = [r for _, rej in results for r in rej]
    assert [n for n, _ in rejected] == [5]
    assert {e.field for e in rejected[0][1]} == {"title", "published_at"}
    # The packed chunks, spooled to disk and read back, are the same articles in the same order.
    spool = Spool()
    for chunk, count, _ in packed:
        spool.add(chunk, count)
    assert spool.count == 29
    assert list(spool) == [a for articles, _ in results for a in articles]


# Starts a pool, has it validate, says so, then waits to be killed.
_POOL_OWNER = """
import sys
from syndication.config import Settings
from syndication.parallel import ParallelValidator

validator = ParallelValidator(Settings.load(environ={}, site_url="https://example.ru"), workers=2)
line = b'{"id": "a", "title": "T", "published_at": "2025-12-10T18:08:00+03:00"}'
for future in [validator.submit([(n, line)]) for n in range(4)]:
    future.result(timeout=60)
print("validated", flush=True)
sys.stdin.read()
"""


def test_validators_do_not_outlive_a_killed_parent() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _POOL_OWNER], cwd=ROOT, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline() == b"validated\n"
        helpers = children(owner.pid)
        assert any("spawn_main" in p.cmdline() for p in helpers), [p.cmdline() for p in helpers]
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        assert wait_until_gone(helpers) == []
    finally:
        owner.kill()
        owner.wait()
        if owner.stdin is not None:
            owner.stdin.close()
        if owner.stdout is not None:
            owner.stdout.close()
