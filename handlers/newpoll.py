"""`/newpoll`: staff or the owners' committee create an owners' poll step by step (prefix `w`).

Steps: compound → scope (whole compound or chosen buildings) → title → explanation (+ photo) → matter
(Civil Code Art. 278 item 1–9) → kind (decision or election: candidates, seats) → when voting opens
(15 days' notice, or earlier with a stated reason) → how long it lasts → secret or open ballot → votes
changeable → consultative → summary with the electorate preview → confirm (db.polls.create announces it).

Buttons: `w:c:<compound>`, `w:b:<building>` (toggle) and `w:bd` (scope done), `w:m:<1-9>`,
`w:k:<decision|election>`, `w:n:<seats>`, `w:o:std` (15 days' notice), `w:o:short` (earlier, reason
first) and `w:o:<days>` (after the reason: opens in 0/1/3/7 days), `w:d:<days>` (voting lasts),
`w:s:<1|0>` secret, `w:g:<1|0>` changeable, `w:e:<1|0>` consultative, `w:ok` create, `w:x` cancel.
Every id is checked again against the database; the draft is checked by db.polls.check before the
summary and again on create, and a broken rule sends the author back to the step that fixes it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from core.permissions import VERIFIED, ResidentKind
from db import notices, polls
from db.models import Home, Notice, OrgNode, Residency
from handlers.common import parse_id, stale
from handlers.context import Context
from handlers.types import Button, Inbound, Reply

FLOW = "newpoll"
OPEN_HOUR = 9  # a preset opening time is 09:00 local on the first day far enough ahead
SHORT_DAYS = (0, 1, 3, 7)  # a shortened notice: voting opens now, or in so many days
DURATIONS = (7, 14, 30)  # how long voting lasts, in days
GRACE = timedelta(minutes=5)  # the slack db.polls.check allows on the 15 days' notice
MAX_COMPOUND_BUTTONS = 20
MAX_BUILDING_BUTTONS = 30
TYPED_TIME = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]+(\d{1,2}):(\d{2}))?$")
ROLES = ["owners", "tenants"]  # who the announcement reaches (db.polls.create)
# The step that fixes each rule db.polls.check can name, and the draft fields to ask again.
FIX: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "body": ("body",),
    "matter": ("matter",),
    "kind": ("kind", "candidates", "seats"),
    "candidates": ("candidates", "seats"),
    "seats": ("seats",),
    "buildings": ("scoped", "buildings"),
    "no_homes": ("scoped", "buildings"),
    "opens_at": ("opens",),
    "reason": ("reason",),
    "window": ("closes",),
}


def _cancel_row() -> list[Button]:
    return [Button("w:x", "cancel")]


def _compounds(ctx: Context) -> list[OrgNode]:
    """The compounds this person may run polls in, read again every turn (a grant may have gone)."""
    return polls.author_compounds(ctx.session, ctx.person_id)


def _not_allowed(ctx: Context) -> list[Reply]:
    ctx.state.clear()
    return [Reply("newpoll.not_allowed")]


# --- the electorate as it stands now ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Electorate:
    """A preview of the homes a poll would cover; the real electorate is frozen when voting opens."""

    homes: int
    area_centi_m2: int
    owned_homes: int  # homes with a verified owner now

    @property
    def area(self) -> str:
        """The total area in m² with two decimals (exact, from 0.01 m² integers)."""
        return f"{self.area_centi_m2 // 100}.{self.area_centi_m2 % 100:02d}"


def preview(session: Session, compound_id: int, buildings: list[int] | tuple[int, ...] = ()) -> Electorate:
    """Homes in scope, their total area, and how many have a verified owner at this moment."""
    scope = [Home.compound_id == compound_id]
    if buildings:
        scope.append(col(Home.building_id).in_(list(buildings)))
    homes, area = session.exec(
        select(func.count(), func.coalesce(func.sum(Home.area_centi_m2), 0)).select_from(Home).where(*scope)
    ).one()
    owned = session.exec(
        select(func.count(func.distinct(Residency.home_id)))
        .select_from(Residency)
        .join(Home, col(Home.id) == Residency.home_id)
        .where(*scope, Residency.kind == ResidentKind.OWNER.value, Residency.status == VERIFIED)
    ).one()
    return Electorate(int(homes), int(area), int(owned))


# --- times ------------------------------------------------------------------------------------------------


def _at_opening_hour(ctx: Context, earliest: datetime) -> datetime:
    """The first OPEN_HOUR:00 local at or after a moment."""
    local = earliest.astimezone(ctx.policy.zone)
    moment = local.replace(hour=OPEN_HOUR, minute=0, second=0, microsecond=0)
    return moment if moment >= local else moment + timedelta(days=1)


def _std_opening(ctx: Context) -> datetime:
    """Voting opens after the full notice period: 09:00 on the first day at least 15 days ahead."""
    return _at_opening_hour(ctx, ctx.now + polls.NOTICE_PERIOD)


def _short_opening(ctx: Context, days: int) -> datetime:
    """Now, or OPEN_HOUR:00 local on the day `days` calendar days from today (what "in 1 day" means)."""
    if days == 0:
        return ctx.now
    day = ctx.now.astimezone(ctx.policy.zone) + timedelta(days=days)
    return day.replace(hour=OPEN_HOUR, minute=0, second=0, microsecond=0)


def _opens_at(ctx: Context) -> datetime | None:
    """When voting opens, from the draft; presets are computed afresh so a slow author stays within rules."""
    opens = ctx.state.data.get("opens")
    if not opens:
        return None
    mode, value = opens
    if mode == "std":
        return _std_opening(ctx)
    if mode == "days":
        return _short_opening(ctx, int(value))
    return datetime.fromisoformat(value)


def _closes_at(ctx: Context, opens_at: datetime) -> datetime | None:
    closes = ctx.state.data.get("closes")
    if not closes:
        return None
    mode, value = closes
    return opens_at + timedelta(days=int(value)) if mode == "days" else datetime.fromisoformat(value)


def _shortened(ctx: Context, opens_at: datetime) -> bool:
    """Whether voting opens before the 15 days' notice has run (the author must say why)."""
    return opens_at < ctx.now + polls.NOTICE_PERIOD - GRACE


