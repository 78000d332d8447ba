"""Statements of accounts (收支公示, DESIGN §4.4)."""
