"""审计 in the console: the append-only log of staff actions under the reader's jurisdiction, its filters,
keyset pages and CSV export, who may read it, and that nothing in the console changes it."""

from __future__ import annotations

import csv
import re
from datetime import timedelta
from typing import Any

from fastapi.routing import APIRoute
from sqlmodel import col, select

from bot.bootstrap import App
from bot.web import create_web_app
from db import audit, org
from db.models import AuditEntry, Identity, Person
from tests.support.chat import ChatUser
from tests.support.console import bare_community, sign_in, staff_on

COMMUNITY = "铁西区/北沟街道/英雄社区"
SUNSHINE = f"{COMMUNITY}/阳光花园"
OTHER = "铁西区/北沟街道/光明社区"
XSS = "<script>alert(1)</script>"


def path_of(app: App, where: str) -> str:
    with app.sessions() as session:
        node = org.find_node(session, where)
        assert node is not None
        return node.path


def person_of(app: App, user: ChatUser) -> int:
    with app.sessions() as session:
        return session.exec(select(Identity).where(Identity.external_id == user.user_ref)).one().person_id


def write(app: App, **entry: Any) -> int:
    """Append one entry as a use case would; its id."""
    values: dict[str, Any] = {
        "at": app.clock.now(),
        "actor_id": None,
        "actor_role": "community_staff",
        "via": "chat",
        "action": "ticket.assign",
        "subject": "ticket",
        "subject_id": 1,
        "node_path": "",
    } | entry
    with app.sessions() as session:
        added = audit.add(session, **values)
        session.commit()
        assert added.id is not None
        return added.id


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr id="entry-(\d+)">', html)


def test_each_reader_sees_the_entries_under_their_jurisdiction(app: App, staff: ChatUser) -> None:
    other_path = bare_community(app)
    sunshine = path_of(app, SUNSHINE)
    staff_id = person_of(app, staff)
    stranger = staff_on(app, "staff-other", "光明社区李干事", "community_staff", OTHER)
    with app.sessions() as session:
        villain = Person(name=XSS, created_at=app.clock.now())
        session.add(villain)
        session.commit()
        villain_id = villain.id
    ours = write(
        app,
        actor_id=staff_id,
        action="ticket.assign",
        subject_id=12,
        node_path=sunshine,
        before={"holder": None, "state": "new"},
        after={"holder": "刘网格", "state": "assigned"},
    )
    theirs = write(app, actor_id=person_of(app, stranger), subject_id=99, node_path=other_path)
    odd = write(
        app,
        actor_id=villain_id,
        actor_role="grid_worker",
        via="console",
        action=f"ticket.{XSS}"[:40],
        subject=XSS[:24],
        subject_id=None,
        node_path=sunshine,
        after={"note": XSS},
    )

    desk = sign_in(app, staff)  # the sign-in itself is audited: console.signin, via the console
    page = desk.get("/console/audit")
    assert page.status_code == 200
    shown = rows_of(page.text)
    assert str(ours) in shown and str(odd) in shown and str(theirs) not in shown
    assert shown == sorted(shown, key=int, reverse=True)  # newest first
    assert "/console/tickets/99" not in page.text
    signin = re.search(r'<tr id="entry-(\d+)">(.*?)</tr>', page.text, re.S)
    assert signin and int(signin.group(1)) > odd  # the newest: this very sign-in
    assert "登录工作台" in signin.group(2) and "工作台" in signin.group(2) and "张主任" in signin.group(2)
    line = re.search(rf'<tr id="entry-{ours}">(.*?)</tr>', page.text, re.S)
    assert line is not None
    row = line.group(1)
    assert '<a href="/console/tickets/12">工单 #12</a>' in row
    assert "分派工单" in row and "社区" in row and "聊天" in row and "阳光花园" in row
    assert "2026-11-20 10:00" in row  # Asia/Shanghai
    assert re.search(r"holder</span>: <del>—</del> → <ins>刘网格</ins>", row)
    assert re.search(r"state</span>: <del>new</del> → <ins>assigned</ins>", row)
    assert XSS not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text

    district = ChatUser(app.service, "district-1", name="区里老孙")
    district.say("/start DEMO-DISTRICT")
    above = sign_in(app, district)
    both = rows_of(above.get("/console/audit").text)
    assert str(ours) in both and str(theirs) in both

    them = sign_in(app, stranger)
    assert rows_of(them.get("/console/audit").text)[1:] == [str(theirs)]  # their sign-in, then theirs

    assert above.post("/console/lang", {"locale": "en"}).status_code == 303
    english = above.get("/console/audit")
    assert "Audit log" in english.text and "Assigned a ticket" in english.text
    assert "Signed in to the console" in english.text and "Console" in english.text

    company = sign_in(app, staff_on(app, "property-1", "物业老周", "property_staff", SUNSHINE))
    assert company.get("/console/audit").status_code == 403
    assert company.get("/console/audit/export.csv").status_code == 403
    committee = sign_in(app, staff_on(app, "cmte-1", "赵委员", "owners_committee", SUNSHINE))
    assert committee.get("/console/audit").status_code == 403


