"""The console's new-poll form: what was typed (kept as typed, to show again), read into the draft the
poll rules take; the rules themselves are core.polls.summarise's and create_poll's, as /newpoll's."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from bot.console.when import local_input, parse_local
from core import polls as use
from core.permissions import Actor
from core.work import Work
from db.polls import NOTICE_PERIOD
from db.types import parse_id

OPEN_HOUR = 9  # the suggested opening: 09:00 local on the first day after the full notice period
DEFAULT_DAYS = 7  # the suggested voting window


class PollForm(BaseModel):
    """The fields of the new-poll form, as the browser sends them."""

    node: str = ""
    buildings: list[str] = []
    title: str = ""
    body: str = ""
    matter: str = ""
    kind: str = "decision"
    candidates: str = ""  # one a line
    seats: str = "1"
    opens: str = ""  # local YYYY-MM-DDTHH:MM
    reason: str = ""  # why voting opens before the 15 days' notice has run
    closes: str = ""
    secret: str = "1"  # yes/no radios: "1" or "0"
    changeable: str = "0"
    consultative: str = "0"
    go: str = ""  # the button pressed: check | create


def blank(now: datetime, zone: ZoneInfo) -> PollForm:
    """A new form with the times suggested: the full notice period, then a week of voting."""
    local = (now + NOTICE_PERIOD).astimezone(zone)
    opening = local.replace(hour=OPEN_HOUR, minute=0, second=0, microsecond=0)
    if opening < local:
        opening += timedelta(days=1)
    closing = opening + timedelta(days=DEFAULT_DAYS)
    return PollForm(opens=local_input(opening, zone), closes=local_input(closing, zone))


def read(form: PollForm, zone: ZoneInfo) -> tuple[use.Draft | None, dict[str, str]]:
    """The draft the form describes, or the fields that cannot be read with why (a word key each)."""
    errors: dict[str, str] = {}
    node_id = parse_id(form.node.strip()) or 0
    if not node_id:
        errors["node"] = "node"
    matter = parse_id(form.matter.strip()) or 0
    if not matter:
        errors["matter"] = "matter"
    opens, closes = parse_local(form.opens, zone), parse_local(form.closes, zone)
    if opens is None:
        errors["opens"] = "bad_time"
    if closes is None:
        errors["closes"] = "bad_time"
    election = form.kind == "election"
    seats = parse_id(form.seats.strip()) or 0
    if election and not seats:
        errors["seats"] = "seats"
    if errors or opens is None or closes is None:
        return None, errors
    candidates = tuple(line.strip() for line in form.candidates.splitlines() if line.strip())
    return (
        use.Draft(
            node_id=node_id,
            title=form.title,
            body=form.body,
            matter=matter,
            kind=form.kind,
            opens_at=opens,
            closes_at=closes,
            buildings=tuple(b for b in (parse_id(v.strip()) for v in form.buildings) if b is not None),
            candidates=candidates if election else (),
            seats=seats if election else 0,
            secret=form.secret == "1",
            changeable=form.changeable == "1",
            consultative=form.consultative == "1",
            shortened_reason=form.reason,
        ),
        {},
    )


# Which field a rule's refusal belongs next to.
FIELD_OF = {
    "title": "title",
    "body": "body",
    "matter": "matter",
    "kind": "kind",
    "candidates": "candidates",
    "seats": "seats",
    "buildings": "buildings",
    "no_homes": "buildings",
    "opens_at": "opens",
    "reason": "reason",
    "window": "closes",
    "node": "node",
    "not_allowed": "node",
}


def summarised(
    work: Work, actor: Actor, form: PollForm, zone: ZoneInfo
) -> tuple[use.Summary | None, dict[str, str]]:
    """The form checked against every poll rule and the actor's right, with what it would be and reach;
    or errors by field."""
    draft, errors = read(form, zone)
    if draft is None:
        return None, errors
    try:
        return use.summarise(work, actor, draft), {}
    except use.PollError as exc:
        return None, {FIELD_OF.get(exc.reason, "form"): exc.reason}
