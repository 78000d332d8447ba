"""The console's 工单 page: one ticket's facts, timeline and photos for whom DESIGN §3 allows, and its
actions (assign, transfer, duplicate, reclassify, supervise, escalate, resolve, internal note, reply), each
one audited."""

from __future__ import annotations

import asyncio
import io
import re

from PIL import Image
from sqlmodel import col, func, select

from bot.bootstrap import App
from bot.clock import FixedClock
from db import people
from db.models import Attachment, AuditEntry, Identity, Outbox, Person, Ticket, WebMessage
from tests.support.chat import ChatUser
from tests.support.console import Desk, other_community_staff, sign_in, staff_on

COMMUNITY = "铁西区/北沟街道/英雄社区"
PHOTO = "resident-photo-0123456789abcdef.jpg"  # a name we give stored files
XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


# --- helpers --------------------------------------------------------------------------------------


def report(user: ChatUser, text: str, category: str = "其他", photo: str = "") -> int:
    """File a ticket as a resident does (a photo on the summary when given); its number."""
    user.say("/report")
    user.press(category)
    user.say(text)
    if "我也遇到" in user.text:
        user.press("新建")
    if photo:
        user.photo(photo)
    user.press("提交")
    found = re.search(r"#(\d+)", user.text)
    assert found, user.text
    return int(found.group(1))


def ticket(app: App, code: int) -> Ticket:
    with app.sessions() as session:
        found = session.get(Ticket, code)
        assert found is not None
        return found


def person_id(app: App, user: ChatUser) -> int:
    with app.sessions() as session:
        found = session.exec(select(Identity.person_id).where(Identity.external_id == user.user_ref)).first()
        assert found is not None
        return found


def pushed_to(app: App, user: ChatUser) -> list[str]:
    """Deliver what waits in the outbox, and return the texts the web user was pushed."""
    asyncio.run(app.dispatcher.drain())
    with app.sessions() as session:
        rows = session.exec(
            select(WebMessage)
            .join(Identity, col(Identity.id) == WebMessage.identity_id)
            .where(Identity.external_id == user.user_ref, col(WebMessage.outgoing).is_(True))
            .order_by(col(WebMessage.id))
        ).all()
    return [row.body["text"] for row in rows]


def outbox_count(app: App) -> int:
    with app.sessions() as session:
        return session.exec(select(func.count()).select_from(Outbox)).one()


def audits(app: App, code: int) -> list[AuditEntry]:
    with app.sessions() as session:
        return list(
            session.exec(
                select(AuditEntry)
                .where(AuditEntry.subject == "ticket", AuditEntry.subject_id == code)
                .order_by(col(AuditEntry.id))
            ).all()
        )


def post(desk: Desk, code: int, action: str, **data: str) -> str:
    """Post one action's form and follow the redirect back to the page; the page's text."""
    done = desk.post(f"/console/tickets/{code}/{action}", data)
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith(f"/console/tickets/{code}?")
    page = desk.get(done.headers["location"])
    assert page.status_code == 200
    return page.text


# --- the page -------------------------------------------------------------------------------------


