"""The SQLite backend: connections, write transactions, feed and sitemap queries, statistics and
the change log, each in its own module; `SQLiteStore` puts them together."""

from syndication.content import escaped_size
from syndication.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore", "escaped_size"]
