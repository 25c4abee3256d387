"""The command line: import with a summary, demo data, and the serve command's worker flag."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from syndication.demo import articles as demo_articles
from tests.conftest import ROOT

GOOD = {"title": "Новость", "published_at": "2025-12-10T18:08:00+03:00", "rubrics": ["glavnoe"]}


def run_cli(db: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syndication.cli", *args],
        env={"SYNDICATION_DB": str(db), "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _lines(*items: dict[str, object] | str) -> bytes:
    return b"\n".join(i.encode() if isinstance(i, str) else orjson.dumps(i) for i in items) + b"\n"


def _count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    finally:
        conn.close()


def test_import_reports_created_replaced_and_rejected_lines(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    data = tmp_path / "in.ndjson"
    data.write_bytes(
        _lines(
            {**GOOD, "id": "a"},
            {**GOOD, "id": "b"},
            "",
            {**GOOD, "id": "c", "title": ""},
            "{broken",
            {**GOOD, "id": "a", "title": "Заменено"},
        )
    )
    result = run_cli(db, "import", str(data))
    assert result.returncode == 1  # some lines were rejected
    out = result.stdout
    assert "created 2, replaced 1, rejected 2" in out
    assert "line 4: title: must not be empty" in out
    assert "line 5: body: malformed JSON" in out
    assert "import" in result.stderr  # the progress bar
    assert _count(db) == 2


def test_import_from_stdin_and_clean_exit(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    result = run_cli(
        db, "-q", "import", "-", stdin=_lines({**GOOD, "id": "x"}, {**GOOD, "id": "y"})
    )
    assert result.returncode == 0, result.stderr
    assert "created 2, replaced 0, rejected 0" in result.stdout
    assert _count(db) == 2


def test_atomic_import_stores_nothing_when_a_line_is_bad(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    data = tmp_path / "in.ndjson"
    data.write_bytes(_lines({**GOOD, "id": "a"}, {**GOOD, "id": "b", "status": "?"}))
    result = run_cli(db, "-q", "import", "--atomic", str(data))
    assert result.returncode == 1
    assert "line 2: status" in result.stdout
    assert "nothing stored" in result.stdout
    assert _count(db) == 0


def test_import_of_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "s.db", "import", str(tmp_path / "nope.ndjson"))
    assert result.returncode == 1
    assert "No such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_data_set(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = run_cli(db, "-q", "demo", "--if-empty")
    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(db)
    try:

        def q(sql: str) -> list[Any]:
            return conn.execute(sql).fetchall()

        assert q("SELECT count(*) FROM articles")[0][0] >= 500
        rubrics = {r[0] for r in q("SELECT title FROM rubrics")}
        assert len(rubrics) == 5
        assert "Главное" in rubrics
        kinds = dict(q("SELECT kind, count(*) FROM tags GROUP BY kind"))
        assert set(kinds) == {"topic", "person", "org"}
        assert 120 <= sum(kinds.values()) <= 180
        lo, hi = q("SELECT min(published_at), max(published_at) FROM articles")[0]
        assert hi - lo >= int(2.9 * 365 * 86400)
        assert q("SELECT count(*) FROM articles WHERE image_url IS NOT NULL")[0][0] > 50
        assert q("SELECT count(*) FROM articles WHERE content_html LIKE '%<ul>%<li>%'")[0][0] > 400
        assert (
            q("SELECT count(*) FROM articles WHERE content_html LIKE '%<a href=\"http%'")[0][0]
            > 400
        )
        assert q("SELECT count(*) FROM articles WHERE status = 'draft'")[0][0] >= 1
        assert (
            q("SELECT count(*) FROM tags WHERE name = 'Александр Михайлович Мордвинов'")[0][0] == 1
        )
    finally:
        conn.close()
    again = run_cli(db, "-q", "demo", "--if-empty")
    assert "already has articles" in again.stdout


def test_bad_configuration_is_reported(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "syndication.cli", "demo"],
        env={"SYNDICATION_DB": str(tmp_path / "x.db"), "SYNDICATION_TIMEZONE": "Mars/Olympus",
             "PATH": "/usr/bin:/bin"},
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "Mars/Olympus" in result.stderr


def test_large_atomic_import_through_worker_processes(tmp_path: Path) -> None:
    # Over 4 MB: validated in worker processes, the valid articles spooled until all are checked.
    payloads = list(demo_articles(1800, seed=4, body_bytes=3000))
    data = tmp_path / "in.ndjson"
    data.write_bytes(_lines(*payloads, {**GOOD, "id": "bad", "title": ""}))
    assert data.stat().st_size > 4 * 1024 * 1024
    db = tmp_path / "s.db"
    refused = run_cli(db, "-q", "import", "--atomic", str(data))
    assert refused.returncode == 1
    assert "created 0, replaced 0, rejected 1" in refused.stdout
    assert "line 1801: title" in refused.stdout
    assert _count(db) == 0
    data.write_bytes(_lines(*payloads))
    stored = run_cli(db, "-q", "import", "--atomic", str(data))
    assert stored.returncode == 0, stored.stderr
    assert "created 1800, replaced 0, rejected 0" in stored.stdout
    assert _count(db) == 1800
