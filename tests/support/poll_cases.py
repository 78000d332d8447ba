"""Polls driven through their use cases, as the chat, the CLI and the poll job drive them: each call is one
unit of work whose events are published to the outbox in the caller's transaction (the caller commits)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from core import notify
from core import polls as use_cases
from core.permissions import SYSTEM, Actor
from core.work import Work
from db import people
from db.models import Poll
from db.sla import Policy


def actor_of(session: Session, person_id: int | None) -> Actor:
    """A person as the permission policy sees them (None: the system, as the CLI acts)."""
    return people.actor(session, person_id) if person_id is not None else SYSTEM


def create(
    session: Session, author_id: int | None, draft: use_cases.Draft, now: datetime, policy: Policy
) -> Poll:
    """Create and announce a poll."""
    work = Work(session, now, policy)
    poll = use_cases.create_poll(work, actor_of(session, author_id), draft).poll
    notify.publish(work)
    return poll


def step(session: Session, poll: Poll, now: datetime, policy: Policy, key: bytes) -> str:
    """Apply the poll's due step, as the poll job does; returns what was done."""
    work = Work(session, now, policy)
    done = use_cases.advance(work, poll, key)
    notify.publish(work)
    return done


def withdraw(session: Session, poll_id: int, person_id: int | None, now: datetime, policy: Policy) -> Poll:
    """Withdraw a poll before it opens."""
    work = Work(session, now, policy)
    poll = use_cases.withdraw_poll(work, actor_of(session, person_id), poll_id)
    notify.publish(work)
    return poll
