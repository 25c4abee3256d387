"""Versioned SQLite schema. Version N is `MIGRATIONS[N - 1]`; `PRAGMA user_version` records it.

Never edit a released step: add a new one, so that an existing file upgrades in place. A step is
an SQL script, or a function of the connection and the site's zone for the steps that need Python
(the site's calendar); either way it runs in one transaction with its version bump.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

import orjson

from syndication.content import body_images_of_rows
from syndication.dependencies import stamp_tags
from syndication.timeutil import from_epoch, month_rows

log = logging.getLogger("syndication.store")

Step = str | Callable[[sqlite3.Connection, ZoneInfo], None]

DEFAULT_ZONE = ZoneInfo("Europe/Moscow")

# --- step 6: placement on the article row, the site calendar, maintained statistics -------------
# Every statistic a document header, the sitemap index, the index page or OPML reads is kept
# current by triggers in the write transaction, so reading it costs O(1) and keeping it costs
# O(changed). `buckets` holds one row per (scope, month) with published articles: scope '' is all
# news, 'r:SLUG' a rubric, 't:ID' a tag; `totals` sums each scope's buckets. A newest date that
# leaves a bucket is recomputed from that bucket's own index range, never from history.
# The article row carries its placement (`rubrics`: slugs, `tag_ids`: tag ids, in order), so one
# upsert is a whole write: triggers rewrite the link rows and the change log from it.
# A bucket's `version` is the id of the newest change that touched it (each article trigger
# writes its change row first), so a reader can memoise what it derived from a month.
# `tx_notes` collects, inside one write transaction, what the writer reads back once at its end
# (rows created/replaced, the newest change id, which terms and months appeared or vanished); the
# writer empties it before committing.


def _month_of(epoch: str) -> str:
    return (
        f"(SELECT month FROM calendar WHERE lo <= {epoch} AND hi > {epoch}"
        " ORDER BY lo DESC LIMIT 1)"
    )


def _newest(row: str) -> str:
    return f"coalesce({row}.updated_at, {row}.published_at)"


def _state(row: str) -> str:
    """The article's placement as the change log records it (see syndication/documents.py)."""
    return (
        f"json_object('status', {row}.status, 'published_at', {row}.published_at,"
        f" 'url', {row}.url, 'rubrics', json({row}.rubrics), 'tags', (SELECT"
        " json_group_array(slug) FROM (SELECT t.slug AS slug FROM"
        f" json_each({row}.tag_ids) j JOIN tags t ON t.id = j.value ORDER BY j.key)))"
    )


_SEQ = "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)"
_SAME_MONTH = (
    f"(OLD.published_at = NEW.published_at OR {_month_of('OLD.published_at')}"
    f" IS {_month_of('NEW.published_at')})"
)


def _article_bucket_add(row: str, when: str = "true") -> str:
    return (
        "INSERT INTO buckets (scope, month, count, last_change, max_bytes, version)"
        f" SELECT '', {_month_of(row + '.published_at')}, 1, {_newest(row)},"
        f" {row}.sitemap_bytes, {_SEQ} WHERE {row}.status = 'published' AND {when}"
        " ON CONFLICT (scope, month) DO UPDATE SET count = count + 1,"
        " last_change = max(last_change, excluded.last_change),"
        " max_bytes = max(max_bytes, excluded.max_bytes), version = excluded.version;"
    )


def _article_bucket_remove(row: str, when: str = "true") -> str:
    month_rows = (
        "FROM calendar c, articles a INDEXED BY articles_by_date WHERE c.month = buckets.month"
        " AND a.status = 'published' AND a.published_at >= c.lo AND a.published_at < c.hi"
    )
    where = f"scope = '' AND month = {_month_of(row + '.published_at')}"
    return (
        f"UPDATE buckets SET count = count - 1, version = {_SEQ},"
        f" last_change = CASE WHEN {_newest(row)} < last_change THEN last_change ELSE"
        f" coalesce((SELECT max(coalesce(a.updated_at, a.published_at)) {month_rows}), 0) END,"
        f" max_bytes = CASE WHEN {row}.sitemap_bytes < max_bytes THEN max_bytes ELSE"
        f" coalesce((SELECT max(a.sitemap_bytes) {month_rows}), 0) END"
        f" WHERE {where} AND {row}.status = 'published' AND {when};"
        f" DELETE FROM buckets WHERE {where} AND count <= 0;"
    )


