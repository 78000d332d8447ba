"""Property companies in tests: a company serving compounds, and a chat user on its staff."""

from __future__ import annotations

from datetime import date

from bot.bootstrap import App
from db import companies, org, people
from tests.support.chat import ChatUser


def company_serving(app: App, name: str, *compound_paths: str, since: date = date(2026, 1, 1)) -> int:
    """A company serving the compounds at these paths (names joined with '/') since a day; its id."""
    with app.sessions() as session:
        company = companies.ensure(session, name, app.clock.now())
        assert company.id is not None
        for path in compound_paths:
            node = org.find_node(session, path)
            assert node is not None and node.id is not None, path
            companies.sign(session, company.id, node.id, since, None)
        session.commit()
        return company.id


def company_staff(app: App, company_id: int, user_id: str, name: str = "物业客服") -> ChatUser:
    """A chat user who joined as one of the company's staff through a company invite."""
    with app.sessions() as session:
        code = people.create_invite(session, "property_staff", app.clock.now(), company_id=company_id).code
        session.commit()
    user = ChatUser(app.service, user_id, name=name)
    user.say(f"/start {code}")
    return user
