"""Property companies: their staff see the compounds the company serves, and nothing else."""

from __future__ import annotations

from datetime import date

from bot.bootstrap import App
from core.permissions import Action, may, place
from db import companies, org, people
from tests.support.chat import ChatUser, person_of
from tests.support.companies import company_serving, company_staff

SUNSHINE = "铁西区/北沟街道/英雄社区/阳光花园"
PEACE = "铁西区/北沟街道/英雄社区/和平里小区"


def _path(app: App, name: str) -> str:
    with app.sessions() as session:
        node = org.find_node(session, name)
        assert node is not None
        return node.path


def test_company_staff_see_only_the_compounds_their_company_serves(app: App) -> None:
    company = company_serving(app, "安居物业", SUNSHINE)
    clerk = company_staff(app, company, "clerk")
    with app.sessions() as session:
        actor = people.actor(session, person_of(app.sessions, clerk), on=date(2026, 6, 1))
    assert may(actor, Action.VIEW_QUEUE, place(_path(app, SUNSHINE)))
    assert not may(actor, Action.VIEW_QUEUE, place(_path(app, PEACE)))
    assert not may(actor, Action.VIEW_QUEUE, place(_path(app, "铁西区/北沟街道/英雄社区")))


def test_a_contract_that_ended_takes_the_compound_away(app: App) -> None:
    company = company_serving(app, "安居物业", SUNSHINE, since=date(2025, 1, 1))
    clerk = person_of(app.sessions, company_staff(app, company, "clerk"))
    with app.sessions() as session:
        node = org.find_node(session, SUNSHINE)
        assert node is not None and node.id is not None
        companies.sign(session, company, node.id, date(2025, 1, 1), date(2026, 3, 31))
        session.commit()
        during = people.actor(session, clerk, on=date(2026, 3, 31))
        after = people.actor(session, clerk, on=date(2026, 4, 1))
    where = place(_path(app, SUNSHINE))
    assert may(during, Action.VIEW_QUEUE, where)
    assert not may(after, Action.VIEW_QUEUE, where)


def test_the_demo_property_code_joins_the_demo_company(app: App) -> None:
    clerk = ChatUser(app.service, "demo-prop", name="物业")
    clerk.say("/start DEMO-PROPERTY")
    clerk.say("/queue")
    assert "queue.not_staff" not in clerk.text
    with app.sessions() as session:
        actor = people.actor(session, person_of(app.sessions, clerk))
    assert may(actor, Action.VIEW_QUEUE, place(_path(app, SUNSHINE)))
    assert not may(actor, Action.VIEW_QUEUE, place(_path(app, PEACE)))