_ARTICLE_GROWS = (
    "OLD.status = 'published' AND NEW.status = 'published' AND "
    f"{_SAME_MONTH} AND {_newest('NEW')} >= {_newest('OLD')}"
    " AND NEW.sitemap_bytes >= OLD.sitemap_bytes"
)


def _links(table: str, column: str, source: str, row: str) -> str:
    """Statements that make `table`'s rows of article `row` match its JSON list `source`."""
    return (
        f"DELETE FROM {table} WHERE article_id = {row}.id AND {column} NOT IN"
        f" (SELECT value FROM json_each({row}.{source}));"
        f" INSERT INTO {table} (article_id, {column}, position, published_at, published,"
        f" last_change) SELECT {row}.id, j.value, j.key, {row}.published_at,"
        f" {row}.status = 'published', {_newest(row)} FROM json_each({row}.{source}) j WHERE true"
        f" ON CONFLICT (article_id, {column}) DO UPDATE SET position = excluded.position,"
        " published_at = excluded.published_at, published = excluded.published,"
        " last_change = excluded.last_change;"
    )


def _count_note(name: str) -> str:
    return (
        f"INSERT INTO tx_notes (kind, key, was, now) VALUES ('count', '{name}', 0, 1)"
        " ON CONFLICT (kind, key) DO UPDATE SET now = now + 1;"
    )


_ARTICLE_TRIGGERS = f"""
CREATE TRIGGER articles_inserted AFTER INSERT ON articles BEGIN
    INSERT INTO changes (at, kind, key, before, after)
        VALUES (NEW.modified_at, 'article', NEW.id, NULL, {_state("NEW")});
    {_count_note("created")}
    {_links("article_rubrics", "rubric", "rubrics", "NEW")}
    {_links("article_tags", "tag_id", "tag_ids", "NEW")}
    {_article_bucket_add("NEW")}
END;
CREATE TRIGGER articles_updated AFTER UPDATE ON articles BEGIN
    INSERT INTO changes (at, kind, key, before, after)
        VALUES (NEW.modified_at, 'article', NEW.id, {_state("OLD")}, {_state("NEW")});
    {_count_note("replaced")}
    {_links("article_rubrics", "rubric", "rubrics", "NEW")}
    {_links("article_tags", "tag_id", "tag_ids", "NEW")}
    -- The usual edit (same month, the newest date moves forward) only raises the bucket's
    -- maximum; anything else takes the article out of its old bucket and into the new one.
    UPDATE buckets SET last_change = max(last_change, {_newest("NEW")}),
        max_bytes = max(max_bytes, NEW.sitemap_bytes), version = {_SEQ}
        WHERE scope = '' AND month = {_month_of("NEW.published_at")} AND {_ARTICLE_GROWS};
    {_article_bucket_remove("OLD", f"NOT ({_ARTICLE_GROWS})")}
    {_article_bucket_add("NEW", f"NOT ({_ARTICLE_GROWS})")}
END;
CREATE TRIGGER articles_deleted AFTER DELETE ON articles BEGIN
    INSERT INTO changes (at, kind, key, before, after)
        VALUES (CAST(strftime('%s', 'now') AS INTEGER), 'article-delete', OLD.id,
                {_state("OLD")}, NULL);
    {_article_bucket_remove("OLD")}
END;
"""


