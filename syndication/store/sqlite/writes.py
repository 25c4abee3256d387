"""Write transactions: articles, rubrics, deletes. Each is a few set-based statements; the
schema's triggers keep the link rows, the change log and the statistics in step with them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import orjson

from syndication.content import body_images_size, escaped_size
from syndication.model import ArticleIn, Rubric, TagRef, WriteResult
from syndication.slugs import slugify, with_suffix
from syndication.store.base import StoreError
from syndication.store.sqlite.connections import Connections, Transaction, to_json
from syndication.timeutil import month_bounds, month_key, to_epoch

_COLUMNS = (
    "id, title, url, summary, content_html, published_at, updated_at, author, image_url,"
    " image_type, image_length, image_caption, status, modified_at, raw, sitemap_bytes,"
    " rubrics, tag_ids, body_images"
)
# An article sent again as it is stored (a CMS re-pushing everything) updates no row: no
# change-log row, no document rebuilt. The raw payload and the write time are no content.
_COMPARED = (
    "title", "url", "summary", "content_html", "published_at", "updated_at", "author",
    "image_url", "image_type", "image_length", "image_caption", "status", "rubrics", "tag_ids",
    "body_images",
)  # fmt: skip
_UPSERT_ARTICLE = f"""
INSERT INTO articles ({_COLUMNS})
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    title = excluded.title, url = excluded.url, summary = excluded.summary,
    content_html = excluded.content_html, published_at = excluded.published_at,
    updated_at = excluded.updated_at, author = excluded.author, image_url = excluded.image_url,
    image_type = excluded.image_type, image_length = excluded.image_length,
    image_caption = excluded.image_caption, status = excluded.status,
    modified_at = excluded.modified_at, raw = excluded.raw,
    sitemap_bytes = excluded.sitemap_bytes, rubrics = excluded.rubrics, tag_ids = excluded.tag_ids,
    body_images = excluded.body_images
