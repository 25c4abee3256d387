"""End to end on a real `syndication serve`: nothing pending is lost to SIGKILL, nothing
acknowledged is sent again after a clean restart, one worker of several delivers (a scheduled
article too, once it goes live), and `syndication outbox` shows what waits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import ROOT, Server, start_server
from tests.notify.helpers import ALL, KEY, hub_urls, indexnow_body, payload, requests_to

pytestmark = pytest.mark.e2e


def _env(httpserver: HTTPServer, debounce: float) -> dict[str, str]:
    return {
        "SYNDICATION_PUBLIC_URL": "https://feeds.example.ru",  # stable self URLs across restarts
        "SYNDICATION_SITE_URL": "https://example.ru",
        "SYNDICATION_WEBSUB_HUB": httpserver.url_for("/hub"),
        "SYNDICATION_INDEXNOW_ENDPOINT": httpserver.url_for("/indexnow"),
        "SYNDICATION_INDEXNOW_KEY": KEY,
        "SYNDICATION_NOTIFY_DEBOUNCE_SECONDS": str(debounce),
        "SYNDICATION_NOTIFY_BACKOFF_SECONDS": "0.2",
    }


def _wait(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    # Only a real hang misses it: on a loaded 2-core machine a server start and a retry with
    # backoff can take several seconds.
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _put(server: Server, article_id: str, rubric: str) -> None:
    with server.client() as c:
        r = c.put(f"/api/articles/{article_id}", json=payload([rubric], ["Общество"]))
        assert r.status_code in (200, 201), r.text


def _outbox(db: Path, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "syndication.cli", "--db", str(db), "outbox"],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def _urls(httpserver: HTTPServer) -> list[str]:
    return [u for r in requests_to(httpserver, "/indexnow") for u in indexnow_body(r)["urlList"]]


def _clean_log(server: Server) -> None:
    assert b"Traceback" not in server.log.read_bytes(), server.log.read_text()


def test_sigkill_with_pending_then_restart(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    httpserver.expect_request("/indexnow", method="POST").respond_with_data("", status=202)
    slow = _env(httpserver, debounce=60)  # the kill comes long before the debounce ends
    first = start_server(tmp_path, env=slow)
    try:
        _put(first, "k1", "politika")
        _put(first, "k2", "sport")
        time.sleep(0.5)
        assert httpserver.log == []
        shown = _outbox(first.db, slow)
        # two article rows and two 'terms' rows (a rubric appeared)
        assert "pending: 4 changes, 2 URLs" in shown  # the IndexNow row
        # the hub row: 4 + 3 × 4 feeds (all, two rubrics, one tag, December's archive)
        assert "pending: 4 changes, 16 URLs" in shown
    finally:
        first.stop(signal.SIGKILL)

    fast = _env(httpserver, debounce=0.2)
    second = start_server(tmp_path, env=fast, db=first.db)
    try:
        _wait(lambda: len(httpserver.log) == 2)
        assert _urls(httpserver) == ["https://example.ru/news/k1/", "https://example.ru/news/k2/"]
        [hub] = requests_to(httpserver, "/hub")
        assert hub_urls(hub)[:4] == ALL
        assert "https://feeds.example.ru/feeds/rubric/sport.atom" in hub_urls(hub)
        _wait(lambda: "pending: 0 changes" in _outbox(first.db, fast))
    finally:
        second.stop()  # clean: SIGTERM
    _clean_log(second)

    # Acknowledged notifications are not sent again; a new write is, on its own.
    third = start_server(tmp_path, env=fast, db=first.db)
    try:
        time.sleep(1.5)
        assert len(httpserver.log) == 2
        _put(third, "k3", "sport")
        _wait(lambda: len(httpserver.log) == 4)
        time.sleep(0.5)
        assert len(httpserver.log) == 4
        assert _urls(httpserver)[2:] == ["https://example.ru/news/k3/"]
    finally:
        third.stop()
    _clean_log(third)


def test_one_of_several_workers_delivers(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    httpserver.expect_request("/indexnow", method="POST").respond_with_data("", status=202)
    server = start_server(tmp_path, env=_env(httpserver, debounce=0.3), workers=2)
    try:
        for i in range(12):
            _put(server, f"w{i:02d}", "glavnoe")
        expected = [f"https://example.ru/news/w{i:02d}/" for i in range(12)]
        _wait(lambda: sorted(_urls(httpserver)) == expected)
        time.sleep(1.5)
        assert sorted(_urls(httpserver)) == expected  # each URL exactly once
    finally:
        server.stop()
    _clean_log(server)


def test_scheduled_article_is_announced_once_when_it_goes_live(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    arrivals: list[float] = []

    def answer(request: Request) -> Response:
        arrivals.append(time.time())
        return Response("", status=204 if request.path == "/hub" else 202)

    httpserver.expect_request("/hub", method="POST").respond_with_handler(answer)
    httpserver.expect_request("/indexnow", method="POST").respond_with_handler(answer)
    server = start_server(tmp_path, env=_env(httpserver, debounce=0.3), workers=2)
    try:
        at = int(time.time()) + 3
        published = datetime.fromtimestamp(at, UTC).isoformat()
        with server.client() as c:
            body = payload(["glavnoe"], [], published_at=published)
            assert c.put("/api/articles/g1", json=body).status_code == 201
        _wait(lambda: len(httpserver.log) == 2)
        assert min(arrivals) >= at  # not when written: when it went live
        assert _urls(httpserver) == ["https://example.ru/news/g1/"]
        [hub] = requests_to(httpserver, "/hub")
        month = datetime.fromtimestamp(at, ZoneInfo("Europe/Moscow")).strftime("%Y-%m")
        assert f"https://feeds.example.ru/feeds/archive/{month}.rss" in hub_urls(hub)
        time.sleep(1.5)
        assert len(httpserver.log) == 2  # by one worker of the two, once
    finally:
        server.stop()
    _clean_log(server)
