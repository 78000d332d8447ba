"""/report: category, description (text or voice), photos, location, confirm, then the ticket code."""

from __future__ import annotations

from typing import Any

from db import cases, people, tickets
from db.categories import Category
from handlers.common import parse_id, stale
from handlers.context import Context
from handlers.types import Button, Inbound, Reply

FLOW = "report"


def _cancel_row() -> list[Button]:
    return [Button("r:x", "cancel")]


def start(ctx: Context) -> list[Reply]:
    """Begin a report: the resident must live somewhere verified; pick the home when there are several."""
    homes = ctx.residencies("verified")  # type: ignore[arg-type]
    if not homes:
        waiting = ctx.residencies("pending")  # type: ignore[arg-type]
        return [Reply("report.not_verified" if waiting else "report.join_first")]
    if len(homes) > 1:
        ctx.state.go(FLOW, "home")
        rows = [[Button(f"r:h:{r.home_id}", text=_label(ctx, r.home_id))] for r in homes[:10]]
        return [Reply("report.choose_home", {}, [*rows, _cancel_row()])]
    return _ask_category(ctx, homes[0].home_id)


def _label(ctx: Context, home_id: int) -> str:
    view = people.home_view(ctx.session, home_id)
    return view.label if view else str(home_id)


def _ask_category(ctx: Context, home_id: int) -> list[Reply]:
    view = people.home_view(ctx.session, home_id)
    ctx.state.go(
        FLOW,
        "category",
        home_id=home_id,
        building_id=view.building_id if view else None,
        compound_id=view.compound_id if view else None,
        building=view.building if view else "",
        home=view.label if view else "",
        photos=[],
    )
    return [_category_reply(ctx)]


def _category_reply(ctx: Context) -> Reply:
    buttons = [Button(f"r:c:{c.key}", text=c.name(ctx.locale)) for c in ctx.catalog.ordered]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return Reply("report.ask_category", {}, [*rows, _cancel_row()])


def _category(ctx: Context) -> Category | None:
    return ctx.catalog.get(str(ctx.state.data.get("category", "")))


def _ask_description() -> Reply:
    return Reply("report.ask_description", {"limit": tickets.MAX_DESCRIPTION}, [_cancel_row()])


def _ask_photos(ctx: Context) -> Reply:
    count = len(ctx.state.data.get("photos", []))
    return Reply(
        "report.ask_photos",
        {"count": count, "limit": tickets.MAX_PHOTOS},
        [[Button("r:p", "photos_done" if count else "skip")], _cancel_row()],
    )


def _ask_location(ctx: Context) -> Reply:
    return Reply(
        "report.ask_location",
        {"building": ctx.state.data.get("building", "")},
        [
            [Button("r:l:b", "my_building", args={"building": ctx.state.data.get("building", "")})],
            [Button("r:l:s", "skip")],
            _cancel_row(),
        ],
        ask_location=True,
    )


def _summary(ctx: Context) -> Reply:
    data = ctx.state.data
    category = _category(ctx)
    ctx.state.step = "confirm"
    return Reply(
        "report.summary",
        {
            "category": category.name(ctx.locale) if category else "",
            "urgent": bool(category and category.danger),
            "description": data.get("description", ""),
            "voice": data.get("voice"),
            "photos": len(data.get("photos", [])),
            "location": _location_text(data),
            "home": data.get("home") or _label(ctx, data["home_id"]),
            "share": bool(data.get("share")),
        },
        [
            [Button("r:ok", "submit")],
            [Button("r:e:c", "edit_category"), Button("r:e:d", "edit_description")],
            [Button("r:e:p", "edit_photos"), Button("r:e:l", "edit_location")],
            [Button("r:s", "share_off" if data.get("share") else "share_on")],
            _cancel_row(),
        ],
    )


def _location_text(data: dict[str, Any]) -> str:
    if data.get("latitude") is not None:
        return f"{data['latitude']:.5f}, {data['longitude']:.5f}"
    return str(data.get("location_text", ""))


