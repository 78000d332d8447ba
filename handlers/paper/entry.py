"""The steps of entering one paper ballot in chat, and the page each step shows.

The ballot being entered is a typed draft in the conversation state (`PaperDraft`); the step says which
question is open: "building", "entrance", "home", then "choice" (a decision) or "pick" (an election; a
secret poll has no choice, its sealed ballot is only registered), "method", "collector", "when" and
"time" (typed), "photo", "confirm"; "taken" after a ballot went in, offering the next one of the same
entrance. Every id and value is checked again by core.paper when the ballot is confirmed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import Field

from core import paper
from core import polls as poll_cases
from core.actions import Paper
from db.models import OrgNode, Poll
from db.tally import CHOICES
from handlers.context import Context
from handlers.flows import Draft
from handlers.types import Button, Reply

NAME = "paper"  # the flow's name in the conversation state
PER_ROW = {"building": 3, "entrance": 3, "home": 4}
MAX_COLLECTOR = 50  # characters of a collector's name, as core.paper keeps it
# 14:30 today, or 11-28 14:30 (month-day) this year; Chinese forms 14点30 and 11月28日 forgiven.
TIME = re.compile(
    r"^\s*(?:(?P<month>\d{1,2})\s*[-/.月]\s*(?P<day>\d{1,2})\s*日?\s+)?"
    r"(?P<hour>\d{1,2})\s*[:：点]\s*(?P<minute>\d{2})\s*分?\s*$"
)
# A refusal at confirm sends the person back to the step that can put it right.
BACK_TO = {
    "choice": "choice",
    "too_many": "choice",
    "method": "method",
    "collector": "collector",
    "collected_at": "when",
    "photo": "photo",
}


class PaperDraft(Draft):
    """A paper ballot being entered: the poll, where the home is, and what its collector wrote down."""

    poll: int | None = None
    building: int | None = None
    entrance: int | None = None
    home: int | None = None
    home_label: str = ""
    choice: str = ""
    picked: list[int] = Field(default_factory=list)
    method: str = ""
    collector: str = ""
    last_collector: str = ""  # the name typed for the ballot before: offered as one tap
    collected_at: str = ""  # ISO, timezone-aware
    photo_channel: str = ""
    photo_ref: str = ""


def button(press: Paper, label: str = "", text: str = "", primary: bool = False, **args: Any) -> Button:
    """A button of the paper flow, its data built by the codec."""
    return Button(press.encode(), label, text, args, primary)


def _rows(buttons: list[Button], width: int) -> list[list[Button]]:
    return [buttons[start : start + width] for start in range(0, len(buttons), width)]


def cancel_row() -> list[Button]:
    """取消: leave the entry, nothing of the open ballot is kept."""
    return [button(Paper("x"), "paper.btn_cancel")]


def head(poll: Poll) -> dict[str, Any]:
    """What every page of the flow says about the poll."""
    return {
        "title": poll.title,
        "kind": poll.kind,
        "secret": poll.secret,
        "seats": poll.seats,
        "consultative": poll.consultative,
    }


def keep(ctx: Context, step: str, draft: PaperDraft) -> None:
    """Move to a step with the draft written back."""
    ctx.state.go(NAME, step)
    draft.keep(ctx.state)


def local(ctx: Context, moment: datetime) -> datetime:
    """A moment in the compound's time zone."""
    return moment.astimezone(ctx.policy.zone)


def parse_time(ctx: Context, text: str) -> datetime | None:
    """A typed time of collection: "HH:MM" today or "MM-DD HH:MM" this year, in local time; None if not."""
    found = TIME.match(text)
    if not found:
        return None
    today = local(ctx, ctx.now)
    month = int(found["month"]) if found["month"] else today.month
    day = int(found["day"]) if found["day"] else today.day
    try:
        return today.replace(
            month=month,
            day=day,
            hour=int(found["hour"]),
            minute=int(found["minute"]),
            second=0,
            microsecond=0,
        )
    except ValueError:
        return None


def time_problem(poll: Poll, at: datetime, now: datetime) -> str:
    """Why a collection time cannot be right ("" when it can): in the future, or before voting opened."""
    if at > now:
        return "future"
    opened = poll.opened_at or poll.opens_at
    if at < opened:
        return "before_open"
    return ""


# --- finding the home -------------------------------------------------------------------------------------


def buildings_page(ctx: Context, poll: Poll, note: str = "") -> Reply:
    """The buildings of the poll, one big button each."""
    found = paper.buildings(ctx.work, poll)
    buttons = [button(Paper("b", poll=poll.id, node=b.id), text=b.name) for b in found]
    rows = [*_rows(buttons, PER_ROW["building"]), cancel_row()]
    return Reply("paper.buildings", {**head(poll), "note": note, "count": len(found)}, rows)


def entrances_page(ctx: Context, poll: Poll, building: OrgNode, note: str = "") -> Reply:
    """A building's entrances."""
    found = paper.entrances(ctx.work, poll, building.id or 0)
    buttons = [button(Paper("e", poll=poll.id, node=e.id), text=e.name) for e in found]
    back = [button(Paper("s", poll=poll.id), "paper.btn_buildings"), *cancel_row()]
    context = {**head(poll), "building": building.name, "note": note}
    return Reply("paper.entrances", context, [*_rows(buttons, PER_ROW["entrance"]), back])


