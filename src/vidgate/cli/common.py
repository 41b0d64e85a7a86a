"""What the vidgate commands share: the data-dir option, opening the store, configuration errors.

Only click is imported here at load time; the store and the configuration parsers are imported
by the functions that use them, so commands that do not touch the database stay quick to load.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from vidgate.config import Settings
    from vidgate.media.storage import Storage
    from vidgate.store import Store

log = logging.getLogger("vidgate")

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where vidgate keeps its database and files (default ./.vidgate, or $VIDGATE_DATA_DIR).",
)


def open_store(settings: Settings, *, wait: float = 0.0) -> Store:
    """The store, migrated. A database that cannot be reached is waited for up to ``wait``
    seconds (a server and its database started together), then the command ends with the
    reason, not a traceback."""
    from vidgate.resilience import Outage
    from vidgate.store import Store
    from vidgate.store.errors import StoreUnavailable

    outage = Outage("opening the database", logger=log, cap=2.0)
    deadline = time.monotonic() + wait
    while True:
        try:
            return Store.from_url(settings.resolved_database_url)
        except StoreUnavailable as exc:
            if time.monotonic() >= deadline:
                raise click.ClickException(f"{exc}; check VIDGATE_DATABASE_URL") from None
            time.sleep(outage.failed(exc))


def open_checked_storage(settings: Settings) -> Storage:
    """The storage, once it took a write: an object written, read back and deleted. A storage
    that cannot be used (or is misconfigured) ends the command with one line naming it."""
    from vidgate.media.storage import StorageUnavailable, StorageUrlError, open_storage

    try:
        storage = open_storage(settings)
    except StorageUrlError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        storage.probe()
    except StorageUnavailable as exc:
        raise click.ClickException(
            f"the storage {storage.url} cannot be used: {exc}; check VIDGATE_STORAGE_URL, and the credentials "
            "and VIDGATE_S3_ENDPOINT_URL of a bucket"
        ) from None
    return storage


def create_account_with_key(store: Store, name: str, balance: Decimal) -> tuple[str, str]:
    from vidgate.billing.money import to_micros

    account = store.accounts.create_account(name, to_micros(balance))
    _, secret = store.accounts.create_key(account.id, name="default")
    return account.id, secret


@contextmanager
def configuration_errors() -> Iterator[None]:
    """A mistake in a VIDGATE_* setting, the channels file, VIDGATE_FETCH_ALLOW_HOSTS or
    VIDGATE_STORAGE_URL ends the command with its message, not a traceback (never with the value
    given: it may be a secret)."""
    from pydantic import ValidationError

    from vidgate.media.allowlist import AllowListError
    from vidgate.media.storage import StorageUrlError
    from vidgate.routing.spec import ChannelsFileError

    try:
        yield
    except (ChannelsFileError, AllowListError, StorageUrlError) as exc:
        raise click.ClickException(str(exc)) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"VIDGATE_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}" for error in exc.errors()
        )
        raise click.ClickException(f"invalid setting: {problems}") from None