def _typed_time(ctx: Context, text: str, end_of_day: bool) -> datetime | None:
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


# --- asking ---------------------------------------------------------------------------------------------


def start(ctx: Context, _: str = "") -> list[Reply]:
    """`/newpoll`: begin a poll (staff of the compound's community, street or district, admin, committee)."""
    compounds = _compounds(ctx)
    if not compounds:
        return _not_allowed(ctx)
    ctx.state.go(FLOW, "compound")
    if len(compounds) == 1:
        return _choose_compound(ctx, compounds[0])
    return [_ask_compound(ctx, compounds)]


def _compound_label(ctx: Context, node: OrgNode) -> str:
    parent = ctx.session.get(OrgNode, node.parent_id) if node.parent_id else None
    return f"{parent.name} · {node.name}" if parent else node.name


def _ask_compound(ctx: Context, compounds: list[OrgNode], query: str = "") -> Reply:
    ctx.state.step = "compound"
    shown = compounds[:MAX_COMPOUND_BUTTONS]
    rows = [[Button(f"w:c:{c.id}", text=_compound_label(ctx, c))] for c in shown]
    return Reply(
        "newpoll.ask_compound",
        {"count": len(compounds), "more": len(compounds) - len(shown), "query": query},
        [*rows, _cancel_row()],
    )


def _choose_compound(ctx: Context, node: OrgNode) -> list[Reply]:
    data = ctx.state.data
    data.update(node_id=node.id, compound=node.name, buildings=[])
    data.pop("scoped", None)
    if not polls.buildings_of(ctx.session, node.id):  # type: ignore[arg-type]
        data["scoped"] = True  # no buildings to choose from: the whole compound
    return _advance(ctx)


