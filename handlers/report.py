"""/report: category, description (text or voice), photos, location, confirm, then the ticket code.

The steps are declared once, below: which button each step takes (`PRESSES`) and what it does with typed
text, voice, photos or a location (`TEXTS`); the draft is a typed model kept between turns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from core import actions, tickets
from core import ticket_views as views
from core.tickets import TicketError
from db import people
from db import tickets as filing
from db.categories import Category
from handlers.common import stale
from handlers.context import Context
from handlers.flows import Command, Draft, Flow
from handlers.types import Button, Inbound, Reply

NAME = "report"
HOMES = 10  # homes offered as buttons


class ReportDraft(Draft):
    """What a resident has told us so far."""

    home_id: int | None = None
    building_id: int | None = None
    compound_id: int | None = None
    building: str = ""
    home: str = ""
    category: str = ""
    description: str = ""
    voice: tuple[str, str, int] | None = None  # (channel, ref, seconds)
    photos: list[tuple[str, str]] = Field(default_factory=list)  # (channel, ref)
    latitude: float | None = None
    longitude: float | None = None
    location_text: str = ""
    share: bool = False  # the property company may see who reported (name, phone, home)
    editing: bool = False  # one field is being changed from the summary, which comes back next
    match_id: int | None = None  # the open ticket offered as "me too"

    def reset(self, **values: Any) -> None:
        """Start afresh with these values, everything else at its default."""
        fresh = type(self)(**values)
        for name in type(self).model_fields:
            setattr(self, name, getattr(fresh, name))


def _press(verb: str, **fields: Any) -> str:
    return actions.Report(verb, **fields).encode()


def _cancel_row() -> list[Button]:
    return [Button(_press("x"), "cancel")]


def start(ctx: Context) -> list[Reply]:
    """Begin a report: the resident must live somewhere verified; pick the home when there are several."""
    homes = ctx.residencies("verified")
    if not homes:
        waiting = ctx.residencies("pending")
        return [Reply("report.not_verified" if waiting else "report.join_first")]
    if len(homes) > 1:
        ctx.state.go(NAME, "home")
        rows = [[Button(_press("h", home=r.home_id), text=_label(ctx, r.home_id))] for r in homes[:HOMES]]
        return [Reply("report.choose_home", {}, [*rows, _cancel_row()])]
    draft = ReportDraft()
    replies = _ask_category(ctx, draft, homes[0].home_id)
    draft.keep(ctx.state)
    return replies


def _label(ctx: Context, home_id: int | None) -> str:
    view = people.home_view(ctx.session, home_id) if home_id else None
    return view.label if view else str(home_id)


def _ask_category(ctx: Context, draft: ReportDraft, home_id: int) -> list[Reply]:
    view = people.home_view(ctx.session, home_id)
    ctx.state.go(NAME, "category")
    draft.reset(
        home_id=home_id,
        building_id=view.building_id if view else None,
        compound_id=view.compound_id if view else None,
        building=view.building if view else "",
        home=view.label if view else "",
    )
    return [_category_reply(ctx)]


def _category_reply(ctx: Context) -> Reply:
    buttons = [Button(_press("c", category=c.key), text=c.name(ctx.locale)) for c in ctx.catalog.ordered]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return Reply("report.ask_category", {}, [*rows, _cancel_row()])


def _category(ctx: Context, draft: ReportDraft) -> Category | None:
    return ctx.catalog.get(draft.category)


def _ask_description() -> Reply:
    return Reply("report.ask_description", {"limit": filing.MAX_DESCRIPTION}, [_cancel_row()])


def _ask_photos(ctx: Context, draft: ReportDraft) -> Reply:
    count = len(draft.photos)
    return Reply(
        "report.ask_photos",
        {"count": count, "limit": filing.MAX_PHOTOS},
        [[Button(_press("p"), "photos_done" if count else "skip")], _cancel_row()],
    )


def _ask_location(ctx: Context, draft: ReportDraft) -> Reply:
    return Reply(
        "report.ask_location",
        {"building": draft.building},
        [
            [Button(_press("l", where="b"), "my_building", args={"building": draft.building})],
            [Button(_press("l", where="s"), "skip")],
            _cancel_row(),
        ],
        ask_location=True,
    )


def _summary(ctx: Context, draft: ReportDraft) -> Reply:
    category = _category(ctx, draft)
    ctx.state.step = "confirm"
    return Reply(
        "report.summary",
        {
            "category": category.name(ctx.locale) if category else "",
            "urgent": bool(category and category.danger),
            "description": draft.description,
            "voice": list(draft.voice) if draft.voice else None,
            "photos": len(draft.photos),
            "location": _location_text(draft),
            "home": draft.home or _label(ctx, draft.home_id),
            "share": draft.share,
        },
        [
            [Button(_press("ok"), "submit")],
            [
                Button(_press("e", part="c"), "edit_category"),
                Button(_press("e", part="d"), "edit_description"),
            ],
            [Button(_press("e", part="p"), "edit_photos"), Button(_press("e", part="l"), "edit_location")],
            [Button(_press("s"), "share_off" if draft.share else "share_on")],
            _cancel_row(),
        ],
    )


def _location_text(draft: ReportDraft) -> str:
    if draft.latitude is not None:
        return f"{draft.latitude:.5f}, {draft.longitude:.5f}"
    return draft.location_text


def _after(ctx: Context, draft: ReportDraft, default_next: str) -> list[Reply]:
    """Go on to the next step, or back to the summary when the resident was editing one field."""
    if draft.editing:
        draft.editing = False
        return [_summary(ctx, draft)]
    ctx.state.step = default_next
    return [{"photos": _ask_photos, "location": _ask_location}[default_next](ctx, draft)]


def _danger(ctx: Context, category: Category) -> list[Reply]:
    return [Reply("report.danger", {"category": category.name(ctx.locale)})] if category.danger else []


# --- buttons, by step --------------------------------------------------------------------------------

Press = Callable[[Context, ReportDraft, actions.Report], list[Reply]]


def _home(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    if press.home not in {r.home_id for r in ctx.residencies("verified")}:
        return [stale()]
    return _ask_category(ctx, draft, press.home)


def _chose_category(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    category = ctx.catalog.get(press.category or "")
    if category is None:
        return [stale()]
    draft.category = category.key
    if draft.editing and (draft.description or draft.voice):
        draft.editing = False
        return [*_danger(ctx, category), _summary(ctx, draft)]
    ctx.state.step = "describe"
    return [*_danger(ctx, category), _ask_description()]


def _me_too(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    if press.ticket is None or press.ticket != draft.match_id:  # the verb carries one: decode checked
        return [stale()]
    try:
        joined = tickets.join(ctx.work, ctx.actor(), press.ticket, draft.description)
    except TicketError:
        draft.match_id = None
        return [Reply("report.match_gone"), *_after(ctx, draft, "photos")]
    ctx.state.clear()
    return [Reply("report.joined", {"code": joined.ticket_id, "weight": joined.weight})]


def _new_report(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    draft.match_id = None
    return _after(ctx, draft, "photos")


def _photos_done(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    return _after(ctx, draft, "location")


def _where(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    if press.where not in ("b", "s"):
        return [stale()]
    draft.latitude = draft.longitude = None
    draft.location_text = draft.building if press.where == "b" else ""
    draft.editing = False
    return [_summary(ctx, draft)]


def _edit(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    if press.part not in EDITS:
        return [stale()]
    draft.editing = True
    step, ask = EDITS[press.part]
    ctx.state.step = step
    if step == "photos":
        draft.photos = []
    return [ask(ctx, draft)]


def _submit(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    category = _category(ctx, draft)
    if category is None:
        ctx.state.clear()
        return [stale()]
    report = filing.Draft(
        category=category.key,
        sla_class=category.sla,
        urgent=category.danger,
        description=draft.description,
        home_id=draft.home_id,
        building_id=draft.building_id,
        compound_id=draft.compound_id,
        photos=tuple(draft.photos),
        voice=draft.voice,
        latitude=draft.latitude,
        longitude=draft.longitude,
        location_text=draft.location_text,
        share_contact=draft.share,
    )
    try:
        filed = tickets.report(ctx.work, ctx.actor(), report)
    except TicketError:  # no longer a verified resident
        ctx.state.clear()
        return [Reply("report.join_first")]
    ctx.state.clear()
    return [Reply("report.filed", {"code": filed.ticket_id, "urgent": filed.urgent})]


def _share(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    # Whether the property company may see who reported (name, phone, home); off unless asked.
    draft.share = not draft.share
    return [_summary(ctx, draft)]


# What the summary's edit buttons go back to: the step, and what it asks.
EDITS: dict[str, tuple[str, Callable[[Context, ReportDraft], Reply]]] = {
    "c": ("category", lambda ctx, _: _category_reply(ctx)),
    "d": ("describe", lambda ctx, _: _ask_description()),
    "p": ("photos", _ask_photos),
    "l": ("location", _ask_location),
}
# (button verb, step) → what it does; any other press is stale.
PRESSES: dict[tuple[str, str], Press] = {
    ("h", "home"): _home,
    ("c", "category"): _chose_category,
    ("m", "metoo"): _me_too,
    ("n", "metoo"): _new_report,
    ("p", "photos"): _photos_done,
    ("l", "location"): _where,
    ("e", "confirm"): _edit,
    ("ok", "confirm"): _submit,
    ("s", "confirm"): _share,
}


def on_press(ctx: Context, press: actions.Report) -> list[Reply]:
    """Buttons of the report flow; any that do not fit the current step are stale."""
    if ctx.state.flow != NAME:
        return [stale()]
    if press.verb == "x":
        ctx.state.clear()
        return [Reply("report.cancelled")]
    act = PRESSES.get((press.verb, ctx.state.step))
    if act is None:
        return [stale()]
    return _kept(ctx, act, press)


def _kept(ctx: Context, act: Callable[..., list[Reply]], *args: Any) -> list[Reply]:
    """Run a step on the draft, and keep the draft while the resident is still in the flow."""
    draft = ReportDraft.of(ctx.state)
    replies = act(ctx, draft, *args)
    if ctx.state.flow == NAME:
        draft.keep(ctx.state)
    return replies


# --- typed text, voice, photos and locations, by step ------------------------------------------------

Text = Callable[[Context, ReportDraft, Inbound], list[Reply]]


def _describe(ctx: Context, draft: ReportDraft, inbound: Inbound) -> list[Reply]:
    text = inbound.text.strip()
    photos = [a for a in inbound.attachments if a.kind == "photo"]
    voice = next((a for a in inbound.attachments if a.kind == "voice"), None)
    if len(text) > filing.MAX_DESCRIPTION:
        return [Reply("report.too_long", {"limit": filing.MAX_DESCRIPTION, "length": len(text)})]
    if voice is not None:
        draft.voice, draft.description = (inbound.channel, voice.ref, voice.duration or 0), text
    elif text:
        draft.description, draft.voice = text, None
    else:
        return [Reply("report.need_description"), _ask_description()]
    if photos and len(draft.photos) < filing.MAX_PHOTOS:
        draft.photos.append((inbound.channel, photos[-1].ref))
    if not draft.editing:
        match = views.me_too_for(ctx.work, ctx.actor(), draft.building_id, draft.category)
        if match is not None:
            draft.match_id = match.id
            ctx.state.step = "metoo"
            category = _category(ctx, draft)
            return [
                Reply(
                    "report.me_too",
                    {
                        "code": match.id,
                        "category": category.name(ctx.locale) if category else "",
                        "weight": match.weight,
                        "created_at": match.created_at,
                    },
                    [
                        [Button(_press("m", ticket=match.id), "me_too", args={"code": match.id})],
                        [Button(_press("n"), "new_report")],
                        _cancel_row(),
                    ],
                )
            ]
    return _after(ctx, draft, "photos")


def _photo(ctx: Context, draft: ReportDraft, inbound: Inbound) -> list[Reply]:
    photos = [a for a in inbound.attachments if a.kind == "photo"]
    if not photos:
        return [Reply("report.photos_expected"), _ask_photos(ctx, draft)]
    if len(draft.photos) >= filing.MAX_PHOTOS:
        return [Reply("report.photos_full", {"limit": filing.MAX_PHOTOS}), _ask_photos(ctx, draft)]
    draft.photos.append((inbound.channel, photos[-1].ref))
    if len(draft.photos) >= filing.MAX_PHOTOS:
        return _after(ctx, draft, "location")
    return [_ask_photos(ctx, draft)]


def _location(ctx: Context, draft: ReportDraft, inbound: Inbound) -> list[Reply]:
    if inbound.location is None:
        return [Reply("report.location_expected"), _ask_location(ctx, draft)]
    draft.latitude, draft.longitude = inbound.location.latitude, inbound.location.longitude
    draft.location_text, draft.editing = "", False
    return [_summary(ctx, draft)]


TEXTS: dict[str, Text] = {
    "describe": _describe,
    "photos": _photo,
    "location": _location,
    "category": lambda ctx, draft, _: [Reply("report.use_buttons"), _category_reply(ctx)],
    "confirm": lambda ctx, draft, _: [Reply("report.use_buttons"), _summary(ctx, draft)],
    "metoo": lambda ctx, draft, _: [Reply("report.use_buttons")],
    "home": lambda ctx, draft, _: [Reply("report.use_buttons")],
}


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Typed text, voice, photos and locations inside the report flow."""
    step = TEXTS.get(ctx.state.step)
    if step is None:
        ctx.state.clear()
        return [stale()]
    return _kept(ctx, step, inbound)


FLOW = Flow(
    NAME,
    {"/report": Command(lambda ctx, _: start(ctx), leaves_flow=True, members_only=True)},
    actions.Report,
    on_press,
    on_message,
)
