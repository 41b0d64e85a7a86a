"""The operator's commands, straight on the database: keys, accounts, prices, the ledger.

They go through the same services as the admin API (``AccountService``, ``PriceBook``), so a
revocation, suspension or new limit made here is heard by every running server before the
command returns, exactly as one made through ``/admin/v1``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vidgate.billing.money import to_decimal, to_micros
from vidgate.cli.common import create_account_with_key, data_dir_option, open_store


class Amount(click.ParamType[Decimal]):
    """An amount of money, as a Decimal vidgate can hold (to the micro, within 64 bits); anything
    else is a usage error naming the option, not a traceback."""

    name = "amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Decimal:
        try:
            to_micros(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return Decimal(str(value))


AMOUNT = Amount()

if TYPE_CHECKING:
    from vidgate.accounts.service import AccountService
    from vidgate.billing.pricebook import PriceBook
    from vidgate.config import Settings
    from vidgate.store import Account, Store

#: the statuses of an account, as ``vidgate.store.accounts.STATUSES`` (a test keeps them equal;
#: importing the store here would load the database layer for every ``vidgate`` command)
ACCOUNT_STATUSES = ("active", "suspended")
#: what TOML allows nowhere in a comment: control characters but the tab
_NOT_IN_COMMENTS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@data_dir_option
@click.option("--name", default="default", show_default=True, help="Name of the new account (or key).")
@click.option("--balance", type=AMOUNT, default=None, help="Opening balance of a new account (default 100).")
@click.option("--account", "account_id", default=None, help="Add a key to this existing account instead.")
def keys_create(data_dir: Path | None, name: str, balance: Decimal | None, account_id: str | None) -> None:
    """Create an account with a key, or a key for --account; the secret is the last line."""
    if account_id and balance is not None:
        raise click.UsageError("--balance applies to a new account; leave it out with --account")
    from vidgate.accounts.service import AccountService

    with operating(data_dir) as (settings, store):
        if account_id:
            service = AccountService.for_settings(store, settings)
            if store.accounts.get(account_id) is None:
                raise click.UsageError(f"no account {account_id}")
            key, secret = service.create_key(account_id, name)
            click.echo(f"key {key.id} ({name}) for account {account_id}")
        else:
            opening = settings.initial_balance if balance is None else balance
            if opening < 0:
                raise click.UsageError("--balance cannot be negative")
            account_id, secret = create_account_with_key(store, name, opening)
            account = store.accounts.get(account_id)
            assert account is not None
            click.echo(f"account {account_id} ({name}), balance {to_decimal(account.balance)}")
        click.echo(secret)


@keys.command("list")
@data_dir_option
@click.argument("account_id")
def keys_list(data_dir: Path | None, account_id: str) -> None:
    """The keys of ACCOUNT_ID (never their secrets)."""
    with operator(data_dir) as service:
        for key in service.keys(account_id):
            state = f"revoked {when(key.revoked_at)}" if key.revoked_at else "active"
            click.echo(
                f"{key.id}  {key.prefix}...  {key.name}  created {when(key.created_at)}  "
                f"last used {when(key.last_used_at)}  {state}"
            )


@keys.command("revoke")
@data_dir_option
@click.argument("account_id")
@click.argument("key_id")
def keys_revoke(data_dir: Path | None, account_id: str, key_id: str) -> None:
    """Revoke KEY_ID of ACCOUNT_ID: its next request gets 401, on every running server."""
    with operator(data_dir) as service:
        key = service.revoke_key(account_id, key_id)
    click.echo(f"key {key.id} ({key.name}) revoked {when(key.revoked_at)}")


@click.group()
def accounts() -> None:
    """Create, list, suspend and fund accounts; set their limits; read their ledger and usage."""


@accounts.command("create")
@data_dir_option
@click.argument("name")
@click.option("--balance", type=AMOUNT, default=Decimal(0), show_default=True, help="Opening balance (a top-up).")
@click.option("--rate-limit", type=click.IntRange(min=1), default=None, help="Requests per minute per key.")
@click.option("--max-active", type=click.IntRange(min=1), default=None, help="Active tasks per key.")
def accounts_create(
    data_dir: Path | None, name: str, balance: Decimal, rate_limit: int | None, max_active: int | None
) -> None:
    """Create an account called NAME (add keys with `vidgate keys create --account`)."""
    with operator(data_dir) as service:
        account = service.create(
            name, balance=to_micros(balance), rate_limit_per_minute=rate_limit, max_active_tasks=max_active
        )
        echo_account(service, account)


@accounts.command("list")
@data_dir_option
@click.option("--status", type=click.Choice(ACCOUNT_STATUSES), default=None)
def accounts_list(data_dir: Path | None, status: str | None) -> None:
    """All accounts, oldest first."""
    with operator(data_dir) as service:
        for account in service.all(status):
            echo_account(service, account)


@accounts.command("show")
@data_dir_option
@click.argument("account_id")
def accounts_show(data_dir: Path | None, account_id: str) -> None:
    """One account, with its keys."""
    with operator(data_dir) as service:
        echo_account(service, service.get(account_id))
        for key in service.keys(account_id):
            click.echo(f"  key {key.id}  {key.prefix}...  {key.name}  {'revoked' if key.revoked_at else 'active'}")


@accounts.command("suspend")
@data_dir_option
@click.argument("account_id")
def accounts_suspend(data_dir: Path | None, account_id: str) -> None:
    """Suspend ACCOUNT_ID: its keys get 401 from their next request."""
    with operator(data_dir) as service:
        echo_account(service, service.suspend(account_id))


@accounts.command("activate")
@data_dir_option
@click.argument("account_id")
def accounts_activate(data_dir: Path | None, account_id: str) -> None:
    """Reactivate a suspended account."""
    with operator(data_dir) as service:
        echo_account(service, service.activate(account_id))


@accounts.command("limits")
@data_dir_option
@click.argument("account_id")
@click.option("--rate-limit", type=click.IntRange(min=0), default=None, help="Requests per minute per key; 0: default.")
@click.option("--max-active", type=click.IntRange(min=0), default=None, help="Active tasks per key; 0: default.")
def accounts_limits(data_dir: Path | None, account_id: str, rate_limit: int | None, max_active: int | None) -> None:
    """Set the limits of ACCOUNT_ID (those not given stay as they are; 0 means the server's
    default), then show them."""
    with operator(data_dir) as service:
        account = service.get(account_id)
        if rate_limit is not None or max_active is not None:
            account = service.set_limits(
                account_id,
                rate_limit_per_minute=chosen_limit(rate_limit, account.rate_limit_per_minute),
                max_active_tasks=chosen_limit(max_active, account.max_active_tasks),
            )
        echo_account(service, account)


def chosen_limit(given: int | None, current: int | None) -> int | None:
    """Not given: unchanged; 0: the server's default; else the given limit."""
    if given is None:
        return current
    return given or None


