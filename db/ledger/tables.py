"""The tables of Statements of accounts."""

from __future__ import annotations