def _link_triggers(table: str, column: str, prefix: str, index: str) -> str:
    def scope(row: str) -> str:
        return f"'{prefix}' || {row}.{column}"

    def add(row: str) -> str:
        return (
            "INSERT INTO buckets (scope, month, count, last_change)"
            f" SELECT {scope(row)}, {_month_of(row + '.published_at')}, 1, {row}.last_change"
            f" WHERE {row}.published = 1"
            " ON CONFLICT (scope, month) DO UPDATE SET count = count + 1,"
            " last_change = max(last_change, excluded.last_change);"
        )

    def remove(row: str) -> str:
        where = f"scope = {scope(row)} AND month = {_month_of(row + '.published_at')}"
        return (
            "UPDATE buckets SET count = count - 1, last_change = CASE WHEN"
            f" {row}.last_change < last_change THEN last_change ELSE coalesce((SELECT"
            f" max(l.last_change) FROM calendar c, {table} l INDEXED BY {index}"
            " WHERE c.month = buckets.month AND l.published = 1"
            f" AND l.{column} = {row}.{column} AND l.published_at >= c.lo"
            " AND l.published_at < c.hi), 0) END"
            f" WHERE {where} AND {row}.published = 1;"
            f" DELETE FROM buckets WHERE {where} AND count <= 0;"
        )

    grows = (
        f"OLD.published = 1 AND NEW.published = 1 AND {_SAME_MONTH}"
        " AND NEW.last_change >= OLD.last_change"
    )
    return f"""
CREATE TRIGGER {table}_inserted AFTER INSERT ON {table} WHEN NEW.published = 1 BEGIN
    {add("NEW")}
END;
CREATE TRIGGER {table}_deleted AFTER DELETE ON {table} WHEN OLD.published = 1 BEGIN
    {remove("OLD")}
END;
CREATE TRIGGER {table}_updated_grows AFTER UPDATE ON {table}
WHEN {grows} AND NEW.last_change > OLD.last_change BEGIN
    UPDATE buckets SET last_change = max(last_change, NEW.last_change)
        WHERE scope = {scope("NEW")} AND month = {_month_of("NEW.published_at")};
END;
CREATE TRIGGER {table}_updated_moves AFTER UPDATE ON {table}
WHEN (OLD.published = 1 OR NEW.published = 1) AND NOT ({grows}) BEGIN
    {remove("OLD")}
    {add("NEW")}
END;
"""


def _presence_note(kind: str, key: str, was: int) -> str:
    return (
        f"INSERT INTO tx_notes (kind, key, was, now) VALUES ({kind}, {key}, {was}, {1 - was})"
        f" ON CONFLICT (kind, key) DO UPDATE SET now = {1 - was};"
    )


_TERM_KIND = "CASE substr({0}.scope, 1, 2) WHEN 'r:' THEN 'rubrics' ELSE 'tags' END"
_TERM_KEY = (
    "CASE substr({0}.scope, 1, 2) WHEN 'r:' THEN substr({0}.scope, 3)"
    " ELSE (SELECT slug FROM tags WHERE id = CAST(substr({0}.scope, 3) AS INTEGER)) END"
)

_STATISTICS_TRIGGERS = f"""
CREATE TRIGGER buckets_inserted AFTER INSERT ON buckets BEGIN
    INSERT INTO totals (scope, count, last_change) VALUES (NEW.scope, NEW.count, NEW.last_change)
        ON CONFLICT (scope) DO UPDATE SET count = count + excluded.count,
        last_change = max(last_change, excluded.last_change);
END;
CREATE TRIGGER buckets_updated AFTER UPDATE OF count, last_change ON buckets BEGIN
    UPDATE totals SET count = count + NEW.count - OLD.count,
        last_change = CASE WHEN NEW.last_change >= last_change THEN NEW.last_change
                           WHEN OLD.last_change < last_change THEN last_change
                           ELSE (SELECT max(last_change) FROM buckets WHERE scope = NEW.scope) END
        WHERE scope = NEW.scope;
END;
CREATE TRIGGER buckets_deleted AFTER DELETE ON buckets BEGIN
    UPDATE totals SET count = count - OLD.count,
        last_change = CASE WHEN OLD.last_change < last_change THEN last_change
            ELSE coalesce((SELECT max(last_change) FROM buckets WHERE scope = OLD.scope), 0) END
        WHERE scope = OLD.scope;
    DELETE FROM totals WHERE scope = OLD.scope
        AND NOT EXISTS (SELECT 1 FROM buckets WHERE scope = OLD.scope);
END;
CREATE TRIGGER months_appear AFTER INSERT ON buckets WHEN NEW.scope = '' BEGIN
    {_presence_note("'months'", "NEW.month", 0)}
END;
CREATE TRIGGER months_vanish AFTER DELETE ON buckets WHEN OLD.scope = '' BEGIN
    {_presence_note("'months'", "OLD.month", 1)}
END;
CREATE TRIGGER terms_appear AFTER INSERT ON totals WHEN NEW.scope != '' BEGIN
    {_presence_note(_TERM_KIND.format("NEW"), _TERM_KEY.format("NEW"), 0)}
END;
CREATE TRIGGER terms_vanish AFTER DELETE ON totals WHEN OLD.scope != '' BEGIN
    {_presence_note(_TERM_KIND.format("OLD"), _TERM_KEY.format("OLD"), 1)}
END;
CREATE TRIGGER changes_noted AFTER INSERT ON changes WHEN NEW.kind != 'terms' BEGIN
    INSERT INTO tx_notes (kind, key, was, now) VALUES ('change', 'last', 0, NEW.id)
        ON CONFLICT (kind, key) DO UPDATE SET now = max(now, excluded.now);
END;
"""

