"""When the store cannot answer: which errors say so, and a health check that asks it real questions.

A store fault is answered 503 and never kept by the cache nor by HTTP caches: the next request asks
again. It is never a 404 (a document missing because its table could not be read is not missing)
and never a 500 (nothing is wrong with the request or with our code).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from syndication.model import ALL_NEWS
from syndication.store.base import Store, StoreError
from syndication.store.postgres.errors import is_postgres_fault


class StoreInconsistent(StoreError):
    """The store answered, but its answers contradict each other: a damaged page can read as an
    empty table (a B-tree leaf with no cells is valid), and SQLite reports nothing."""


def is_store_fault(exc: BaseException) -> bool:
    """StoreError, or any SQLite error about the database itself: I/O, locking, a malformed page,
    a file that is no database, or a PostgreSQL server or connection that fails (see
    store/postgres/errors.py). A ProgrammingError (or InterfaceError) is a bug of ours, a 500."""
    if isinstance(exc, StoreError) or is_postgres_fault(exc):
        return True
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.ProgrammingError)


def describe(exc: BaseException) -> str:
    """One line for the log: the error's class and what the store said."""
    return f"{type(exc).__name__}: {exc}"


async def check_store(store: Store, now: datetime) -> None:
    """Raise (StoreError or a store fault) unless the store answers a few real queries, each
    bounded, and the answers agree with each other. Cost: a handful of index lookups and one
    article row, whatever the size of the store (`PRAGMA quick_check` reads every page).

    - the maintained statistics of all news (`totals`, `buckets`);
    - the newest visible article, through the articles' date index and its row;
    - every rubric (a small table), which must hold each rubric the newest article names;
    - the newest change id (the change log, which every worker reads after a write).

    A statistics count with no article behind it, or an article in a rubric the rubrics table
    does not have, is a damaged store: a rubric's feed would otherwise become a 404 that caches
    keep (a leaf page overwritten by a valid empty one reads as "no rows", without an error).
    """
    count, _ = await store.aggregate(ALL_NEWS, now=now)
    newest = await store.articles(ALL_NEWS, now=now, limit=1)
    if count and not newest:
        raise StoreInconsistent(f"statistics count {count} articles; the articles index has none")
    rubrics = {rubric.slug for rubric in await store.rubrics()}
    missing = [slug for article in newest for slug in article.rubrics if slug not in rubrics]
    if missing:
        raise StoreInconsistent(f"rubrics {missing!r} of article {newest[0].id!r} are missing")
    await store.last_change_id()
