"""Who is behind an API key, remembered for a short while.

Authenticating costs a database query on every request, and clients poll: most requests are a
``GET /v1/tasks/{id}`` from a key seen a moment ago. The cache keeps each key's ``Principal``
for ``ttl`` seconds and is dropped whole whenever a key is revoked or an account suspended,
reactivated or given new limits: at once when this process made the change, and when another did
as soon as its notification (PostgreSQL NOTIFY, sent at the change's commit) reaches this
process, which confirms it once the cache is dropped; the change is answered only after every
listening process has confirmed it (``vidgate.store.announce``). A lookup that straddles a
change is not kept (a generation counter), so an authentication that read the key before the
change cannot put it back. While the notification channel is down the cache is not used, and
after it comes back it starts empty, so a change is never missed. On SQLite there is no
notification channel: every change, whichever process makes it (``vidgate keys revoke``, another
server on the same file), grows a counter beside the database file after its commit and before
it returns (``AccountStore.key_changes``), and the cache compares that counter (a ``stat``) on
every lookup and is dropped when it has moved: the same promise, with no listening thread.

Failed authentications are never cached: their error must name the reason every time. The
store says why it refused a secret (``vidgate.store.errors``); the client's 401 is worded here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vidgate.errors import AuthenticationFailed
from vidgate.i18n import Message
from vidgate.resilience import LoopHealth, Supervisor
from vidgate.store import Principal, Store
from vidgate.store.accounts import hash_secret
from vidgate.store.errors import AccountSuspended, KeyRevoked, UnknownKey

MAX_ENTRIES = 100_000


class KeyCache:
    def __init__(self, store: Store, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        #: SQLite: the counter of key changes by any process (None on PostgreSQL, which listens)
        self._changes = store.accounts.key_changes()
        heard = store.accounts.changes_reach_other_processes or self._changes is not None
        self.ttl = ttl if heard else 0.0
        self.clock = clock
        self._seen = self._changes() if self._changes is not None else 0
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every change: a lookup that straddles one is not kept
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._supervisor = Supervisor(self._stop)
        store.accounts.on_key_change(self.clear)

    def start(self) -> None:
        """Listen for changes (a thread; SQLite: none needed); until it listens, nothing is
        served from the cache."""
        if self.ttl <= 0:
            return
        if self._changes is not None:
            self._listening.set()
        else:
            self._supervisor.start("keycache", self._watch)

    def stop(self) -> None:
        self._stop.set()
        self._supervisor.join(timeout=5)

    def health(self) -> list[LoopHealth]:
        """The listening loop, when the cache is on."""
        return self._supervisor.health()

    def cached(self, secret: str) -> Principal | None:
        """The principal of ``secret`` if it is known and fresh; no I/O."""
        if not self._listening.is_set():
            return None
        if self._changes is not None and (seen := self._changes()) != self._seen:
            with self._lock:
                self._seen = seen
            self.clear()
            return None
        entry = self._entries.get(hash_secret(secret))
        if entry is None or entry[0] < self.clock():
            return None
        return entry[1]

    def principal(self, secret: str) -> Principal:
        """The principal of ``secret``, from the cache or the database (AuthenticationFailed
        says why not)."""
        if (hit := self.cached(secret)) is not None:
            return hit
        generation = self._generation
        try:
            principal = self.store.accounts.authenticate(secret)
        except UnknownKey:
            raise AuthenticationFailed(Message("invalid API key")) from None
        except KeyRevoked:
            raise AuthenticationFailed(Message("this API key has been revoked")) from None
        except AccountSuspended:
            raise AuthenticationFailed(Message("the account of this API key is suspended")) from None
        if self._listening.is_set():
            with self._lock:
                if generation == self._generation:
                    if len(self._entries) >= MAX_ENTRIES:
                        self._entries.clear()
                    self._entries[hash_secret(secret)] = (self.clock() + self.ttl, principal)
        return principal

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def _watch(self) -> None:
        def changed() -> None:  # also when listening (re)starts: whatever was missed is gone
            self.clear()
            self._listening.set()

        def lost() -> None:
            self._listening.clear()
            self.clear()

        try:
            self.store.accounts.watch_keys(self._stop, changed, lost)
        finally:  # not listening: the cache is not used until listening starts again
            lost()
