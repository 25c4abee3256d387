"""A store file made by the first schema version upgrades in place with its data intact."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from syndication.config import Settings
from syndication.model import Status
from syndication.store import SQLiteStore
from syndication.store.sqlite.schema import (
    LATEST,
    SchemaTooNew,
    add_calendar,
    current_version,
    migrate,
)


def _v1_file(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == [1]
    conn.executescript(
        """
        BEGIN;
        INSERT INTO rubrics (slug, title, position) VALUES ('glavnoe', 'Главное', 0);
        INSERT INTO tags (id, slug, name, kind) VALUES (1, 'obshchestvo', 'Общество', 'topic');
        INSERT INTO articles (id, title, url, summary, content_html, published_at, updated_at,
                              author, image_url, image_type, image_length, image_caption,
                              status, modified_at, raw)
        VALUES ('old-1', 'Старая новость', 'https://example.ru/n/1/', 'Лид', '<p>Текст</p>',
                1733843280, NULL, 'Пресс-служба', 'https://example.ru/i.jpg', 'image/jpeg', 10,
                'Фото', 'published', 1733843280, '{}');
        INSERT INTO article_rubrics VALUES ('old-1', 'glavnoe', 0, 1733843280);
        INSERT INTO article_tags VALUES ('old-1', 1, 0, 1733843280);
        INSERT INTO changes (at, kind, key, before, after) VALUES (1733843280, 'article', 'old-1', NULL, '{}');
        COMMIT;
        """
    )
    assert current_version(conn) == 1
    conn.close()


@pytest.mark.anyio
async def test_first_version_file_upgrades_in_place(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _v1_file(path)
    store = SQLiteStore(path, settings.zone)
    await store.open()
    try:
        article = await store.get_article("old-1")
        assert article is not None
        assert article.title == "Старая новость"
        assert article.status is Status.PUBLISHED
        assert article.rubrics == ("glavnoe",)
        assert [t.slug for t in article.tags] == ["obshchestvo"]
        assert article.image is not None
        assert article.image.caption == "Фото"
        assert int(article.published_at.timestamp()) == 1733843280
        assert await store.last_change_id() == 1
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert current_version(conn) == LATEST
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    # Step 6 dropped the unused outbox and the index nothing read.
    assert "outbox" not in tables
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert not indexes & {
        "articles_by_modified",
        "article_rubrics_by_rubric",
        "article_tags_by_tag",
    }
    # Step 4 computed the sitemap size bound of the existing row as the write path would.
    from syndication.store.sqlite import escaped_size

    assert conn.execute("SELECT sitemap_bytes FROM articles").fetchone()[0] == escaped_size(
        "https://example.ru/n/1/", "https://example.ru/i.jpg", "Фото"
    )
    # Step 5 copied each link's article facts into the link rows.
    assert conn.execute("SELECT published, last_change FROM article_rubrics").fetchone() == (
        1,
        1733843280,
    )
    assert conn.execute("SELECT published, last_change FROM article_tags").fetchone() == (
        1,
        1733843280,
    )
    # Step 6 put the placement on the article row and counted the statistics from the rows.
    assert conn.execute("SELECT rubrics, tag_ids FROM articles").fetchone() == (
        '["glavnoe"]',
        "[1]",
    )
    assert conn.execute("SELECT month FROM calendar").fetchall() == [("2024-12",)]
    assert sorted(conn.execute("SELECT scope, month, count, last_change FROM buckets")) == [
        ("", "2024-12", 1, 1733843280),
        ("r:glavnoe", "2024-12", 1, 1733843280),
        ("t:1", "2024-12", 1, 1733843280),
    ]
    assert sorted(conn.execute("SELECT scope, count FROM totals")) == [
        ("", 1),
        ("r:glavnoe", 1),
        ("t:1", 1),
    ]
    assert conn.execute("SELECT count(*) FROM tx_notes").fetchone()[0] == 0
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    assert migrate(conn) == list(range(1, LATEST + 1))
    assert migrate(conn) == []
    conn.close()


def test_a_failing_step_leaves_the_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syndication.store.sqlite import schema as migrations

    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    migrate(conn, target=1)
    monkeypatch.setattr(
        migrations,
        "MIGRATIONS",
        (*migrations.MIGRATIONS[:1], "CREATE TABLE x (a); SELECT nonsense FROM nowhere;"),
    )
    with pytest.raises(sqlite3.OperationalError):
        migrations.migrate(conn, target=2)
    assert current_version(conn) == 1
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'x'").fetchone()[0] == 0
    conn.close()


def test_newer_file_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    with pytest.raises(SchemaTooNew):
        migrate(conn)
    conn.close()


def test_processes_opening_a_new_file_together(tmp_path: Path) -> None:
    """`serve --workers N` opens one fresh file from N processes at once: each must succeed."""
    import subprocess
    import sys

    code = (
        "import asyncio, sys\n"
        "from zoneinfo import ZoneInfo\n"
        "from syndication.store import SQLiteStore\n"
        "async def main():\n"
        "    s = SQLiteStore(sys.argv[1], ZoneInfo('Europe/Moscow'))\n"
        "    await s.open(); await s.close()\n"
        "asyncio.run(main())\n"
    )
    for round_ in range(3):
        db = tmp_path / f"race-{round_}.db"
        procs = [
            subprocess.Popen([sys.executable, "-c", code, str(db)], stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        errors = [p.communicate(timeout=60)[1].decode() for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, errors
        conn = sqlite3.connect(db)
        assert current_version(conn) == LATEST
        conn.close()


@pytest.mark.anyio
async def test_a_version_6_file_gets_its_change_stamps(settings: Settings, tmp_path: Path) -> None:
    """Step 7 stamps every dependency tag from the change log as it stands, and clamps an update
    date later than the upgrade (it would put future dates out)."""
    path = tmp_path / "v6.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=6, zone=settings.zone) == [1, 2, 3, 4, 5, 6]
    published, ahead = 1733843280, int(time.time()) + 3 * 86400
    conn.execute("BEGIN")
    add_calendar(conn, published, published, settings.zone)
    conn.execute("INSERT INTO rubrics (slug, title, position) VALUES ('glavnoe', 'Главное', 0)")
    conn.execute(
        "INSERT INTO tags (id, slug, name, kind) VALUES (1, 'obshchestvo', 'Общество', 'topic')"
    )
    conn.execute(
        "INSERT INTO articles (id, title, url, published_at, updated_at, status, modified_at, raw,"
        " rubrics, tag_ids) VALUES ('a', 'Т', 'https://example.ru/a/', ?, ?, 'published', ?, '{}',"
        " '[\"glavnoe\"]', '[1]')",
        (published, ahead, published),
    )
    conn.execute("DELETE FROM tx_notes")
    conn.execute("COMMIT")
    conn.close()

    store = SQLiteStore(path, settings.zone)
    await store.open()
    try:
        article = await store.get_article("a")
        assert article is not None
        assert article.updated_at is not None
        assert article.updated_at.timestamp() <= time.time()
        for tag in ("all", "rubric:glavnoe", "tag:obshchestvo", "month:2024-12"):
            assert await store.dependency_stamp({tag}) is not None, tag
        assert await store.dependency_stamp({"rubric:sport"}) is None
        assert "2024-12" in await store.month_stamps()
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert current_version(conn) == LATEST
    assert conn.execute("SELECT count(*) FROM tx_notes").fetchone()[0] == 0
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
