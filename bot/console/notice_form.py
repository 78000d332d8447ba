"""The console's notice form: what was typed (kept as typed, to show again), read into the draft the use
case takes; the rules themselves are core.notices.check_notice's, the same as /notice's."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from bot.console.when import parse_local
from core import notices as use
from core.permissions import Actor
from core.work import Work
from db import notices as rules
from db.types import parse_id

MAX_AHEAD = timedelta(days=365)  # as far ahead as /notice lets a send time be typed
MAX_PUBLICITY_DAYS = 365  # as `linli notice send` allows


class NoticeForm(BaseModel):
    """The fields of the compose form, as the browser sends them."""

    kind: str = rules.KINDS[0]
    title: str = ""
    body: str = ""
    node: str = ""
    buildings: list[str] = []
    roles: list[str] = []  # none ticked sends none (a new form starts with `blank`)
    when: str = "now"  # now | later
    send_at: str = ""  # local YYYY-MM-DDTHH:MM when later
    days: str = "0"
    ack: str = ""  # "1" when acknowledgement is required
    go: str = ""  # the button pressed: preview | send


def blank() -> NoticeForm:
    """A new form: to owners and tenants, as /notice starts."""
    return NoticeForm(roles=list(rules.DEFAULT_ROLES))


def _ids(values: list[str]) -> list[int]:
    return [found for found in (parse_id(v.strip()) for v in values) if found is not None]


def read(form: NoticeForm, zone: ZoneInfo, now: datetime) -> tuple[use.NoticeDraft | None, dict[str, str]]:
    """The draft the form describes, or the fields that cannot be read with why (a word key each)."""
    errors: dict[str, str] = {}
    node_id = parse_id(form.node.strip()) or 0
    if not node_id:
        errors["node"] = "node"
    send_at: datetime | None = None
    if form.when == "later":
        send_at = parse_local(form.send_at, zone)
        if send_at is None or not now < send_at <= now + MAX_AHEAD:
            errors["send_at"] = "bad_time"
    days = int(form.days.strip()) if form.days.strip().isascii() and form.days.strip().isdigit() else -1
    if not 0 <= days <= MAX_PUBLICITY_DAYS:
        errors["days"] = "days"
    if errors:
        return None, errors
    start = max(send_at or now, now)
    return (
        use.NoticeDraft(
            kind=form.kind,
            title=form.title,
            body=form.body,
            node_id=node_id,
            buildings=tuple(_ids(form.buildings)),
            roles=tuple(r for r in form.roles if r in rules.ROLES),
            send_at=send_at,
            publicity_until=start + timedelta(days=days) if days else None,
            ack_required=form.ack == "1",
        ),
        {},
    )


# Which field a rule's refusal belongs next to.
FIELD_OF = {
    "kind": "kind",
    "title": "title",
    "body": "body",
    "roles": "roles",
    "node": "node",
    "not_allowed": "node",
    "buildings": "buildings",
    "publicity": "days",
}


def checked(
    work: Work, actor: Actor, form: NoticeForm, zone: ZoneInfo
) -> tuple[use.NoticeDraft | None, dict[str, str]]:
    """The form read and checked against every rule publishing applies; errors by field otherwise."""
    draft, errors = read(form, zone, work.now)
    if draft is None:
        return None, errors
    try:
        use.check_notice(work, actor, draft)
    except use.NoticeError as exc:
        return None, {FIELD_OF.get(exc.reason, "form"): exc.reason}
    return draft, {}
