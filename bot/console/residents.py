"""The console's residents section (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from bot.console.desk import Kit


def routes(kit: Kit) -> APIRouter:
    """This section's routes."""
    return APIRouter()