def test_filters_pages_and_export(app: App, staff: ChatUser, worker: ChatUser) -> None:
    sunshine = path_of(app, SUNSHINE)
    community = path_of(app, COMMUNITY)
    grid_id, staff_id = person_of(app, worker), person_of(app, staff)
    with app.sessions() as session:
        spreadsheet = Person(name='=HYPERLINK("http://x")', created_at=app.clock.now())
        session.add(spreadsheet)
        session.commit()
        sneaky = spreadsheet.id
    with app.sessions() as session:  # 110 assignments over 11 days, by the grid worker and by staff in turn
        for n in range(1, 111):
            at = app.clock.now() + timedelta(days=(n - 1) // 10)
            actor = grid_id if n % 2 else staff_id
            audit.add(
                session,
                at=at,
                actor_id=actor,
                actor_role="grid_worker",
                via="chat",
                action="ticket.assign",
                subject="ticket",
                subject_id=n,
                node_path=sunshine,
            )
        session.commit()
    app.clock.advance(days=11)  # type: ignore[attr-defined]
    notice = write(app, action="notice.publish", subject="notice", subject_id=3, node_path=community)
    formula = write(app, actor_id=sneaky, action="resident.approve", subject="residency", node_path=sunshine)
    desk = sign_in(app, staff)

    first = desk.get("/console/audit")
    page1 = rows_of(first.text)
    assert len(page1) == 50
    more = re.search(r'href="/console/audit\?(before_id=\d+)" rel="next"', first.text)
    assert more, first.text[-2000:]
    second = desk.get(f"/console/audit?{more.group(1)}")
    page2 = rows_of(second.text)
    assert len(page2) == 50 and int(page2[0]) < int(page1[-1])
    assert "第一页" in second.text
    more = re.search(r'href="/console/audit\?(before_id=\d+)" rel="next"', second.text)
    assert more
    page3 = rows_of(desk.get(f"/console/audit?{more.group(1)}").text)
    everything = page1 + page2 + page3
    assert len(everything) == len(set(everything)) == 110 + 3  # and the sign-in
    assert 'rel="next"' not in desk.get(f"/console/audit?{more.group(1)}").text

    notices = desk.get("/console/audit?action=notice.")
    assert rows_of(notices.text) == [str(notice)] and "通知 #3" in notices.text
    assert '<option value="notice." selected>' in notices.text

    by_name = rows_of(desk.get("/console/audit?action=ticket.&actor=刘").text)
    by_number = desk.get(f"/console/audit?action=ticket.&actor=%23{grid_id}")
    assert len(by_name) == 50 and by_name == rows_of(by_number.text)
    more = re.search(r'href="/console/audit\?([^"]*before_id=\d+)" rel="next"', by_number.text)
    assert more and "actor=%23" in more.group(1)  # the filters travel with the next page
    rest = rows_of(desk.get(f"/console/audit?{more.group(1).replace('&amp;', '&')}").text)
    assert len(by_name) + len(rest) == 55

    twelve = desk.get("/console/audit?subject=ticket&subject_id=12")
    assert len(rows_of(twelve.text)) == 1 and "/console/tickets/12" in twelve.text
    day = desk.get("/console/audit?action=ticket.&since=2026-11-21&until=2026-11-21")
    assert len(rows_of(day.text)) == 10  # tickets 11 to 20
    assert desk.get("/console/audit?action=bogus").status_code == 400
    assert desk.get("/console/audit?since=yesterday").status_code == 400
    assert desk.get("/console/audit?subject_id=abc").status_code == 400
    assert desk.get("/console/audit?before_id=x").status_code == 400
    assert rows_of(desk.get("/console/audit?subject=ticket&subject_id=%2312").text) == rows_of(twelve.text)
    assert rows_of(desk.get("/console/audit?actor=nobody-by-that-name").text) == []

    export = desk.get("/console/audit/export.csv?action=resident.")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.reader(export.content.decode("utf-8-sig").splitlines()))
    assert rows[0][:3] == ["序号", "时间", "操作人"]
    [line] = rows[1:]
    assert line[0] == str(formula) and line[2] == '\'=HYPERLINK("http://x")'
    assert line[6] == "resident.approve" and line[7] == "通过居民登记"
    everything_csv = list(
        csv.reader(desk.get("/console/audit/export.csv").content.decode("utf-8-sig").splitlines())
    )
    assert len(everything_csv) == 1 + 113


def test_the_console_cannot_change_the_log(app: App, staff: ChatUser) -> None:
    web = create_web_app(app)
    for route in web.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/console/audit"):
            assert route.methods <= {"GET", "HEAD"}, route.path
    desk = sign_in(app, staff)
    with app.sessions() as session:
        before = [(e.id, e.action, e.after) for e in session.exec(select(AuditEntry)).all()]
    assert before
    entry = before[0][0]
    assert desk.post("/console/audit", {"action": "delete"}).status_code == 405
    assert desk.post(f"/console/audit?before_id={entry}").status_code == 405
    assert desk.client.delete("/console/audit").status_code == 405
    assert desk.client.put("/console/audit/export.csv").status_code == 405
    for path in ("/console/audit", "/console/audit/export.csv", "/console/stats"):
        desk.get(path)
    with app.sessions() as session:
        after = [
            (e.id, e.action, e.after)
            for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        ]
    assert after[: len(before)] == before


def test_every_action_the_code_records_has_words_in_both_languages(app: App) -> None:
    """An action recorded in core/ or bot/ but missing from the audit words would show as a raw code."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    recorded: set[str] = set()
    for path in [*root.glob("core/**/*.py"), *root.glob("bot/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        if "audit" in text:
            found = re.findall(r'"((?:ticket|notice|poll|resident|org|grid|console)\.[a-z_]+)"', text)
            recorded |= set(found)
    recorded -= {"ticket.html", "org.html", "ticket.id", "notice.id", "poll.id", "grid.id"}
    assert {"ticket.assign", "notice.publish", "resident.approve", "org.import"} <= recorded
    kit = app.console
    assert kit is not None
    for locale in ("zh_CN", "en"):
        named = set(kit.words(locale)["audit"]["actions"])
        assert recorded <= named, (locale, recorded - named)
        prefixes = set(kit.words(locale)["audit"]["prefixes"])
        assert all(any(action.startswith(p) for p in prefixes) for action in recorded), locale
