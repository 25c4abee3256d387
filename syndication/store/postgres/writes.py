"""Write transactions: articles, rubrics, deletes. Each is a few set-based statements; the
schema's trigger keeps the link rows and the change log in step with them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from syndication.model import ArticleIn, Rubric, TagRef, WriteResult
from syndication.slugs import slugify, with_suffix
from syndication.store.base import StoreError
from syndication.store.postgres.connections import Connections, Transaction, to_json
from syndication.store.sqlite.writes import BATCH, _as_async, _Known, sitemap_size
from syndication.timeutil import month_bounds, month_key, to_epoch

_FIELDS = (
    "id", "title", "url", "summary", "content_html", "published_at", "updated_at", "author",
    "image_url", "image_type", "image_length", "image_caption", "status", "modified_at", "raw",
    "sitemap_bytes", "rubrics", "tag_ids", "body_images",
)  # fmt: skip
# An article sent again as it is stored updates no row: no change-log row, no document rebuilt.
# The raw payload and the write time are no content.
_COMPARED = (
    "title", "url", "summary", "content_html", "published_at", "updated_at", "author",
    "image_url", "image_type", "image_length", "image_caption", "status", "rubrics", "tag_ids",
    "body_images",
)  # fmt: skip
_UPSERT_ARTICLE = (
    f"INSERT INTO articles AS a ({', '.join(_FIELDS)})"
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(_FIELDS) + 1))})"
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _FIELDS[1:])
    + f" WHERE ({', '.join(f'a.{c}' for c in _COMPARED)})"
    f" IS DISTINCT FROM ({', '.join(f'excluded.{c}' for c in _COMPARED)})"
)
_TAG_SLUG_ATTEMPTS = 1000


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
        # Row by row in one pipelined round trip: an id repeated in a bulk request is a
        # replacement, as sequential PUTs would be.
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
                "SELECT name, id FROM tags WHERE name = ANY ($1::text[])", (missing,)
            ):
                ids[name] = self._known.tags[name] = tag_id
            missing = [name for name in missing if name not in ids]
        attempt = 1
        while missing:
            # A slug taken by another name moves on to its next suffix in the next round.
            slugs = [with_suffix(slugify(name) or "tag", attempt) for name in missing]
            kinds = [wanted[name].kind.value for name in missing]
            for tag_id, name in await tx.fetchall(
                "INSERT INTO tags (slug, name, kind)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::text[])"
                " ON CONFLICT DO NOTHING RETURNING id, name",
                (slugs, missing, kinds),
            ):
                ids[name] = learned.tags[name] = tag_id
            missing = [name for name in missing if name not in ids]
            attempt += 1
            if attempt > _TAG_SLUG_ATTEMPTS:  # pragma: no cover - a thousand names on one slug
                raise StoreError(f"no free slug for tags {missing[:5]!r}")
        return ids

    async def _ensure_months(self, tx: Transaction, months: set[str], learned: _Known) -> None:
        """The calendar rows the statistics read these articles' months through."""
        new = sorted(months - self._known.months - learned.months)
        if not new:
            return
        bounds = [month_bounds(key, self.zone) for key in new]
        await tx.fetchall(
            "INSERT INTO calendar (lo, hi, month)"
            " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[])"
            " ON CONFLICT DO NOTHING",
            ([to_epoch(lo) for lo, _ in bounds], [to_epoch(hi) for _, hi in bounds], new),
        )
        learned.months.update(new)

    async def _ensure_rubrics(self, tx: Transaction, slugs: set[str], learned: _Known) -> None:
        # An article may name a rubric the CMS has not described yet; its slug is its title
        # until PUT /api/rubrics/{slug} says otherwise.
        new = sorted(slugs - self._known.rubrics - learned.rubrics)
        if not new:
            return
        await tx.fetchall(
            "INSERT INTO rubrics (slug, title, position) SELECT s, s, 1000"
            " FROM unnest($1::text[]) s ON CONFLICT (slug) DO NOTHING",
            (new,),
        )
        learned.rubrics.update(new)

    async def delete_article(self, article_id: str) -> int | None:
        async def work(tx: Transaction) -> bool:
            rows = await tx.fetchall(
                "DELETE FROM articles WHERE id = $1 RETURNING id", (article_id,)
            )
            return bool(rows)

        found, notes = await self.db.write(work)
        return notes.last_change if found else None

    async def put_rubric(self, rubric: Rubric) -> tuple[bool, int]:
        async def work(tx: Transaction) -> bool:
            if rubric.parent is not None:
                await self._ensure_rubrics(tx, {rubric.parent}, _Known())
            old = await tx.fetchall(
                "SELECT json_build_object('title', title, 'parent', parent, 'position', position,"
                " 'url', url, 'description', description)::text FROM rubrics WHERE slug = $1",
                (rubric.slug,),
            )
            if old and orjson.loads(old[0][0]) == _rubric_state(rubric):
                return False  # the same fields again: no change, no document to rebuild
            await tx.fetchall(
                "INSERT INTO rubrics (slug, title, description, url, parent, position)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (slug) DO UPDATE SET"
                " title = excluded.title, description = excluded.description,"
                " url = excluded.url, parent = excluded.parent, position = excluded.position",
                (rubric.slug, rubric.title, rubric.description, rubric.url, rubric.parent,
                 rubric.position),
            )  # fmt: skip
            await tx.fetchall(
                "INSERT INTO changes (at, kind, key, before, after)"
                " VALUES ($1, 'rubric', $2, $3::jsonb, $4::jsonb)",
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
    # An update date later than the write means "updated now" (see the SQLite store).
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
        list(dict.fromkeys(a.rubrics)),
        list(dict.fromkeys(tag_ids[t.name] for t in a.tags)),
        list(a.body_images) or None,
    )


def _rubric_state(r: Rubric) -> dict[str, Any]:
    return {
        "title": r.title,
        "parent": r.parent,
        "position": r.position,
        "url": r.url,
        "description": r.description,
    }