def _after(ctx: Context, default_next: str) -> list[Reply]:
    """Go on to the next step, or back to the summary when the resident was editing one field."""
    if ctx.state.data.get("editing"):
        ctx.state.data["editing"] = False
        return [_summary(ctx)]
    ctx.state.step = default_next
    return [{"photos": _ask_photos, "location": _ask_location}[default_next](ctx)]


def on_button(ctx: Context, data: str) -> list[Reply]:
    """Buttons of the report flow; any that do not fit the current step are stale."""
    if data == "r:x":
        if ctx.state.flow != FLOW:
            return [stale()]
        ctx.state.clear()
        return [Reply("report.cancelled")]
    if ctx.state.flow != FLOW:
        return [stale()]
    step = ctx.state.step
    action, _, arg = data[2:].partition(":")
    if action == "h" and step == "home":
        home_id = parse_id(arg)
        verified = {r.home_id for r in ctx.residencies("verified")}  # type: ignore[arg-type]
        if home_id not in verified:
            return [stale()]
        return _ask_category(ctx, home_id)  # type: ignore[arg-type]
    if action == "c" and step == "category":
        category = ctx.catalog.get(arg)
        if category is None:
            return [stale()]
        ctx.state.data["category"] = category.key
        if ctx.state.data.get("editing") and (
            ctx.state.data.get("description") or ctx.state.data.get("voice")
        ):
            replies = (
                [Reply("report.danger", {"category": category.name(ctx.locale)})] if category.danger else []
            )
            ctx.state.data["editing"] = False
            return [*replies, _summary(ctx)]
        ctx.state.step = "describe"
        replies = [Reply("report.danger", {"category": category.name(ctx.locale)})] if category.danger else []
        return [*replies, _ask_description()]
    if action == "m" and step == "metoo":
        if parse_id(arg) is None or parse_id(arg) != ctx.state.data.get("match_id"):
            return [stale()]
        try:
            ticket = tickets.join_ticket(
                ctx.session,
                ctx.state.data["match_id"],
                ctx.person_id,
                ctx.state.data.get("description", ""),
                ctx.now,  # type: ignore[arg-type]
            )
        except tickets.TicketError:
            ctx.state.data.pop("match_id", None)
            return [Reply("report.match_gone"), *_after(ctx, "photos")]
        ctx.state.clear()
        return [Reply("report.joined", {"code": ticket.id, "weight": ticket.weight})]
    if action == "n" and step == "metoo":
        ctx.state.data.pop("match_id", None)
        return _after(ctx, "photos")
    if action == "p" and step == "photos":
        return _after(ctx, "location")
    if action == "l" and step == "location" and arg in ("b", "s"):
        ctx.state.data.pop("latitude", None)
        ctx.state.data.pop("longitude", None)
        ctx.state.data["location_text"] = ctx.state.data.get("building", "") if arg == "b" else ""
        ctx.state.data["editing"] = False
        return [_summary(ctx)]
    if action == "e" and step == "confirm" and arg in ("c", "d", "p", "l"):
        ctx.state.data["editing"] = True
        if arg == "c":
            ctx.state.step = "category"
            return [_category_reply(ctx)]
        if arg == "d":
            ctx.state.step = "describe"
            return [_ask_description()]
        if arg == "p":
            ctx.state.step = "photos"
            ctx.state.data["photos"] = []
            return [_ask_photos(ctx)]
        ctx.state.step = "location"
        return [_ask_location(ctx)]
    if action == "ok" and step == "confirm":
        return _submit(ctx)
    if action == "s" and step == "confirm":
        # Whether the property company may see who reported (name, phone, home); off unless asked.
        ctx.state.data["share"] = not ctx.state.data.get("share")
        return [_summary(ctx)]
    return [stale()]