reason_option = click.option("--reason", required=True, help="Why; recorded in the ledger entry.")


@accounts.command("topup")
@data_dir_option
@click.argument("account_id")
@click.option("--amount", type=AMOUNT, required=True, help="How much to add (positive).")
@reason_option
def accounts_topup(data_dir: Path | None, account_id: str, amount: Decimal, reason: str) -> None:
    """Add money to ACCOUNT_ID."""
    with operator(data_dir) as service:
        echo_entry(service.top_up(account_id, to_micros(amount), reason))


@accounts.command("adjust")
@data_dir_option
@click.argument("account_id")
@click.option("--amount", type=AMOUNT, required=True, help="Signed correction, e.g. --amount -2.5.")
@reason_option
def accounts_adjust(data_dir: Path | None, account_id: str, amount: Decimal, reason: str) -> None:
    """Correct the balance of ACCOUNT_ID; it never goes below zero."""
    with operator(data_dir) as service:
        echo_entry(service.adjust(account_id, to_micros(amount), reason))


@accounts.command("ledger")
@data_dir_option
@click.argument("account_id")
@click.option("--after", type=click.IntRange(min=0), default=0, help="Start after this entry id.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
def accounts_ledger(data_dir: Path | None, account_id: str, after: int, limit: int) -> None:
    """The ledger entries of ACCOUNT_ID, oldest first."""
    with operator(data_dir) as service:
        for entry in service.ledger(account_id, after=after, limit=limit):
            echo_entry(entry)


@accounts.command("usage")
@data_dir_option
@click.argument("account_id", required=False)
@click.option("--from", "first", default=None, help="First day, YYYY-MM-DD (default: 29 days before --to).")
@click.option("--to", "last", default=None, help="Last day, YYYY-MM-DD (default: today, UTC).")
def accounts_usage(data_dir: Path | None, account_id: str | None, first: str | None, last: str | None) -> None:
    """Tasks and charges per account, model and UTC day (of ACCOUNT_ID, or all accounts)."""
    from vidgate.accounts.usage import DateRange

    with operator(data_dir) as service:
        for row in service.usage(DateRange.parse(first, last), account_id):
            counts = " ".join(f"{status}={n}" for status, n in row.tasks.items() if n)
            click.echo(
                f"{row.day}  {row.account_id}  {row.model}  tasks={row.total} ({counts})  "
                f"charged {to_decimal(row.charged)}"
            )


@click.group()
def prices() -> None:
    """Read and replace the price table every process charges from."""


@prices.command("show")
@data_dir_option
def prices_show(data_dir: Path | None) -> None:
    """Print the price table in force, in the price file's TOML format."""
    with price_book(data_dir) as book:
        stored = book.stored()
        note = f": {stored.note}" if stored.note else ""
        click.echo(toml_comment(f"price table version {stored.version}, {when(stored.created_at)}{note}"))
        click.echo(book.current().to_toml())


@prices.command("set")
@data_dir_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", default=None, help="Why the prices change; kept with the version.")
def prices_set(data_dir: Path | None, file: Path, note: str | None) -> None:
    """Validate FILE (TOML, as VIDGATE_PRICES_FILE) and make it the price table of every process."""
    import tomllib

    try:
        data = tomllib.loads(file.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise click.ClickException(f"{file} is not valid TOML: {exc}") from None
    with price_book(data_dir) as book:
        stored = book.replace(data, note)
    click.echo(f"price table version {stored.version} is in force")


@click.group()
def ledger() -> None:
    """Check the money ledger."""


@ledger.command("verify")
@data_dir_option
def ledger_verify(data_dir: Path | None) -> None:
    """Check every account: its balance is the sum of its entries, and each entry's balance_after
    is the previous one plus its amount. Exits 1 naming the accounts that do not add up."""
    with operator(data_dir) as service:
        bad = service.verify_ledger()
        checked = len(service.all())
    for d in bad:
        click.echo(
            f"{d.account_id} ({d.name}): balance {to_decimal(d.balance)}, entries add up to "
            f"{to_decimal(d.ledger_sum)}, {d.broken_entries} entries break the balance_after chain"
        )
    if bad:
        raise click.ClickException(f"{len(bad)} of {checked} accounts do not add up")
    click.echo(f"ledger OK: all {checked} accounts add up")


# --- helpers of the operator commands ------------------------------------------------------
@contextmanager
def operating(data_dir: Path | None) -> Iterator[tuple[Settings, Store]]:
    """The configured database; the service's refusals become CLI errors."""
    from vidgate.config import load_settings
    from vidgate.errors import VidgateError

    settings = load_settings(data_dir=data_dir)
    store = open_store(settings)
    try:
        yield settings, store
    except VidgateError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        store.close()


@contextmanager
def operator(data_dir: Path | None) -> Iterator[AccountService]:
    from vidgate.accounts.service import AccountService

    with operating(data_dir) as (settings, store):
        yield AccountService.for_settings(store, settings)


@contextmanager
def price_book(data_dir: Path | None) -> Iterator[PriceBook]:
    from vidgate.billing.pricebook import open_price_book

    with operating(data_dir) as (settings, store):
        yield open_price_book(store, settings)


def echo_account(service: AccountService, account: Account) -> None:
    limits = service.effective_limits(account)
    click.echo(
        f"account {account.id} ({account.name}), {account.status}, balance {to_decimal(account.balance)}, "
        f"{limits.rate_limit_per_minute}/min{'' if account.rate_limit_per_minute else ' (default)'}, "
        f"{limits.max_active_tasks} active{'' if account.max_active_tasks else ' (default)'}"
    )


def echo_entry(entry: dict[str, Any]) -> None:
    task = f"  {entry['task_id']}" if entry["task_id"] else ""
    click.echo(
        f"#{entry['id']}  {when(entry['created_at'])}  {entry['kind']:<10} {to_decimal(entry['amount']):>12}  "
        f"balance {to_decimal(entry['balance_after'])}{task}  {entry['note'] or ''}".rstrip()
    )


def when(at: float | None) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else "never"


def toml_comment(text: str) -> str:
    """``text`` as TOML comment lines, so that what ``prices show`` prints ``prices set`` reads
    back whatever the note holds (a line break, a control character TOML refuses in comments)."""
    return "\n".join("# " + _NOT_IN_COMMENTS.sub(" ", line) for line in text.splitlines())
