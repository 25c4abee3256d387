"""What feeds read: articles of a scope, one article, rubrics and tags."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from syndication.model import Article, Image, Rubric, Scope, ScopeKind, Status, Tag, TagKind
from syndication.store.postgres.connections import Connections, Row, build_objects
from syndication.timeutil import from_epoch, month_bounds, to_epoch

_FIELDS = (
    "id", "title", "url", "summary", "content_html", "published_at", "updated_at", "author",
    "image_url", "image_type", "image_length", "image_caption", "status", "modified_at",
    "rubrics", "tag_ids",
)  # fmt: skip
_COLUMNS = ", ".join(f"a.{c}" for c in _FIELDS)
_RUBRIC_COLUMNS = "slug, title, description, url, parent, position"
# Tags never change once created: this process keeps the ones it has read (bounded).
_TAG_CACHE_LIMIT = 100_000


class FeedQueries:
    db: Connections
    zone: ZoneInfo
    _tags_by_id: dict[int, Tag]

    async def get_article(self, article_id: str) -> Article | None:
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM articles a WHERE a.id = $1", (article_id,)
        )
        return (await self._hydrate(rows))[0] if rows else None

    async def articles(
        self,
        scope: Scope,
        *,
        now: datetime,
        limit: int,
        offset: int = 0,
        oldest_first: bool = False,
    ) -> list[Article]:
        order = "ASC" if oldest_first else "DESC"
        if scope.kind in (ScopeKind.RUBRIC, ScopeKind.TAG):
            links, params = links_sql(scope, now)
            n = len(params)
            # Page through the links' index first, then read only the page's article rows.
            sql = (
                f"SELECT {_COLUMNS} FROM (SELECT l.article_id, l.published_at {links}"
                f" ORDER BY l.published_at {order}, l.article_id {order}"
                f" LIMIT ${n + 1} OFFSET ${n + 2}) p JOIN articles a ON a.id = p.article_id"
                " ORDER BY p.published_at DESC, p.article_id DESC"
            )
        else:
            where, params = articles_sql(scope, now, self.zone)
            n = len(params)
            sql = (
                f"SELECT {_COLUMNS} {where} ORDER BY a.published_at {order}, a.id {order}"
                f" LIMIT ${n + 1} OFFSET ${n + 2}"
            )
            if oldest_first:
                sql = f"SELECT * FROM ({sql}) a ORDER BY a.published_at DESC, a.id DESC"
        return await self._hydrate(await self.db.fetchall(sql, [*params, limit, offset]))

    async def _hydrate(self, rows: Sequence[Row]) -> list[Article]:
        needed = {i for r in rows for i in r[15]}
        # A map of its own for this read: another read may clear the shared one meanwhile.
        tags = {i: tag for i in needed if (tag := self._tags_by_id.get(i)) is not None}
        if len(tags) < len(needed):
            rows_of_tags = await self.db.fetchall(
                "SELECT id, slug, name, kind FROM tags WHERE id = ANY ($1::bigint[])",
                (sorted(needed - tags.keys()),),
            )
            if len(self._tags_by_id) > _TAG_CACHE_LIMIT:
                self._tags_by_id.clear()
            for tag_id, slug, name, kind in rows_of_tags:
                tags[tag_id] = self._tags_by_id[tag_id] = Tag(slug, name, TagKind(kind))
        return await build_objects(len(rows), lambda: _articles_of(rows, tags))

    async def get_rubric(self, slug: str) -> Rubric | None:
        row = await self.db.fetchone(
            f"SELECT {_RUBRIC_COLUMNS} FROM rubrics WHERE slug = $1", (slug,)
        )
        return Rubric(*row) if row else None

    async def get_tag(self, slug: str) -> Tag | None:
        row = await self.db.fetchone("SELECT slug, name, kind FROM tags WHERE slug = $1", (slug,))
        return Tag(row[0], row[1], TagKind(row[2])) if row else None

    async def rubrics(self) -> list[Rubric]:
        rows = await self.db.fetchall(
            f"SELECT {_RUBRIC_COLUMNS} FROM rubrics ORDER BY position, slug"
        )
        return [Rubric(*row) for row in rows]

    async def tags(self) -> list[Tag]:
        rows = await self.db.fetchall("SELECT slug, name, kind FROM tags ORDER BY slug")
        return [Tag(row[0], row[1], TagKind(row[2])) for row in rows]


def links_sql(scope: Scope, now: datetime) -> tuple[str, list[Any]]:
    """FROM/WHERE over the visible links of a rubric or tag scope, aliased `l`: one range of
    the links' index, already in date order (parameters $1, $2)."""
    if scope.kind is ScopeKind.RUBRIC:
        return (
            "FROM article_rubrics l WHERE l.rubric = $1 AND l.published AND l.published_at <= $2",
            [scope.key, to_epoch(now)],
        )
    return (
        "FROM article_tags l WHERE l.tag_id = (SELECT id FROM tags WHERE slug = $1)"
        " AND l.published AND l.published_at <= $2",
        [scope.key, to_epoch(now)],
    )


def articles_sql(scope: Scope, now: datetime, zone: ZoneInfo) -> tuple[str, list[Any]]:
    """FROM/WHERE for the visible articles of all news or one month, aliased `a`."""
    visible = "a.status = 'published' AND a.published_at <= $1"
    params: list[Any] = [to_epoch(now)]
    if scope.kind is ScopeKind.ALL:
        return f"FROM articles a WHERE {visible}", params
    start, end = month_bounds(scope.key, zone)
    return (
        f"FROM articles a WHERE {visible} AND a.published_at >= $2 AND a.published_at < $3",
        [*params, to_epoch(start), to_epoch(end)],
    )


def _articles_of(rows: Sequence[Row], tags: dict[int, Tag]) -> list[Article]:
    return [
        Article(
            id=r[0],
            title=r[1],
            url=r[2],
            summary=r[3],
            content_html=r[4],
            published_at=from_epoch(r[5]),
            updated_at=from_epoch(r[6]) if r[6] is not None else None,
            author=r[7],
            image=Image(url=r[8], type=r[9], length=r[10], caption=r[11]) if r[8] else None,
            status=Status(r[12]),
            modified_at=from_epoch(r[13]),
            rubrics=tuple(r[14]),
            tags=tuple(tags[i] for i in r[15]),
        )
        for r in rows
    ]
