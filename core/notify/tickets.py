"""What tickets events tell whom (registered with `tells`).

Every message about a ticket carries its code and category, goes at once when the ticket is urgent and
otherwise waits for the end of quiet hours (DESIGN §4.1). Task cards go one per person: the property
company sees the complainant only with their consent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from core import actions
from core.events import (
    ProgressPosted,
    ResidentAnswered,
    ResidentAsked,
    ResidentUnreachable,
    TicketAccepted,
    TicketAssigned,
    TicketBreached,
    TicketClosedAsDuplicate,
    TicketEscalated,
    TicketReclassified,
    TicketReminded,
    TicketReopened,
    TicketReplied,
    TicketResolved,
    TicketSupervised,
    TransferDecided,
    TransferRequested,
)
from core.notify import Choice, Message, tells
from core.ticket_cards import card_context, iso, mask_phone, sees_reporter, task_actions
from core.work import Work
from db.cases import places
from db.models import Person, Ticket

Rows = tuple[tuple[Choice, ...], ...]


def _ticket(work: Work, ticket_id: int) -> Ticket:
    ticket = work.session.get(Ticket, ticket_id)
    if ticket is None:  # an event is published in the transaction that raised it: the row is there
        raise LookupError(f"ticket {ticket_id} is gone")
    return ticket


def _tell(
    work: Work,
    ticket: Ticket,
    people: Iterable[int],
    template: str,
    context: dict[str, Any],
    buttons: Rows = (),
    urgent: bool | None = None,
) -> list[Message]:
    """A message about a ticket to each person once; non-urgent ones wait for the end of quiet hours."""
    urgent = ticket.urgent if urgent is None else urgent
    not_before = None if urgent else work.policy.quiet_until(work.now)
    if not_before == work.now:
        not_before = None
    base = {"code": ticket.id, "category": ticket.category, **context}
    return [
        Message(person_id, template, base, buttons, urgent, not_before, ticket_id=ticket.id)
        for person_id in dict.fromkeys(people)
    ]


def _task_buttons(ticket: Ticket) -> Rows:
    return tuple(tuple(Choice(press, label) for press, label in row) for row in task_actions(ticket))


def _task_cards(
    work: Work,
    ticket: Ticket,
    template: str = "cases.task",
    recipients: Sequence[int] | None = None,
    extra: dict[str, Any] | None = None,
) -> list[Message]:
    """The task card to whoever must act, each with the complainant shown only where allowed."""
    session = work.session
    targets = places.holders_of(session, ticket) if recipients is None else recipients
    cards: dict[bool, dict[str, Any]] = {}
    messages: list[Message] = []
    for person_id in targets:
        private = not sees_reporter(session, person_id, ticket)
        if private not in cards:
            cards[private] = {**card_context(session, ticket, private=private), **(extra or {})}
        messages += _tell(work, ticket, [person_id], template, cards[private], _task_buttons(ticket))
    return messages


@tells(TicketAssigned)
def _assigned(work: Work, event: TicketAssigned) -> list[Message]:
    return _task_cards(work, _ticket(work, event.ticket_id))


@tells(TicketAccepted)
def _accepted(work: Work, event: TicketAccepted) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    residents = places.residents_of(work.session, ticket)
    return _tell(work, ticket, residents, "cases.accepted", {"role": event.role})


@tells(ProgressPosted)
def _progress(work: Work, event: ProgressPosted) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    context = {"role": event.role, "note": event.note, "_photos": [list(p) for p in event.photos]}
    return _tell(work, ticket, places.residents_of(work.session, ticket), "cases.progress", context)


@tells(ResidentAsked)
def _asked(work: Work, event: ResidentAsked) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    answer = ((Choice(actions.MyTicket("n", ticket=ticket.id), "answer"),),)
    context = {"role": event.role, "question": event.question}
    return _tell(work, ticket, [ticket.reporter_id], "cases.asked", context, answer)


@tells(ResidentAnswered)
def _answered(work: Work, event: ResidentAnswered) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    holders = places.holders_of(work.session, ticket)
    return _tell(work, ticket, holders, "cases.answered", {}, _task_buttons(ticket))


@tells(TransferRequested)
def _transfer_requested(work: Work, event: TransferRequested) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    decide = (
        (
            Choice(actions.Queue("ty", ticket=ticket.id), "transfer_approve"),
            Choice(actions.Queue("tn", ticket=ticket.id), "transfer_reject"),
        ),
    )
    staff = places.transfer_deciders(work.session, ticket)  # transfers are the community's call
    return _tell(work, ticket, staff, "cases.transfer_requested", {"reason": event.reason}, decide)


@tells(TransferDecided)
def _transfer_decided(work: Work, event: TransferDecided) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    context = {"approved": event.approved}
    return _tell(work, ticket, [event.requester_id], "cases.transfer_decided", context)


@tells(TicketResolved)
def _resolved(work: Work, event: TicketResolved) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    rate = (
        (
            Choice(actions.Rate("s", ticket=ticket.id), "rate_satisfied"),
            Choice(actions.Rate("b", ticket=ticket.id), "rate_basically"),
            Choice(actions.Rate("d", ticket=ticket.id), "rate_dissatisfied"),
        ),
    )
    context = {
        "role": event.role,
        "kind": event.kind,
        "note": event.note,
        "_photos": [list(p) for p in event.photos],
    }
    reporter = _tell(work, ticket, [ticket.reporter_id], "cases.resolved", {**context, "rate": True}, rate)
    others = [p for p in places.residents_of(work.session, ticket) if p != ticket.reporter_id]
    return reporter + _tell(work, ticket, others, "cases.resolved", {**context, "rate": False})


@tells(TicketReopened)
def _reopened(work: Work, event: TicketReopened) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    cards = _task_cards(work, ticket, "cases.reopened", extra={"comment": event.comment})
    supervisors = places.level_staff(work.session, ticket)
    context = {"level": ticket.level, "reason": "dissatisfied"}
    # Those who joined with "me too" last heard it was resolved: they hear it is being handled again.
    joined = [p for p in places.residents_of(work.session, ticket) if p != ticket.reporter_id]
    return (
        cards
        + _tell(work, ticket, supervisors, "cases.supervise", context)
        + _tell(work, ticket, joined, "cases.reopened_to_joined", {})
    )


@tells(TicketClosedAsDuplicate)
def _duplicate(work: Work, event: TicketClosedAsDuplicate) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    residents = places.residents_of(work.session, ticket)
    return _tell(work, ticket, residents, "cases.duplicate", {"original": event.original_id})


@tells(TicketReclassified)
def _reclassified(work: Work, event: TicketReclassified) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    context = {"urgent": event.urgent, "reason": event.reason, "due": iso(event.due)}
    return _tell(work, ticket, places.residents_of(work.session, ticket), "cases.reclassified", context)


@tells(TicketReplied)
def _replied(work: Work, event: TicketReplied) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    context = {"role": event.role, "note": event.note}
    return _tell(work, ticket, places.residents_of(work.session, ticket), "cases.reply", context)


@tells(TicketSupervised)
def _supervised(work: Work, event: TicketSupervised) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    context = {"role": event.role, "note": event.note}
    holders = places.holders_of(work.session, ticket)
    return _tell(work, ticket, holders, "cases.supervised", context, _task_buttons(ticket), urgent=True)


@tells(TicketReminded)
def _reminded(work: Work, event: TicketReminded) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    context = {"percent": round(event.point * 100), "due": iso(event.due), "stage": event.stage}
    holders = places.holders_of(work.session, ticket)
    return _tell(work, ticket, holders, "cases.reminder", context, _task_buttons(ticket))


@tells(TicketEscalated)
def _escalated(work: Work, event: TicketEscalated) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    staff = places.level_staff(work.session, ticket)
    holder = [ticket.holder_id] if ticket.holder_id is not None else []
    # The whole task card (its template needs it): the new level's staff may never have seen the ticket.
    recipients = list(dict.fromkeys([*staff, *holder]))
    extra = {"by_hand": event.by_hand}
    cards = _task_cards(work, ticket, "cases.escalated_task", recipients, extra)
    residents = places.residents_of(work.session, ticket)
    context = {"level": event.to_level, "by_hand": event.by_hand}
    return cards + _tell(work, ticket, residents, "cases.escalated", context)


@tells(TicketBreached)
def _breached(work: Work, event: TicketBreached) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    supervisors = places.top_supervisors(work.session, ticket)
    context = {"level": event.level, "reason": "top"}
    return _tell(work, ticket, supervisors, "cases.supervise", context, urgent=True)


@tells(ResidentUnreachable)
def _unreachable(work: Work, event: ResidentUnreachable) -> list[Message]:
    ticket = _ticket(work, event.ticket_id)
    resident = work.session.get(Person, event.resident_id)
    context = {"phone": mask_phone(resident.phone) if resident else ""}
    return _tell(
        work,
        ticket,
        places.holders_of(work.session, ticket),
        "cases.resident_unreachable",
        context,
        urgent=True,
    )
