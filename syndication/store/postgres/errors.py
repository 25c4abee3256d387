"""Which asyncpg errors say the database cannot answer (a store fault, answered 503) rather than
that our SQL is wrong (a bug, a 500); and the guard that turns the former into `StoreError`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from syndication.store.base import StoreError

# The connection failed or is gone (SQLSTATE class 08, and a connection asyncpg found closed),
# the server is short of resources (53), shutting down or not yet accepting (57), failing at I/O
# (58) or internally (XX), or a transaction lost a deadlock or serialization race (40) or a lock
# wait (55P03): none says anything about the request, all may pass.
STORE_FAULTS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.PostgresSystemError,
    asyncpg.InternalServerError,
    asyncpg.TransactionRollbackError,
    asyncpg.LockNotAvailableError,
    asyncpg.InvalidCatalogNameError,  # the database itself is missing
    # What asyncpg raises on a connection the server terminated while it was idle (the
    # FATAL notice arrives between two queries): the connection is dropped from the pool.
    asyncpg.InternalClientError,
    OSError,  # refused, reset, unreachable
    asyncio.TimeoutError,  # connecting took longer than the pool's timeout
)


def is_postgres_fault(exc: BaseException) -> bool:
    if isinstance(exc, STORE_FAULTS):
        return True
    # asyncpg reports a connection closed under it as an InterfaceError with this wording.
    return isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc)


@contextmanager
def guarded() -> Iterator[None]:
    """Re-raise a store fault as StoreError (with the cause kept); anything else as it is."""
    try:
        yield
    except StoreError:
        raise
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError) or not is_postgres_fault(exc):
            raise
        raise StoreError(f"{type(exc).__name__}: {exc}") from exc
