"""The console's 业委会 (/console/committees): the compounds of one's jurisdiction with their committee's
status, a compound's committee, setting a committee or 物管会 with the form (CSRF, the same rules and audit
as the chat), marking a handover done, and what another community's staff and the committee may not do."""

from __future__ import annotations

from datetime import date

from sqlmodel import func, select

from bot.bootstrap import App
from db.committee import rules
from db.committee.tables import Committee, Handover
from db.models import AuditEntry
from tests.support import committees as cm
from tests.support.chat import ChatUser, person_of
from tests.support.console import ELSEWHERE, another_community, grant, sign_in


def _count(app: App) -> int:
    with app.sessions() as session:
        return session.exec(select(func.count()).select_from(Committee)).one()


def test_staff_set_a_committee_with_the_form(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    desk = sign_in(app, staff)
    compound = cm.compound_id(app)
    listing = desk.get("/console/committees")
    assert listing.status_code == 200 and "阳光花园" in listing.text and "和平里小区" in listing.text
    assert "没有" in listing.text
    page = desk.get(f"/console/committees/{compound}")
    assert page.status_code == 200 and "王芳" in page.text and "李强" in page.text
    assert 'value="management"' not in page.text  # community staff do not set up a 物管会
    a, b = person_of(app.sessions, owner), person_of(app.sessions, neighbour)
    form = {"kind": "owners", "starts_on": "2026-12-01", "ends_on": "2031-11-30", "filed_on": "2026-12-05"}
    done = desk.post(
        f"/console/committees/{compound}/set", {**form, f"post_{a}": "chair", f"post_{b}": "deputy"}
    )
    assert done.status_code == 303, done.text
    page = desk.get(done.headers["location"])
    assert "已设置" in page.text and "2026-12-01 – 2031-11-30" in page.text and "2026-12-05" in page.text
    assert "主任</td><td>王芳" in page.text and "副主任</td><td>李强" in page.text
    with app.sessions() as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "committee.set")).one()
        assert entry.via == "console" and entry.actor_role == "community_staff"
    assert "在任" in desk.get("/console/committees").text


def test_the_form_refuses_what_the_rules_refuse_and_keeps_what_was_typed(
    app: App, staff: ChatUser, owner: ChatUser
) -> None:
    desk = sign_in(app, staff)
    compound = cm.compound_id(app)
    a = person_of(app.sessions, owner)
    url = f"/console/committees/{compound}/set"
    form = {"kind": "owners", "starts_on": "2026-12-01", "ends_on": "2032-12-01", f"post_{a}": "chair"}
    too_long = desk.post(url, form)
    assert (
        too_long.status_code == 422
        and "任期最长 5 年" in too_long.text
        and 'value="2032-12-01"' in too_long.text
    )
    nobody = desk.post(url, {**form, "ends_on": "2031-11-30", f"post_{a}": ""})
    assert nobody.status_code == 422 and "请至少为一位成员选择职务" in nobody.text
    bad = desk.post(url, {**form, "starts_on": "下个月"})
    assert bad.status_code == 422 and "日期格式不对" in bad.text
    not_owner = desk.post(
        url, {**form, "ends_on": "2031-11-30", f"post_{person_of(app.sessions, staff)}": "member"}
    )
    assert not_owner.status_code == 422 and "必须是本小区已核实的业主" in not_owner.text
    forged = desk.client.post(url, data={**form, "ends_on": "2031-11-30", "csrf": "forged"})
    assert forged.status_code == 403
    assert _count(app) == 0


def test_the_street_sets_up_a_management_committee_and_the_handover_is_marked_done(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    street = ChatUser(app.service, "street-1", name="街道老刘")
    street.say("/start DEMO-STREET")
    a, b, rep = (person_of(app.sessions, u) for u in (owner, neighbour, street))
    cm.set_committee(app, [(a, "chair")], date(2022, 1, 1), date(2026, 11, 1))  # its term ran out
    desk = sign_in(app, street)
    compound = cm.compound_id(app)
    assert "已届满" in desk.get("/console/committees").text
    url = f"/console/committees/{compound}/set"
    form = {"kind": "management", "starts_on": "2026-11-20", "ends_on": "2027-11-19", f"post_{rep}": "chair"}
    even = desk.post(url, {**form, f"post_{a}": "owner"})
    assert even.status_code == 422 and "物管会成员须为单数" in even.text
    done = desk.post(url, {**form, f"post_{a}": "owner", f"post_{b}": "owner"})
    assert done.status_code == 303
    page = desk.get(f"/console/committees/{compound}")
    assert "物业管理委员会" in page.text and "主任（街道代表）</td><td>街道老刘" in page.text
    assert "上一届正在移交" in page.text

    community = sign_in(app, staff)
    marked = community.post(f"/console/committees/{compound}/handover")
    assert marked.status_code == 303 and "done=handover" in marked.headers["location"]
    marker = person_of(app.sessions, staff)
    with app.sessions() as session:
        assert session.exec(select(Handover)).one().done_by == marker
        held = rules.current(session, compound)
        assert held is not None and held.kind == "management"
        codes = set(session.exec(select(AuditEntry.action)).all())
    assert {"committee.management", "committee.handover_done"} <= codes
    assert community.post(f"/console/committees/{compound}/handover").status_code == 404  # nothing open


def test_another_communitys_staff_and_the_committee_reach_nothing_here(
    app: App, owner: ChatUser, neighbour: ChatUser
) -> None:
    a = person_of(app.sessions, owner)
    cm.set_committee(app, [(a, "chair")], date(2022, 1, 1), date(2026, 12, 31))
    cm.set_committee(
        app, [(person_of(app.sessions, neighbour), "chair")], date(2026, 11, 20), date(2031, 11, 19)
    )
    compound = cm.compound_id(app)
    another_community(app)
    other = sign_in(
        app, grant(app, ChatUser(app.service, "else", name="陈主任"), "community_staff", ELSEWHERE)
    )
    assert "阳光花园" not in other.get("/console/committees").text
    assert other.get(f"/console/committees/{compound}").status_code == 404
    form = {"kind": "owners", "starts_on": "2026-12-01", "ends_on": "2031-11-30", f"post_{a}": "chair"}
    assert other.post(f"/console/committees/{compound}/set", form).status_code == 404
    assert other.post(f"/console/committees/{compound}/handover").status_code == 404

    # The committee in office (by membership) reads its compound's page but sets nothing.
    member = sign_in(app, neighbour)
    assert member.get(f"/console/committees/{compound}").status_code == 200
    assert member.post(f"/console/committees/{compound}/set", form).status_code == 403
    with app.sessions() as session:
        assert session.exec(select(Handover)).one().done_at is None
    assert _count(app) == 2
