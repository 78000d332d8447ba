"""Evaluation in tests: the demo company, actors of chat users, a unit of work, and the pushes queued."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from bot.bootstrap import App
from core import notify
from core.permissions import Actor
from core.work import Work
from db import companies, org, people
from db.models import Outbox, Ticket, TicketEvent
from tests.support.chat import ChatUser, person_of

COMMUNITY = "铁西区/北沟街道/英雄社区"
SUNSHINE = f"{COMMUNITY}/阳光花园"
PEACE = f"{COMMUNITY}/和平里小区"
DEMO_COMPANY = "阳光物业服务有限公司"


def company_id(app: App, name: str = DEMO_COMPANY) -> int:
    """The id of a company by name."""
    with app.sessions() as session:
        found = companies.by_name(session, name)
        assert found is not None and found.id is not None
        return found.id


def node_id(app: App, path: str) -> int:
    """The id of an org node by its names joined with '/'."""
    with app.sessions() as session:
        node = org.find_node(session, path)
        assert node is not None and node.id is not None, path
        return node.id


def actor_of(app: App, user: ChatUser) -> Actor:
    """The chat user as the permission policy sees them on the clock's day."""
    with app.sessions() as session:
        return people.actor(session, person_of(app.sessions, user), on=app.clock.now().date())


@contextmanager
def working(app: App) -> Iterator[Work]:
    """A unit of work at the clock's time: its events are published and it commits when the block ends."""
    with app.sessions() as session:
        work = Work(session, app.clock.now(), app.policy)
        yield work
        notify.publish(work)
        session.commit()


def pushes(app: App, template: str, user: ChatUser | None = None) -> list[Outbox]:
    """The outbox rows of a template (for one chat user), oldest first."""
    with app.sessions() as session:
        query = select(Outbox).where(Outbox.template == template)
        if user is not None:
            query = query.where(Outbox.person_id == person_of(app.sessions, user))
        return list(session.exec(query.order_by(col(Outbox.id))).all())


def add_ticket(app: App, compound_path: str, category: str, at: datetime, **fields: Any) -> int:
    """A ticket filed at `at` in a compound with the given fields (deadlines default to 1 h and 7 days);
    `escalated=True` adds an escalation to its timeline."""
    escalated = fields.pop("escalated", False)
    with app.sessions() as session:
        compound = org.find_node(session, compound_path)
        assert compound is not None
        reporter = fields.pop("reporter_id", None) or _someone(session)
        ticket = Ticket(
            category=category,
            sla_class="general",
            reporter_id=reporter,
            compound_id=compound.id,
            created_at=at,
            updated_at=at,
            accept_due_at=fields.pop("accept_due_at", at + timedelta(hours=1)),
            resolve_due_at=fields.pop("resolve_due_at", at + timedelta(days=7)),
            **fields,
        )
        session.add(ticket)
        session.flush()
        if escalated:
            session.add(
                TicketEvent(
                    ticket_id=ticket.id, at=at, actor_role="system", kind="escalated", note="grid>community"
                )
            )
        session.commit()
        assert ticket.id is not None
        return ticket.id


def _someone(session: Any) -> int:
    from db.models import Person

    person = session.exec(select(Person).order_by(col(Person.id))).first()
    if person is None:
        person = Person(name="居民", created_at=datetime(2026, 1, 1, tzinfo=UTC))
        session.add(person)
        session.flush()
    return int(person.id)
