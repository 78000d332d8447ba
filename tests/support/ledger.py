"""Statements of accounts in tests: the compounds, the acting people, and a unit of work to run use cases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from bot.bootstrap import App
from core import notify
from core.permissions import Actor
from core.work import Work
from db import org, people
from db.ledger.lines import LineDraft
from db.rows import id_of

COMMUNITY = "铁西区/北沟街道/英雄社区"
SUNSHINE = f"{COMMUNITY}/阳光花园"  # served by the demo company 阳光物业服务有限公司
PEACE = f"{COMMUNITY}/和平里小区"


def node_id(app: App, path: str) -> int:
    """The id of the node at a path of names."""
    with app.sessions() as session:
        node = org.find_node(session, path)
        assert node is not None, path
        return id_of(node)


def actor_of(app: App, person_id: int, on: date | None = None) -> Actor:
    """A person as the permission policy sees them today (the test clock's day)."""
    with app.sessions() as session:
        return people.actor(session, person_id, on or app.clock.now().date())


@contextmanager
def work(app: App, via: str = "chat") -> Iterator[Work]:
    """A unit of work at the test clock's time, published and committed when the block ends."""
    with app.sessions() as session:
        unit = Work(session, app.clock.now(), app.policy, via=via)
        yield unit
        notify.publish(unit)
        session.commit()


def income(category: str, fen: int, note: str = "") -> LineDraft:
    """An income line."""
    return LineDraft("income", category, fen, note)


def expense(category: str, fen: int, note: str = "", project: str = "") -> LineDraft:
    """An expense line."""
    return LineDraft("expense", category, fen, note, project)
