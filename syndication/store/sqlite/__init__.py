"""The SQLite backend: connections, write transactions, feed and sitemap queries, statistics and
the change log, each in its own module; `SQLiteStore` puts them together."""

from syndication.store.sqlite.store import SQLiteStore
from syndication.store.sqlite.writes import escaped_size

__all__ = ["SQLiteStore", "escaped_size"]
