"""The operator's commands: ``vidgate accounts``, ``keys``, ``prices`` and ``ledger verify``."""

from __future__ import annotations

import sqlite3
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from vidgate.billing.prices import PriceTable
from vidgate.cli import main

Vidgate = Callable[..., Result]


@pytest.fixture()
def vidgate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Vidgate:
    """Runs ``vidgate ARGS --data-dir <tmp>`` in process and checks its exit code."""
    for name in ("VIDGATE_DATABASE_URL", "VIDGATE_PRICES_FILE", "VIDGATE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Result:
        result = runner.invoke(main, [*args, "--data-dir", str(tmp_path / "data")])
        assert result.exit_code == code, result.output
        return result

    return run


def test_accounts_money_and_keys(vidgate: Vidgate) -> None:
    created = vidgate("accounts", "create", "Studio B", "--balance", "20", "--max-active", "4").output
    assert "(Studio B), active, balance 20," in created and "4 active" in created
    account = created.split()[1]

    assert "balance 25" in vidgate("accounts", "topup", account, "--amount", "5", "--reason", "invoice 9").output
    assert (
        "balance 22.5" in vidgate("accounts", "adjust", account, "--amount", "-2.5", "--reason", "credit note").output
    )
    refused = vidgate("accounts", "adjust", account, "--amount", "-30", "--reason", "too much", code=1)
    assert "below zero" in refused.output
    vidgate("accounts", "topup", account, "--amount", "-1", "--reason", "x", code=1)
    vidgate("accounts", "topup", account, "--amount", "1", code=2)  # --reason is required
    for amount in ("1e30", "NaN", "lots"):  # a usage error naming the option, no traceback, nothing posted
        refused = vidgate("accounts", "topup", account, "--amount", amount, "--reason", "x", code=2)
        assert "--amount" in refused.output and "Traceback" not in refused.output
    assert "--balance" in vidgate("accounts", "create", "Huge", "--balance", "1e30", code=2).output
    ledger = vidgate("accounts", "ledger", account).output.splitlines()
    assert [line.split()[4] for line in ledger] == ["topup", "topup", "adjustment"]
    assert "credit note" in ledger[-1]

    limits = vidgate("accounts", "limits", account, "--rate-limit", "30").output
    assert "30/min, 4 active" in limits
    assert "30/min, 50 active (default)" in vidgate("accounts", "limits", account, "--max-active", "0").output
    vidgate("accounts", "limits", account, "--rate-limit", "-1", code=2)

    secret = vidgate("keys", "create", "--account", account, "--name", "ci").output.strip().splitlines()[-1]
    assert secret.startswith("sk-vg-")
    listed = vidgate("keys", "list", account).output
    key_id = listed.split()[0]
    assert secret[:10] in listed and "active" in listed
    assert "revoked" in vidgate("keys", "revoke", account, key_id).output
    assert "revoked" in vidgate("keys", "list", account).output

    assert "suspended" in vidgate("accounts", "suspend", account).output
    assert account in vidgate("accounts", "list", "--status", "suspended").output
    assert ", active," in vidgate("accounts", "activate", account).output
    assert "no account 'acct_nope'" in vidgate("accounts", "show", "acct_nope", code=1).output


def test_prices_show_and_set(vidgate: Vidgate, tmp_path: Path) -> None:
    shown = vidgate("prices", "show").output
    assert shown.startswith("# price table version 1")
    assert PriceTable.parse(tomllib.loads(shown)) == PriceTable.load()  # what `show` prints, `set` reads

    table = tmp_path / "prices.toml"
    table.write_text('[models."kling-v3".std]\nper_second = 0.05\n')
    assert "version 2 is in force" in vidgate("prices", "set", str(table), "--note", "spring").output
    shown = vidgate("prices", "show").output
    assert "version 2" in shown and "spring" in shown and "per_second = 0.05" in shown

    table.write_text('[models."kling-v3".std]\nper_second = -1\n')
    assert "per_second" in vidgate("prices", "set", str(table), code=1).output
    table.write_text("[models\n")
    assert "not valid TOML" in vidgate("prices", "set", str(table), code=1).output
    assert "version 2" in vidgate("prices", "show").output


def test_what_prices_show_prints_prices_set_takes_back(vidgate: Vidgate, tmp_path: Path) -> None:
    table = tmp_path / "prices.toml"
    table.write_text(vidgate("prices", "show").output)
    assert "version 2 is in force" in vidgate("prices", "set", str(table), "--note", "two lines\nand a\x07bell").output
    shown = vidgate("prices", "show").output
    assert shown.startswith("# price table version 2") and "# and a bell" in shown
    assert PriceTable.parse(tomllib.loads(shown)) == PriceTable.load()  # the same table

    table.write_text(shown)  # a note with a line break and a control character stays a comment
    assert "version 3 is in force" in vidgate("prices", "set", str(table)).output
    assert PriceTable.parse(tomllib.loads(vidgate("prices", "show").output)) == PriceTable.load()


def test_ledger_verify_exits_non_zero_naming_the_accounts_that_do_not_add_up(vidgate: Vidgate, tmp_path: Path) -> None:
    fine = vidgate("accounts", "create", "fine", "--balance", "3").output.split()[1]
    off = vidgate("accounts", "create", "off", "--balance", "3").output.split()[1]
    assert "all 2 accounts add up" in vidgate("ledger", "verify").output

    with sqlite3.connect(tmp_path / "data" / "vidgate.db") as db:
        db.execute("UPDATE accounts SET balance = balance + 1 WHERE id = ?", (off,))
    out = vidgate("ledger", "verify", code=1).output
    assert off in out and "(off)" in out and fine not in out
    assert "1 of 2 accounts do not add up" in out
