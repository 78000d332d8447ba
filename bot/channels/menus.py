"""The menus WeChat's account and WeCom's app show under the chat: three buttons, up to five under each,
every one a click whose key is the encoded command press, as a Telegram menu button carries it; published
at start and again until the platform takes it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from bot.channels.base import Intake
from core import actions

log = logging.getLogger(__name__)
RETRY = 60.0  # seconds between tries while the platform does not take the menu
# (label, ((item label, command), ...)): one item with no label is a button of its own
Menu = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def menu_body(menu: Menu, text: Callable[[str], str]) -> dict[str, Any]:
    """The menu/create body both platforms take: labels from the templates, keys the encoded commands."""
    buttons: list[dict[str, Any]] = []
    for label, items in menu:
        if len(items) == 1 and not items[0][0]:
            buttons.append({"type": "click", "name": text(label), "key": _key(items[0][1])})
            continue
        subs = [{"type": "click", "name": text(name), "key": _key(command)} for name, command in items]
        buttons.append({"name": text(label), "sub_button": subs})
    return {"button": buttons}


def _key(command: str) -> str:
    return actions.Menu(command=command).encode()


async def stop(task: asyncio.Task[None] | None) -> None:
    """Stop publishing (a platform that never took the menu is tried no more)."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def publish(platform: str, create: Callable[[], None], intake: Intake) -> None:
    """Publish a menu (blocking `create`, run in a worker thread), retried until the platform takes it;
    intake works regardless (the platform down, our address not on its list)."""
    while True:
        try:
            await asyncio.to_thread(create)
            log.info("%s: the menu is published", platform)
            return
        except Exception as exc:
            intake.last_error = f"menu: {exc}"[:200]
            log.warning("%s: cannot publish the menu (%s); retrying in %.0f s", platform, exc, RETRY)
            await asyncio.sleep(RETRY)
