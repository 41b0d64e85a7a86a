"""Money: amounts, the operator's price table, and how a request is priced."""
