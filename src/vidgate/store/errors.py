"""What the store raises: the database is unavailable, or what it holds refuses the call.

The drivers' errors are translated here, at the edge: a connection that cannot be made or was
lost, a server shutting down, a pool with no free connection, a deadlock or serialisation
failure, SQLite's lock held too long. Callers see one exception, :class:`StoreUnavailable`,
which means "nothing was written by the call that raised; the same call may succeed later".
Everything else (a constraint broken, a statement the database refuses) is a bug and passes
through untouched.

A call the data refuses (too little money, an unknown account, a task that already ended)
raises a :class:`Refused`: a plain fact with the numbers and ids it is about, and nothing was
written. The store neither words them for clients nor knows HTTP: the services catch them and
raise the request error (``vidgate.errors``) their clients see, each in its own words.
"""

from __future__ import annotations

import sqlalchemy as sa

from vidgate.resilience import Unavailable
from vidgate.tasks.model import Status

#: SQLite reports its lock and I/O trouble as OperationalError, but also mistakes in a
#: statement; only these messages mean "try again later"
_SQLITE_TRANSIENT = ("locked", "busy", "disk i/o", "unable to open", "disk is full")


class StoreUnavailable(Unavailable):
    """The database could not be reached or could not complete the call now; nothing the call
    meant to write was written (a transaction is all or nothing). Retry later."""

    def __str__(self) -> str:
        return f"the database is unavailable ({self.args[0] if self.args else 'no detail'})"

    @classmethod
    def because(cls, cause: BaseException) -> StoreUnavailable:
        """The outage ``cause`` (a driver's or SQLAlchemy's error) describes, in its first line."""
        lines = str(getattr(cause, "orig", None) or cause).strip().splitlines()
        return cls(lines[0] if lines else type(cause).__name__)


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


# --- facts: the call was refused by what the database holds; nothing was written -------------


class Refused(Exception):
    """Base of the store's refusals. Each carries its facts as attributes (shown by ``str`` for
    logs); turning them into a client's message is the caller's business."""

    def __str__(self) -> str:
        return ", ".join(f"{name}={value!r}" for name, value in vars(self).items() if not name.startswith("_"))


class AccountNotFound(Refused):
    def __init__(self, account_id: str) -> None:
        super().__init__(account_id)
        self.account_id = account_id


class KeyNotFound(Refused):
    """The account has no key with this id (another account's key is not the account's)."""

    def __init__(self, account_id: str, key_id: str) -> None:
        super().__init__(account_id, key_id)
        self.account_id = account_id
        self.key_id = key_id


class UnknownKey(Refused):
    """Authentication: the secret is no key's."""


class KeyRevoked(Refused):
    """Authentication: the secret's key was revoked."""

    def __init__(self, key_id: str, revoked_at: float) -> None:
        super().__init__(key_id, revoked_at)
        self.key_id = key_id
        self.revoked_at = revoked_at


class AccountSuspended(Refused):
    """Authentication: the secret's key is fine, its account is suspended."""

    def __init__(self, account_id: str, key_id: str) -> None:
        super().__init__(account_id, key_id)
        self.account_id = account_id
        self.key_id = key_id


class NotEnoughFunds(Refused):
    """Taking ``needed`` (micros) would take the account's ``balance`` below zero."""

    def __init__(self, account_id: str, balance: int, needed: int) -> None:
        super().__init__(account_id, balance, needed)
        self.account_id = account_id
        self.balance = balance
        self.needed = needed


class TooManyActiveTasks(Refused):
    """The key already has ``limit`` tasks pending or processing, its limit."""

    def __init__(self, key_id: str, limit: int) -> None:
        super().__init__(key_id, limit)
        self.key_id = key_id
        self.limit = limit


class TaskAlreadyEnded(Refused):
    """The task cannot be cancelled: it has ended, with ``status``."""

    def __init__(self, task_id: str, status: Status) -> None:
        super().__init__(task_id, status)
        self.task_id = task_id
        self.status = status


class PriceVersionTaken(Refused):
    """Another process stored price table ``version`` at the same moment."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


class KeyAlreadyUsed(Refused):
    """The submit's Idempotency-Key is live with task ``task_id``, from the same body or not."""

    def __init__(self, task_id: str, *, same_body: bool) -> None:
        super().__init__(task_id, same_body)
        self.task_id = task_id
        self.same_body = same_body
