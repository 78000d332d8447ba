"""/my and a ticket's page: state, timeline, adding a note or photo, withdrawing."""

from __future__ import annotations

from typing import Any

from core import actions, tickets
from core import ticket_views as views
from core.tickets import TicketError
from db.cases.states import OPEN_STATES
from db.tickets import MAX_NOTE
from handlers.common import stale
from handlers.context import Context
from handlers.flows import Command, Draft, Flow
from handlers.types import Attachment, Button, Inbound, Reply, shows_photo

NAME = "note"
LISTED = 12  # tickets with a button of their own in /my


class NoteDraft(Draft):
    """The ticket a note is being written for."""

    ticket_id: int | None = None


def _menu(command: str, label: str) -> Button:
    return Button(actions.Menu(command=command).encode(), label)


def my(ctx: Context) -> list[Reply]:
    """`/my`: the resident's tickets with their state and last change."""
    items = views.my_tickets(ctx.work, ctx.actor())
    if not items:
        return [Reply("progress.none", {}, [[_menu("/report", "report")]])]
    rows = [
        {
            "code": t.id,
            "category": _category_name(ctx, t.category),
            "state": t.state,
            "updated_at": t.updated_at,
        }
        for t in items
    ]
    buttons = [
        Button(actions.MyTicket("v", ticket=t.id).encode(), "ticket", args={"code": t.id})
        for t in items[:LISTED]
    ]
    return [
        Reply("progress.list", {"tickets": rows}, [buttons[i : i + 3] for i in range(0, len(buttons), 3)])
    ]


def _category_name(ctx: Context, key: str) -> str:
    category = ctx.catalog.get(key)
    return category.name(ctx.locale) if category else key


def show(ctx: Context, ticket_id: int | None) -> list[Reply]:
    """A ticket's page, only for its reporter or those who joined it."""
    try:
        page = views.ticket_page(ctx.work, ctx.actor(), ticket_id) if ticket_id else None
    except TicketError:
        page = None
    if page is None:
        return [Reply("progress.not_found", {"code": ticket_id or ""})]
    ticket = page.ticket
    events: list[dict[str, Any]] = []
    photos: list[Attachment] = []
    for event, files in page.timeline:
        events.append(
            {
                "at": event.at,
                "kind": event.kind,
                "role": event.actor_role,
                "mine": event.actor_id == ctx.person_id,
                "note": event.note,
                "photos": sum(1 for f in files if f.kind == "photo"),
                "voice": next((f.duration or 0 for f in files if f.kind == "voice"), None),
            }
        )
        photos.extend(
            Attachment("photo", f.ref)
            for f in files
            if f.kind == "photo" and shows_photo(f.channel, ctx.person.channel)
        )
    buttons: list[list[Button]] = []
    if ticket.state == "resolved" and ticket.reporter_id == ctx.person_id:
        # Opened from the follow-up's link (WeChat's template message leads here): rate on the page.
        buttons.append(
            [
                Button.of(actions.Rate(verb, ticket=ticket.id), label)
                for verb, label in (
                    ("s", "rate_satisfied"),
                    ("b", "rate_basically"),
                    ("d", "rate_dissatisfied"),
                )
            ]
        )
    if ticket.state in OPEN_STATES:
        buttons.append(
            [
                Button(actions.MyTicket("n", ticket=ticket.id).encode(), "add_note"),
                Button(
                    actions.MyTicket("w", ticket=ticket.id).encode(), "withdraw" if page.mine else "leave"
                ),
            ]
        )
    buttons.append([_menu("/my", "back_to_list")])
    return [
        Reply(
            "progress.ticket",
            {
                "code": ticket.id,
                "category": _category_name(ctx, ticket.category),
                "state": ticket.state,
                "urgent": ticket.urgent,
                "home": page.home,
                "description": ticket.description,
                "weight": ticket.weight,
                "mine": page.mine,
                "events": events,
            },
            buttons,
            photos=photos[:10],
        )
    ]


def _cancel_row() -> list[Button]:
    return [Button(actions.MyTicket("x").encode(), "cancel")]


def on_press(ctx: Context, press: actions.MyTicket) -> list[Reply]:
    """Ticket buttons: view, add a note, withdraw (with a confirmation); cancel the note."""
    if press.verb == "x":
        return cancel_note(ctx)
    ticket_id = press.ticket
    assert ticket_id is not None  # every other verb carries a ticket: decode checked the shape
    if press.verb == "v":
        return show(ctx, ticket_id)
    try:
        if press.verb == "y":
            done = tickets.withdraw(ctx.work, ctx.actor(), ticket_id)
            return [Reply("progress.withdrawn", {"code": ticket_id, "mine": done.mine})]
        followed = tickets.check_followed(ctx.work, ctx.actor(), ticket_id)
    except TicketError as error:
        if error.reason == "not_open":
            return [Reply("progress.not_open", {"code": ticket_id, "state": error.state})]
        return [Reply("progress.not_found", {"code": ticket_id})]
    if press.verb == "n":
        ctx.state.go(NAME, "text")
        NoteDraft(ticket_id=ticket_id).keep(ctx.state)
        return [Reply("progress.ask_note", {"code": ticket_id}, [_cancel_row()])]
    sure = actions.MyTicket("y", ticket=ticket_id).encode()
    back = actions.MyTicket("v", ticket=ticket_id).encode()
    return [
        Reply(
            "progress.confirm_withdraw",
            {"code": ticket_id, "mine": followed.mine},
            [[Button(sure, "withdraw_yes"), Button(back, "withdraw_no")]],
        )
    ]


def cancel_note(ctx: Context) -> list[Reply]:
    """Leave the note flow without writing anything."""
    if ctx.state.flow != NAME:
        return [stale()]
    ctx.state.clear()
    return [Reply("common.cancelled")]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """The note flow: one message of text and/or photo is added to the ticket."""
    ticket_id = NoteDraft.of(ctx.state).ticket_id
    try:
        if ticket_id is None:
            raise TicketError("not_found")
        tickets.check_followed(ctx.work, ctx.actor(), ticket_id)
    except TicketError as error:
        ctx.state.clear()
        return [Reply("progress.not_open", {"code": ticket_id or "", "state": error.state})]
    text = inbound.text.strip()
    if len(text) > MAX_NOTE:
        return [Reply("report.too_long", {"limit": MAX_NOTE, "length": len(text)})]
    photos = [(inbound.channel, a.ref) for a in inbound.attachments if a.kind == "photo"][-1:]
    if not text and not photos:
        return [Reply("progress.ask_note", {"code": ticket_id}, [_cancel_row()])]
    tickets.add_note(ctx.work, ctx.actor(), ticket_id, text, photos)
    ctx.state.clear()
    return [Reply("progress.note_added", {"code": ticket_id}), *show(ctx, ticket_id)]


FLOW = Flow(
    NAME,
    {"/my": Command(lambda ctx, _: my(ctx), leaves_flow=True, members_only=True)},
    actions.MyTicket,
    on_press,
    on_message,
)