def _submit(ctx: Context) -> list[Reply]:
    data = ctx.state.data
    category = _category(ctx)
    if category is None:
        ctx.state.clear()
        return [stale()]
    draft = tickets.Draft(
        category=category.key,
        sla_class=category.sla,
        urgent=category.danger,
        description=str(data.get("description", "")),
        home_id=data.get("home_id"),
        building_id=data.get("building_id"),
        compound_id=data.get("compound_id"),
        photos=tuple((p[0], p[1]) for p in data.get("photos", [])),
        voice=tuple(data["voice"]) if data.get("voice") else None,  # type: ignore[arg-type]
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
        location_text=str(data.get("location_text", "")),
        share_contact=bool(data.get("share")),
    )
    ticket = tickets.file_ticket(ctx.session, draft, ctx.person_id, ctx.now)  # type: ignore[arg-type]
    cases.dispatch(ctx.session, ticket, ctx.now, ctx.policy)
    ctx.state.clear()
    return [Reply("report.filed", {"code": ticket.id, "urgent": ticket.urgent})]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Typed text, voice, photos and locations inside the report flow."""
    step = ctx.state.step
    data = ctx.state.data
    photos = [a for a in inbound.attachments if a.kind == "photo"]
    voice = next((a for a in inbound.attachments if a.kind == "voice"), None)
    if step == "describe":
        text = inbound.text.strip()
        if len(text) > tickets.MAX_DESCRIPTION:
            return [Reply("report.too_long", {"limit": tickets.MAX_DESCRIPTION, "length": len(text)})]
        if voice is not None:
            data["voice"] = [inbound.channel, voice.ref, voice.duration or 0]
            data["description"] = text
        elif text:
            data["description"] = text
            data.pop("voice", None)
        else:
            return [Reply("report.need_description"), _ask_description()]
        if photos and len(data.get("photos", [])) < tickets.MAX_PHOTOS:
            data.setdefault("photos", []).append([inbound.channel, photos[-1].ref])
        if not data.get("editing"):
            match = tickets.find_open_match(
                ctx.session, data.get("building_id"), data["category"], ctx.person_id
            )  # type: ignore[arg-type]
            if match is not None:
                data["match_id"] = match.id
                ctx.state.step = "metoo"
                category = _category(ctx)
                return [
                    Reply(
                        "report.me_too",
                        {
                            "code": match.id,
                            "category": category.name(ctx.locale) if category else "",
                            "description": match.description,
                            "weight": match.weight,
                            "created_at": match.created_at,
                        },
                        [
                            [Button(f"r:m:{match.id}", "me_too", args={"code": match.id})],
                            [Button("r:n", "new_report")],
                            _cancel_row(),
                        ],
                    )
                ]
        return _after(ctx, "photos")
    if step == "photos":
        if not photos:
            return [Reply("report.photos_expected"), _ask_photos(ctx)]
        stored = data.setdefault("photos", [])
        if len(stored) >= tickets.MAX_PHOTOS:
            return [Reply("report.photos_full", {"limit": tickets.MAX_PHOTOS}), _ask_photos(ctx)]
        stored.append([inbound.channel, photos[-1].ref])
        if len(stored) >= tickets.MAX_PHOTOS:
            return _after(ctx, "location")
        return [_ask_photos(ctx)]
    if step == "location":
        if inbound.location is not None:
            data["latitude"] = inbound.location.latitude
            data["longitude"] = inbound.location.longitude
            data["location_text"] = ""
            data["editing"] = False
            return [_summary(ctx)]
        return [Reply("report.location_expected"), _ask_location(ctx)]
    if step == "category":
        return [Reply("report.use_buttons"), _category_reply(ctx)]
    if step == "confirm":
        return [Reply("report.use_buttons"), _summary(ctx)]
    if step == "metoo":
        return [Reply("report.use_buttons")]
    if step == "home":
        return [Reply("report.use_buttons")]
    ctx.state.clear()
    return [stale()]
