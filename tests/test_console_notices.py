"""通知 at the console: composing with the audience shown first, publishing through the same use case as
/notice (pushes reach the chat, the audit log says where it came from), the delivery report with who has
not acknowledged, cancel and remind, a form that keeps what was typed, jurisdiction, escaping, languages."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from core.actions import Notices
from db import notices, org, people
from db.models import AuditEntry, Notice, Outbox
from tests.support.chat import ChatUser
from tests.support.console import Desk, sign_in
from tests.test_notices import add_second_community, drain, pushed, send

COMPOUND = "铁西区/北沟街道/英雄社区/阳光花园"
XSS = "<script>alert(1)</script>"


def node_id(app: App, path: str) -> int:
    with app.sessions() as session:
        node = org.find_node(session, path)
        assert node is not None, path
        return int(node.id or 0)


def fields(app: App, **overrides: Any) -> dict[str, Any]:
    """A compose form as a browser posts it: a policy notice to 阳光花园's owners and tenants, now."""
    return {
        "kind": "policy",
        "title": "垃圾分类宣传",
        "body": "请按四分类投放生活垃圾。",
        "node": str(node_id(app, COMPOUND)),
        "roles": ["owners", "tenants"],
        "when": "now",
        "days": "7",
        **overrides,
    }


def publish(app: App, desk: Desk, **overrides: Any) -> int:
    """Send a notice from the console; returns its id (from where the browser is sent next)."""
    done = desk.post("/console/notices/new", {**fields(app, **overrides), "go": "send"})
    assert done.status_code == 303, done.text
    found = re.match(r"/console/notices/(\d+)\?done=published", done.headers["location"])
    assert found, done.headers["location"]
    return int(found.group(1))


def audits(app: App, action: str) -> list[AuditEntry]:
    with app.sessions() as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


def other_staff(app: App) -> ChatUser:
    """Community staff of 幸福社区, the street's other community."""
    add_second_community(app)
    with app.sessions() as session:
        node = org.find_node(session, "铁西区/北沟街道/幸福社区")
        assert node is not None
        code = people.create_invite(session, "community_staff", app.clock.now(), node_id=node.id).code
        session.commit()
    user = ChatUser(app.service, "staff-other", name="孙主任")
    user.say(f"/start {code}")
    return user


