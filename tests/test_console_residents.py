"""The console's 居民: approving and rejecting registrations as the chat does (the resident told, the
decision audited), search within the jurisdiction, printable entrance invites, and grid duty."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from sqlmodel import col, select

from bot.bootstrap import App
from db import org
from db.models import AuditEntry, Grid, Invite, Person, Residency
from tests.support.chat import ChatUser
from tests.support.console import grant, sign_in
from tests.test_register import person, pushed_to, residencies, walk_to_kind

DATA = Path(__file__).parent / "data"
CAITA = "沈河区/五里河街道/彩塔社区"


def register(app: App, ref: str, name: str, phone: str, building: str = "2栋", home: str = "301") -> ChatUser:
    """A resident who asks for a home without an invite and waits for staff."""
    resident = ChatUser(app.service, ref, name="")
    walk_to_kind(resident, building=building, home=home)
    resident.press("业主")
    resident.say(name)
    resident.say(phone)
    assert "已提交登记申请" in resident.text
    return resident


def other_community_staff(app: App) -> ChatUser:
    """Community staff of 彩塔社区, in another district: nothing of 英雄社区 is theirs."""
    with app.sessions() as session:
        org.import_org_file(session, DATA / "org_good.csv")
        session.commit()
    other = ChatUser(app.service, "caita-staff", name="彩塔主任")
    grant(app, other, "community_staff", CAITA)
    return other


def results(page: str) -> str:
    """The search results of a 居民 page (after the search form)."""
    return page.split('id="search-title"')[1].split("</form>", 1)[1]


def residency_of(app: App, user: ChatUser) -> Residency:
    [found] = residencies(app, user)
    return found


def audits(app: App, action: str) -> list[AuditEntry]:
    with app.sessions() as session:
        return list(
            session.exec(
                select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))
            ).all()
        )


def test_staff_approve_from_the_console_and_the_resident_can_report(app: App, staff: ChatUser) -> None:
    resident = register(app, "walk-in", "赵六", "13900001111")
    resident.say("/report")
    assert "等待社区审核" in resident.text  # before the decision
    desk = sign_in(app, staff)
    page = desk.get("/console/residents")
    assert page.status_code == 200
    assert "赵六" in page.text and "139****1111" in page.text and "13900001111" not in page.text
    assert "阳光花园 2栋 1单元 301" in page.text and "业主" in page.text
    residency = residency_of(app, resident)
    done = desk.post("/console/residents/decide", {"residency": residency.id, "verb": "approve"})
    assert done.status_code == 303 and "done=approved" in done.headers["location"]
    assert residency_of(app, resident).status == "verified"
    told = [str(m["text"]) for m in pushed_to(app, resident)]
    assert any("审核通过" in t and "2栋 1单元 301" in t for t in told)
    resident.say("/report")
    assert "类别" in resident.text and "等待社区审核" not in resident.text
    [entry] = audits(app, "resident.approve")
    assert (entry.via, entry.subject, entry.subject_id) == ("console", "residency", residency.id)
    assert entry.actor_role == "community_staff"
    assert entry.before == {"status": "pending"} and entry.after["status"] == "verified"
    assert entry.node_path.count("/") == 7  # the home's entrance: district/…/entrance, six levels
    after = desk.get("/console/residents?done=approved&count=1")
    assert "已通过 1 条登记" in after.text and "赵六" not in after.text.split("查找居民")[0]


def test_reject_from_the_console_tells_the_resident(app: App, staff: ChatUser) -> None:
    resident = register(app, "walk-in", "钱七", "13900002222")
    desk = sign_in(app, staff)
    residency = residency_of(app, resident)
    desk.post("/console/residents/decide", {"residency": residency.id, "verb": "reject"})
    assert residency_of(app, resident).status == "rejected"
    assert any("未通过审核" in str(m["text"]) for m in pushed_to(app, resident))
    [entry] = audits(app, "resident.reject")
    assert entry.via == "console" and entry.after["status"] == "rejected"
    again = desk.post("/console/residents/decide", {"residency": residency.id, "verb": "approve"})
    assert "done=already_decided" in again.headers["location"]
    assert residency_of(app, resident).status == "rejected"


def test_bulk_approve_the_ticked_rows(app: App, staff: ChatUser) -> None:
    first = register(app, "walk-1", "周一", "13900004444", home="101")
    second = register(app, "walk-2", "吴二", "13900005555", home="102")
    third = register(app, "walk-3", "郑三", "13900006666", home="201")
    desk = sign_in(app, staff)
    ids = [residency_of(app, u).id for u in (first, second)]
    done = desk.post("/console/residents/approve", {"ids": ids})
    assert done.status_code == 303 and "count=2" in done.headers["location"]
    assert [residency_of(app, u).status for u in (first, second, third)] == [
        "verified",
        "verified",
        "pending",
    ]
    assert len(audits(app, "resident.approve")) == 2
    assert "已通过 2 条登记" in desk.get(done.headers["location"]).text
    assert {e.via for e in audits(app, "resident.approve")} == {"console"}
    staff.say("/pending")  # the third, approved in the chat: audited too, as the chat's
    staff.press("通过")
    assert residency_of(app, third).status == "verified"
    assert [e.via for e in audits(app, "resident.approve")] == ["console", "console", "chat"]
    assert audits(app, "resident.approve")[-1].actor_role == "community_staff"


def test_another_communitys_staff_neither_see_nor_decide_our_residents(app: App, staff: ChatUser) -> None:
    resident = register(app, "walk-in", "冯九", "13900007777")
    other = other_community_staff(app)
    desk = sign_in(app, other)
    page = desk.get("/console/residents")
    assert page.status_code == 200 and "冯九" not in page.text
    residency = residency_of(app, resident)
    refused = desk.post("/console/residents/decide", {"residency": residency.id, "verb": "approve"})
    assert refused.status_code == 403
    assert desk.post("/console/residents/approve", {"ids": [residency.id]}).status_code == 403
    assert desk.get(f"/console/residents/{residency.id}/document").status_code == 404  # as unknown
    assert residency_of(app, resident).status == "pending" and audits(app, "resident.approve") == []
    assert "冯九" not in results(desk.get("/console/residents?q=冯九").text)
    missing = desk.post("/console/residents/decide", {"residency": 999999, "verb": "approve"})
    assert missing.status_code == 404
    assert "英雄社区第一网格" not in desk.get("/console/residents/grids").text
    with app.sessions() as session:
        grid = session.exec(select(Grid).where(Grid.name == "英雄社区第一网格")).one()
    assert desk.post(f"/console/residents/grids/{grid.id}/duty", {"state": "off"}).status_code == 403
    assert desk.post(f"/console/residents/grids/{grid.id}/backup", {"backup": ""}).status_code == 403
    assert audits(app, "grid.duty") == [] and audits(app, "grid.backup") == []
    assert "阳光花园" not in desk.get("/console/residents/invites").text


def test_residents_and_grid_workers_and_forged_posts_are_refused(
    app: App, owner: ChatUser, worker: ChatUser, staff: ChatUser
) -> None:
    resident = register(app, "walk-in", "陈十", "13900008888")
    residency = residency_of(app, resident)
    desk = sign_in(app, staff)
    forged = desk.client.post(
        "/console/residents/decide", data={"residency": residency.id, "verb": "approve"}
    )
    assert forged.status_code == 403  # no CSRF token
    bad = desk.post("/console/residents/decide", {"residency": "x'", "verb": "approve"})
    assert bad.status_code == 400
    assert residency_of(app, resident).status == "pending"
    committee = ChatUser(app.service, "committee", name="业委会")
    committee.say("/start DEMO-COMMITTEE")
    refused = sign_in(app, committee)
    assert refused.get("/console/residents").status_code == 403
    assert (
        refused.post("/console/residents/decide", {"residency": residency.id, "verb": "approve"}).status_code
        == 403
    )


def test_search_finds_by_name_and_phone_within_the_jurisdiction_only(
    app: App, staff: ChatUser, owner: ChatUser, worker: ChatUser
) -> None:
    register(app, "walk-in", "蒋六", "13712348888")
    register(app, "walk-2", "<b>x</b>李", "13900009999", home="302")
    other = other_community_staff(app)
    with app.sessions() as session:  # someone of the other community with the same digits
        stranger = session.exec(select(Person).where(Person.name == "彩塔主任")).one()
        stranger.phone = "13612348888"
        session.commit()
    desk = sign_in(app, staff)
    by_name = results(desk.get("/console/residents?q=蒋六").text)
    assert "蒋六" in by_name and "****8888" in by_name and "13712348888" not in by_name
    assert "137****8888" not in by_name  # the last four digits only
    by_phone = results(desk.get("/console/residents?q=8888").text)  # the last four digits
    assert "蒋六" in by_phone and "彩塔主任" not in by_phone and "13612348888" not in by_phone
    assert "待审核" in by_phone
    assert "蒋六" in results(desk.get("/console/residents?q=137 1234 8888").text)  # the whole number
    # A prefix finds nobody: the number cannot be rebuilt digit by digit from the list.
    assert "蒋六" not in results(desk.get("/console/residents?q=13712").text)
    grid = desk.get("/console/residents?q=刘网格").text
    assert "刘网格" in grid and "网格员" in grid
    assert "没有找到" in desk.get("/console/residents?q=彩塔主任").text
    assert "王芳" in desk.get("/console/residents?q=王").text
    page = desk.get("/console/residents?q=李").text  # names are escaped, in the list and the results
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;李" in results(page)
    assert "&lt;b&gt;x&lt;/b&gt;李" in page.split('id="search-title"')[0]
    theirs = results(sign_in(app, other).get("/console/residents?q=蒋六").text)
    assert "蒋六" not in theirs and "没有找到" in theirs


def test_the_certificate_photo_is_shown_to_those_who_decide(
    app: App, staff: ChatUser, tmp_path: Path
) -> None:
    resident = register(app, "walk-in", "卫五", "13900001234")
    name = "cErTiFiCaTe0123456789page.jpg"
    folder = app.settings.files_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"\xff\xd8\xff\xe0 a jpeg")
    with app.sessions() as session:
        residency = session.exec(select(Residency)).all()[-1]
        residency.document_channel, residency.document_ref = "web", name
        session.commit()
        residency_id = residency.id
    desk = sign_in(app, staff)
    assert f"/console/residents/{residency_id}/document" in desk.get("/console/residents").text
    photo = desk.get(f"/console/residents/{residency_id}/document")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert photo.content.startswith(b"\xff\xd8")
    assert resident.text


def test_the_invite_sheets_carry_a_qr_code_and_a_code_per_entrance(app: App, staff: ChatUser) -> None:
    desk = sign_in(app, staff)
    page = desk.get("/console/residents/invites")
    assert page.status_code == 200
    sheets = re.findall(r'<article class="sheet"', page.text)
    with app.sessions() as session:
        codes = session.exec(select(Invite).where(Invite.kind == "entrance")).all()
    assert len(sheets) == len(codes) >= 4
    assert "阳光花园 1栋 1单元" in page.text and "扫一扫" in page.text
    images = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page.text)
    assert len(images) == len(codes)
    svg = base64.b64decode(images[0]).decode()
    assert svg.startswith("<svg") and "style=" not in svg and "<script" not in svg
    assert all(c.code in page.text for c in codes)
    assert 'style="' not in page.text
    again = desk.get("/console/residents/invites")  # the same codes: printed sheets stay valid
    with app.sessions() as session:
        assert len(session.exec(select(Invite).where(Invite.kind == "entrance")).all()) == len(codes)
    assert codes[0].code in again.text


def test_scanning_an_entrance_invite_opens_its_homes_and_staff_approve(app: App, staff: ChatUser) -> None:
    desk = sign_in(app, staff)
    desk.get("/console/residents/invites")
    with app.sessions() as session:
        entrance = org.find_node(session, "铁西区/北沟街道/英雄社区/阳光花园/2栋/1单元")
        assert entrance is not None
        code = session.exec(
            select(Invite.code).where(Invite.kind == "entrance", Invite.node_id == entrance.id)
        ).one()
    resident = ChatUser(app.service, "scanner", name="")
    resident.say(f"/start {code}")
    assert "2栋 1单元" in resident.text and "301" in resident.buttons()
    resident.press("301")
    resident.press("业主")
    resident.say("褚四")
    resident.say("13912345678")
    assert "已提交登记申请" in resident.text
    assert residency_of(app, resident).status == "pending"
    assert person(app, resident).name == "褚四"
    assert "褚四" in desk.get("/console/residents").text
    with app.sessions() as session:  # the code is not used up: the next neighbour scans it too
        assert session.exec(select(Invite).where(Invite.code == code)).one().uses_left is None


def test_grids_show_worker_backup_and_duty_and_staff_switch_them(
    app: App, staff: ChatUser, worker: ChatUser
) -> None:
    second = ChatUser(app.service, "grid-2", name="马网格")
    second.say("/start DEMO-GRID")  # the grid has a worker already: the newcomer is its backup
    desk = sign_in(app, staff)
    page = desk.get("/console/residents/grids")
    assert page.status_code == 200
    assert "英雄社区第一网格" in page.text and "刘网格" in page.text and "阳光花园 1栋" in page.text
    with app.sessions() as session:
        grid = session.exec(select(Grid).where(Grid.name == "英雄社区第一网格")).one()
        assert grid.backup_id is not None
        backup_id, worker_id = grid.backup_id, grid.worker_id
    done = desk.post(f"/console/residents/grids/{grid.id}/duty", {"state": "off"})
    assert done.status_code == 303 and "done=duty" in done.headers["location"]
    with app.sessions() as session:
        assert session.get(Person, worker_id).off_duty  # type: ignore[union-attr]
    [entry] = audits(app, "grid.duty")
    assert entry.via == "console" and entry.before["off_duty"] is False and entry.after["off_duty"] is True
    assert "休息中" in desk.get("/console/residents/grids").text
    desk.post(f"/console/residents/grids/{grid.id}/backup", {"backup": ""})
    with app.sessions() as session:
        assert session.get(Grid, grid.id).backup_id is None  # type: ignore[union-attr]
    desk.post(f"/console/residents/grids/{grid.id}/backup", {"backup": str(backup_id)})
    with app.sessions() as session:
        assert session.get(Grid, grid.id).backup_id == backup_id  # type: ignore[union-attr]
    bad = desk.post(f"/console/residents/grids/{grid.id}/backup", {"backup": str(worker_id)})
    assert "done=bad_backup" in bad.headers["location"]
    assert len(audits(app, "grid.backup")) == 2


def test_both_languages_render(app: App, staff: ChatUser, worker: ChatUser) -> None:
    register(app, "walk-in", "杨三", "13900001357")
    desk = sign_in(app, staff)
    for path in ("/console/residents?q=杨", "/console/residents/invites", "/console/residents/grids"):
        assert desk.get(path).status_code == 200
    desk.post("/console/lang", {"locale": "en"})
    english = desk.get("/console/residents?q=杨")
    assert english.status_code == 200 and "Registrations waiting for approval" in english.text
    assert "Owner" in english.text
    sheets = desk.get("/console/residents/invites")
    assert "Print entrance invites" in sheets.text and "扫一扫" in sheets.text  # the sheets stay Chinese
    assert "Grids, grid workers and duty" in desk.get("/console/residents/grids").text