def test_the_page_shows_the_timeline_photos_and_the_reporter_to_community_staff(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    code = report(owner, "楼道灯坏了一个星期", photo=PHOTO)
    files = app.settings.files_dir
    files.mkdir(parents=True, exist_ok=True)
    (files / PHOTO).write_bytes(b"\xff\xd8\xff\xe0photo")
    desk = sign_in(app, staff)

    page = desk.get(f"/console/tickets/{code}")
    assert page.status_code == 200
    text = page.text
    assert f"工单 #{code}" in text and "楼道灯坏了一个星期" in text
    assert "处理过程" in text and "提交" in text and "进入社区待派队列" in text
    assert "阳光花园" in text and "1栋" in text
    assert "王芳" in text and "101" in text  # the reporter and their home
    found = re.search(rf'src="(/console/tickets/{code}/files/\d+)"', text)
    assert found, text
    photo = desk.get(found.group(1))
    assert photo.status_code == 200 and photo.content == b"\xff\xd8\xff\xe0photo"
    assert photo.headers["content-type"] == "image/jpeg"
    assert desk.get(f"/console/tickets/{code}/files/999999").status_code == 404


def test_property_staff_see_no_reporter_community_staff_do_and_another_community_gets_not_found(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    code = report(owner, "电梯异响")
    keeper = staff_on(app, "property-1", "物业小赵", "property_staff", f"{COMMUNITY}/阳光花园")
    text = sign_in(app, keeper).get(f"/console/tickets/{code}").text
    assert "电梯异响" in text
    assert "王芳" not in text and "1单元" not in text
    assert "未经居民同意，物业看不到反映人信息" in text
    assert "王芳" in sign_in(app, staff).get(f"/console/tickets/{code}").text

    desk = sign_in(app, other_community_staff(app))
    for path in (f"/console/tickets/{code}", "/console/tickets/999999", f"/console/tickets/{code}/files/1"):
        refused = desk.get(path)
        assert refused.status_code == 404 and "没有找到这项内容" in refused.text
        assert "电梯异响" not in refused.text
    assert desk.post(f"/console/tickets/{code}/internal", {"note": "看看"}).status_code == 404
    assert audits(app, code) == []


# --- actions --------------------------------------------------------------------------------------


def test_assign_reaches_the_workers_chat_and_is_audited_as_a_console_action(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    code = report(owner, "单元门禁坏了")  # before the grid worker joined: the community's queue
    assert ticket(app, code).holder_id is None
    worker = ChatUser(app.service, "grid-1", name="刘网格")
    worker.say("/start DEMO-GRID")
    desk = sign_in(app, staff)
    page = desk.get(f"/console/tickets/{code}").text
    assert "刘网格" in page and 'name="worker"' in page

    text = post(desk, code, "assign", worker=str(person_id(app, worker)))
    assert "已派单" in text
    held = ticket(app, code)
    assert (held.holder_id, held.state) == (person_id(app, worker), "assigned")
    assert any(f"#{code}" in t and "新任务" in t for t in pushed_to(app, worker))
    entry = audits(app, code)[-1]
    assert (entry.action, entry.via, entry.actor_role) == ("ticket.assign", "console", "community_staff")
    assert entry.before["holder_id"] is None and entry.after["holder_id"] == held.holder_id
    assert entry.node_path.startswith("/") and entry.node_path.count("/") >= 5  # the compound's path

    # The same use case from the chat's /queue is audited too, as a chat action.
    chat = report(owner, "楼下有人占用消防通道")
    with app.sessions() as session:  # back in the community's queue, to be given out from the chat
        queued = session.get(Ticket, chat)
        assert queued is not None
        queued.holder_id, queued.state, queued.level = None, "new", "community"
        session.commit()
    staff.say("/queue")
    staff.press(f"#{chat}")
    staff.press("刘网格")
    entry = audits(app, chat)[-1]
    assert (entry.action, entry.via, entry.actor_id) == ("ticket.assign", "chat", person_id(app, staff))


def test_an_internal_note_is_on_the_console_page_but_never_reaches_the_resident(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    code = report(owner, "小区门口路面塌陷")
    desk = sign_in(app, staff)
    before = outbox_count(app)
    updated = ticket(app, code).updated_at
    text = post(desk, code, "internal", note="住户情绪激动，上门前先电话沟通")
    assert "内部备注已保存" in text
    assert re.search(r'class="internal".*?住户情绪激动', text, re.S)
    assert outbox_count(app) == before  # pushed to nobody
    assert ticket(app, code).updated_at == updated  # not even "last changed" moves for the resident

    owner.say("/my")
    owner.press(f"#{code}")
    assert "小区门口路面塌陷" in owner.text and "住户情绪激动" not in owner.text
    assert not any("住户情绪激动" in t for t in pushed_to(app, owner))
    entry = audits(app, code)[-1]
    assert (entry.action, entry.via) == ("ticket.internal_note", "console")


def test_a_template_reply_reaches_the_residents_chat_and_the_text_box_wins(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    code = report(owner, "楼上漏水到我家", category="停水/漏水")
    desk = sign_in(app, staff)
    page = desk.get(f"/console/tickets/{code}").text
    template = "您好，维修人员将尽快上门检修供水管道，停水期间请提前储水。"
    assert template in page  # the water category's own replies come first

    assert "回复已发送给居民" in post(desk, code, "reply", template=template, text="")
    assert any(template in t and f"#{code}" in t for t in pushed_to(app, owner))
    post(desk, code, "reply", template=template, text="明天上午九点师傅上门，请家里留人。")
    last = pushed_to(app, owner)[-1]
    assert "明天上午九点师傅上门" in last and template not in last
    owner.say("/my")
    owner.press(f"#{code}")
    assert "明天上午九点师傅上门" in owner.text  # on the timeline the resident sees
    assert [e.action for e in audits(app, code)][-2:] == ["ticket.reply", "ticket.reply"]


def test_reclassify_recomputes_the_deadlines_and_tells_the_resident(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    code = report(owner, "家里没有热水了")
    was = ticket(app, code)
    water = app.catalog.get("water")
    assert water is not None and was.category == "other"
    desk = sign_in(app, staff)
    text = post(desk, code, "reclassify", category="water", urgent="1", reason="实为管道爆裂，影响整栋楼")
    assert "时限已按新类别重新计算" in text

    now = ticket(app, code)
    clocks = app.policy.clocks("water", water.sla, True)
    assert (now.category, now.sla_class, now.urgent) == ("water", water.sla, True)
    assert now.resolve_due_at == now.created_at + clocks.resolve != was.resolve_due_at
    assert now.accept_due_at == now.created_at + clocks.accept
    assert now.clock_due_at == now.accept_due_at  # the running accept clock moved with it
    told = [t for t in pushed_to(app, owner) if "实为管道爆裂" in t]
    assert told and f"#{code}" in told[-1]
    entry = audits(app, code)[-1]
    assert entry.action == "ticket.reclassify" and entry.before["category"] == "other"
    assert entry.after["category"] == "water" and entry.after["urgent"] is True


def test_escalate_moves_the_level_and_supervise_reminds_the_holder(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    worker = ChatUser(app.service, "grid-1", name="刘网格")
    worker.say("/start DEMO-GRID")
    code = report(owner, "楼道堆满杂物")
    assert ticket(app, code).level == "grid"
    desk = sign_in(app, staff)

    assert "督办提醒已发给办理人" in post(desk, code, "supervise", note="今天下班前清理完")
    assert any("督办" in t and "今天下班前清理完" in t for t in pushed_to(app, worker))
    owner.say("/my")
    owner.press(f"#{code}")
    assert "今天下班前清理完" not in owner.text  # the supervision note is the staff's

    assert "已上报到上一级" in post(desk, code, "escalate", note="")
    assert ticket(app, code).level == "community"
    assert any("上报至社区" in t for t in pushed_to(app, owner))
    # Now the community holds it: its own staff are not above it.
    text = post(desk, code, "escalate", note="")
    assert "只有高于工单当前层级的工作人员才能督办" in text
    assert ticket(app, code).level == "community"
    street = staff_on(app, "street-1", "街道孙科长", "street_staff", "铁西区/北沟街道")
    post(sign_in(app, street), code, "escalate", note="")
    assert ticket(app, code).level == "street"
    actions = [(e.action, e.via, e.actor_role) for e in audits(app, code)]
    assert actions == [
        ("ticket.supervise", "console", "community_staff"),
        ("ticket.escalate", "console", "community_staff"),
        ("ticket.escalate", "console", "street_staff"),
    ]


def test_transfer_duplicate_and_an_honest_close_from_the_desk(
    app: App, owner: ChatUser, neighbour: ChatUser, staff: ChatUser
) -> None:
    from core import tickets
    from core.permissions import Actor
    from core.work import Work

    worker = ChatUser(app.service, "grid-1", name="刘网格")
    worker.say("/start DEMO-GRID")
    first = report(owner, "单元门口的垃圾没人清")
    second = report(neighbour, "垃圾没人清理，很臭")
    with app.sessions() as session:
        work = Work(session, app.clock.now(), app.policy)
        grid = Actor(person_id(app, worker), people.grants_of(session, person_id(app, worker)))
        tickets.request_transfer(work, grid, first, "这是物业的活")
        session.commit()
    desk = sign_in(app, staff)
    page = desk.get(f"/console/tickets/{first}").text
    assert "这是物业的活" in page and "同意转派" in page
    post(desk, first, "transfer", decision="approve")
    after = ticket(app, first)
    assert (after.holder_id, after.level, after.transfer_requested_by) == (None, "community", None)

    assert "已合并为重复工单" in post(desk, second, "duplicate", original=f"#{first}")
    assert ticket(app, second).state == "duplicate"

    text = post(desk, first, "resolve", kind="not_responsible", note="已告知业主联系物业公司")
    assert "已办结" in text
    closed = ticket(app, first)
    assert (closed.state, closed.closure_kind) == ("resolved", "not_responsible")
    assert "非本单位职责" in desk.get(f"/console/tickets/{first}").text
    assert [e.action for e in audits(app, first)] == ["ticket.transfer_approve", "ticket.resolve"]
    assert [e.action for e in audits(app, second)] == ["ticket.duplicate"]
    assert all(e.via == "console" for e in audits(app, first) + audits(app, second))


def test_a_facility_repair_is_closed_with_an_after_photo_uploaded_at_the_desk(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    code = report(owner, "单元门坏了", category="公共设施损坏")
    desk = sign_in(app, staff)
    assert "需要上传处理后的照片" in post(desk, code, "resolve", kind="fixed", note="已更换门锁")
    assert ticket(app, code).state == "new"
    image = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(image, "PNG")
    sent = desk.client.post(
        f"/console/tickets/{code}/resolve",
        data={"csrf": desk.csrf, "kind": "fixed", "note": "已更换门锁"},
        files={"photo": ("after.png", image.getvalue(), "image/png")},
    )
    assert sent.status_code == 303 and "done=resolve" in sent.headers["location"]
    assert ticket(app, code).state == "resolved"
    page = desk.get(f"/console/tickets/{code}").text
    after = page.split("办结照片（处理后）", 1)[1].split("</div>", 2)[0]
    found = re.search(rf'src="(/console/tickets/{code}/files/\d+)"', after)
    assert found, after
    assert desk.get(found.group(1)).headers["content-type"] == "image/jpeg"  # written anew, no metadata
    assert any("已更换门锁" in t for t in pushed_to(app, owner))


# --- refusals, escaping, languages ----------------------------------------------------------------


def test_refusals_say_why_and_change_nothing(app: App, owner: ChatUser, staff: ChatUser) -> None:
    code = report(owner, "健身器材坏了")
    keeper = staff_on(app, "property-1", "物业小赵", "property_staff", f"{COMMUNITY}/阳光花园")
    other = report(owner, "健身器材坏了，螺丝松了")
    property_desk = sign_in(app, keeper)
    text = post(property_desk, other, "duplicate", original=str(code))
    assert "没有找到原工单，或它不在您的管辖范围内" in text  # not theirs to close: no original is theirs
    assert "您没有权限对这张工单做这件事" in post(property_desk, other, "transfer", decision="approve")
    assert ticket(app, other).state == "new"

    desk = sign_in(app, staff)
    post(desk, other, "duplicate", original=str(code))
    before = outbox_count(app)
    for action, data in (
        ("reply", {"text": "还在处理吗？"}),
        ("reclassify", {"category": "facility", "reason": "设施"}),
        ("assign", {"worker": str(person_id(app, staff))}),
    ):
        assert "工单已结束，不能再修改" in post(desk, other, action, **data)
    assert "请填写原因" in post(desk, code, "reclassify", category="facility", reason=" ")
    assert ticket(app, code).category == "other"
    assert outbox_count(app) == before
    assert [e.action for e in audits(app, other)] == ["ticket.duplicate"]
    assert audits(app, code) == []

    # The owners' committee uses the console for polls, and sees no tickets.
    committee = ChatUser(app.service, "committee-1", name="赵委员")
    committee.say("/start DEMO-COMMITTEE")
    member = sign_in(app, committee)
    assert member.get(f"/console/tickets/{code}").status_code == 403
    assert member.post(f"/console/tickets/{code}/internal", {"note": "看看"}).status_code == 403
    assert member.get(f"/console/tickets/{code}/files/1").status_code == 403


def test_user_text_is_shown_escaped(app: App, clock: FixedClock, staff: ChatUser) -> None:
    resident = ChatUser(app.service, "owner-x", name=XSS)
    resident.say("/start DEMO-OWNER")
    with app.sessions() as session:
        who = session.get(Person, person_id(app, resident))
        assert who is not None
        who.name = XSS
        session.commit()
    code = report(resident, f"描述{XSS}")
    desk = sign_in(app, staff)
    post(desk, code, "internal", note=f"备注{XSS}")
    text = desk.get(f"/console/tickets/{code}").text
    assert "<script>alert(1)</script>" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count("&lt;img src=x onerror=alert(2)&gt;") >= 3  # name, description, note


def test_both_languages_render_and_a_photo_we_do_not_hold_is_a_placeholder(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    code = report(owner, "水管漏水", photo="lost-photo")
    second = report(owner, "水管又漏了", photo="AgACAgUAAxkBAAI")
    with app.sessions() as session:  # a photo that came through Telegram is only Telegram's to show
        for item in session.exec(select(Attachment).where(Attachment.ticket_id == second)).all():
            item.channel = "telegram"
        session.commit()
    desk = sign_in(app, staff)
    assert "照片保存在Telegram，请在Telegram中查看" in desk.get(f"/console/tickets/{second}").text
    post(desk, code, "internal", note="先联系物业")
    text = desk.get(f"/console/tickets/{code}").text
    assert "处理过程" in text
    assert "照片文件已不在服务器上" in text and "/files/" not in text  # a web photo gone from the disk
    switched = desk.post("/console/lang", {"locale": "en"})
    assert switched.status_code == 303
    text = desk.get(f"/console/tickets/{code}").text
    assert "Timeline" in text and "Internal note" in text and "Reply to the residents" in text
    assert "Hello, we have received your report" in text
    assert "处理过程" not in text
    assert "This photo is kept by Telegram" in desk.get(f"/console/tickets/{second}").text
