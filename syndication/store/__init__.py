"""The store: one async interface (`Store`), chosen by the `SYNDICATION_DB` setting: a
`postgresql://` (or `postgres://`) URL selects PostgreSQL, anything else is a SQLite file."""

from __future__ import annotations

from syndication.config import Settings
from syndication.store.base import Store, StoreError
from syndication.store.postgres import PostgresStore
from syndication.store.sqlite import SQLiteStore

__all__ = ["PostgresStore", "SQLiteStore", "Store", "StoreError", "is_postgres_url", "make_store"]


def is_postgres_url(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def make_store(settings: Settings) -> Store:
    if is_postgres_url(settings.db):
        return PostgresStore(settings.db, settings.zone)
    return SQLiteStore(settings.db, settings.zone)
