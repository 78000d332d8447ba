"""What every channel adapter offers the core: pushing a rendered message to one of its accounts."""

from __future__ import annotations

from typing import Protocol

from db.models import Identity
from handlers.types import Rendered


class Unreachable(Exception):
    """The account blocked the bot or no longer exists; stop trying it."""


class RetryLater(Exception):
    """The platform asked us to slow down: send nothing more on this channel for `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Channel(Protocol):
    """A way to reach people: Telegram, the web chat, later WeChat."""

    name: str

    async def push(self, identity: Identity, message: Rendered) -> None:
        """Deliver a message; raise Unreachable when it can never arrive, RetryLater when told to wait."""
        ...
