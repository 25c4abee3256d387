"""Versioned SQLite schema. Version N is `MIGRATIONS[N - 1]`; `PRAGMA user_version` records it.

Never edit a released step: add a new one, so that an existing file upgrades in place.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: articles, rubrics, tags, their links and the change log.
    """
    CREATE TABLE rubrics (
        slug        TEXT PRIMARY KEY,
        title       TEXT NOT NULL,
        description TEXT,
        url         TEXT,
        parent      TEXT REFERENCES rubrics(slug) ON DELETE SET NULL,
        position    INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE tags (
        id   INTEGER PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('topic', 'person', 'org'))
    );
    CREATE TABLE articles (
        id            TEXT NOT NULL UNIQUE,
        title         TEXT NOT NULL,
        url           TEXT NOT NULL,
        summary       TEXT,
        content_html  TEXT,
        published_at  INTEGER NOT NULL,
        updated_at    INTEGER,
        author        TEXT,
        image_url     TEXT,
        image_type    TEXT,
        image_length  INTEGER,
        image_caption TEXT,
        status        TEXT NOT NULL CHECK (status IN ('published', 'draft')),
        modified_at   INTEGER NOT NULL,
        raw           TEXT NOT NULL
    );
    -- Covers feed paging, month ranges and their newest-change dates without touching the rows.
    CREATE INDEX articles_by_date ON articles (status, published_at, updated_at);
    -- published_at is copied into the link tables so a rubric or tag feed is one index range.
    CREATE TABLE article_rubrics (
        article_id   TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        rubric       TEXT NOT NULL REFERENCES rubrics(slug),
        position     INTEGER NOT NULL,
        published_at INTEGER NOT NULL,
        PRIMARY KEY (article_id, rubric)
    ) WITHOUT ROWID;
    CREATE INDEX article_rubrics_by_rubric ON article_rubrics (rubric, published_at DESC);
    CREATE TABLE article_tags (
        article_id   TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        tag_id       INTEGER NOT NULL REFERENCES tags(id),
        position     INTEGER NOT NULL,
        published_at INTEGER NOT NULL,
        PRIMARY KEY (article_id, tag_id)
    ) WITHOUT ROWID;
    CREATE INDEX article_tags_by_tag ON article_tags (tag_id, published_at DESC);
    -- One row per change; readers compare its newest id with the one a cached document saw.
    CREATE TABLE changes (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     INTEGER NOT NULL,
        kind   TEXT NOT NULL,
        key    TEXT NOT NULL,
        before TEXT,
        after  TEXT
    );
    """,
    # 2: the notification outbox, written in the same transaction as the change it announces.
    """
    CREATE TABLE outbox (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        change_id    INTEGER NOT NULL,
        target       TEXT NOT NULL,
        payload      TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        due_at       INTEGER NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        last_error   TEXT
    );
    CREATE INDEX outbox_by_due ON outbox (due_at);
    CREATE INDEX articles_by_modified ON articles (modified_at);
    """,
    # 3: push-notification delivery cursors. The change log is the durable queue (written in the
    # write's own transaction); each target keeps here the last change id its endpoint
    # acknowledged, and the retry state of the batch after it. (v2's `outbox` stays unused.)
    """
    CREATE TABLE delivery_cursors (
        target          TEXT PRIMARY KEY,
        change_id       INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        last_error      TEXT,
        updated_at      REAL NOT NULL
    );
    """,
    # 4: what sitemaps, month lists and term statistics read, in one covering index, so a
    # million-article store answers them from the index alone. sitemap_bytes bounds the escaped
    # size of an article's sitemap text (URL, image URL, caption): each of & < > CR grows to at
    # most 5 bytes when escaped.
    """
    ALTER TABLE articles ADD COLUMN sitemap_bytes INTEGER NOT NULL DEFAULT 0;
    UPDATE articles SET sitemap_bytes =
        length(CAST(url || coalesce(image_url, '') || coalesce(image_caption, '') AS BLOB))
        + 4 * (length(url || coalesce(image_url, '') || coalesce(image_caption, ''))
               - length(replace(replace(replace(replace(
                     url || coalesce(image_url, '') || coalesce(image_caption, ''),
                     '&', ''), '<', ''), '>', ''), char(13), '')));
    DROP INDEX articles_by_date;
    CREATE INDEX articles_by_date
        ON articles (status, published_at, id, updated_at, sitemap_bytes);
    """,
    # 5: rubric and tag statistics (which have visible articles, and the newest change) from the
    # link tables' own index: each link carries whether its article is published and the
    # article's newest date, so no article row is read (a million articles: ~10 s -> ~1 s).
    """
    ALTER TABLE article_rubrics ADD COLUMN published INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE article_rubrics ADD COLUMN last_change INTEGER NOT NULL DEFAULT 0;
    UPDATE article_rubrics SET
        published = (SELECT a.status = 'published' FROM articles a WHERE a.id = article_id),
        last_change = (SELECT coalesce(a.updated_at, a.published_at) FROM articles a
                       WHERE a.id = article_id);
    CREATE INDEX article_rubrics_stats
        ON article_rubrics (published, rubric, published_at, last_change);
    ALTER TABLE article_tags ADD COLUMN published INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE article_tags ADD COLUMN last_change INTEGER NOT NULL DEFAULT 0;
    UPDATE article_tags SET
        published = (SELECT a.status = 'published' FROM articles a WHERE a.id = article_id),
        last_change = (SELECT coalesce(a.updated_at, a.published_at) FROM articles a
                       WHERE a.id = article_id);
    CREATE INDEX article_tags_stats ON article_tags (published, tag_id, published_at, last_change);
    """,
)

LATEST = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The file was written by a newer version of this service."""


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = LATEST) -> list[int]:
    """Apply the missing steps up to `target`, each in its own transaction. Returns those applied."""
    version = current_version(conn)
    if version > LATEST:
        raise SchemaTooNew(f"store schema version {version} is newer than this service's {LATEST}")
    applied = []
    for step in range(version + 1, target + 1):
        # executescript commits first and runs the script as is, so the BEGIN/COMMIT here make the
        # step and its version bump one atomic unit.
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[step - 1]}\nPRAGMA user_version = {step};\nCOMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(step)
    return applied
