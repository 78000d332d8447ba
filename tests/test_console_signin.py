"""Signing in to the console: the one-time link from the chat, the session cookie, sign-out, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bootstrap import App
from bot.clock import FixedClock
from tests.conftest import make_app
from tests.support.chat import ChatUser
from tests.support.console import Desk, client, link_token, sign_in


def test_staff_sign_in_with_the_link_from_the_chat_and_land_on_their_desk(app: App, staff: ChatUser) -> None:
    desk = sign_in(app, staff)
    home = desk.get("/console")
    assert home.status_code == 200
    assert "张主任" in home.text and "工单" in home.text
    cookie = next(c for c in desk.client.cookies.jar if c.name == "linli_console")
    assert cookie.path == "/console"
    assert cookie.has_nonstandard_attr("HttpOnly")


def test_the_link_works_once_and_a_preview_does_not_use_it(app: App, staff: ChatUser) -> None:
    token = link_token(staff)
    browser = client(app)
    for _ in range(2):  # a chat app's preview opens the link first
        assert browser.get(f"/console/signin?t={token}").status_code == 200
    assert browser.post("/console/signin", data={"t": token}).status_code == 303
    again = client(app).post("/console/signin", data={"t": token})
    assert again.status_code == 403
    assert "已经用过或已过期" in again.text


def test_a_link_expires_after_ten_minutes(app: App, staff: ChatUser, clock: FixedClock) -> None:
    token = link_token(staff)
    clock.advance(minutes=10, seconds=1)
    refused = client(app).post("/console/signin", data={"t": token})
    assert refused.status_code == 403
    assert client(app).get("/console").status_code == 303  # still signed out


def test_residents_and_grid_workers_get_no_link(app: App, owner: ChatUser, worker: ChatUser) -> None:
    for user in (owner, worker):
        user.say("/console")
        assert "/console/signin" not in user.text
        assert app.renderer.text("zh_CN", "console.not_staff") in user.text


def test_signing_out_ends_the_session_for_good(app: App, staff: ChatUser) -> None:
    desk = sign_in(app, staff)
    stolen = dict(desk.client.cookies)
    assert desk.post("/console/signout").status_code == 303
    thief = client(app)
    thief.cookies.update(stolen)
    assert thief.get("/console").status_code == 303


def test_an_idle_session_ends(app: App, staff: ChatUser, clock: FixedClock) -> None:
    desk = sign_in(app, staff)
    clock.advance(minutes=31)
    assert desk.get("/console").status_code == 303


def test_a_session_id_planted_before_sign_in_is_not_kept(app: App, staff: ChatUser) -> None:
    token = link_token(staff)
    planted = {"Cookie": "linli_console=planted-by-someone-else"}
    done = client(app).post("/console/signin", data={"t": token}, headers=planted)
    assert done.status_code == 303
    issued = done.headers["set-cookie"]
    assert issued.startswith("linli_console=") and "planted-by-someone-else" not in issued
    assert "samesite=strict" in issued.lower()
    assert client(app).get("/console", headers=planted).status_code == 303


def test_a_post_without_or_with_a_wrong_csrf_token_changes_nothing(app: App, staff: ChatUser) -> None:
    desk = sign_in(app, staff)
    assert desk.client.post("/console/lang", data={"locale": "en"}).status_code == 403
    assert desk.client.post("/console/lang", data={"locale": "en", "csrf": "wrong"}).status_code == 403
    assert "工作台" in desk.get("/console").text  # still Chinese
    other_site = desk.client.post(
        "/console/lang",
        data={"locale": "en", "csrf": desk.csrf},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert other_site.status_code == 403
    assert desk.post("/console/lang", {"locale": "en"}).status_code == 303
    assert "Home" in desk.get("/console").text


def test_a_busy_session_still_ends_after_a_working_day(app: App, staff: ChatUser, clock: FixedClock) -> None:
    desk = sign_in(app, staff)
    for _ in range(25):  # a tab that asks every half hour
        clock.advance(minutes=29)
        if desk.get("/console").status_code != 200:
            break
    assert desk.get("/console").status_code == 303


@pytest.mark.postgres
def test_two_processes_on_one_postgresql_share_links_and_sessions(
    postgres_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """Behind a load balancer a link issued by one process signs in on the other, the session works on
    both, one link lets only one browser in, and signing out on one ends it on both."""
    first = make_app(postgres_url, tmp_path / "a", clock)
    second = make_app(postgres_url, tmp_path / "b", clock)
    try:
        staff = ChatUser(first.service, "pg-staff", name="周主任")
        staff.say("/start DEMO-STAFF")
        token = link_token(staff)
        racing = [client(second).post("/console/signin", data={"t": token}) for _ in range(2)]
        assert sorted(r.status_code for r in racing) == [303, 403]
        cookie = next(r for r in racing if r.status_code == 303).headers["set-cookie"].split(";")[0]
        on_first, on_second = client(first), client(second)
        for browser in (on_first, on_second):
            browser.headers["Cookie"] = cookie
            assert browser.get("/console").status_code == 200
        desk = Desk(on_first)
        assert desk.post("/console/signout").status_code == 303
        assert on_second.get("/console").status_code == 303
    finally:
        first.engine.dispose()
        second.engine.dispose()
