"""The console's 收支公示: the statements of a compound, their lines, versions and the questions on them."""

from __future__ import annotations

from fastapi import APIRouter

from bot.console.desk import Kit


def routes(kit: Kit) -> APIRouter:
    """The section's routes."""
    return APIRouter()