_STEP_6 = f"""
DROP TABLE outbox;
-- Indexes no query reads: feeds and statistics page through the links' `*_stats` indexes.
DROP INDEX articles_by_modified;
DROP INDEX article_rubrics_by_rubric;
DROP INDEX article_tags_by_tag;
ALTER TABLE articles ADD COLUMN rubrics TEXT NOT NULL DEFAULT '[]';
ALTER TABLE articles ADD COLUMN tag_ids TEXT NOT NULL DEFAULT '[]';
UPDATE articles SET
    rubrics = (SELECT json_group_array(rubric) FROM (SELECT rubric FROM article_rubrics
               WHERE article_id = articles.id ORDER BY position)),
    tag_ids = (SELECT json_group_array(tag_id) FROM (SELECT tag_id FROM article_tags
               WHERE article_id = articles.id ORDER BY position));
-- What a sitemap row needs, in date order, so a 50,000-URL part reads the index and never the
-- rows with their bodies (one 3 KB body is a page of its own: 200 MB to read a part).
CREATE INDEX articles_sitemap ON articles (status, published_at, id, updated_at, url, title,
    image_url, image_type, image_length, image_caption);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- The site's months as UTC ranges; writers add the months of what they write.
CREATE TABLE calendar (lo INTEGER PRIMARY KEY, hi INTEGER NOT NULL, month TEXT NOT NULL UNIQUE);
CREATE TABLE buckets (
    scope       TEXT NOT NULL,
    month       TEXT NOT NULL,
    count       INTEGER NOT NULL,
    last_change INTEGER NOT NULL,
    max_bytes   INTEGER NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, month)
) WITHOUT ROWID;
CREATE INDEX buckets_by_month ON buckets (month, scope);
CREATE TABLE totals (
    scope       TEXT PRIMARY KEY,
    count       INTEGER NOT NULL,
    last_change INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE tx_notes (
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    was  INTEGER NOT NULL,
    now  INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
{_ARTICLE_TRIGGERS}
{_link_triggers("article_rubrics", "rubric", "r:", "article_rubrics_stats")}
{_link_triggers("article_tags", "tag_id", "t:", "article_tags_stats")}
{_STATISTICS_TRIGGERS}
"""


def _step_6(conn: sqlite3.Connection, zone: ZoneInfo) -> None:
    for statement in statements(_STEP_6):
        conn.execute(statement)
    rebuild_statistics(conn, zone)


# --- step 7: when each dependency tag last changed; no update date after its write -------------
# `stamps` keeps, per dependency tag (syndication/dependencies.py), the newest change-log row that
# raised it: a document's Last-Modified is derived from it, so every worker and every restart give
# the same one. The writer folds its transaction's change rows into it before committing (see
# connections.Transaction.finish); the tag "log" is raised by every row, so the newest change id
# folded is one index probe away.
# An `updated_at` later than its write (and than `published_at`) would put future dates in
# headers and documents: writes clamp it since this step, which clamps what is already stored.
STAMP_ALL = "log"


def fold_stamps_sql() -> str:
    """The statement that folds the change rows not yet in `stamps` into it. Needs the
    `stamp_tags(kind, key, before, after)` SQL function (`register_functions`).

    The stamp is the clock at the fold, the transaction's last statement before COMMIT, and not
    the write's own time read before its statements ran: a Last-Modified derived from it must be
    later than any response sent before the commit (see syndication.cache.STAMP_MARGIN)."""
    return (
        "INSERT INTO stamps (dep, at, change_id)"
        " SELECT j.value, max(max(c.at), CAST(strftime('%s', 'now') AS INTEGER)), max(c.id)"
        " FROM changes c,"
        f" json_each(json_insert(stamp_tags(c.kind, c.key, c.before, c.after), '$[#]', '{STAMP_ALL}')) j"
        " WHERE c.id > coalesce((SELECT max(change_id) FROM stamps), 0) GROUP BY j.value"
        " ON CONFLICT (dep) DO UPDATE SET at = max(at, excluded.at),"
        " change_id = max(change_id, excluded.change_id)"
    )


