"""/my and a ticket's page: state, timeline, adding a note or photo, withdrawing."""

from __future__ import annotations

from typing import Any

from db import cases, people, tickets
from db.models import Ticket
from handlers.common import parse_id, stale
from handlers.context import Context
from handlers.types import Attachment, Button, Inbound, Reply

FLOW = "note"


def my(ctx: Context) -> list[Reply]:
    """`/my`: the resident's tickets with their state and last change."""
    items = tickets.tickets_of(ctx.session, ctx.person_id)  # type: ignore[arg-type]
    if not items:
        return [Reply("progress.none", {}, [[Button("cmd:/report", "report")]])]
    rows = [
        {"code": t.id, "category": _category_name(ctx, t), "state": t.state, "updated_at": t.updated_at}
        for t in items
    ]
    buttons = [Button(f"t:v:{t.id}", "ticket", args={"code": t.id}) for t in items[:12]]
    return [
        Reply("progress.list", {"tickets": rows}, [buttons[i : i + 3] for i in range(0, len(buttons), 3)])
    ]


def _category_name(ctx: Context, ticket: Ticket) -> str:
    category = ctx.catalog.get(ticket.category)
    return category.name(ctx.locale) if category else ticket.category


def show(ctx: Context, ticket_id: int | None) -> list[Reply]:
    """A ticket's page, only for its reporter or those who joined it."""
    ticket = tickets.visible_ticket(ctx.session, ticket_id, ctx.person_id) if ticket_id else None  # type: ignore[arg-type]
    if ticket is None:
        return [Reply("progress.not_found", {"code": ticket_id or ""})]
    events: list[dict[str, Any]] = []
    photos: list[Attachment] = []
    for event, files in tickets.timeline(ctx.session, ticket.id):  # type: ignore[arg-type]
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
            if f.kind == "photo" and f.channel in (ctx.person.channel, "web")
        )
    mine = ticket.reporter_id == ctx.person_id
    # Someone who joined with "me too" sees the problem, never the reporter's home.
    view = people.home_view(ctx.session, ticket.home_id) if ticket.home_id and mine else None
    buttons: list[list[Button]] = []
    if ticket.state in tickets.OPEN_STATES:
        buttons.append(
            [
                Button(f"t:n:{ticket.id}", "add_note"),
                Button(f"t:w:{ticket.id}", "withdraw" if mine else "leave"),
            ]
        )
    buttons.append([Button("cmd:/my", "back_to_list")])
    return [
        Reply(
            "progress.ticket",
            {
                "code": ticket.id,
                "category": _category_name(ctx, ticket),
                "state": ticket.state,
                "urgent": ticket.urgent,
                "home": view.label if view else "",
                "description": ticket.description,
                "weight": ticket.weight,
                "mine": mine,
                "events": events,
            },
            buttons,
            photos=photos[:10],
        )
    ]


def on_button(ctx: Context, data: str) -> list[Reply]:
    """Ticket buttons: view, add a note, withdraw (with a confirmation)."""
    parts = data.split(":")
    if len(parts) != 3:
        return [stale()]
    _, action, raw = parts
    ticket_id = parse_id(raw)
    if action == "v":
        return show(ctx, ticket_id)
    ticket = tickets.visible_ticket(ctx.session, ticket_id, ctx.person_id) if ticket_id else None  # type: ignore[arg-type]
    if ticket is None:
        return [Reply("progress.not_found", {"code": ticket_id or ""})]
    if ticket.state not in tickets.OPEN_STATES:
        return [Reply("progress.not_open", {"code": ticket.id, "state": ticket.state})]
    if action == "n":
        ctx.state.go(FLOW, "text", ticket_id=ticket.id)
        return [Reply("progress.ask_note", {"code": ticket.id}, [[Button("t:x:0", "cancel")]])]
    if action == "w":
        mine = ticket.reporter_id == ctx.person_id
        return [
            Reply(
                "progress.confirm_withdraw",
                {"code": ticket.id, "mine": mine},
                [[Button(f"t:y:{ticket.id}", "withdraw_yes"), Button(f"t:v:{ticket.id}", "withdraw_no")]],
            )
        ]
    if action == "y":
        mine = ticket.reporter_id == ctx.person_id
        tickets.withdraw(ctx.session, ticket, ctx.person_id, ctx.now)  # type: ignore[arg-type]
        return [Reply("progress.withdrawn", {"code": ticket.id, "mine": mine})]
    return [stale()]


def cancel_note(ctx: Context) -> list[Reply]:
    """Leave the note flow without writing anything."""
    if ctx.state.flow != FLOW:
        return [stale()]
    ctx.state.clear()
    return [Reply("common.cancelled")]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """The note flow: one message of text and/or photo is added to the ticket."""
    ticket_id = ctx.state.data.get("ticket_id")
    ticket = tickets.visible_ticket(ctx.session, ticket_id, ctx.person_id) if ticket_id else None  # type: ignore[arg-type]
    if ticket is None or ticket.state not in tickets.OPEN_STATES:
        ctx.state.clear()
        return [
            Reply("progress.not_open", {"code": ticket_id or "", "state": ticket.state if ticket else ""})
        ]
    text = inbound.text.strip()
    if len(text) > tickets.MAX_NOTE:
        return [Reply("report.too_long", {"limit": tickets.MAX_NOTE, "length": len(text)})]
    photos = [(inbound.channel, a.ref) for a in inbound.attachments if a.kind == "photo"][-1:]
    if not text and not photos:
        return [Reply("progress.ask_note", {"code": ticket.id}, [[Button("t:x:0", "cancel")]])]
    tickets.add_note(ctx.session, ticket, ctx.person_id, text, photos, ctx.now)  # type: ignore[arg-type]
    if ticket.state == "waiting_for_resident" and ticket.reporter_id == ctx.person_id:
        cases.resident_answered(ctx.session, ticket, ctx.now, ctx.policy)
    ctx.state.clear()
    return [Reply("progress.note_added", {"code": ticket.id}), *show(ctx, ticket.id)]
