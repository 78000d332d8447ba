"""Dialog tests for case handling: the grid worker's task card and buttons, /tasks, /duty, the resident's
follow-up rating, and the refusals (another's task, a resident pressing staff buttons, forged ids)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import col, select

from bot.bootstrap import App
from bot.clock import FixedClock
from core import actions
from db.models import Attachment, Identity, Ticket, TicketEvent, WebMessage
from tests.support.chat import ChatUser


def drain(app: App) -> None:
    asyncio.run(app.dispatcher.drain())


def inbox(app: App, user: ChatUser) -> list[dict]:
    """Everything pushed to a web chat user, oldest first."""
    with app.sessions() as session:
        identity = session.exec(select(Identity).where(Identity.external_id == user.user_ref)).one()
        rows = session.exec(
            select(WebMessage)
            .where(WebMessage.identity_id == identity.id, WebMessage.outgoing == True)  # noqa: E712
            .order_by(col(WebMessage.id))
        ).all()
    return [row.body for row in rows]


def pushed_button(app: App, user: ChatUser, label: str) -> str:
    """The data of the newest pushed button whose label contains `label`."""
    for body in reversed(inbox(app, user)):
        for row in body["buttons"]:
            for text, data in row:
                if label in text:
                    return data
    raise AssertionError(f"no pushed button {label!r}")


def ticket(app: App, ticket_id: int | None = None) -> Ticket:
    with app.sessions() as session:
        if ticket_id is None:
            found = session.exec(select(Ticket).order_by(col(Ticket.id).desc())).first()
        else:
            found = session.get(Ticket, ticket_id)
        assert found is not None
        return found


def person_id(app: App, user: ChatUser) -> int:
    with app.sessions() as session:
        return session.exec(select(Identity).where(Identity.external_id == user.user_ref)).one().person_id


def events(app: App, ticket_id: int) -> list[str]:
    with app.sessions() as session:
        rows = session.exec(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(col(TicketEvent.id))
        ).all()
    return [e.kind for e in rows]


def test_report_arrives_as_task_card_and_accept_and_progress_reach_the_resident(
    app: App, worker: ChatUser, owner: ChatUser
) -> None:
    owner.report("停水/漏水", "楼道水管漏水，地上全是水")
    t = ticket(app)
    assert t.state == "assigned" and t.holder_id == person_id(app, worker)
    drain(app)
    [card] = [m for m in inbox(app, worker) if f"#{t.id}" in m["text"]]
    assert "新任务" in card["text"] and "楼道水管漏水" in card["text"] and "1单元 101" in card["text"]
    assert ["✅ 接单", actions.Task("a", ticket=t.id).encode()] in card["buttons"][0]

    worker.data(actions.Task("a", ticket=t.id).encode())
    assert "已接单" in worker.text and "办结时限" in worker.text
    assert ticket(app, t.id).state == "accepted"
    drain(app)
    assert any("已由网格员接单" in m["text"] for m in inbox(app, owner))

    worker.press("进展")
    assert "办理进展" in worker.text
    worker.say("已联系物业，明天上午维修")
    assert "进展已记录" in worker.text
    worker.data(actions.Task("p", ticket=t.id).encode())
    worker.photo("progress-photo-1")
    assert "文字说明" in worker.text
    worker.say("材料已到")
    assert "含照片" in worker.text
    drain(app)
    texts = [m["text"] for m in inbox(app, owner)]
    assert any("有新进展" in x and "已联系物业，明天上午维修" in x for x in texts)
    owner.say(f"#{t.id}")
    assert "网格员 进展：已联系物业" in owner.text and "照片 1 张" in owner.text
    with app.sessions() as session:
        [photo] = session.exec(select(Attachment).where(Attachment.ref == "progress-photo-1")).all()
        event = session.get(TicketEvent, photo.event_id)
    assert event is not None and event.kind == "progress" and event.note == "材料已到"


def test_asking_the_resident_pauses_the_clock_and_the_answer_shifts_deadlines(
    app: App, worker: ChatUser, owner: ChatUser, clock: FixedClock
) -> None:
    owner.report("停水/漏水", "厨房漏水")
    t = ticket(app)
    worker.data(actions.Task("a", ticket=t.id).encode())
    before = ticket(app, t.id)
    worker.press("需要居民补充")
    worker.say("请拍一张漏水位置的照片")
    assert "时限已暂停" in worker.text
    paused = ticket(app, t.id)
    assert paused.state == "waiting_for_resident" and paused.next_due_at is None
    worker.data(actions.Task("q", ticket=t.id).encode())  # asking twice while waiting
    assert "正在等待居民补充" in worker.text

    drain(app)
    assert any("需要您补充" in m["text"] for m in inbox(app, owner))
    answer = pushed_button(app, owner, "补充信息")
    assert answer == actions.MyTicket("n", ticket=t.id).encode()
    clock.advance(hours=1)
    owner.data(answer)
    owner.say("漏水在厨房水槽下面")
    assert "已补充" in owner.text
    after = ticket(app, t.id)
    assert after.state == "accepted" and after.paused_at is None and after.next_due_at is not None
    assert after.resolve_due_at == before.resolve_due_at + timedelta(hours=1)  # type: ignore[operator]
    assert after.clock_due_at == before.clock_due_at + timedelta(hours=1)  # type: ignore[operator]
    drain(app)
    assert any("居民已补充" in m["text"] for m in inbox(app, worker))


def test_resolve_needs_an_after_photo_and_ratings_reopen_then_close(
    app: App, worker: ChatUser, staff: ChatUser, owner: ChatUser
) -> None:
    owner.report("停水/漏水", "水管接头漏水")
    t = ticket(app)
    worker.data(actions.Task("a", ticket=t.id).encode())
    worker.press("办结")
    assert "办结类型" in worker.text
    worker.press("已修复")
    worker.say("已更换水管接头")
    assert "处理后的现场照片" in worker.text
    worker.press("完成")  # no photo yet
    assert "至少需要一张" in worker.text
    assert ticket(app, t.id).state == "accepted"
    worker.photo("after-1")
    assert "已收到 1 张" in worker.text
    worker.press("完成")
    assert "已办结" in worker.text
    done = ticket(app, t.id)
    assert done.state == "resolved" and done.closure_kind == "fixed"
    with app.sessions() as session:
        [photo] = session.exec(select(Attachment).where(Attachment.ref == "after-1")).all()
        assert session.get(TicketEvent, photo.event_id).kind == "resolved"  # type: ignore[union-attr]

    drain(app)
    assert any("已办结" in m["text"] for m in inbox(app, owner))
    owner.data(pushed_button(app, owner, "不满意"))
    assert "哪里还没解决" in owner.text
    owner.say("还是在滴水")
    assert "已重新办理" in owner.text and "社区督办" in owner.text
    reopened = ticket(app, t.id)
    assert reopened.state == "reopened" and reopened.level == "community"
    assert reopened.holder_id == person_id(app, worker) and reopened.rating_comment == "还是在滴水"
    drain(app)
    assert any("居民不满意，重新办理" in m["text"] for m in inbox(app, worker))
    assert any("督办" in m["text"] and f"#{t.id}" in m["text"] for m in inbox(app, staff))

    worker.data(actions.Task("r", ticket=t.id).encode())
    worker.press("部分解决")
    worker.photo("after-2", caption="接头已重新密封，墙面待晾干后修补")  # note and photo in one message
    assert "已收到 1 张" in worker.text
    worker.press("完成")
    assert ticket(app, t.id).state == "resolved"
    drain(app)
    owner.data(pushed_button(app, owner, "满意"))
    assert "感谢您的评价" in owner.text
    closed = ticket(app, t.id)
    assert closed.state == "closed" and closed.rating == "satisfied"
    owner.data(actions.Rate("s", ticket=t.id).encode())  # a second press
    assert "已评价过" in owner.text
    assert events(app, t.id).count("rated_satisfied") == 1


def test_non_facility_resolve_needs_no_photo_and_basically_satisfied_closes(
    app: App, worker: ChatUser, owner: ChatUser
) -> None:
    owner.report("噪音扰民", "楼上装修太吵")
    t = ticket(app)
    worker.data(actions.Task("r", ticket=t.id).encode())  # resolving without accepting first is allowed
    worker.press("经核实无需处理")
    worker.say("已上门核实，装修在允许时段内")
    assert "已办结" in worker.text
    owner.data(actions.Rate("b", ticket=t.id).encode())
    assert "基本满意" in owner.text
    assert ticket(app, t.id).state == "closed"


def test_transfer_request_reaches_community_staff(
    app: App, worker: ChatUser, staff: ChatUser, owner: ChatUser
) -> None:
    owner.report("供暖", "暖气不热")
    t = ticket(app)
    worker.data(actions.Task("t", ticket=t.id).encode())
    assert "理由" in worker.text
    worker.say("供暖由热力公司负责，不属于网格")
    assert "转派申请已提交" in worker.text
    assert ticket(app, t.id).transfer_requested_by == person_id(app, worker)
    drain(app)
    [request] = [m for m in inbox(app, staff) if "申请转派" in m["text"]]
    assert "热力公司" in request["text"]
    assert [actions.Queue("ty", ticket=t.id).encode(), actions.Queue("tn", ticket=t.id).encode()] == [
        data for _, data in request["buttons"][0]
    ]
    worker.data(actions.Task("t", ticket=t.id).encode())
    assert "等待社区决定" in worker.text


def test_tasks_lists_open_tasks_by_deadline_and_marks_overdue(
    app: App, worker: ChatUser, owner: ChatUser, neighbour: ChatUser, clock: FixedClock
) -> None:
    owner.report("噪音扰民", "夜间噪音")  # general: accept within 24 h
    neighbour.report("停水/漏水", "家里停水")  # utilities: 2 h
    owner.report("燃气泄漏", "楼道煤气味")  # urgent: 30 min
    noise, water, gas = (t.id for t in _all(app))
    clock.advance(hours=1)
    worker.say("/tasks")
    text = worker.text
    assert text.index(f"#{gas}") < text.index(f"#{water}") < text.index(f"#{noise}")
    gas_line = next(line for line in text.splitlines() if f"#{gas}" in line)
    water_line = next(line for line in text.splitlines() if f"#{water}" in line)
    assert "已超时" in gas_line and "已超时" not in water_line
    worker.press(f"#{water}")
    assert "任务 #" in worker.text and "家里停水" in worker.text and "✅ 接单" in worker.buttons()
    worker.press("我的任务")
    assert f"#{gas}" in worker.text


def _all(app: App) -> list[Ticket]:
    with app.sessions() as session:
        return list(session.exec(select(Ticket).order_by(col(Ticket.id))).all())


def test_queued_ticket_is_listed_for_community_staff_who_may_accept_it(
    app: App, staff: ChatUser, owner: ChatUser
) -> None:
    owner.report("电梯故障", "电梯停在3楼")  # no grid worker has joined: the community's queue
    t = ticket(app)
    assert t.level == "community" and t.holder_id is None
    staff.say("/tasks")
    assert f"#{t.id}" in staff.text and "待认领" in staff.text
    staff.data(actions.Task("a", ticket=t.id).encode())
    assert "已接单" in staff.text
    assert ticket(app, t.id).holder_id == person_id(app, staff)


def test_duty_off_sends_new_tickets_to_the_backup(
    app: App, worker: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    backup = ChatUser(app.service, "grid-2", name="陈备岗")
    backup.say("/start DEMO-GRID")  # the grid has a worker already: the second one becomes its backup
    worker.say("/tasks")  # the duty switch sits under the task list: no command to remember
    worker.press("休息")
    assert "已设为休息" in worker.text and "陈备岗" in worker.text and "恢复在岗" in worker.text
    owner.report("停水/漏水", "停水了")
    assert ticket(app).holder_id == person_id(app, backup)
    worker.press("恢复在岗")
    assert "已恢复在岗" in worker.text
    neighbour.report("噪音扰民", "楼下广场舞")
    assert ticket(app).holder_id == person_id(app, worker)
    worker.say("/duty")  # typed, it still switches
    assert "已设为休息" in worker.text
    owner.say("/duty")
    assert "只有网格员" in owner.text
    owner.data(actions.Task("f").encode())  # a forged duty button changes nothing for a resident
    assert "只有网格员" in owner.text


def test_another_workers_task_and_residents_pressing_staff_buttons_are_refused(
    app: App, worker: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    other = ChatUser(app.service, "grid-2")
    other.say("/start DEMO-GRID")  # the backup, not this ticket's holder
    owner.report("停水/漏水", "水管漏水")
    t = ticket(app)
    for action in ("a", "r", "p", "t", "v"):
        other.data(actions.Task(action, ticket=t.id).encode())
        assert "不在您的待办任务中" in other.text, action
    for data in (
        actions.Task("a", ticket=t.id).encode(),
        actions.Task("r", ticket=t.id).encode(),
        actions.Task("p", ticket=t.id).encode(),
        actions.Task("c", ticket=t.id, closure="fixed").encode(),
    ):
        owner.data(data)
        assert "仅供网格员" in owner.text, data
    owner.data(actions.Queue("ty", ticket=t.id).encode())
    owner.data(actions.Queue("tn", ticket=t.id).encode())
    after = ticket(app, t.id)
    assert (after.state, after.holder_id, after.transfer_requested_by) == ("assigned", t.holder_id, None)
    assert events(app, t.id) == ["created", "assigned"]

    worker.data(actions.Task("a", ticket=t.id).encode())
    worker.data(actions.Task("a", ticket=t.id).encode())  # a double click
    assert "已经接单" in worker.text
    assert events(app, t.id).count("accepted") == 1

    owner.data(actions.Rate("s", ticket=t.id).encode())  # not resolved yet
    assert "不能评价" in owner.text
    worker.data(actions.Task("r", ticket=t.id).encode())
    worker.press("非本单位职责")
    worker.say("属于自来水公司管辖，已告知报修电话")
    assert ticket(app, t.id).state == "resolved"
    neighbour.data(actions.Rate("s", ticket=t.id).encode())  # someone else's ticket
    assert "只有反映人可以评价" in neighbour.text
    assert ticket(app, t.id).state == "resolved"


def test_forged_and_stale_task_buttons_get_a_clear_reply(app: App, worker: ChatUser, owner: ChatUser) -> None:
    owner.report("停水/漏水", "漏水")
    t = ticket(app)
    worker.data(actions.Task("a", ticket=99999).encode())
    assert "没有找到工单 #99999" in worker.text
    for data in (
        "k:a:abc",
        "k:a",
        "k:zz:1",
        actions.Task("c", ticket=t.id, closure="fixed").encode(),
        actions.Task("d", ticket=t.id).encode(),
        "f:s:abc",
        "f:z:1",
        actions.Rate("k", ticket=1).encode(),
    ):
        worker.data(data)
        assert "按钮已失效" in worker.text, data
    worker.data(actions.Task("r", ticket=t.id).encode())
    worker.data(actions.Task("c", ticket=t.id, closure="exploded").encode())  # not a closure kind
    assert "按钮已失效" in worker.text
    # another ticket than the one being resolved
    worker.data(actions.Task("c", ticket=t.id + 1, closure="fixed").encode())
    assert "按钮已失效" in worker.text
    owner.data(actions.Rate("s", ticket=99999).encode())
    assert "只有反映人可以评价" in owner.text
    assert ticket(app, t.id).state == "assigned"


def test_cancel_leaves_the_task_flow_without_writing(app: App, worker: ChatUser, owner: ChatUser) -> None:
    owner.report("停水/漏水", "漏水")
    t = ticket(app)
    worker.data(actions.Task("p", ticket=t.id).encode())
    worker.say("/cancel")
    assert "已取消" in worker.text
    worker.say("这句话不应成为进展")
    assert "进展已记录" not in worker.text
    worker.data(actions.Task("t", ticket=t.id).encode())
    worker.press("取消")
    assert "已取消" in worker.text
    assert events(app, t.id) == ["created", "assigned"]
