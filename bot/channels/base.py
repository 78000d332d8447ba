"""What every channel adapter offers the core: pushing a rendered message to one of its accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from fastapi import APIRouter

from db.models import Identity
from handlers.types import Rendered


class Unreachable(Exception):
    """The account blocked the bot or no longer exists; stop trying it."""


class RetryLater(Exception):
    """The platform asked us to slow down: send nothing more on this channel for `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class ChatBusy(Exception):
    """This one account's budget is spent (WeCom's per member): hold its messages for `seconds`; the
    others go on."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"account busy for {seconds} s")
        self.seconds = seconds


@dataclass
class Intake:
    """How a channel's intake is doing, for /healthz: when updates last came in (a poll that answered, a
    webhook delivery stored), and the last error while receiving."""

    mode: str = ""  # polling | webhook | "" (not receiving yet)
    started_at: datetime | None = None
    last_ok: datetime | None = None
    last_error: str = ""
    set_aside: int = 0  # updates stored but impossible to parse or handle, since this process started


class Channel(Protocol):
    """A way to reach people: Telegram, the web chat, later WeChat."""

    name: str

    @property
    def intake(self) -> Intake | None:
        """How its intake is doing, for /healthz; None when it has none to watch."""
        ...

    async def start(self) -> None:
        """Start receiving (a channel served only by its routes has nothing to start)."""
        ...

    async def stop(self) -> None:
        """Stop receiving and let go of what start took."""
        ...

    def router(self) -> APIRouter | None:
        """The channel's routes in the web app (its pages, a webhook), or None when it has none."""
        ...

    async def push(self, identity: Identity, message: Rendered) -> None:
        """Deliver a message; raise Unreachable when it can never arrive, RetryLater when told to wait."""
        ...

    def messages_for(self, message: Rendered) -> int:
        """How many platform messages `push` makes of this message (each counts against the rate limits)."""
        ...
