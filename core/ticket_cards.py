"""The task card: what a handler is shown about a ticket, pushed or opened, and which actions it offers.

One view for both ways a card reaches someone (the notify layer's push, the chat's /tasks and `#code`), so
they cannot differ; the property company sees the complainant only with their consent (DESIGN §3), grid
workers and community staff a masked phone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from core import actions, permissions
from core.permissions import Action
from db.cases import places, states
from db.models import Attachment, Identity, Person, Ticket, TicketEvent
from db.people import grants_of, home_view

# The card's actions, by the label each button shows (a key of buttons.j2).
Actions = tuple[tuple[tuple[actions.Task, str], ...], ...]


def mask_phone(phone: str) -> str:
    """138****1234 for a mainland mobile number; other numbers keep only their last four digits."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    return f"****{digits[-4:]}" if len(digits) >= 4 else ""


def iso(moment: datetime | None) -> str:
    """A moment as the templates take it (ISO 8601), or "" for none."""
    return moment.isoformat() if moment else ""


def sees_reporter(session: Session, person_id: int, ticket: Ticket) -> bool:
    """Whether a person's task card shows the complainant's home and masked phone (DESIGN §3)."""
    actor = permissions.Actor(person_id, grants_of(session, person_id))
    return permissions.may(actor, Action.SEE_REPORTER, places.ticket_target(session, ticket))


def phone_tail(phone: str) -> str:
    """The last four digits of a phone number ("" without four): a worker told apart without a name."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-4:] if len(digits) >= 4 else ""


def shown_name(session: Session, person: Person | None) -> str:
    """How a worker or staff member is named to others: their name, else the name their chat account
    shows; "" when neither (the template then says their role and the tail of their phone)."""
    if person is None:
        return ""
    if person.name.strip():
        return person.name.strip()
    names = session.exec(
        select(Identity.display_name).where(Identity.person_id == person.id).order_by(col(Identity.id))
    ).all()
    return next((n.strip() for n in names if n.strip()), "")


def _resident_photos(ticket_ids: list[int]) -> Any:
    """The residents' photos of tickets (the handler's own photos are on the timeline)."""
    return (
        select(Attachment.ticket_id, Attachment.channel, Attachment.ref)
        .join(TicketEvent, col(TicketEvent.id) == Attachment.event_id)
        .where(
            col(Attachment.ticket_id).in_(ticket_ids),
            Attachment.kind == "photo",
            TicketEvent.actor_role == "resident",
        )
        .order_by(col(Attachment.id))
    )


def photo_counts(session: Session, ticket_ids: list[int]) -> dict[int, int]:
    """How many photos the residents sent with each ticket (a queue line shows it)."""
    counts: dict[int, int] = dict.fromkeys(ticket_ids, 0)
    if ticket_ids:
        for ticket_id, _, _ in session.exec(_resident_photos(ticket_ids)).all():
            counts[ticket_id] = counts.get(ticket_id, 0) + 1
    return counts


def card_context(session: Session, ticket: Ticket, private: bool) -> dict[str, Any]:
    """What a task card shows: the problem, where, when due; the complainant only when allowed."""
    photos = [(channel, ref) for _, channel, ref in session.exec(_resident_photos([ticket.id or 0])).all()]
    voice = session.exec(
        select(Attachment.channel, Attachment.ref, Attachment.duration)
        .join(TicketEvent, col(TicketEvent.id) == Attachment.event_id)
        .where(
            Attachment.ticket_id == ticket.id,
            Attachment.kind == "voice",
            TicketEvent.actor_role == "resident",
        )
        .order_by(col(Attachment.id))
    ).first()  # the report's spoken description, if it was spoken
    view = home_view(session, ticket.home_id) if ticket.home_id else None
    reporter = session.get(Person, ticket.reporter_id)
    return {
        "description": ticket.description,
        "building": f"{view.compound} {view.building}" if view else "",
        "home": "" if private or view is None else view.label,
        "phone": "" if private or reporter is None else mask_phone(reporter.phone),
        "location": ticket.location_text
        or (f"{ticket.latitude:.5f}, {ticket.longitude:.5f}" if ticket.latitude is not None else ""),
        "photos": len(photos),
        "weight": ticket.weight,
        "urgent": ticket.urgent,
        "state": ticket.state,
        "level": ticket.level,
        "stage": ticket.clock_stage,
        "due": iso(ticket.clock_due_at),
        "_photos": [[channel, ref] for channel, ref in photos][:10],
        "_voice": [voice[0], voice[1], voice[2] or 0] if voice else [],  # channel, ref, seconds
    }


def task_actions(ticket: Ticket) -> Actions:
    """The task card's buttons for whoever holds a ticket: accept it, or report progress and ask; then
    resolve or ask for a transfer."""
    code = ticket.id
    if ticket.state in states.UNACCEPTED:
        first: tuple[tuple[actions.Task, str], ...] = ((actions.Task("a", ticket=code), "task_accept"),)
    else:
        first = (
            (actions.Task("p", ticket=code), "task_progress"),
            (actions.Task("q", ticket=code), "task_ask"),
        )
    return (
        first,
        ((actions.Task("r", ticket=code), "task_resolve"), (actions.Task("t", ticket=code), "task_transfer")),
    )
