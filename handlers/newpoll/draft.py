"""The /newpoll draft: what the author has decided so far, typed, and the times it stands for.

The draft lives in the conversation state between turns (`PollDraft.of(state)`, `draft.keep(state)`).
An answer not given yet is None; the flow asks for the first one missing. Opening and closing times are
kept as the author chose them (`["std", 0]`, `["days", 3]`, `["at", iso]`), and presets are computed
afresh each turn so that a slow author stays within the rules.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

from pydantic import Field

from core import polls as use_cases
from db.models import OrgNode
from db.polls import NOTICE_PERIOD
from handlers.context import Context
from handlers.flows import Draft

NAME = "newpoll"  # the flow's name in the conversation state
OPEN_HOUR = 9  # a preset opening time is 09:00 local on the first day far enough ahead
GRACE = timedelta(minutes=5)  # the slack the rules allow on the 15 days' notice
TYPED_TIME = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]+(\d{1,2}):(\d{2}))?$")
Moment = tuple[str, int | str]  # ("std", 0) | ("days", n) | ("at", iso): how the author chose a time


class PollDraft(Draft):
    """A poll as the author has described it so far."""

    node_id: int | None = None
    compound: str = ""
    buildings: list[int] = Field(default_factory=list)
    scoped: bool = False  # the scope (whole compound or chosen buildings) is decided
    title: str | None = None
    body: str | None = None
    photo: tuple[str, str] | None = None  # (channel, ref) of the explanation's photo
    matter: int | None = None
    kind: str | None = None
    candidates: list[str] | None = None
    seats: int | None = None
    short: bool = False  # voting is to open before the 15 days' notice has run
    reason: str = ""  # why the notice is shortened
    opens: Moment | None = None
    closes: Moment | None = None
    secret: bool | None = None
    changeable: bool | None = None
    consultative: bool | None = None

    def forget(self, *names: str) -> None:
        """Drop answers, so the flow asks for them again."""
        for name in names:
            setattr(self, name, type(self).model_fields[name].get_default(call_default_factory=True))


def compounds(ctx: Context) -> list[OrgNode]:
    """The compounds this person may run polls in, read again every turn (a grant may have gone)."""
    return use_cases.compounds_for(ctx.work, ctx.actor())


def at_opening_hour(ctx: Context, earliest: datetime) -> datetime:
    """The first OPEN_HOUR:00 local at or after a moment."""
    local = earliest.astimezone(ctx.policy.zone)
    moment = local.replace(hour=OPEN_HOUR, minute=0, second=0, microsecond=0)
    return moment if moment >= local else moment + timedelta(days=1)


def std_opening(ctx: Context) -> datetime:
    """Voting opens after the full notice period: 09:00 on the first day at least 15 days ahead."""
    return at_opening_hour(ctx, ctx.now + NOTICE_PERIOD)


def short_opening(ctx: Context, days: int) -> datetime:
    """Now, or OPEN_HOUR:00 local on the day `days` calendar days from today (what "in 1 day" means)."""
    if days == 0:
        return ctx.now
    day = ctx.now.astimezone(ctx.policy.zone) + timedelta(days=days)
    return day.replace(hour=OPEN_HOUR, minute=0, second=0, microsecond=0)


def opens_at(ctx: Context, draft: PollDraft) -> datetime | None:
    """When voting opens, from the draft (None: not chosen yet)."""
    if not draft.opens:
        return None
    mode, value = draft.opens
    if mode == "std":
        return std_opening(ctx)
    if mode == "days":
        return short_opening(ctx, int(value))
    return datetime.fromisoformat(str(value))


def closes_at(draft: PollDraft, opening: datetime) -> datetime | None:
    """When voting closes, from the draft (None: not chosen yet)."""
    if not draft.closes:
        return None
    mode, value = draft.closes
    return opening + timedelta(days=int(value)) if mode == "days" else datetime.fromisoformat(str(value))


def shortened(ctx: Context, opening: datetime) -> bool:
    """Whether voting opens before the 15 days' notice has run (the author must say why)."""
    return opening < ctx.now + NOTICE_PERIOD - GRACE


def typed_time(ctx: Context, text: str, end_of_day: bool) -> datetime | None:
    """A typed local `YYYY-MM-DD [HH:MM]` (a date alone: 00:00 to open, 23:59 to close), or None."""
    found = TYPED_TIME.match(unicodedata.normalize("NFKC", text).strip())
    if found is None:
        return None
    year, month, day = (int(found.group(i)) for i in (1, 2, 3))
    if found.group(4) is None:
        hour, minute = (23, 59) if end_of_day else (0, 0)
    else:
        hour, minute = int(found.group(4)), int(found.group(5))
    try:
        local = datetime(year, month, day, hour, minute)
    except ValueError:
        return None
    return local.replace(tzinfo=ctx.policy.zone)


def for_rules(ctx: Context, draft: PollDraft) -> use_cases.Draft:
    """The draft as the poll rules take it (every answer given)."""
    assert draft.node_id is not None and draft.matter is not None and draft.kind is not None
    opening = opens_at(ctx, draft) or ctx.now
    closing = closes_at(draft, opening) or opening
    election = draft.kind == "election"
    return use_cases.Draft(
        node_id=draft.node_id,
        title=draft.title or "",
        body=draft.body or "",
        matter=draft.matter,
        kind=draft.kind,
        opens_at=opening,
        closes_at=closing,
        buildings=tuple(draft.buildings),
        candidates=tuple(draft.candidates or ()) if election else (),
        seats=int(draft.seats or 0) if election else 0,
        secret=bool(draft.secret),
        changeable=bool(draft.changeable),
        consultative=bool(draft.consultative),
        shortened_reason=draft.reason if shortened(ctx, opening) else "",
        attachment=("photo", draft.photo[0], draft.photo[1]) if draft.photo else None,
    )
