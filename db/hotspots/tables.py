"""The tables of Hot spots."""

from __future__ import annotations
