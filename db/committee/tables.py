"""The tables of Owners' committee terms and 换届."""

from __future__ import annotations
