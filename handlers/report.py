"""/report: category, description (text or voice, photos alongside), a summary to confirm, the ticket code.

Five taps from the menu: 报事 → a category → type and send the description → ✅提交. The location is the
resident's own building unless changed on the summary (改位置); photos sent with the description or at the
summary are added to the draft. Words or a photo a verified resident sends outside any flow are offered
as the start of a report ("offer"), with a category proposed from the words.

The steps are declared once, below: which button each step takes (`PRESSES`) and what it does with typed
text, voice, photos or a location (`TEXTS`); the draft is a typed model kept between turns, and parked
by the router when the resident leaves it mid-way (`resume` re-asks its step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from core import actions, tickets
from core import ticket_views as views
from core.actions import Drafts
from core.tickets import TicketError
from db import people
from db import tickets as filing
from db.categories import Category
from db.conversations import State
from handlers import drafts
from handlers.common import menu_buttons, stale
from handlers.context import Context
from handlers.flows import Command, Draft, Flow
from handlers.types import Button, Inbound, Reply

NAME = "report"
OFFER = "offer"  # the step of words typed outside a flow, offered as a report
HOMES = 10  # homes offered as buttons
EXCERPT = 24  # characters of the description shown when a draft is offered back
# Typed on the summary, these confirm it rather than add to the description.
CONFIRMING = frozenset(
    {"提交", "确认", "确定", "好", "好的", "是", "是的", "对", "可以", "ok", "yes", "submit"}
)


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

    def given(self) -> bool:
        """Whether the resident has given anything: words, a voice or a photo."""
        return bool(self.description or self.voice or self.photos)


def _press(verb: str, **fields: Any) -> str:
    return actions.Report(verb, **fields).encode()


def _cancel_row() -> list[Button]:
    return [Button(_press("x"), "cancel")]


def start(ctx: Context) -> list[Reply]:
    """Begin a report: the resident must live somewhere verified; pick the home when there are several.
    A report left mid-way is offered first (继续 or 重新开始)."""
    homes = ctx.residencies("verified")
    if not homes:
        waiting = ctx.residencies("pending")
        if waiting:
            return [Reply("report.not_verified")]
        return [Reply("report.join_first", {}, [[Button.of(actions.Join("c"), "choose_home")]])]
    if ctx.state.parked.get("flow") == NAME:
        parked = State(NAME, str(ctx.state.parked.get("step", "")), dict(ctx.state.parked.get("data") or {}))
        return [_resume_offer(ctx, ReportDraft.of(parked))]
    if len(homes) > 1:
        ctx.state.go(NAME, "home")
        return [_choose_home(ctx)]
    draft = ReportDraft()
    _set_home(ctx, draft, homes[0].home_id)
    ctx.state.go(NAME, "category")
    draft.keep(ctx.state)
    return [_category_reply(ctx)]


def _choose_home(ctx: Context) -> Reply:
    homes = ctx.residencies("verified")
    rows = [[Button(_press("h", home=r.home_id), text=_label(ctx, r.home_id))] for r in homes[:HOMES]]
    return Reply("report.choose_home", {}, [*rows, _cancel_row()])


def _label(ctx: Context, home_id: int | None) -> str:
    view = people.home_view(ctx.session, home_id) if home_id else None
    return view.label if view else str(home_id)


def _set_home(ctx: Context, draft: ReportDraft, home_id: int) -> None:
    """The home reported from; the location is its building until the resident changes it."""
    view = people.home_view(ctx.session, home_id)
    draft.home_id = home_id
    draft.building_id = view.building_id if view else None
    draft.compound_id = view.compound_id if view else None
    draft.building = view.building if view else ""
    draft.home = view.label if view else ""
    draft.latitude = draft.longitude = None
    draft.location_text = draft.building


def _category_reply(ctx: Context) -> Reply:
    buttons = [Button(_press("c", category=c.key), text=c.name(ctx.locale)) for c in ctx.catalog.ordered]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return Reply("report.ask_category", {}, [*rows, _cancel_row()])


def _category(ctx: Context, draft: ReportDraft) -> Category | None:
    return ctx.catalog.get(draft.category)


def _ask_description(draft: ReportDraft) -> Reply:
    context = {"limit": filing.MAX_DESCRIPTION, "photos": len(draft.photos), "max_photos": filing.MAX_PHOTOS}
    return Reply("report.ask_description", context, [_cancel_row()])


def _ask_location(ctx: Context, draft: ReportDraft) -> Reply:
    return Reply(
        "report.ask_location",
        {"building": draft.building},
        [
            [Button(_press("l", where="b"), "my_building", args={"building": draft.building})],
            [Button(_press("l", where="s"), "no_location")],
            _cancel_row(),
        ],
        ask_location=True,
    )


def _filled(ctx: Context, draft: ReportDraft) -> dict[str, Any]:
    """What a draft holds, briefly: for offering it back."""
    category = _category(ctx, draft)
    text = draft.description
    return {
        "category": category.name(ctx.locale) if category else "",
        "description": text if len(text) <= EXCERPT else text[:EXCERPT] + "…",
        "voice": draft.voice[2] if draft.voice else None,
        "photos": len(draft.photos),
    }


def _resume_offer(ctx: Context, draft: ReportDraft) -> Reply:
    """继续刚才的报事: what the parked report holds, to go on with it or start again."""
    return Reply(
        "report.resume_offer",
        _filled(ctx, draft),
        [
            [Button.of(Drafts("r", flow=NAME), "resume", primary=True)],
            [drafts.start_over_button(NAME, ctx.state.parked)],
        ],
    )


def _summary(ctx: Context, draft: ReportDraft) -> Reply:
    category = _category(ctx, draft)
    ctx.state.step = "confirm"
    draft.editing = False
    photos_row = [Button(_press("e", part="l"), "edit_location")]
    if draft.photos:
        photos_row.insert(0, Button(_press("e", part="p"), "edit_photos"))
    return Reply(
        "report.summary",
        {
            "category": category.name(ctx.locale) if category else "",
            "urgent": bool(category and category.danger),
            "description": draft.description,
            "voice": list(draft.voice) if draft.voice else None,
            "photos": len(draft.photos),
            "max_photos": filing.MAX_PHOTOS,
            "location": _location_text(draft),
            "home": draft.home or _label(ctx, draft.home_id),
            "share": draft.share,
        },
        [
            [Button(_press("ok"), "submit", primary=True)],
            [
                Button(_press("e", part="c"), "edit_category"),
                Button(_press("e", part="d"), "edit_description"),
            ],
            photos_row,
            [Button(_press("s"), "share_off" if draft.share else "share_on")],
            _cancel_row(),
        ],
    )


def _location_text(draft: ReportDraft) -> str:
    if draft.latitude is not None:
        return f"{draft.latitude:.5f}, {draft.longitude:.5f}"
    return draft.location_text


def _danger(ctx: Context, category: Category) -> list[Reply]:
    return [Reply("report.danger", {"category": category.name(ctx.locale)})] if category.danger else []


def _go_on(ctx: Context, draft: ReportDraft) -> list[Reply]:
    """After the description: an open ticket to join ("me too") when one matches, else the summary."""
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
    return [_summary(ctx, draft)]


def _add_photos(draft: ReportDraft, inbound: Inbound) -> list[Reply]:
    """Keep the photos sent (up to the limit); a line when some did not fit."""
    photos = [a for a in inbound.attachments if a.kind == "photo"]
    room = filing.MAX_PHOTOS - len(draft.photos)
    draft.photos.extend((inbound.channel, p.ref) for p in photos[: max(room, 0)])
    return [Reply("report.photos_full", {"limit": filing.MAX_PHOTOS})] if len(photos) > room else []


def _too_long(text: str) -> Reply:
    limits = {"limit": filing.MAX_DESCRIPTION, "length": len(text)}
    return Reply("report.too_long", limits, keeps_input=True)


# --- words outside a flow, offered as a report --------------------------------------------------------


def may_offer(ctx: Context, inbound: Inbound) -> bool:
    """Whether what a person sent outside any flow is offered as a report: a verified resident's words
    (letters or characters, not only digits or signs), photo or voice."""
    words = any(ch.isalpha() for ch in inbound.text)  # not a bare number or a sign ("3", "👍")
    sent = words or any(a.kind in ("photo", "voice") for a in inbound.attachments)
    return sent and bool(ctx.residencies("verified"))


def offer(ctx: Context, inbound: Inbound) -> list[Reply]:
    """要把这段话作为报事吗？ The words (and photo) become a draft, with a category proposed from them."""
    text = inbound.text.strip()
    if len(text) > filing.MAX_DESCRIPTION:
        return [_too_long(text)]
    draft = ReportDraft()
    _set_home(ctx, draft, ctx.residencies("verified")[0].home_id)
    ctx.state.go(NAME, OFFER)
    full = _take(draft, inbound, text)
    draft.keep(ctx.state)
    return [*full, _offer_reply(ctx, draft)]


def _take(draft: ReportDraft, inbound: Inbound, text: str) -> list[Reply]:
    """Words, voice and photos sent while a report is offered: added to the draft."""
    voice = next((a for a in inbound.attachments if a.kind == "voice"), None)
    if voice is not None:
        draft.voice = (inbound.channel, voice.ref, voice.duration or 0)
    if text:
        draft.description = f"{draft.description}\n{text}" if draft.description else text
    return _add_photos(draft, inbound)


def _offer_reply(ctx: Context, draft: ReportDraft) -> Reply:
    proposed = ctx.catalog.propose(draft.description)
    others = [
        Button(_press("c", category=c.key), text=c.name(ctx.locale))
        for c in ctx.catalog.ordered
        if c != proposed
    ]
    rows = [others[i : i + 2] for i in range(0, len(others), 2)]
    # With a report left for a detour, these words are most likely its rest: adding them comes first,
    # and a new report from them (which would take the kept one's place) is the second choice.
    parked = ctx.state.parked.get("flow") == NAME
    if proposed is not None:
        name = proposed.name(ctx.locale)
        first = Button(
            _press("c", category=proposed.key), "offer_category", args={"category": name}, primary=not parked
        )
        rows.insert(0, [first])
    if parked:
        rows.insert(0, [Button(_press("a"), "add_to_draft", primary=True)])
    return Reply(
        "report.offer",
        {**_filled(ctx, draft), "proposed": proposed is not None},
        [*rows, [Button(_press("o"), "not_a_report")]],
    )


def _add_to_parked(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    """The words, photos or voice offered go into the report left mid-way, which comes back."""
    parked = ctx.state.parked
    if parked.get("flow") != NAME:
        return [stale()]
    earlier = ReportDraft.of(State(NAME, str(parked.get("step", "")), dict(parked.get("data") or {})))
    text = "\n".join(t for t in (earlier.description, draft.description) if t)
    if len(text) > filing.MAX_DESCRIPTION:
        return [_too_long(text), _offer_reply(ctx, draft)]
    earlier.description = text
    earlier.photos = [*earlier.photos, *draft.photos][: filing.MAX_PHOTOS]
    earlier.voice = earlier.voice or draft.voice
    for name in ReportDraft.model_fields:  # the draft kept after this press is the earlier one
        setattr(draft, name, getattr(earlier, name))
    ctx.state.go(NAME, str(parked.get("step", "")))
    ctx.state.parked = {}
    if ctx.state.step == "describe" and draft.category and (draft.description or draft.voice):
        return _go_on(ctx, draft)  # the words it was waiting for
    return _resume(ctx, draft)


# --- buttons, by step --------------------------------------------------------------------------------

Press = Callable[[Context, ReportDraft, actions.Report], list[Reply]]


def _home(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    if press.home not in {r.home_id for r in ctx.residencies("verified")}:
        return [stale()]
    _set_home(ctx, draft, press.home)
    if draft.category and draft.given():  # started from words outside a flow: on to the summary
        return _go_on(ctx, draft)
    ctx.state.step = "category"
    return [_category_reply(ctx)]


def _chose_category(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    category = ctx.catalog.get(press.category or "")
    if category is None:
        return [stale()]
    draft.category = category.key
    if draft.editing and (draft.description or draft.voice):
        return [*_danger(ctx, category), _summary(ctx, draft)]
    ctx.state.step = "describe"
    return [*_danger(ctx, category), _ask_description(draft)]


def _offered_category(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    """One tap on the offer: the category, and straight on (the home first if the resident has several)."""
    category = ctx.catalog.get(press.category or "")
    if category is None:
        return [stale()]
    draft.category = category.key
    if len(ctx.residencies("verified")) > 1:
        ctx.state.step = "home"
        return [*_danger(ctx, category), _choose_home(ctx)]
    if not (draft.description or draft.voice):  # a photo alone: words or a voice still needed
        ctx.state.step = "describe"
        return [*_danger(ctx, category), _ask_description(draft)]
    return [*_danger(ctx, category), *_go_on(ctx, draft)]


def _not_a_report(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    ctx.state.clear()
    return [Reply("common.idle", {}, menu_buttons(ctx))]


def _me_too(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    if press.ticket is None or press.ticket != draft.match_id:  # the verb carries one: decode checked
        return [stale()]
    try:
        joined = tickets.join(ctx.work, ctx.actor(), press.ticket, draft.description)
    except TicketError:
        draft.match_id = None
        return [Reply("report.match_gone"), _summary(ctx, draft)]
    ctx.state.clear()
    return [Reply("report.joined", {"code": joined.ticket_id, "weight": joined.weight})]


def _new_report(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    draft.match_id = None
    return [_summary(ctx, draft)]


def _where(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    if press.where not in ("b", "s"):
        return [stale()]
    draft.latitude = draft.longitude = None
    draft.location_text = draft.building if press.where == "b" else ""
    return [_summary(ctx, draft)]


def _edit(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    if press.part == "p":  # 删除照片: new ones can be sent on the summary
        draft.photos = []
        return [_summary(ctx, draft)]
    if press.part not in EDITS:
        return [stale()]
    draft.editing = True
    step, ask = EDITS[press.part]
    ctx.state.step = step
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


def _cancel(ctx: Context, draft: ReportDraft, press: actions.Report) -> list[Reply]:
    if draft.given() and ctx.state.step != OFFER:
        # something typed: asked before it is thrown away (the state holds the draft as kept after this)
        return [drafts.ask_discard(NAME, draft.model_dump(mode="json"))]
    ctx.state.clear()
    return [Reply("report.cancelled")]


# What the summary's edit buttons go back to: the step, and what it asks.
EDITS: dict[str, tuple[str, Callable[[Context, ReportDraft], Reply]]] = {
    "c": ("category", lambda ctx, _: _category_reply(ctx)),
    "d": ("describe", lambda ctx, draft: _ask_description(draft)),
    "l": ("location", _ask_location),
}
# (button verb, step) → what it does; any other press is stale (the router then re-asks the step).
PRESSES: dict[tuple[str, str], Press] = {
    ("h", "home"): _home,
    ("c", "category"): _chose_category,
    ("c", OFFER): _offered_category,
    ("o", OFFER): _not_a_report,
    ("a", OFFER): _add_to_parked,
    ("m", "metoo"): _me_too,
    ("n", "metoo"): _new_report,
    ("l", "location"): _where,
    ("e", "confirm"): _edit,
    ("ok", "confirm"): _submit,
    ("s", "confirm"): _share,
}


def on_press(ctx: Context, press: actions.Report) -> list[Reply]:
    """Buttons of the report flow; any that do not fit the current step are stale."""
    if ctx.state.flow != NAME:
        return [stale()]
    act = _cancel if press.verb == "x" else PRESSES.get((press.verb, ctx.state.step))
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


def resume(ctx: Context) -> list[Reply]:
    """Re-ask the current step of a report brought back from the parking slot (or left unanswered)."""
    return _kept(ctx, _resume)


def _resume(ctx: Context, draft: ReportDraft) -> list[Reply]:
    step = ctx.state.step
    if step == "home":
        return [_choose_home(ctx)]
    if step == OFFER:
        return [_offer_reply(ctx, draft)]
    filled = [Reply("report.resumed", _filled(ctx, draft))] if draft.category or draft.given() else []
    if step == "category" or not draft.category:
        ctx.state.step = "category"
        return [*filled, _category_reply(ctx)]
    if step == "location":
        return [*filled, _ask_location(ctx, draft)]
    if step == "describe" or not (draft.description or draft.voice):
        ctx.state.step = "describe"
        return [*filled, _ask_description(draft)]
    draft.match_id = None  # the "me too" question, or a step of an older release: the summary
    return [_summary(ctx, draft)]


# --- typed text, voice, photos and locations, by step ------------------------------------------------

Text = Callable[[Context, ReportDraft, Inbound], list[Reply]]


def _describe(ctx: Context, draft: ReportDraft, inbound: Inbound) -> list[Reply]:
    text = inbound.text.strip()
    voice = next((a for a in inbound.attachments if a.kind == "voice"), None)
    full = _add_photos(draft, inbound)
    if voice is not None:
        draft.voice, draft.description = (inbound.channel, voice.ref, voice.duration or 0), text
    elif text:
        draft.description, draft.voice = text, None
    elif any(a.kind == "photo" for a in inbound.attachments):  # a photo alone: kept; words still needed
        return [*full, _ask_description(draft)]  # which says how many photos it has
    else:
        return [Reply("report.need_description"), _ask_description(draft)]
    return [*full, *_go_on(ctx, draft)]


def _at_summary(ctx: Context, draft: ReportDraft, inbound: Inbound) -> list[Reply]:
    """On the summary: photos are added, a location replaces the building, more words are added to the
    description (a word that only confirms is pointed to ✅提交); the summary shows again."""
    text = inbound.text.strip()
    if inbound.location is not None:
        draft.latitude, draft.longitude = inbound.location.latitude, inbound.location.longitude
        draft.location_text = ""
        return [_summary(ctx, draft)]
    full = _add_photos(draft, inbound)
    voice = next((a for a in inbound.attachments if a.kind == "voice"), None)
    if voice is not None:
        draft.voice = (inbound.channel, voice.ref, voice.duration or 0)
    if text.lower().strip("。.!！ ") in CONFIRMING:  # "好的" means the summary is right, not more words
        return [Reply("report.tap_submit"), _summary(ctx, draft)]
    if text:
        longer = f"{draft.description}\n{text}" if draft.description else text
        if len(longer) > filing.MAX_DESCRIPTION:
            return [_too_long(longer), _summary(ctx, draft)]
        draft.description = longer
    if not (text or voice or inbound.attachments):
        return [Reply("report.use_buttons"), _summary(ctx, draft)]
    return [*full, _summary(ctx, draft)]


def _location(ctx: Context, draft: ReportDraft, inbound: Inbound) -> list[Reply]:
    if inbound.location is None:
        return [Reply("report.location_expected"), _ask_location(ctx, draft)]
    draft.latitude, draft.longitude = inbound.location.latitude, inbound.location.longitude
    draft.location_text = ""
    return [_summary(ctx, draft)]


def _offered(ctx: Context, draft: ReportDraft, inbound: Inbound) -> list[Reply]:
    """More words or photos while the offer is open: added, and the offer shows again."""
    text = inbound.text.strip()
    if len(f"{draft.description}\n{text}") > filing.MAX_DESCRIPTION:
        return [_too_long(f"{draft.description}\n{text}")]
    full = _take(draft, inbound, text)
    return [*full, _offer_reply(ctx, draft)]


def _waiting(ctx: Context, draft: ReportDraft, inbound: Inbound) -> list[Reply]:
    """A step that takes a button: photos sent meanwhile are kept, anything else is asked again."""
    full = _add_photos(draft, inbound)
    return [*full, Reply("report.use_buttons"), *_resume(ctx, draft)]


TEXTS: dict[str, Text] = {
    "describe": _describe,
    "confirm": _at_summary,
    "photos": _at_summary,  # a draft saved by an older release at its photo step: photos go on the summary
    "location": _location,
    OFFER: _offered,
    "category": _waiting,
    "metoo": lambda ctx, draft, _: [Reply("report.use_buttons")],
    "home": _waiting,
}


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Typed text, voice, photos and locations inside the report flow; text longer than a description
    may be is refused at any step, with the limit the prompt states."""
    text = inbound.text.strip()
    if len(text) > filing.MAX_DESCRIPTION:
        if ctx.state.step in ("describe", "confirm") and any(a.kind == "photo" for a in inbound.attachments):
            # The words are refused, not the photo: it joins the draft, and the words go back to the box.
            return _kept(ctx, lambda ctx, draft: [*_add_photos(draft, inbound), _too_long(text)])
        return [_too_long(text)]
    step = TEXTS.get(ctx.state.step)
    if step is None:
        return _kept(ctx, _resume)  # a step of an older release
    return _kept(ctx, step, inbound)


def keeps(state: State) -> bool:
    """A report is worth keeping once the resident gave words, a voice or a photo (not while it is only
    offered)."""
    return state.step != OFFER and ReportDraft.of(state).given()


FLOW = Flow(
    NAME,
    {"/report": Command(lambda ctx, _: start(ctx), leaves_flow=True, members_only=True)},
    actions.Report,
    on_press,
    on_message,
    resume=resume,
    keeps=keeps,
    text_limit=filing.MAX_DESCRIPTION,
)
