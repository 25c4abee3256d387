"""SIGKILL in the middle of a bulk import leaves a consistent store without any of its articles,
and no validator process behind."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from syndication.demo import articles as demo_articles
from tests.conftest import ROOT, TOKEN, start_server
from tests.processes import children, wait_until_gone


def _ndjson(count: int, prefix: str) -> bytes:
    lines = []
    for payload in demo_articles(count, seed=3, body_bytes=3000, tags_per_article=(5, 5)):
        payload["id"] = f"{prefix}-{payload['id']}"
        payload["status"] = "published"
        lines.append(orjson.dumps(payload))
    return b"\n".join(lines)


def _wait_for_wal_growth(db: Path, baseline: int, grow_by: int, timeout: float) -> bool:
    wal = db.with_name(db.name + "-wal")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wal.exists() and wal.stat().st_size > baseline + grow_by:
            return True
        time.sleep(0.002)
    return False


def _check_store(db: Path, prefix: str) -> tuple[int, int]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        killed = conn.execute(
            "SELECT count(*) FROM articles WHERE id LIKE ?", (f"{prefix}-%",)
        ).fetchone()[0]
        kept = conn.execute("SELECT count(*) FROM articles WHERE id LIKE 'before-%'").fetchone()[0]
        return int(killed), int(kept)
    finally:
        conn.close()


@pytest.mark.slow
def test_sigkill_during_http_bulk(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    body = _ndjson(8000, "killed")
    try:
        with server.client() as c:
            seed = c.post("/api/articles:bulk", content=_ndjson(50, "before"),
                          headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
            assert seed.json()["created"] == 50
        wal = server.db.with_name(server.db.name + "-wal")
        baseline = wal.stat().st_size if wal.exists() else 0

        def send() -> None:
            # The server dies under this request: that is the point.
            with contextlib.suppress(httpx.TransportError):
                httpx.post(
                    f"{server.base_url}/api/articles:bulk",
                    content=body,
                    headers={
                        "Authorization": f"Bearer {TOKEN}",
                        "Content-Type": "application/x-ndjson",
                    },
                    timeout=120,
                )

        sender = threading.Thread(target=send)
        sender.start()
        # Kill once the transaction is spilling pages into the WAL: mid-write, before commit.
        assert _wait_for_wal_growth(server.db, baseline, 8 * 2**20, timeout=60), (
            "write never started"
        )
        validators = children(server.process.pid)
        assert any("spawn_main" in p.cmdline() for p in validators)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        sender.join()
    finally:
        server.stop()
    assert wait_until_gone(validators) == [], "a validator outlived the server"
    killed, kept = _check_store(server.db, "killed")
    assert killed == 0
    assert kept == 50
    # The store opens and serves again after the crash.
    restarted = start_server(tmp_path, db=server.db)
    try:
        with restarted.client() as c:
            assert c.get("/api/articles/before-demo-000001").status_code == 200
            assert c.get("/api/articles/killed-demo-000001").status_code == 404
    finally:
        restarted.stop()


@pytest.mark.slow
def test_sigkill_during_atomic_cli_import(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    data = tmp_path / "in.ndjson"
    data.write_bytes(_ndjson(8000, "killed"))
    env = {"SYNDICATION_DB": str(db), "PATH": "/usr/bin:/bin"}
    seed = tmp_path / "seed.ndjson"
    seed.write_bytes(_ndjson(50, "before"))
    subprocess.run([sys.executable, "-m", "syndication.cli", "-q", "import", str(seed)],
                   env=env, cwd=ROOT, check=True, capture_output=True)  # fmt: skip
    wal = db.with_name(db.name + "-wal")
    baseline = wal.stat().st_size if wal.exists() else 0
    process = subprocess.Popen(
        [sys.executable, "-m", "syndication.cli", "-q", "import", "--atomic", str(data)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert _wait_for_wal_growth(db, baseline, 8 * 2**20, timeout=60), "write never started"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    killed, kept = _check_store(db, "killed")
    assert killed == 0
    assert kept == 50
