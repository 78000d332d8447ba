"""The tables of Property-company evaluation."""

from __future__ import annotations