def stamp_function(zone: ZoneInfo) -> Callable[[str, str, str | None, str | None], str]:
    """The `stamp_tags(kind, key, before, after)` SQL function for the site's `zone`."""

    def tags(kind: str, key: str, before: str | None, after: str | None) -> str:
        return stamp_tags(kind, key, before, after, zone)

    return tags


def register_functions(conn: sqlite3.Connection, zone: ZoneInfo) -> None:
    """The SQL functions the schema's triggers call: every connection that writes needs them
    (the store's writer, migrations, a benchmark loading rows around the store)."""
    conn.create_function("stamp_tags", 4, stamp_function(zone), deterministic=True)


# The writer reads its transaction's notes with one DELETE ... RETURNING; the deletion of the
# newest-change note folds the transaction's change rows into `stamps` in that same statement
# (one round trip fewer than a statement of its own).
_STEP_7 = """
CREATE TABLE stamps (
    dep       TEXT PRIMARY KEY,
    at        INTEGER NOT NULL,
    change_id INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stamps_by_change ON stamps (change_id);
"""
_STEP_7_TRIGGER = f"""
CREATE TRIGGER notes_fold_stamps AFTER DELETE ON tx_notes WHEN OLD.kind = 'change' BEGIN
    {fold_stamps_sql()};
END;
"""


def _step_7(conn: sqlite3.Connection, zone: ZoneInfo) -> None:
    for statement in statements(_STEP_7):
        conn.execute(statement)
    now = int(time.time())
    conn.execute(
        "UPDATE articles SET updated_at = max(published_at, ?)"
        " WHERE updated_at > max(published_at, ?)",
        (now, now),
    )
    conn.execute("DELETE FROM tx_notes")  # what the update's triggers noted is no write's
    stamps: dict[str, tuple[int, int]] = {}
    (total,) = conn.execute("SELECT count(*) FROM changes").fetchone()
    if total:
        log.info("schema 7: stamping %d change-log rows", total)
    started = time.monotonic()
    rows = conn.execute("SELECT id, at, kind, key, before, after FROM changes ORDER BY id")
    for done, (change_id, at, kind, key, before, after) in enumerate(rows, 1):
        for dep in (STAMP_ALL, *orjson.loads(stamp_tags(kind, key, before, after, zone))):
            stamps[dep] = (max(at, stamps.get(dep, (at, 0))[0]), change_id)
        if done % 100_000 == 0:  # a long history: say how far it is
            log.info("schema 7: %d of %d change-log rows stamped", done, total)
    if total:
        log.info("schema 7: %d tags stamped in %.1f s", len(stamps), time.monotonic() - started)
    conn.executemany(
        "INSERT INTO stamps (dep, at, change_id) VALUES (?, ?, ?)",
        [(dep, at, change_id) for dep, (at, change_id) in stamps.items()],
    )
    for statement in statements(_STEP_7_TRIGGER):
        conn.execute(statement)


# --- step 9: the images of each article's body, for its month sitemap --------------------------
# `body_images` (a JSON array of URLs, NULL when none) is found once, at ingest
# (content.body_images), and read with the sitemap row from its covering index, never from
# `content_html` at render; `sitemap_bytes` grows by what the images add to the row, so a month's
# split bound (buckets.max_bytes) covers them. Stored rows are filled from their HTML here, in
# batches, with the article triggers set aside meanwhile: a derived column filled in is no write
# (no change-log row, no push notification for every article of the archive).
FILL_BATCH = 500


def _step_9(conn: sqlite3.Connection, zone: ZoneInfo) -> None:
    conn.execute("ALTER TABLE articles ADD COLUMN body_images TEXT")
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'articles'"
    ).fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    filled, last = 0, 0
    while True:
        rows = conn.execute(
            "SELECT rowid, content_html, image_url FROM articles"
            " WHERE rowid > ? AND content_html LIKE '%<img%' ORDER BY rowid LIMIT ?",
            (last, FILL_BATCH),
        ).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        updates = [
            (orjson.dumps(images).decode(), size, rowid)
            for rowid, images, size in body_images_of_rows(rows)
        ]
        conn.executemany(
            "UPDATE articles SET body_images = ?, sitemap_bytes = sitemap_bytes + ?"
            " WHERE rowid = ?",
            updates,
        )
        filled += len(updates)
    for _, sql in triggers:
        conn.execute(sql)
    if filled:
        log.info("schema 9: body images of %d articles", filled)
        conn.execute(
            "UPDATE buckets SET max_bytes = coalesce((SELECT max(a.sitemap_bytes) FROM calendar c,"
            " articles a INDEXED BY articles_by_date WHERE c.month = buckets.month"
            " AND a.status = 'published' AND a.published_at >= c.lo AND a.published_at < c.hi),"
            " 0) WHERE scope = ''"
        )
    # The sitemap row, body images included, still from the index alone.
    conn.execute("DROP INDEX articles_sitemap")
    conn.execute(
        "CREATE INDEX articles_sitemap ON articles (status, published_at, id, updated_at, url,"
        " title, image_url, image_type, image_length, image_caption, body_images)"
    )


