"""The store: one async interface (`Store`), chosen by the `SYNDICATION_DB` setting."""

from __future__ import annotations

from syndication.config import ConfigError, Settings
from syndication.store.base import Store, StoreError
from syndication.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore", "Store", "StoreError", "make_store"]


def make_store(settings: Settings) -> Store:
    if settings.db.startswith(("postgresql://", "postgres://")):
        raise ConfigError("PostgreSQL is not supported yet; use a SQLite file path")
    return SQLiteStore(settings.db, settings.zone)