def test_compose_shows_the_audience_before_sending(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    desk = sign_in(app, staff)
    page = desk.get("/console/notices/new")
    assert page.status_code == 200 and "写通知" in page.text and "阳光花园" in page.text
    with app.sessions() as session:
        expected = len(notices.audience(session, node_id(app, COMPOUND), [], ["owners", "tenants"]))
    assert expected >= 2
    live = desk.post("/console/notices/preview", fields(app))  # what htmx posts as fields change
    assert live.status_code == 200 and "<html" not in live.text
    assert f'id="audience">{expected}<' in live.text
    owners_only = desk.post("/console/notices/preview", fields(app, roles=["owners"]))
    with app.sessions() as session:
        owners = len(notices.audience(session, node_id(app, COMPOUND), [], ["owners"]))
    assert f'id="audience">{owners}<' in owners_only.text
    # Without JS, the preview button renders the whole form again with the audience.
    full = desk.post("/console/notices/new", {**fields(app), "go": "preview"})
    assert full.status_code == 200 and f'id="audience">{expected}<' in full.text
    assert 'value="垃圾分类宣传"' in full.text


def test_a_notice_from_the_console_reaches_the_chat_and_is_audited_as_from_the_console(
    app: App, staff: ChatUser, owner: ChatUser
) -> None:
    desk = sign_in(app, staff)
    notice_id = publish(app, desk, title="电梯年检通知")
    page = desk.get(f"/console/notices/{notice_id}?done=published&n=1")
    assert "已保存" in page.text
    drain(app)
    assert any("电梯年检通知" in text for text in pushed(app, owner))
    [entry] = audits(app, "notice.publish")
    assert (entry.via, entry.subject, entry.subject_id) == ("console", "notice", notice_id)
    assert entry.actor_role == "community_staff" and entry.after["title"] == "电梯年检通知"
    with app.sessions() as session:
        notice = session.get(Notice, notice_id)
        node = org.find_node(session, COMPOUND)
        assert notice is not None and node is not None and entry.node_path == node.path

    from_chat = send(staff, title="聊天里发的通知")
    chat_entries = [e for e in audits(app, "notice.publish") if e.subject_id == from_chat]
    assert [e.via for e in chat_entries] == ["chat"]
    listing = desk.get("/console/notices")
    assert "电梯年检通知" in listing.text and "聊天里发的通知" in listing.text


def test_the_delivery_report_lists_who_has_not_acknowledged_and_remind_reaches_only_them(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    desk = sign_in(app, staff)
    notice_id = publish(app, desk, title="请确认收到", ack="1")
    drain(app)
    owner.data(Notices("a", notice=notice_id).encode())
    page = desk.get(f"/console/notices/{notice_id}")
    with app.sessions() as session:
        counts = notices.report(session, notice_id)
    assert counts["acknowledged"] == 1 and counts["sent"] >= 2
    for key in ("audience", "sent", "acknowledged"):
        assert f'id="count-{key}"><span class="n">{counts[key]}<' in page.text
    unacked = page.text.split('id="unacked"')[1].split("</tbody>")[0]
    assert "李*" in unacked and "李强" not in unacked  # masked as the chat masks them
    assert "王*" not in unacked  # acknowledged
    assert "提醒未确认的人" in page.text

    done = desk.post(f"/console/notices/{notice_id}/remind")
    assert done.status_code == 303 and "done=reminded" in done.headers["location"]
    reminded = int(done.headers["location"].rsplit("n=", 1)[1])
    assert reminded == counts["sent"] - 1
    assert "已提醒" in desk.get(done.headers["location"]).text
    drain(app)
    assert any("⏰" in text for text in pushed(app, neighbour))
    assert not any("⏰" in text for text in pushed(app, owner))
    [entry] = audits(app, "notice.remind")
    assert entry.via == "console" and entry.after == {"reminded": reminded}


def test_cancel_holds_back_a_scheduled_notice_and_is_audited(
    app: App, staff: ChatUser, owner: ChatUser, clock: FixedClock
) -> None:
    desk = sign_in(app, staff)
    later = (clock.now().astimezone(app.policy.zone).replace(second=0, microsecond=0)).strftime("%Y-%m-%d")
    notice_id = publish(app, desk, title="明天停水", when="later", send_at=f"{later}T23:59")
    page = desk.get(f"/console/notices/{notice_id}")
    assert "待发送" in page.text and "撤回未发出的消息" in page.text
    done = desk.post(f"/console/notices/{notice_id}/cancel")
    assert done.status_code == 303 and "done=cancelled" in done.headers["location"]
    drain(app)
    assert not any("明天停水" in text for text in pushed(app, owner))
    with app.sessions() as session:
        rows = session.exec(select(Outbox).where(Outbox.notice_id == notice_id)).all()
        assert rows and {r.status for r in rows} == {"cancelled"}
    after = desk.get(f"/console/notices/{notice_id}")
    assert "已撤回" in after.text and "撤回未发出的消息" not in after.text
    again = desk.post(f"/console/notices/{notice_id}/cancel")
    assert "error=already_cancelled" in again.headers["location"]
    assert "已经撤回" in desk.get(again.headers["location"]).text
    [entry] = audits(app, "notice.cancel")
    assert entry.via == "console" and entry.before == {"state": "scheduled"}
    assert entry.after["state"] == "cancelled"


def test_a_form_with_an_empty_title_comes_back_with_what_was_typed(app: App, staff: ChatUser) -> None:
    desk = sign_in(app, staff)
    body = "周六上午九点在小区广场开会，请业主准时参加。"
    refused = desk.post("/console/notices/new", {**fields(app, title="  ", body=body), "go": "send"})
    assert refused.status_code == 422
    assert body in refused.text and "请填写标题" in refused.text
    assert 'aria-invalid="true" aria-describedby="err-title"' in refused.text
    bad_time = desk.post(
        "/console/notices/new", {**fields(app, when="later", send_at="明天", body=body), "go": "send"}
    )
    assert bad_time.status_code == 422 and "请填写将来一年内的时间" in bad_time.text and body in bad_time.text
    nobody = desk.post("/console/notices/new", {**fields(app, body=body), "roles": [], "go": "send"})
    assert nobody.status_code == 422 and "请至少选择一类接收人" in nobody.text
    assert 'name="roles" value="owners" checked' not in nobody.text  # unticked stays unticked
    with app.sessions() as session:
        assert session.exec(select(Notice)).first() is None


def test_another_communitys_staff_get_404_and_cannot_send_over_our_compound(
    app: App, staff: ChatUser, owner: ChatUser
) -> None:
    ours = publish(app, sign_in(app, staff))
    stranger = sign_in(app, other_staff(app))
    assert stranger.get(f"/console/notices/{ours}").status_code == 404
    assert stranger.post(f"/console/notices/{ours}/cancel").status_code == 404
    assert stranger.post(f"/console/notices/{ours}/remind").status_code == 404
    assert stranger.get("/console/notices/99999").status_code == 404
    assert "垃圾分类宣传" not in stranger.get("/console/notices").text
    page = stranger.get("/console/notices/new")
    assert "幸福社区" in page.text and "阳光花园" not in page.text
    forged = stranger.post("/console/notices/new", {**fields(app), "go": "send"})
    assert forged.status_code == 422 and "不在您的管辖内" in forged.text
    with app.sessions() as session:
        assert len(session.exec(select(Notice)).all()) == 1
    member = ChatUser(app.service, "committee-1", name="赵委员")  # committees run polls, send no notices
    member.say("/start DEMO-COMMITTEE")
    committee = sign_in(app, member)
    assert committee.get("/console/notices").status_code == 403
    assert committee.post("/console/notices/new", {**fields(app), "go": "send"}).status_code == 403


def test_titles_and_bodies_are_escaped_everywhere_in_both_languages(
    app: App, staff: ChatUser, owner: ChatUser
) -> None:
    desk = sign_in(app, staff)
    notice_id = publish(app, desk, title=XSS, body=f"正文{XSS}", ack="1")
    paths = ("/console/notices", "/console/notices/new", f"/console/notices/{notice_id}")
    for locale in ("zh_CN", "en"):
        if locale == "en":
            assert desk.post("/console/lang", {"locale": "en"}).status_code == 303
        pages = [desk.get(path) for path in paths]
        pages.append(desk.post("/console/notices/new", {**fields(app, title=XSS, body=XSS), "go": "preview"}))
        assert all(page.status_code == 200 for page in pages)
        for page in (pages[0], pages[2], pages[3]):
            assert XSS not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        if locale == "zh_CN":
            assert "写通知" in pages[0].text and "送达情况" in pages[2].text
        else:
            assert "New notice" in pages[0].text and "Recipients" in pages[1].text
            assert "Delivery" in pages[2].text and "Not acknowledged yet" in pages[2].text
            assert "It goes to" in desk.post("/console/notices/preview", fields(app)).text