def homes_page(ctx: Context, poll: Poll, building: OrgNode, entrance: OrgNode, note: str = "") -> Reply:
    """An entrance's homes, ✅ on those whose ballot already stands."""
    found = paper.homes(ctx.work, poll, entrance.id or 0)
    buttons = [
        button(Paper("h", poll=poll.id, home=h.home_id), text=("✅ " if h.voted else "") + h.number)
        for h in found
    ]
    back = [button(Paper("b", poll=poll.id, node=building.id), "paper.btn_entrances"), *cancel_row()]
    context = {
        **head(poll),
        "building": building.name,
        "entrance": entrance.name,
        "count": len(found),
        "voted": sum(1 for h in found if h.voted),
        "note": note,
    }
    return Reply("paper.homes", context, [*_rows(buttons, PER_ROW["home"]), back])


def existing_context(found: paper.Existing) -> dict[str, Any]:
    """How a standing ballot is shown: its channel and time, never its choice."""
    return {"channel": found.channel, "at": found.at.isoformat(), "sealed": found.sealed}


# --- the ballot's questions -------------------------------------------------------------------------------


def choice_page(poll: Poll, draft: PaperDraft, note: str = "") -> Reply:
    """A decision's three choices as written on the paper."""
    row = [button(Paper("c", choice=c), f"paper.btn_{c}") for c in CHOICES]
    context = {**head(poll), "home": draft.home_label, "note": note}
    return Reply("paper.choice", context, [row, cancel_row()])


def pick_page(poll: Poll, draft: PaperDraft, note: str = "") -> Reply:
    """An election's candidates, those ticked on the paper marked; at most `seats`."""
    rows = [
        [button(Paper("t", candidate=n), text=("✅ " if n in draft.picked else "") + name)]
        for n, name in enumerate(poll.candidates, 1)
    ]
    done = button(Paper("d"), "paper.btn_done", primary=True, count=len(draft.picked), seats=poll.seats)
    rows.append([done, *cancel_row()])
    context = {
        **head(poll),
        "home": draft.home_label,
        "candidates": [
            {"n": n, "name": c, "picked": n in draft.picked} for n, c in enumerate(poll.candidates, 1)
        ],
        "count": len(draft.picked),
        "note": note,
    }
    return Reply("paper.pick", context, rows)


def method_page(poll: Poll, draft: PaperDraft, note: str = "") -> Reply:
    """How the ballot was collected: 扫楼, 现场, 投票箱."""
    row = [button(Paper("m", method=m), f"paper.btn_{m}") for m in paper.METHODS]
    return Reply("paper.method", {**head(poll), "home": draft.home_label, "note": note}, [row, cancel_row()])


def collector_page(poll: Poll, draft: PaperDraft, note: str = "") -> Reply:
    """Who collected it: typed, or the name typed last time in one tap."""
    rows: list[list[Button]] = []
    if draft.last_collector:
        rows.append([button(Paper("n"), text=f"👤 {draft.last_collector}", primary=True)])
    rows.append(cancel_row())
    context = {**head(poll), "home": draft.home_label, "last": draft.last_collector, "note": note}
    return Reply("paper.collector", context, rows, keeps_input=bool(note))


def when_page(poll: Poll, draft: PaperDraft, note: str = "") -> Reply:
    """When it was collected: 刚刚, or earlier today (then typed)."""
    row = [
        button(Paper("w", when="now"), "paper.btn_now", primary=True),
        button(Paper("w", when="typed"), "paper.btn_earlier"),
    ]
    return Reply("paper.when", {**head(poll), "home": draft.home_label, "note": note}, [row, cancel_row()])


def time_page(poll: Poll, draft: PaperDraft, note: str = "") -> Reply:
    """The time typed: HH:MM today, or MM-DD HH:MM."""
    rows = [[button(Paper("w", when="now"), "paper.btn_now")], cancel_row()]
    return Reply(
        "paper.time", {**head(poll), "home": draft.home_label, "note": note}, rows, keeps_input=bool(note)
    )


def photo_page(poll: Poll, draft: PaperDraft, note: str = "") -> Reply:
    """The photo of the signed ballot (a sealed envelope's photo may be skipped)."""
    rows: list[list[Button]] = []
    if poll.secret:
        rows.append([button(Paper("k"), "paper.btn_skip")])
    rows.append(cancel_row())
    return Reply("paper.photo", {**head(poll), "home": draft.home_label, "note": note}, rows)


def summary(poll: Poll, draft: PaperDraft) -> dict[str, Any]:
    """The ballot as it will be entered, for the confirm page and the receipt."""
    names = [poll.candidates[n - 1] for n in draft.picked if 1 <= n <= len(poll.candidates)]
    return {
        **head(poll),
        "home": draft.home_label,
        "choice": draft.choice,
        "names": names,
        "method": draft.method,
        "collector": draft.collector,
        "collected_at": draft.collected_at,
        "photo": bool(draft.photo_ref),
    }


def confirm_page(poll: Poll, draft: PaperDraft, note: str = "") -> Reply:
    """Everything the collector wrote down, with 确认录入 and 取消."""
    rows = [[button(Paper("ok"), "paper.btn_ok", primary=True)], cancel_row()]
    return Reply("paper.confirm", {**summary(poll, draft), "note": note}, rows)


PAGES = {
    "choice": choice_page,
    "pick": pick_page,
    "method": method_page,
    "collector": collector_page,
    "when": when_page,
    "time": time_page,
    "photo": photo_page,
    "confirm": confirm_page,
}


def after_home(poll: Poll) -> str:
    """The first question once the home is found: the choice, unless the ballot is sealed."""
    if poll.secret:
        return "method"
    return "choice" if poll.kind == "decision" else "pick"


def choice_of(poll: Poll, picked: list[int]) -> str:
    """An election's ticked candidates as a ballot's choice (PollError "choice" | "too_many")."""
    return poll_cases.choice_of(poll, picked)
