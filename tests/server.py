"""A real vidgate server on a free loopback port, in a thread, for tests: the app served as
`vidgate serve` serves it (its HTTP protocol and limits)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from vidgate.app import create_app
from vidgate.billing.money import to_micros
from vidgate.config import Settings
from vidgate.serving import server_config
from vidgate.store import Store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    url: str
    settings: Settings
    store: Store
    app: Any = None

    @property
    def app_store(self) -> Store:
        """The server's own store (``store`` is the test's, on the same database)."""
        return self.app.state.ctx.store  # type: ignore[no-any-return]

    def new_account(self, balance: str = "100", name: str = "test") -> tuple[str, str]:
        """Create an account with one key; returns (account_id, secret)."""
        account = self.store.accounts.create_account(name, to_micros(balance))
        _, secret = self.store.accounts.create_key(account.id)
        return account.id, secret

    def client(self, secret: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def balance(self, account_id: str) -> int:
        account = self.store.accounts.get(account_id)
        assert account is not None
        return account.balance


@contextmanager
def running_server(settings: Settings) -> Iterator[Running]:
    port = free_port()
    app = create_app(settings)
    server = uvicorn.Server(server_config(app, settings, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    store = Store.from_url(settings.resolved_database_url)
    try:
        yield Running(f"http://127.0.0.1:{port}", settings, store, app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.close()
