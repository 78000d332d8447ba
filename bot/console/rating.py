"""The console's 物业评价: the ranking of property companies, their records and appeals, surveys
and the 红黑榜."""

from __future__ import annotations

from fastapi import APIRouter

from bot.console.desk import Kit


def routes(kit: Kit) -> APIRouter:
    """The section's routes."""
    return APIRouter()
