"""What an operator does with accounts, keys, balances and usage: one service that the admin
API and the ``vidgate accounts|keys|ledger`` commands share."""
