"""What hot-spot events tell whom (registered with `tells`).

A new cluster puts the proactive ticket's card before the community staff who hold it, with its task
buttons and, for a building, the button that tells the building; a ticket joining an open cluster is a
line to them; telling the building writes one row per resident in one statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core import actions
from core.events import HotSpotJoined, HotSpotOpened, HotSpotTold
from core.notify import Choice, Message, tells
from core.ticket_cards import iso, task_actions
from core.work import Work
from db import outbox
from db.cases import places
from db.hotspots.tables import BUILDING, HotSpot
from db.models import OrgNode, Ticket

OPENED = "hotspots.opened"
JOINED = "hotspots.joined"
TOLD = "hotspots.told"


def _where(work: Work, spot: HotSpot) -> str:
    compound = work.session.get(OrgNode, spot.compound_id)
    building = work.session.get(OrgNode, spot.building_id)
    return " ".join(n.name for n in (compound, building) if n is not None)


def _not_before(work: Work, urgent: bool) -> Any:
    goes = None if urgent else work.policy.quiet_until(work.now)
    return None if goes == work.now else goes


@tells(HotSpotOpened)
def opened(work: Work, event: HotSpotOpened) -> list[Message]:
    """The community staff holding the proactive ticket get its card: the cluster, and what to do."""
    spot = work.session.get(HotSpot, event.hot_spot_id)
    ticket = work.session.get(Ticket, event.ticket_id)
    if spot is None or ticket is None:
        return []
    rows: list[tuple[Choice, ...]] = [
        tuple(Choice(press, label) for press, label in row) for row in task_actions(ticket)
    ]
    if spot.kind == BUILDING:
        rows.append((Choice(actions.HotSpotPress("t", spot=spot.id), "hotspots.btn_tell"),))
    context = {
        "code": ticket.id,
        "category": ticket.category,
        "kind": spot.kind,
        "where": _where(work, spot),
        "tickets": list(event.tickets),
        "size": spot.size,
        "days": work.policy.cluster_window.days,
        "repeat_days": work.policy.repeat_window.days,
        "due": iso(ticket.clock_due_at),
        "urgent": ticket.urgent,
    }
    goes = _not_before(work, ticket.urgent)
    return [
        Message(person_id, OPENED, context, tuple(rows), ticket.urgent, goes, ticket_id=ticket.id)
        for person_id in dict.fromkeys(places.holders_of(work.session, ticket))
    ]


@tells(HotSpotJoined)
def joined(work: Work, event: HotSpotJoined) -> list[Message]:
    """Whoever holds the proactive ticket hears that one more ticket joined it."""
    ticket = work.session.get(Ticket, event.ticket_id)
    if ticket is None:
        return []
    context = {"code": ticket.id, "category": ticket.category, "joined": event.joined, "size": event.size}
    goes = _not_before(work, ticket.urgent)
    return [
        Message(person_id, JOINED, context, (), ticket.urgent, goes, ticket_id=ticket.id)
        for person_id in dict.fromkeys(places.holders_of(work.session, ticket))
    ]


@tells(HotSpotTold)
def told(work: Work, event: HotSpotTold) -> Iterable[Message]:
    """Every owner and tenant of the building hears, once, that the problem is known and being handled."""
    spot = work.session.get(HotSpot, event.hot_spot_id)
    if spot is None or not event.recipients:
        return ()
    context = {"code": spot.ticket_id, "category": spot.category, "where": _where(work, spot)}
    outbox.enqueue_many(
        work.session,
        [{"person_id": person_id} for person_id in event.recipients],
        template=TOLD,
        context=context,
        buttons=[],
        created_at=work.now,
        not_before=_not_before(work, False),
    )
    return ()