WHERE {" OR ".join(f"{c} IS NOT excluded.{c}" for c in _COMPARED)}
"""
# Rows per executemany: bounds the memory of one batch of an unbounded import.
BATCH = 500
_TAG_SLUG_ATTEMPTS = 1000
# Names, months and rubric slugs this process knows exist. Tags, months and rubrics are never
# deleted, so knowing one saves its look-up; past this many, start over.
_KNOWN_LIMIT = 200_000

T = TypeVar("T")


def sitemap_size(a: ArticleIn) -> int:
    """What `a` adds to a month sitemap beyond the fixed markup of one `<url>` (the
    `sitemap_bytes` column): its escaped URL, lead image URL and caption, and each body image's
    escaped URL with the markup of its own `<image:image>`."""
    image = a.image
    return escaped_size(
        a.url, image.url if image else "", (image.caption or "") if image else ""
    ) + body_images_size(a.body_images)


async def _as_async(items: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


class _Known:
    """What this process has seen committed: tag ids by name, calendar months, rubric slugs."""

    def __init__(self) -> None:
        self.tags: dict[str, int] = {}
        self.months: set[str] = set()
        self.rubrics: set[str] = set()

    def learn(self, learned: _Known) -> None:
        if len(self.tags) + len(learned.tags) > _KNOWN_LIMIT:
            self.tags.clear()
        self.tags.update(learned.tags)
        self.months |= learned.months
        if len(self.rubrics) > _KNOWN_LIMIT:
            self.rubrics.clear()
        self.rubrics |= learned.rubrics


class Writes:
    db: Connections
    zone: ZoneInfo
    _known: _Known

    async def put_articles(
        self, articles: Iterable[ArticleIn] | AsyncIterable[ArticleIn]
    ) -> WriteResult:
        total = 0

        async def work(tx: Transaction) -> _Known:
            nonlocal total
            learned = _Known()
            batch: list[ArticleIn] = []
            async for article in _as_async(articles):
                total += 1
                batch.append(article)
                if len(batch) >= BATCH:
                    await self._write_batch(tx, batch, learned)
                    batch = []
            if batch:
                await self._write_batch(tx, batch, learned)
            return learned

        learned, notes = await self.db.write(work)
        # Only now: what a rolled-back transaction created does not exist.
        self._known.learn(learned)
        # Replaced: every article that existed, changed or sent again unchanged.
        return WriteResult(
            created=notes.created, replaced=total - notes.created, change_id=notes.last_change
        )

    async def _write_batch(self, tx: Transaction, batch: list[ArticleIn], learned: _Known) -> None:
        tag_ids = await self._tag_ids(tx, [t for a in batch for t in a.tags], learned)
        await self._ensure_months(
            tx, {month_key(a.published_at, self.zone) for a in batch}, learned
        )
        await self._ensure_rubrics(tx, {r for a in batch for r in a.rubrics}, learned)
        now = int(time.time())
        await tx.executemany(_UPSERT_ARTICLE, [_row(a, tag_ids, now) for a in batch])

    async def _tag_ids(
        self, tx: Transaction, refs: Sequence[TagRef], learned: _Known
    ) -> dict[str, int]:
        """Tag name → id, creating the tags that do not exist yet."""
        wanted = {ref.name: ref for ref in refs}
        ids = {name: self._known.tags[name] for name in wanted if name in self._known.tags}
        missing = [name for name in wanted if name not in ids]
        if missing:
            for name, tag_id in await tx.fetchall(
                "SELECT name, id FROM tags WHERE name IN (SELECT value FROM json_each(?))",
                (to_json(missing),),
            ):
                ids[name] = self._known.tags[name] = tag_id
            missing = [name for name in missing if name not in ids]
        attempt = 1
        while missing:
            # A slug taken by another name moves on to its next suffix in the next round.
            candidates = [
                [with_suffix(slugify(name) or "tag", attempt), name, wanted[name].kind.value]
                for name in missing
            ]
            for tag_id, name in await tx.fetchall(
                "INSERT INTO tags (slug, name, kind) SELECT json_extract(value, '$[0]'),"
                " json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?)"
                " WHERE true ON CONFLICT DO NOTHING RETURNING id, name",
                (to_json(candidates),),
            ):
                ids[name] = learned.tags[name] = tag_id
            missing = [name for name in missing if name not in ids]
            attempt += 1
            if attempt > _TAG_SLUG_ATTEMPTS:  # pragma: no cover - a thousand names on one slug
                raise StoreError(f"no free slug for tags {missing[:5]!r}")
        return ids

    async def _ensure_months(self, tx: Transaction, months: set[str], learned: _Known) -> None:
        """The calendar rows the statistics triggers file these articles under."""
        new = sorted(months - self._known.months - learned.months)
        if not new:
            return
        rows = []
        for key in new:
            lo, hi = month_bounds(key, self.zone)
            rows.append([to_epoch(lo), to_epoch(hi), key])
        await tx.fetchall(
            "INSERT INTO calendar (lo, hi, month) SELECT json_extract(value, '$[0]'),"
            " json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?)"
            " WHERE true ON CONFLICT DO NOTHING",
            (to_json(rows),),
        )
        learned.months.update(new)

    async def _ensure_rubrics(self, tx: Transaction, slugs: set[str], learned: _Known) -> None:
        # An article may name a rubric the CMS has not described yet; its slug is its title
        # until PUT /api/rubrics/{slug} says otherwise.
        new = sorted(slugs - self._known.rubrics - learned.rubrics)
        if not new:
            return
        await tx.fetchall(
            "INSERT INTO rubrics (slug, title, position) SELECT value, value, 1000"
            " FROM json_each(?) WHERE true ON CONFLICT (slug) DO NOTHING",
            (to_json(new),),
        )
        learned.rubrics.update(new)

    async def delete_article(self, article_id: str) -> int | None:
        async def work(tx: Transaction) -> bool:
            rows = await tx.fetchall(
                "DELETE FROM articles WHERE id = ? RETURNING id", (article_id,)
            )
            return bool(rows)

        found, notes = await self.db.write(work)
        return notes.last_change if found else None

    async def put_rubric(self, rubric: Rubric) -> tuple[bool, int]:
        async def work(tx: Transaction) -> bool:
            await tx.begin()  # the "before" state must be read inside the transaction
            if rubric.parent is not None:
                await self._ensure_rubrics(tx, {rubric.parent}, _Known())
            old = await tx.fetchall(
                "SELECT json_object('title', title, 'parent', parent, 'position', position,"
                " 'url', url, 'description', description) FROM rubrics WHERE slug = ?",
                (rubric.slug,),
            )
            if old and orjson.loads(old[0][0]) == _rubric_state(rubric):
                return False  # the same fields again: no change, no document to rebuild
            await tx.fetchall(
                "INSERT INTO rubrics (slug, title, description, url, parent, position)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO UPDATE SET"
                " title = excluded.title, description = excluded.description,"
                " url = excluded.url, parent = excluded.parent, position = excluded.position",
                (rubric.slug, rubric.title, rubric.description, rubric.url, rubric.parent,
                 rubric.position),
            )  # fmt: skip
            await tx.fetchall(
                "INSERT INTO changes (at, kind, key, before, after) VALUES (?, 'rubric', ?, ?, ?)",
                (
                    int(time.time()),
                    rubric.slug,
                    old[0][0] if old else None,
                    to_json(_rubric_state(rubric)),
                ),
            )
            return not old

        created, notes = await self.db.write(work)
        self._known.rubrics.add(rubric.slug)
        return created, notes.last_change


def _row(a: ArticleIn, tag_ids: dict[str, int], now: int) -> tuple[Any, ...]:
    image = a.image
    published = to_epoch(a.published_at)
    # An update date later than the write is a CMS clock ahead or a typo: kept, it would put a
    # future Last-Modified, <updated> and lastmod out, after which every real change looks
    # older. It means "updated now" (for a scheduled article: when it goes live).
    updated = min(to_epoch(a.updated_at), max(published, now)) if a.updated_at else None
    return (
        a.id,
        a.title,
        a.url,
        a.summary,
        a.content_html,
        published,
        updated,
        a.author,
        image.url if image else None,
        image.type if image else None,
        image.length if image else None,
        image.caption if image else None,
        a.status.value,
        now,
        a.raw,
        sitemap_size(a),
        to_json(list(dict.fromkeys(a.rubrics))),
        to_json(list(dict.fromkeys(tag_ids[t.name] for t in a.tags))),
        to_json(list(a.body_images)) if a.body_images else None,
    )


def _rubric_state(r: Rubric) -> dict[str, Any]:
    return {
        "title": r.title,
        "parent": r.parent,
        "position": r.position,
        "url": r.url,
        "description": r.description,
    }