def statements(script: str) -> Iterator[str]:
    """The complete statements of `script` (trigger bodies hold semicolons of their own)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        yield pending


def add_calendar(conn: sqlite3.Connection, first: int, last: int, zone: ZoneInfo) -> None:
    """Make sure the calendar has every month from epoch `first`'s to `last`'s: what a writer
    that goes around the store (a test, a benchmark loading a million rows) must do first."""
    conn.executemany(
        "INSERT INTO calendar (lo, hi, month) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        month_rows(from_epoch(first), from_epoch(last), zone),
    )


def rebuild_statistics(conn: sqlite3.Connection, zone: ZoneInfo) -> None:
    """Recompute the calendar and every maintained statistic from the rows, for `zone`.

    Runs inside the caller's transaction: migration 6, and a store opened with another zone.
    """
    register_functions(conn, zone)  # emptying tx_notes fires the stamps' fold
    conn.execute("DELETE FROM totals")
    conn.execute("DELETE FROM buckets")
    conn.execute("DELETE FROM calendar")
    first, last = conn.execute(
        "SELECT min(published_at), max(published_at) FROM articles"
    ).fetchone()
    if first is not None:
        conn.executemany(
            "INSERT INTO calendar (lo, hi, month) VALUES (?, ?, ?)",
            month_rows(from_epoch(first), from_epoch(last), zone),
        )
    month = _month_of("published_at")
    conn.execute(
        "INSERT INTO buckets (scope, month, count, last_change, max_bytes, version)"
        f" SELECT '', m, count(*), max(lc), max(sb), {_SEQ} FROM (SELECT {month} AS m,"
        " coalesce(updated_at, published_at) AS lc, sitemap_bytes AS sb FROM articles"
        " WHERE status = 'published') GROUP BY m"
    )
    for table, column, prefix in (
        ("article_rubrics", "rubric", "r:"),
        ("article_tags", "tag_id", "t:"),
    ):
        conn.execute(
            "INSERT INTO buckets (scope, month, count, last_change)"
            f" SELECT '{prefix}' || k, m, count(*), max(lc) FROM (SELECT {column} AS k,"
            f" {month} AS m, last_change AS lc FROM {table} WHERE published = 1) GROUP BY k, m"
        )
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('zone', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (zone.key,),
    )
    conn.execute("DELETE FROM tx_notes")


def stored_zone(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'zone'").fetchone()
    return str(row[0]) if row else None


MIGRATIONS: tuple[Step, ...] = (
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
    _step_6,
    # 7: per-dependency change stamps; no stored update date later than its write.
    _step_7,
    # 8: the change log by time, for retractions (RFC 6721 deleted entries) of the last days.
    "CREATE INDEX changes_by_at ON changes (at);",
    # 9: the body's images on the article row, in the sitemap index.
    _step_9,
)


LATEST = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The file was written by a newer version of this service."""


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(
    conn: sqlite3.Connection, target: int = LATEST, *, zone: ZoneInfo = DEFAULT_ZONE
) -> list[int]:
    """Apply the missing steps up to `target`, each in its own transaction. Returns those applied.

    `conn` must be in autocommit mode (`isolation_level=None`).
    """
    register_functions(conn, zone)
    version = current_version(conn)
    if version > LATEST:
        raise SchemaTooNew(f"store schema version {version} is newer than this service's {LATEST}")
    applied = []
    for number in range(version + 1, target + 1):
        step = MIGRATIONS[number - 1]
        try:
            if isinstance(step, str):
                # executescript commits first and runs the script as is, so the BEGIN/COMMIT
                # here make the step and its version bump one atomic unit.
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{step}\nPRAGMA user_version = {number};\nCOMMIT;"
                )
            else:
                conn.execute("BEGIN IMMEDIATE")
                step(conn, zone)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(number)
    return applied
