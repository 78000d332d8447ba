"""The console's 业委会: the committees of the compounds, their members and terms, 物管会 and handovers."""

from __future__ import annotations

from fastapi import APIRouter

from bot.console.desk import Kit


def routes(kit: Kit) -> APIRouter:
    """The section's routes."""
    return APIRouter()
