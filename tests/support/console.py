"""Console test support: sign a chat user in to the console as they would (the /console link, the
button), and post forms with the session's CSRF token."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from httpx import Response

from bot.bootstrap import App
from bot.web import create_web_app
from tests.support.chat import ChatUser

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
LINK = re.compile(r"(https?://\S+/console/signin\?t=\S+)")


class Desk:
    """A browser at the console for one person: `get`, and `post` that adds the CSRF token."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def get(self, path: str, **kw: Any) -> Response:
        """GET a console page (remembering the CSRF token it carries)."""
        response = self.client.get(path, **kw)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Response:
        """POST a form from a console page, with this session's CSRF token."""
        if not self.csrf:
            self.get("/console")
        return self.client.post(path, data={"csrf": self.csrf, **(data or {})}, **kw)


def link_token(user: ChatUser) -> str:
    """Ask for /console in the chat and return the token of the link it answers with."""
    user.say("/console")
    found = LINK.search(user.text)
    assert found, user.text
    return parse_qs(urlsplit(found.group(1)).query)["t"][0]


def client(app: App) -> TestClient:
    """A browser on the app's web server (cookies kept between requests; redirects not followed)."""
    return TestClient(create_web_app(app), base_url="http://testserver", follow_redirects=False)


def sign_in(app: App, user: ChatUser, browser: TestClient | None = None) -> Desk:
    """Sign the user in to the console the way they would: the link from the chat, then the button."""
    browser = browser or client(app)
    token = link_token(user)
    landing = browser.get(f"/console/signin?t={token}")
    assert landing.status_code == 200, landing.text
    done = browser.post("/console/signin", data={"t": token})
    assert done.status_code == 303 and done.headers["location"] == "/console", done.text
    desk = Desk(browser)
    desk.get("/console")
    return desk


def grant(app: App, user: ChatUser, role: str, path: str) -> ChatUser:
    """Give a chat user a role over an org node (names joined with '/'), as an invite would."""
    from db import org, people

    with app.sessions() as session:
        node = org.find_node(session, path)
        assert node is not None, path
        code = people.create_invite(session, role, app.clock.now(), node_id=node.id).code
        session.commit()
    user.say(f"/start {code}")
    return user


ELSEWHERE = "铁西区/北沟街道/幸福社区"


def another_community(app: App) -> str:
    """A second community under the same street (幸福社区 with one compound and home); its path."""
    from db import org

    rows = "district,street,community,compound,building,entrance,home,area\n"
    rows += "铁西区,北沟街道,幸福社区,幸福家园,1栋,1单元,101,80\n"
    with app.sessions() as session:
        homes, grids = org.parse_csv(rows)
        org.load_rows(session, homes, grids, app.clock.now())
        session.commit()
    return ELSEWHERE


def forced_desk(app: App, user: ChatUser) -> Desk:
    """A console session opened straight in the database for someone the sign-in would refuse (a
    resident, a grid worker): what an attacker with a stolen or forged session would hold."""
    from sqlmodel import select

    from db import console
    from db.models import Identity

    with app.sessions() as session:
        person_id = session.exec(
            select(Identity.person_id).where(Identity.external_id == user.user_ref)
        ).one()
        opened = console.open_session(session, person_id, app.clock.now())
        session.commit()
    browser = client(app)
    browser.cookies.set("linli_console", opened.session_id, path="/console")
    desk = Desk(browser)
    desk.csrf = opened.csrf
    return desk


def staff_on(app: App, ref: str, name: str, role: str, path: str) -> ChatUser:
    """Someone new who joins with a fresh invite for a role on a node (names joined with '/')."""
    return grant(app, ChatUser(app.service, ref, name=name), role, path)


def bare_community(app: App, name: str = "光明社区") -> str:
    """A second community of the same street, with nothing in it yet; its path."""
    from db import org
    from db.models import OrgNode

    with app.sessions() as session:
        street = org.find_node(session, "铁西区/北沟街道")
        assert street is not None
        other = OrgNode(kind="community", name=name, parent_id=street.id)
        session.add(other)
        session.flush()
        other.path = f"{street.path}{other.id}/"
        session.commit()
        return other.path


def other_community_staff(app: App) -> ChatUser:
    """Community staff of 光明社区, a second community of the same street: outside 英雄社区."""
    bare_community(app)
    return staff_on(app, "staff-other", "光明社区李干事", "community_staff", "铁西区/北沟街道/光明社区")
