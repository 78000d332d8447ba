"""The console's 热点: the clusters the sweep found and the proactive tickets they opened."""

from __future__ import annotations

from fastapi import APIRouter

from bot.console.desk import Kit


def routes(kit: Kit) -> APIRouter:
    """The section's routes."""
    return APIRouter()
