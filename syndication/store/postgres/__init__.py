"""The PostgreSQL backend, for several replicas on one database: connections, migrations, write
transactions, feed and sitemap queries, statistics and the change log, each in its own module
(as in store/sqlite/); `PostgresStore` puts them together."""

from syndication.store.postgres.errors import is_postgres_fault
from syndication.store.postgres.store import PostgresStore

__all__ = ["PostgresStore", "is_postgres_fault"]
