"""What the store raises when the database, not the caller, is the problem.

The drivers' errors are translated here, at the edge: a connection that cannot be made or was
lost, a server shutting down, a pool with no free connection, a deadlock or serialisation
failure, SQLite's lock held too long. Callers see one exception, :class:`StoreUnavailable`,
which means "nothing was written by the call that raised; the same call may succeed later".
Everything else (a constraint broken, a statement the database refuses) is a bug and passes
through untouched.
"""

from __future__ import annotations

import sqlalchemy as sa

from vidgate.resilience import Unavailable

#: SQLite reports its lock and I/O trouble as OperationalError, but also mistakes in a
#: statement; only these messages mean "try again later"
_SQLITE_TRANSIENT = ("locked", "busy", "disk i/o", "unable to open", "disk is full")


class StoreUnavailable(Unavailable):
    """The database could not be reached or could not complete the call now; nothing the call
    meant to write was written (a transaction is all or nothing). Retry later."""

    def __str__(self) -> str:
        return f"the database is unavailable ({self.args[0] if self.args else 'no detail'})"


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (a SQLAlchemy or driver error) means the database is unavailable."""
    if isinstance(exc, (sa.exc.DisconnectionError, sa.exc.TimeoutError)):
        return True
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if isinstance(exc, sa.exc.InterfaceError):
        return True
    if isinstance(exc, sa.exc.OperationalError):
        module = type(exc.orig).__module__ if exc.orig is not None else ""
        if module.startswith("sqlite3"):
            return any(word in str(exc.orig).lower() for word in _SQLITE_TRANSIENT)
        return True
    return False
