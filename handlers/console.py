"""/console: a staff member asks for a one-time link that signs them in to the console at a desk."""

from __future__ import annotations

from core.permissions import Action, may
from db import console
from db.console import LINK_LIFETIME
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Reply


def console_link(ctx: Context, _: str) -> list[Reply]:
    """A new sign-in link for this person (it works once, within ten minutes)."""
    if not may(ctx.actor(), Action.USE_CONSOLE):
        return [Reply("console.not_staff")]
    if not ctx.public_url:
        return [Reply("console.no_address")]
    token = console.issue_link(ctx.session, ctx.person_id, ctx.now)
    url = f"{ctx.public_url.rstrip('/')}/console/signin?t={token}"
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    return [Reply("console.link", {"url": url, "minutes": minutes})]


FLOW = Flow("", {"/console": Command(console_link, leaves_flow=False)})