def _ask_buildings(ctx: Context) -> Reply:
    ctx.state.step = "buildings"
    data = ctx.state.data
    chosen = set(data.get("buildings", []))
    buttons = [
        Button(f"w:b:{b.id}", text=("✅ " if b.id in chosen else "") + b.name)
        for b in polls.buildings_of(ctx.session, data["node_id"])[:MAX_BUILDING_BUTTONS]
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([Button("w:bd", "newpoll.btn_scope_done", args={"count": len(chosen)})])
    return Reply(
        "newpoll.ask_buildings",
        {"compound": data.get("compound", ""), "count": len(chosen)},
        [*rows, _cancel_row()],
    )


def _ask_title(ctx: Context) -> Reply:
    ctx.state.step = "title"
    return Reply("newpoll.ask_title", {"limit": polls.MAX_TITLE}, [_cancel_row()])


def _ask_body(ctx: Context) -> Reply:
    ctx.state.step = "body"
    return Reply("newpoll.ask_body", {"limit": polls.MAX_BODY}, [_cancel_row()])


def _ask_matter(ctx: Context) -> Reply:
    ctx.state.step = "matter"
    rows = [[Button(f"w:m:{m}", "newpoll.btn_matter", args={"matter": m})] for m in polls.MATTERS]
    return Reply("newpoll.ask_matter", {}, [*rows, _cancel_row()])


def _ask_kind(ctx: Context) -> Reply:
    ctx.state.step = "kind"
    matter = ctx.state.data["matter"]
    return Reply(
        "newpoll.ask_kind",
        {"matter": matter, "special": matter in polls.SPECIAL_MATTERS},
        [
            [Button("w:k:decision", "newpoll.btn_decision"), Button("w:k:election", "newpoll.btn_election")],
            _cancel_row(),
        ],
    )


def _ask_candidates(ctx: Context) -> Reply:
    ctx.state.step = "candidates"
    return Reply(
        "newpoll.ask_candidates",
        {"limit": polls.MAX_CANDIDATES, "name_limit": polls.MAX_CANDIDATE_NAME},
        [_cancel_row()],
    )


def _ask_seats(ctx: Context) -> Reply:
    ctx.state.step = "seats"
    candidates = ctx.state.data["candidates"]
    buttons = [Button(f"w:n:{n}", "newpoll.btn_seats", args={"n": n}) for n in range(1, len(candidates) + 1)]
    rows = [buttons[i : i + 5] for i in range(0, len(buttons), 5)]
    return Reply("newpoll.ask_seats", {"candidates": candidates}, [*rows, _cancel_row()])


def _ask_opens(ctx: Context) -> Reply:
    ctx.state.step = "opens"
    at = _std_opening(ctx).isoformat()
    return Reply(
        "newpoll.ask_opens",
        {"std": at, "days": polls.NOTICE_PERIOD.days},
        [
            [Button("w:o:std", "newpoll.btn_std", args={"at": at, "days": polls.NOTICE_PERIOD.days})],
            [Button("w:o:short", "newpoll.btn_short")],
            _cancel_row(),
        ],
    )


def _ask_reason(ctx: Context) -> Reply:
    ctx.state.step = "reason"
    return Reply(
        "newpoll.ask_reason", {"days": polls.NOTICE_PERIOD.days, "limit": polls.MAX_REASON}, [_cancel_row()]
    )


def _ask_short(ctx: Context) -> Reply:
    ctx.state.step = "short"
    buttons = [
        Button(
            f"w:o:{d}", "newpoll.btn_short_days", args={"days": d, "at": _short_opening(ctx, d).isoformat()}
        )
        for d in SHORT_DAYS
    ]
    return Reply(
        "newpoll.ask_short",
        {"reason": ctx.state.data.get("reason", "")},
        [
            buttons[:2],
            buttons[2:],
            [
                Button(
                    "w:o:std",
                    "newpoll.btn_std",
                    args={"at": _std_opening(ctx).isoformat(), "days": polls.NOTICE_PERIOD.days},
                )
            ],
            _cancel_row(),
        ],
    )


def _ask_closes(ctx: Context) -> Reply:
    ctx.state.step = "closes"
    opens_at = _opens_at(ctx) or ctx.now
    buttons = [
        Button(
            f"w:d:{d}",
            "newpoll.btn_duration",
            args={"days": d, "at": (opens_at + timedelta(days=d)).isoformat()},
        )
        for d in DURATIONS
    ]
    return Reply(
        "newpoll.ask_closes",
        {
            "opens_at": max(opens_at, ctx.now).isoformat(),
            "min_hours": int(polls.MIN_WINDOW.total_seconds() // 3600),
            "max_days": polls.MAX_WINDOW.days,
        },
        [buttons, _cancel_row()],
    )


def _ask_yes_no(ctx: Context, step: str, action: str) -> Reply:
    ctx.state.step = step
    return Reply(
        f"newpoll.ask_{step}",
        {},
        [
            [
                Button(f"w:{action}:1", f"newpoll.btn_{step}_yes"),
                Button(f"w:{action}:0", f"newpoll.btn_{step}_no"),
            ],
            _cancel_row(),
        ],
    )


def _advance(ctx: Context) -> list[Reply]:
    """Ask for the first thing the draft still lacks; with nothing missing, check it and show the summary."""
    data = ctx.state.data
    if "node_id" not in data:
        return [_ask_compound(ctx, _compounds(ctx))]
    if not data.get("scoped"):
        return [_ask_buildings(ctx)]
    if "title" not in data:
        return [_ask_title(ctx)]
    if "body" not in data:
        return [_ask_body(ctx)]
    if "matter" not in data:
        return [_ask_matter(ctx)]
    if "kind" not in data:
        return [_ask_kind(ctx)]
    if data["kind"] == "election":
        if "candidates" not in data:
            return [_ask_candidates(ctx)]
        if "seats" not in data:
            return [_ask_seats(ctx)]
    opens_at = _opens_at(ctx)
    if opens_at is None:
        if data.get("short"):
            return [_ask_short(ctx) if data.get("reason") else _ask_reason(ctx)]
        return [_ask_opens(ctx)]
    if _shortened(ctx, opens_at) and not data.get("reason"):
        return [_ask_reason(ctx)]
    if "closes" not in data:
        return [_ask_closes(ctx)]
    if "secret" not in data:
        return [_ask_yes_no(ctx, "secret", "s")]
    if "changeable" not in data:
        return [_ask_yes_no(ctx, "changeable", "g")]
    if "consultative" not in data:
        return [_ask_yes_no(ctx, "consultative", "e")]
    return _summary(ctx)


# --- checking, the summary and creating ---------------------------------------------------------------------


def _draft(ctx: Context) -> polls.Draft:
    data = ctx.state.data
    opens_at = _opens_at(ctx) or ctx.now
    closes_at = _closes_at(ctx, opens_at) or opens_at
    photo = data.get("photo")
    return polls.Draft(
        node_id=data["node_id"],
        title=data["title"],
        body=data["body"],
        matter=data["matter"],
        kind=data["kind"],
        opens_at=opens_at,
        closes_at=closes_at,
        buildings=tuple(data.get("buildings", [])),
        candidates=tuple(data.get("candidates", [])) if data["kind"] == "election" else (),
        seats=int(data.get("seats", 0)) if data["kind"] == "election" else 0,
        secret=bool(data["secret"]),
        changeable=bool(data["changeable"]),
        consultative=bool(data["consultative"]),
        shortened_reason=data.get("reason", "") if _shortened(ctx, opens_at) else "",
        attachment=("photo", photo[0], photo[1]) if photo else None,
    )


def _fix(ctx: Context, reason: str) -> list[Reply]:
    """A broken rule: say which, forget the answer that broke it and ask that step again."""
    if reason not in FIX:  # node, not_allowed: the compound is no longer theirs
        return _not_allowed(ctx)
    for name in FIX[reason]:
        ctx.state.data.pop(name, None)
    return [Reply("newpoll.rule", {"reason": reason, **_limits()}), *_advance(ctx)]


def _limits() -> dict[str, Any]:
    return {
        "title_limit": polls.MAX_TITLE,
        "body_limit": polls.MAX_BODY,
        "reason_limit": polls.MAX_REASON,
        "candidates_limit": polls.MAX_CANDIDATES,
        "name_limit": polls.MAX_CANDIDATE_NAME,
        "days": polls.NOTICE_PERIOD.days,
        "min_hours": int(polls.MIN_WINDOW.total_seconds() // 3600),
        "max_days": polls.MAX_WINDOW.days,
    }


def _summary(ctx: Context) -> list[Reply]:
    try:
        draft = polls.check(ctx.session, ctx.person_id, _draft(ctx), ctx.now)
    except polls.PollError as exc:
        return _fix(ctx, exc.reason)
    ctx.state.step = "confirm"
    node = ctx.session.get(OrgNode, draft.node_id)
    names = {b.id: b.name for b in polls.buildings_of(ctx.session, draft.node_id)}
    electorate = preview(ctx.session, draft.node_id, draft.buildings)
    audience = len(notices.recipients(ctx.session, draft.node_id, list(draft.buildings), ROLES, "meeting"))
    context = {
        "place": _place(ctx, node) if node else "",
        "buildings": [names.get(b, str(b)) for b in draft.buildings],
        "title": draft.title,
        "body": draft.body,
        "photo": draft.attachment is not None,
        "matter": draft.matter,
        "special": draft.matter in polls.SPECIAL_MATTERS,
        "kind": draft.kind,
        "candidates": list(draft.candidates),
        "seats": draft.seats,
        "opens_at": draft.opens_at.isoformat(),
        "closes_at": draft.closes_at.isoformat(),
        "opens_now": draft.opens_at <= ctx.now,
        "notice_days": (draft.opens_at - ctx.now).days,  # whole days of notice, as the 15-day rule counts
        "reason": draft.shortened_reason,
        "secret": draft.secret,
        "changeable": draft.changeable,
        "consultative": draft.consultative,
        "homes": electorate.homes,
        "area": electorate.area,
        "owned": electorate.owned_homes,
        "audience": audience,
    }
    return [
        Reply(
            "newpoll.summary",
            context,
            [[Button("w:ok", "newpoll.btn_create", args={"count": audience})], _cancel_row()],
        )
    ]


def _place(ctx: Context, node: OrgNode) -> str:
    """A node's names from the top of the tree, e.g. `铁西区 / 北沟街道 / 英雄社区 / 阳光花园`."""
    ids = notices.ancestor_ids(node)
    found = {n.id: n.name for n in ctx.session.exec(select(OrgNode).where(col(OrgNode.id).in_(ids))).all()}
    return " / ".join(found.get(i, "") for i in ids)


def _create(ctx: Context) -> list[Reply]:
    try:
        poll = polls.create(ctx.session, ctx.person_id, _draft(ctx), ctx.now, ctx.policy)
    except polls.PollError as exc:
        return _fix(ctx, exc.reason)
    notice = ctx.session.get(Notice, poll.announce_notice_id) if poll.announce_notice_id else None
    ctx.state.clear()
    return [
        Reply(
            "newpoll.created",
            {
                "id": poll.id,
                "title": poll.title,
                "opens_at": poll.opens_at.isoformat(),
                "closes_at": poll.closes_at.isoformat(),
                "audience": notice.audience_size if notice else 0,
                "notice_id": notice.id if notice else None,
            },
        )
    ]


# --- answers ---------------------------------------------------------------------------------------------


def _toggle_building(ctx: Context, arg: str) -> list[Reply]:
    data = ctx.state.data
    building_id = parse_id(arg)
    if building_id is None or building_id not in {
        b.id for b in polls.buildings_of(ctx.session, data["node_id"])
    }:
        return [stale()]
    chosen = data.setdefault("buildings", [])
    if building_id in chosen:
        chosen.remove(building_id)
    else:
        chosen.append(building_id)
    return [_ask_buildings(ctx)]


def _flow_button(ctx: Context, action: str, arg: str) -> list[Reply]:
    """The buttons of the flow; any that do not fit the current step (or name a foreign id) are stale."""
    step, data = ctx.state.step, ctx.state.data
    if action == "c" and step == "compound":
        compound_id = parse_id(arg)
        found = [c for c in _compounds(ctx) if c.id == compound_id]
        return _choose_compound(ctx, found[0]) if found else [stale()]
    if action == "b" and step == "buildings":
        return _toggle_building(ctx, arg)
    if action == "bd" and step == "buildings":
        data["scoped"] = True
        return _advance(ctx)
    if action == "m" and step == "matter" and arg.isascii() and arg.isdigit() and int(arg) in polls.MATTERS:
        data["matter"] = int(arg)
        return _advance(ctx)
    if action == "k" and step == "kind" and arg in polls.KINDS:
        data["kind"] = arg
        if arg == "decision":
            data.pop("candidates", None)
            data.pop("seats", None)
        return _advance(ctx)
    if (
        action == "n"
        and step == "seats"
        and arg.isascii()
        and arg.isdigit()
        and 1 <= int(arg) <= len(data.get("candidates", []))
    ):
        data["seats"] = int(arg)
        return _advance(ctx)
    if action == "o" and step in ("opens", "short"):
        return _opening_button(ctx, arg)
    if action == "d" and step == "closes" and arg.isascii() and arg.isdigit() and int(arg) in DURATIONS:
        data["closes"] = ["days", int(arg)]
        return _advance(ctx)
    choices = {"s": "secret", "g": "changeable", "e": "consultative"}
    if action in choices and step == choices[action] and arg in ("0", "1"):
        data[choices[action]] = arg == "1"
        return _advance(ctx)
    if action == "ok" and step == "confirm":
        return _create(ctx)
    return [stale()]


def _opening_button(ctx: Context, arg: str) -> list[Reply]:
    data = ctx.state.data
    if arg == "std":
        data["opens"] = ["std", 0]
        data.pop("short", None)
        data.pop("reason", None)
        return _advance(ctx)
    if arg == "short" and ctx.state.step == "opens":
        data["short"] = True
        data.pop("opens", None)
        return _advance(ctx)
    if (
        ctx.state.step == "short"
        and arg.isascii()
        and arg.isdigit()
        and int(arg) in SHORT_DAYS
        and data.get("reason")
    ):
        data["opens"] = ["days", int(arg)]
        return _advance(ctx)
    return [stale()]


def on_button(ctx: Context, data: str) -> list[Reply]:
    """A `w:` button, checked against the flow's state and the database."""
    action, _, arg = data[2:].partition(":")
    if ctx.state.flow != FLOW:
        return [stale()]
    if action == "x":
        ctx.state.clear()
        return [Reply("newpoll.cancelled")]
    if not _compounds(ctx):
        return _not_allowed(ctx)
    return _flow_button(ctx, action, arg)


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Typed text (and a photo for the explanation) inside the /newpoll flow."""
    compounds = _compounds(ctx)
    if not compounds:
        return _not_allowed(ctx)
    step, data = ctx.state.step, ctx.state.data
    text = inbound.text.strip()
    if step == "compound" and text:
        matches = [c for c in compounds if text in c.name]
        if len(matches) == 1:
            return _choose_compound(ctx, matches[0])
        if not matches:
            return [Reply("newpoll.no_compound", {"query": text}), _ask_compound(ctx, compounds)]
        return [_ask_compound(ctx, matches, text)]
    if step == "title":
        if not text:
            return [_ask_title(ctx)]
        if len(text) > polls.MAX_TITLE:
            return [
                Reply("newpoll.too_long", {"limit": polls.MAX_TITLE, "length": len(text)}),
                _ask_title(ctx),
            ]
        data["title"] = text
        return _advance(ctx)
    if step == "body":
        return _body(ctx, inbound, text)
    if step == "candidates" and text:
        return _candidates(ctx, text)
    if step == "reason" and text:
        if len(text) > polls.MAX_REASON:
            return [
                Reply("newpoll.too_long", {"limit": polls.MAX_REASON, "length": len(text)}),
                _ask_reason(ctx),
            ]
        data["reason"] = text
        return _advance(ctx)
    if step in ("opens", "short") and text:
        return _typed_opening(ctx, text)
    if step == "closes" and text:
        return _typed_closing(ctx, text)
    asks = {
        "compound": lambda: _ask_compound(ctx, compounds),
        "buildings": lambda: _ask_buildings(ctx),
        "matter": lambda: _ask_matter(ctx),
        "kind": lambda: _ask_kind(ctx),
        "candidates": lambda: _ask_candidates(ctx),
        "seats": lambda: _ask_seats(ctx),
        "reason": lambda: _ask_reason(ctx),
        "opens": lambda: _ask_opens(ctx),
        "short": lambda: _ask_short(ctx),
        "closes": lambda: _ask_closes(ctx),
        "secret": lambda: _ask_yes_no(ctx, "secret", "s"),
        "changeable": lambda: _ask_yes_no(ctx, "changeable", "g"),
        "consultative": lambda: _ask_yes_no(ctx, "consultative", "e"),
    }
    if step == "confirm":
        return [Reply("newpoll.use_buttons"), *_summary(ctx)]
    ask = asks.get(step)
    if ask is None:
        ctx.state.clear()
        return [stale()]
    if step in ("candidates", "reason"):
        return [ask()]  # a typed step given no text (a photo, a sticker): ask again
    return [Reply("newpoll.use_buttons"), ask()]


def _body(ctx: Context, inbound: Inbound, text: str) -> list[Reply]:
    data = ctx.state.data
    photos = [a for a in inbound.attachments if a.kind == "photo"]
    if len(text) > polls.MAX_BODY:
        return [Reply("newpoll.too_long", {"limit": polls.MAX_BODY, "length": len(text)}), _ask_body(ctx)]
    if photos:
        data["photo"] = [inbound.channel, photos[-1].ref]
    if not text:
        return [Reply("newpoll.photo_kept") if photos else _ask_body(ctx)]
    data["body"] = text
    return _advance(ctx)


def _candidates(ctx: Context, text: str) -> list[Reply]:
    names = [line.strip() for line in text.splitlines() if line.strip()]
    problem = ""
    if len(names) > polls.MAX_CANDIDATES:
        problem = "too_many"
    elif any(len(n) > polls.MAX_CANDIDATE_NAME for n in names):
        problem = "too_long"
    elif len(set(names)) != len(names):
        problem = "duplicate"
    if problem:
        context = {
            "problem": problem,
            "count": len(names),
            "limit": polls.MAX_CANDIDATES,
            "name_limit": polls.MAX_CANDIDATE_NAME,
        }
        return [Reply("newpoll.bad_candidates", context), _ask_candidates(ctx)]
    ctx.state.data["candidates"] = names
    ctx.state.data.pop("seats", None)
    return _advance(ctx)


def _typed_opening(ctx: Context, text: str) -> list[Reply]:
    data = ctx.state.data
    moment = _typed_time(ctx, text, end_of_day=False)
    if moment is None or moment < ctx.now - GRACE or moment > ctx.now + polls.MAX_AHEAD:
        ask = _ask_short(ctx) if ctx.state.step == "short" else _ask_opens(ctx)
        return [Reply("newpoll.bad_time", {"what": "opens"}), ask]
    data["opens"] = ["at", max(moment, ctx.now).isoformat()]
    if not _shortened(ctx, moment):
        data.pop("short", None)
        data.pop("reason", None)
        return _advance(ctx)
    data["short"] = True
    if data.get("reason"):
        return _advance(ctx)
    return [Reply("newpoll.rule", {"reason": "reason", **_limits()}), *_advance(ctx)]


def _typed_closing(ctx: Context, text: str) -> list[Reply]:
    opens_at = max(_opens_at(ctx) or ctx.now, ctx.now)
    moment = _typed_time(ctx, text, end_of_day=True)
    if moment is None or moment <= opens_at:
        return [Reply("newpoll.bad_time", {"what": "closes"}), _ask_closes(ctx)]
    if not polls.MIN_WINDOW <= moment - opens_at <= polls.MAX_WINDOW:
        return [Reply("newpoll.rule", {"reason": "window", **_limits()}), _ask_closes(ctx)]
    ctx.state.data["closes"] = ["at", moment.isoformat()]
    return _advance(ctx)
