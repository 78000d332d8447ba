"""Small pieces every flow uses: the commands a person may use and the menu of them, parsing ids."""

from __future__ import annotations

import re
from datetime import date
from typing import TypeVar

from core.actions import Menu
from core.permissions import Action, Actor, may
from handlers.context import Context
from handlers.types import Button, Reply

T = TypeVar("T")
DATE = re.compile(r"^\s*(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?\s*$")
MAX_TEXT = 4096  # what one chat message may carry; longer input is refused, not truncated

# What each command needs from the permission policy (any one of the actions; none: everyone). The menu,
# /help and the handlers' checks all go by it, so they cannot disagree.
COMMAND_ACTIONS: dict[str, tuple[Action, ...]] = {
    "/start": (),
    "/cancel": (),
    "/help": (),
    "/lang": (),
    "/policy": (),
    "/notices": (),
    "/mute": (),
    "/report": (Action.REPORT,),
    "/my": (Action.FOLLOW,),
    "/polls": (Action.SEE_POLLS, Action.RUN_POLL),
    "/tasks": (Action.LIST_TASKS,),
    "/duty": (Action.DUTY,),
    "/queue": (Action.VIEW_QUEUE,),
    "/stats": (Action.VIEW_STATS,),
    "/pending": (Action.APPROVE_RESIDENT,),
    "/notice": (Action.SEND_NOTICE,),
    "/newpoll": (Action.RUN_POLL,),
    "/ballots": (Action.ENTER_BALLOT,),
    "/proxy": (),  # anyone may be named a proxy; owners offer one, staff enter a letter
    "/console": (Action.USE_CONSOLE,),
    "/accounts": (Action.SEE_ACCOUNTS, Action.FILE_STATEMENT),
    "/committee": (Action.SEE_COMMITTEE, Action.MANAGE_COMMITTEE),
    "/rating": (Action.VIEW_RATING, Action.ENTER_RECORD),
}
_COMMAND_LEVEL = frozenset(a for needs in COMMAND_ACTIONS.values() for a in needs)
# The menu's rows: each button with the action that offers it there (None: everyone). /polls appears
# twice for a resident who also runs polls, once as a voter and once as the author. /duty, /mute, /start
# and /cancel are typed, never buttons. Staff's queue comes first, then the task list (a grid worker's
# first row), then what residents use (only for someone who may: a worker without a verified home of
# their own is offered no 报事).
MENU: tuple[tuple[tuple[str, Action | None], ...], ...] = (
    (("/queue", Action.VIEW_QUEUE), ("/stats", Action.VIEW_STATS)),
    (("/tasks", Action.LIST_TASKS),),
    (("/pending", Action.APPROVE_RESIDENT),),
    (("/report", Action.REPORT), ("/my", Action.FOLLOW), ("/polls", Action.SEE_POLLS)),
    (("/newpoll", Action.RUN_POLL), ("/polls", Action.RUN_POLL), ("/ballots", Action.ENTER_BALLOT)),
    (("/notice", Action.SEND_NOTICE), ("/notices", None), ("/proxy", None)),
    (
        ("/accounts", Action.SEE_ACCOUNTS),
        ("/committee", Action.SEE_COMMITTEE),
        ("/rating", Action.VIEW_RATING),
    ),
    (("/console", Action.USE_CONSOLE),),
    (("/policy", None), ("/help", None), ("/lang", None)),
)


# The web page's bottom menu: the first entries this person may use, in this order, then help. A grid
# worker's tasks and staff's queue come before what residents use, staff's queue before their tasks.
BOTTOM: tuple[tuple[str, tuple[Action, ...]], ...] = (
    ("/queue", (Action.VIEW_QUEUE,)),
    ("/tasks", (Action.LIST_TASKS,)),
    ("/pending", (Action.APPROVE_RESIDENT,)),
    ("/report", (Action.REPORT,)),
    ("/my", (Action.FOLLOW,)),
    ("/stats", (Action.VIEW_STATS,)),
    ("/polls", (Action.SEE_POLLS, Action.RUN_POLL)),
    ("/notices", ()),
)
BOTTOM_SIZE = 5


def bottom_menu(actor: Actor) -> tuple[str, ...]:
    """The commands of a person's bottom menu (at most five, help last), by what their roles allow."""
    chosen = [name for name, needs in BOTTOM if not needs or any(may(actor, a) for a in needs)]
    if "/queue" in chosen and "/tasks" in chosen:
        chosen.remove("/tasks")  # staff start from the queue; their own tasks stay in the full menu
    return (*chosen[: BOTTOM_SIZE - 1], "/help")


def allowed_actions(ctx: Context) -> frozenset[Action]:
    """The command actions the permission policy allows this person somewhere."""
    actor = ctx.actor()
    return frozenset(a for a in _COMMAND_LEVEL if may(actor, a))


def allowed_commands(ctx: Context) -> frozenset[str]:
    """The commands this person may use: what the menu and /help offer, and what the handlers let through."""
    can = allowed_actions(ctx)
    return frozenset(name for name, needs in COMMAND_ACTIONS.items() if not needs or can.intersection(needs))


def menu_buttons(ctx: Context) -> list[list[Button]]:
    """The buttons that stand in for the command menu (the web chat has no slash menu)."""
    can = allowed_actions(ctx)
    rows: list[list[Button]] = []
    for row in MENU:
        buttons = [
            Button.of(Menu(command=name), name[1:]) for name, need in row if need is None or need in can
        ]
        if buttons:
            rows.append(buttons)
    return rows


def given(value: T | None) -> T:
    """A field the press's verb always carries: the codec decodes no press without it."""
    if value is None:
        raise ValueError("a press without a field its verb carries")
    return value


def stale() -> Reply:
    """The answer to a button that no longer means anything (old, forged or pressed twice)."""
    return Reply("common.stale_button")


def parse_date(text: str) -> date | None:
    """A day typed as 2026-12-01, 2026/12/1 or 2026年12月1日, or None."""
    found = DATE.match(text)
    if not found:
        return None
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None
