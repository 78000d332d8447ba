"""Owners' polls in chat (DESIGN §4.2), driven like a user: list, view, vote with a confirm step, receipts,
refusals with their reasons, forged buttons, changes, co-owners, elections, secrecy, staff turnout, and a
concurrent double vote on PostgreSQL."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from bot.bootstrap import App
from bot.clock import FixedClock
from core.actions import Join, Language, Vote
from db import org, polls
from db.models import Conversation, Identity, InboundLog, OrgNode, Poll, PollBallot, PollTurnout, WebMessage
from db.polls import ballots as box
from tests.conftest import make_app
from tests.support import poll_cases
from tests.support.chat import ChatUser

COMPOUND = "铁西区/北沟街道/英雄社区/阳光花园"
STALE = "按钮已失效"
CODE = re.compile(r"回执码：([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})")


# --- helpers -----------------------------------------------------------------------------------------


def make_poll(
    app: App, clock: FixedClock, open_now: bool = True, buildings: tuple[str, ...] = (), **fields: Any
) -> int:
    """A poll over 阳光花园 created by the system, voting from now for 7 days; opened unless told not."""
    now = clock.now()
    with app.sessions() as session:
        compound = polls_node(session, COMPOUND)
        ids = tuple(polls_node(session, f"{COMPOUND}/{b}").id for b in buildings)
        draft = polls.Draft(
            **{
                "node_id": compound.id,
                "title": "续聘阳光物业",
                "body": "是否续聘阳光物业服务有限公司，合同三年。",
                "matter": 4,
                "kind": "decision",
                "opens_at": now,
                "closes_at": now + timedelta(days=7),
                "buildings": ids,
                "shortened_reason": "合同月底到期",
                **fields,
            }
        )
        poll = poll_cases.create(session, None, draft, now, app.policy)
        if open_now:
            assert poll_cases.step(session, poll, now, app.policy, app.settings.seal_key) == "opened"
        session.commit()
        return poll.id  # type: ignore[return-value]


def button(verb: str, poll_id: int, **fields: Any) -> str:
    """The data of a poll button, as the codec writes it."""
    return Vote(verb, poll=poll_id, **fields).encode()


def polls_node(session: Any, path: str) -> OrgNode:
    node = org.find_node(session, path)
    assert node is not None, path
    return node


def run_due(app: App, clock: FixedClock) -> list[str]:
    """What the scheduler would do now: open, remind or close every poll that is due."""
    with app.sessions() as session:
        done = [
            poll_cases.step(session, p, clock.now(), app.policy, app.settings.seal_key)
            for p in polls.due(session, clock.now())
        ]
        session.commit()
    return done


def rows(app: App, model: Any) -> int:
    with app.sessions() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def poll_of(app: App, poll_id: int) -> Poll:
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        session.expunge(poll)
        return poll


def receipt_of(app: App, poll_id: int, code: str) -> tuple[str, str] | None:
    with app.sessions() as session:
        return polls.check_receipt(session, session.get(Poll, poll_id), code)  # type: ignore[arg-type]


def code_in(user: ChatUser) -> str:
    match = CODE.search(user.text)
    assert match, user.text
    return match.group(1)


def person_of(app: App, user_ref: str, channel: str = "web") -> int:
    with app.sessions() as session:
        return session.exec(
            select(Identity.person_id).where(Identity.channel == channel, Identity.external_id == user_ref)
        ).one()


def vote_yes(user: ChatUser, poll_id: int, choice: str = "yes") -> str:
    """Choose on the poll's page, confirm, and return the receipt code."""
    user.data(button("v", poll_id))
    user.data(button("c", poll_id, choice=choice))
    assert "请确认您的选票" in user.text, user.text
    user.press("确认投票")
    return code_in(user)


def joined(app: App, ref: str, invite: str) -> ChatUser:
    user = ChatUser(app.service, ref, name=ref)
    user.say(f"/start {invite}")
    return user


# --- voting ------------------------------------------------------------------------------------------


def test_owner_votes_yes_with_a_confirm_step_and_checks_the_receipt(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock)
    owner.say("/polls")
    assert "续聘阳光物业〔投票中〕" in owner.text and "您可以投票" in owner.text
    owner.press("续聘阳光物业")
    assert (
        "第（四）项" in owner.text
        and "第二百七十八条" in owner.text
        and "选聘和解聘物业服务企业" in owner.text
    )
    assert "过半数" in owner.text and "三分之二以上" in owner.text
    assert "不记名投票" in owner.text and "公告期不足 15 天，原因：合同月底到期" in owner.text
    owner.press("同意")
    assert "您的选择：同意" in owner.text and owner.last[-1].redacted  # the choice is shown once
    assert rows(app, PollTurnout) == 0  # nothing is cast before the confirmation
    owner.press("确认投票")
    code = code_in(owner)
    assert (
        "只显示这一次" in owner.text
        and "凭这串码可以查到您的票已计入" in owner.text
        and "任何人（包括工作人员）" in owner.text
    )
    assert "回执指纹" not in owner.text  # the fingerprint is for the check, not the receipt
    assert owner.last[-1].redacted, "a secret ballot's receipt must be marked secret"
    assert receipt_of(app, poll_id, code) == ("yes", receipt_of(app, poll_id, code)[1])  # type: ignore[index]
    assert rows(app, PollTurnout) == 1 and rows(app, PollBallot) == 1

    owner.press("核对回执")
    assert "请输入您的回执码" in owner.text
    owner.say(code.lower().replace("-", " "))
    assert "回执有效" in owner.text and "同意" in owner.text and owner.last[-1].redacted
    assert "回执指纹" in owner.text  # shown where the receipt is checked
    owner.data(button("r", poll_id))
    owner.say("ABCD-EFGH-JKMN")
    assert "没有找到" in owner.text and owner.last[-1].redacted  # a near-miss code is not kept either
    owner.data(button("r", poll_id))
    owner.say("12")
    assert "12 位字母和数字" in owner.text

    owner.say("/polls")
    assert "您家已于" in owner.text and "不能修改" in owner.text


def test_pressing_confirm_twice_casts_one_vote(app: App, clock: FixedClock, owner: ChatUser) -> None:
    poll_id = make_poll(app, clock)
    owner.data(button("c", poll_id, choice="no"))
    owner.data(button("ok", poll_id))
    assert "投票成功" in owner.text
    owner.data(button("ok", poll_id))
    assert "投过票了，这次没有重复计票" in owner.text
    assert rows(app, PollTurnout) == 1 and rows(app, PollBallot) == 1


def test_a_choice_made_before_the_close_is_refused_after_it(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock)
    owner.data(button("c", poll_id, choice="yes"))
    clock.advance(days=8)  # the poll closes while the confirm page is open (the sweep has not run yet)
    owner.press("确认投票")
    assert "投票已于" in owner.text and "截止" in owner.text
    assert rows(app, PollTurnout) == 0


def test_closed_poll_shows_the_result_and_refuses_votes(
    app: App, clock: FixedClock, owner: ChatUser, neighbour: ChatUser
) -> None:
    poll_id = make_poll(app, clock)
    code = vote_yes(owner, poll_id)
    vote_yes(neighbour, poll_id, "no")
    clock.advance(days=8)
    assert run_due(app, clock) == ["closed"]
    owner.say("/polls")
    assert "〔已结束〕" in owner.text and "结果：参与表决的面积或人数未达到三分之二" in owner.text
    owner.press("续聘阳光物业")
    assert (
        "表决结果" in owner.text and "回执的摘要" in owner.text and poll_of(app, poll_id).digest in owner.text
    )
    assert "业主 2 / " in owner.text or "业主 2 /" in owner.text.replace("  ", " ")
    owner.data(button("c", poll_id, choice="no"))
    assert "投票已于" in owner.text and rows(app, PollTurnout) == 2
    owner.data(button("r", poll_id))
    owner.say(code)
    assert "回执有效" in owner.text and poll_of(app, poll_id).digest in owner.text


# --- who may vote ------------------------------------------------------------------------------------


def test_a_tenant_is_told_only_owners_vote(app: App, clock: FixedClock) -> None:
    poll_id = make_poll(app, clock)
    tenant = joined(app, "tenant-1", "DEMO-TENANT")
    tenant.say("/polls")
    assert "续聘阳光物业" in tenant.text and "只有业主可以投票" in tenant.text
    tenant.press("续聘阳光物业")
    assert "房东" in tenant.text and "同意" not in " ".join(tenant.buttons())
    tenant.data(button("c", poll_id, choice="yes"))
    assert "只有业主可以投票" in tenant.text
    tenant.data(button("ok", poll_id))
    assert STALE in tenant.text
    assert rows(app, PollTurnout) == 0


def test_a_stranger_sees_nothing_and_cannot_vote(app: App, clock: FixedClock) -> None:
    poll_id = make_poll(app, clock)
    stranger = ChatUser(app.service, "nobody", name="路人")
    stranger.say("/polls")
    assert "目前没有与您有关的业主表决" in stranger.text
    for data in (
        button("v", poll_id),
        button("c", poll_id, choice="yes"),
        button("ok", poll_id),
        button("r", poll_id),
    ):
        stranger.data(data)
        assert STALE in stranger.text, data
    assert rows(app, PollTurnout) == 0


def test_an_owner_outside_the_buildings_in_scope_is_refused(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock, buildings=("2栋",))
    owner.say("/polls")
    assert "目前没有" in owner.text  # the poll is not over their home
    owner.data(button("v", poll_id))
    assert "您的房屋不在本次表决的范围内" in owner.text
    owner.data(button("c", poll_id, choice="yes"))
    assert "您的房屋不在本次表决的范围内" in owner.text
    assert rows(app, PollTurnout) == 0


def test_owners_verified_after_opening_or_still_pending_are_refused(app: App, clock: FixedClock) -> None:
    poll_id = make_poll(app, clock)
    late = joined(app, "late-owner", "DEMO-OWNER2")  # verified after the electorate was frozen
    late.data(button("v", poll_id))
    assert "投票人名单在投票开始时（2026-11-20）已经确定" in late.text
    late.data(button("c", poll_id, choice="yes"))
    assert "之后才核实" in late.text

    with app.sessions() as session:
        home = org.find_home(session, f"{COMPOUND}/1栋/1单元/302")
        assert home is not None
        home_id = home.id
    pending = ChatUser(app.service, "pending-owner", name="赵")
    pending.data(
        Join("k", home=home_id, kind="owner").encode()
    )  # asks to be registered as the owner; staff have not verified it
    pending.say("赵")
    pending.say("13900009999")
    assert "已提交登记申请" in pending.text
    pending.data(button("v", poll_id))
    assert "等待工作人员核实" in pending.text and not pending.buttons()
    pending.data(button("c", poll_id, choice="yes"))
    assert "等待工作人员核实" in pending.text
    assert rows(app, PollTurnout) == 0


def test_a_co_owner_sees_that_the_home_voted_without_the_choice(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    co_owner = joined(app, "co-owner", "DEMO-OWNER")  # same home, joined before voting opened
    poll_id = make_poll(app, clock)
    co_owner.data(button("c", poll_id, choice="no"))  # both have the confirm page open ...
    vote_yes(owner, poll_id)  # ... the first to confirm casts the home's vote
    co_owner.press("确认投票")
    assert "另一位业主已于" in co_owner.text and "一套房屋只计一票" in co_owner.text
    co_owner.data(button("v", poll_id))
    assert "另一位业主已于" in co_owner.text and "同意" not in co_owner.text.split("另一位业主")[1]
    assert not any("同意" in b for b in co_owner.buttons())
    co_owner.data(button("c", poll_id, choice="no"))
    assert "一套房屋只计一票" in co_owner.text
    assert rows(app, PollTurnout) == 1 and rows(app, PollBallot) == 1


# --- forged and stale buttons --------------------------------------------------------------------


def test_forged_buttons_get_stale_or_a_refusal_and_cast_nothing(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock)
    election = make_poll(app, clock, kind="election", matter=3, candidates=("张三", "李四", "王五"), seats=1)
    # Well-formed presses that fit no poll or no step (built by the codec), and malformed data (raw: the
    # codec writes no such thing).
    for data in (
        button("v", 999999),
        "v:c:abc:yes",
        "v:v:-1",
        "v:v:0",
        "v:",
        "v",
        "v:zz:1",
        f"v:v:{poll_id}:x",
        button("ok", poll_id),
        f"v:ok:{poll_id}:yes",
        button("d", poll_id),
        button("t", poll_id, candidate=1),
        button("c", election, choice="yes"),
        button("x", poll_id),
        f"v:c:{poll_id}:yes:again",
        "v:v:" + "9" * 40,
        "v:v:999999999999",
    ):
        owner.data(data)
        assert STALE in owner.text, data
    owner.data(button("c", poll_id, choice="maybe"))
    assert "选项无效" in owner.text
    owner.data(button("t", election, candidate=9))
    assert "选项无效" in owner.text
    owner.data(button("t", election, candidate=1))
    owner.data(button("t", election, candidate=2))
    assert "最多只能选 1 位候选人" in owner.text
    owner.data(button("cancel", poll_id))
    assert "没有管理这个表决的权限" in owner.text
    assert rows(app, PollTurnout) == 0 and rows(app, PollBallot) == 0
    assert poll_of(app, poll_id).state == "open"


# --- changing a vote -------------------------------------------------------------------------------


def test_a_vote_can_be_changed_when_the_poll_allows_it(app: App, clock: FixedClock, owner: ChatUser) -> None:
    poll_id = make_poll(app, clock, changeable=True)
    first = vote_yes(owner, poll_id)
    assert "截止（" in owner.text and "新的回执码" in owner.text
    owner.data(button("v", poll_id))
    assert "截止前可以修改" in owner.text
    owner.press("反对")
    assert "替换您家之前投出的票" in owner.text
    owner.press("确认投票")
    second = code_in(owner)
    assert "已修改您家的选票" in owner.text and second != first
    assert receipt_of(app, poll_id, first) is None
    assert receipt_of(app, poll_id, second) is not None and receipt_of(app, poll_id, second)[0] == "no"  # type: ignore[index]
    owner.data(button("r", poll_id))
    owner.say(first)
    assert "旧的回执码已经作废" in owner.text
    assert rows(app, PollTurnout) == 1 and rows(app, PollBallot) == 1


def test_a_vote_cannot_be_changed_when_the_poll_forbids_it(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock)
    code = vote_yes(owner, poll_id)
    owner.data(button("v", poll_id))
    assert not any(b in ("👍 同意", "👎 反对", "弃权") for b in owner.buttons())
    owner.data(button("c", poll_id, choice="no"))
    assert "不能修改" in owner.text
    assert receipt_of(app, poll_id, code) is not None and receipt_of(app, poll_id, code)[0] == "yes"  # type: ignore[index]
    assert rows(app, PollBallot) == 1


# --- elections -------------------------------------------------------------------------------------


def test_an_election_toggles_candidates_up_to_the_seats(app: App, clock: FixedClock, owner: ChatUser) -> None:
    poll_id = make_poll(
        app,
        clock,
        kind="election",
        matter=3,
        title="选举业委会委员",
        candidates=("张三", "李四", "王五"),
        seats=2,
    )
    owner.data(button("v", poll_id))
    assert "应选 2 名" in owner.text and "1. 张三" in owner.text
    owner.press("张三")
    owner.press("李四")
    assert "✅ 张三" in owner.buttons() and "✅ 李四" in owner.buttons() and "已选 2 位" in owner.text
    assert owner.last[-1].redacted  # what a secret ballot is choosing is not kept either
    owner.press("王五")
    assert "最多只能选 2 位候选人" in owner.text and "王五" in owner.buttons()
    owner.press("✅ 张三")  # untick
    owner.press("王五")
    owner.press("选好了")
    assert "您的选择：同意：李四、王五" in owner.text
    owner.press("确认投票")
    code = code_in(owner)
    assert receipt_of(app, poll_id, code) == ("2,3", receipt_of(app, poll_id, code)[1])  # type: ignore[index]
    owner.press("核对回执")
    owner.say(code)
    assert "李四、王五" in owner.text


def test_an_election_ballot_approving_nobody_counts_as_taking_part(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock, kind="election", matter=3, candidates=("张三", "李四"), seats=1)
    owner.data(button("t", poll_id, candidate=1))
    owner.data(button("t", poll_id, candidate=1))
    owner.press("选好了")
    assert "不同意任何候选人" in owner.text
    owner.press("取消")
    assert "没有投出任何票" in owner.text and rows(app, PollTurnout) == 0
    owner.data(button("ok", poll_id))
    assert STALE in owner.text and rows(app, PollTurnout) == 0


# --- secrecy -----------------------------------------------------------------------------------------


def test_no_row_links_a_person_to_a_secret_choice(
    app: App, clock: FixedClock, owner: ChatUser, neighbour: ChatUser
) -> None:
    secret = make_poll(app, clock)
    open_ballot = make_poll(app, clock, title="公开表决", secret=False)
    vote_yes(owner, secret)
    vote_yes(neighbour, open_ballot)
    assert not neighbour.last[-1].redacted  # an open ballot's receipt is not secret
    with app.sessions() as session:
        ballots = {b.poll_id: b for b in session.exec(select(PollBallot)).all()}
        assert ballots[secret].unit is None and ballots[open_ballot].unit is not None
        assert "person_id" not in PollBallot.model_fields and "choice" not in PollTurnout.model_fields
        # The choice stayed in the conversation state only until the confirmation.
        assert all(not c.data for c in session.exec(select(Conversation)).all())


def test_a_secret_receipt_is_not_kept_in_the_update_log(app: App, clock: FixedClock) -> None:
    user = ChatUser(app.service, "tg-1", channel="telegram", name="王")
    user.say("/start DEMO-OWNER")
    poll_id = make_poll(app, clock)
    for n, data in enumerate(
        (button("v", poll_id), button("c", poll_id, choice="yes"), button("ok", poll_id))
    ):
        update_id = f"tg-update-{n}"
        app.service.store("telegram", update_id, {"callback_query": {"data": data}})
        user._send(button=data, update_id=update_id)
    assert "投票成功" in user.text
    with app.sessions() as session:
        payloads = {
            r.update_id: r.payload
            for r in session.exec(select(InboundLog).where(InboundLog.channel == "telegram"))
        }
    assert payloads["tg-update-0"]  # viewing is not secret
    assert payloads["tg-update-1"] == {} and payloads["tg-update-2"] == {}  # choosing and casting are


def test_the_web_chat_history_keeps_a_placeholder_for_the_receipt(app: App, clock: FixedClock) -> None:
    from tests.test_webchat import Browser

    phone = Browser(app)
    try:
        phone.say("/start DEMO-OWNER")
        poll_id = make_poll(app, clock)
        phone.say("/polls")
        phone.press("续聘阳光物业")
        phone.press("同意")
        phone.press("确认投票")
        match = CODE.search(phone.last_reply)
        assert match, phone.last_reply  # shown once, in this answer
        history = phone.client.get("/chat/api/messages").json()["messages"]
        texts = [m.get("text", "") for m in history]
        assert not any(match.group(1) in t for t in texts)
        assert any(t.startswith("🔒 已投票：续聘阳光物业") for t in texts)  # the receipt: voted, nothing more
        assert any("如果还没有点「确认投票」" in t for t in texts)  # the confirm page: how to go on
        assert not any("您的选择：同意" in t for t in texts)
        with app.sessions() as session:
            kept = [w.body for w in session.exec(select(WebMessage)).all()]
        assert not any(match.group(1) in str(body) for body in kept)
        assert receipt_of(app, poll_id, match.group(1)) is not None
        phone.say("/polls")
        phone.press("续聘阳光物业")
        phone.press("核对回执")
        phone.say("AAAA-BBBB-CCCC")  # a mistyped code could be corrected against the published list
        assert "没有找到" in phone.last_reply
        with app.sessions() as session:
            kept = [w.body for w in session.exec(select(WebMessage)).all()]
        assert not any("AAAA-BBBB-CCCC" in str(body) for body in kept)
    finally:
        phone.client.close()


def test_the_whole_flow_reads_in_english(
    app: App, clock: FixedClock, owner: ChatUser, staff: ChatUser
) -> None:
    for user in (owner, staff):
        user.data(Language(locale="en").encode())
    poll_id = make_poll(app, clock, consultative=True, changeable=True)
    election = make_poll(
        app, clock, kind="election", matter=3, title="Committee", candidates=("Zhang", "Li"), seats=1
    )
    owner.say("/polls")
    assert "[CONSULTATIVE] 续聘阳光物业 [voting]" in owner.text and "You may vote" in owner.text
    owner.data(button("v", poll_id))
    assert "Civil Code Art. 278" in owner.text and "Secret ballot" in owner.text
    owner.press("Yes")
    assert "Your choice: yes" in owner.text and "[CONSULTATIVE]" in owner.text
    owner.press("Cast my vote")
    code = re.search(r"Receipt code: (\S+)", owner.text).group(1)  # type: ignore[union-attr]
    assert "shown only this once" in owner.text and "new receipt code" in owner.text
    owner.press("Check receipt")
    owner.say(code)
    assert "Receipt valid" in owner.text and "counted as: yes" in owner.text
    owner.data(button("t", election, candidate=1))
    owner.data(button("t", election, candidate=2))
    assert "at most 1 candidate." in owner.text
    owner.press("Done")
    owner.press("Cast my vote")
    assert "approve: Zhang" in owner.text
    staff.say("/polls")
    assert "Owners' votes in your jurisdiction" in staff.text and "owners 1 / " in staff.text
    staff.data(button("v", poll_id))
    assert "Turnout so far" in staff.text and "1栋: area 76.80 m²" in staff.text
    clock.advance(days=8)
    run_due(app, clock)
    owner.data(button("v", poll_id))
    assert "[closed]" in owner.text and "Voting closed at" not in owner.text
    owner.data(button("c", poll_id, choice="no"))
    assert "Voting closed at" in owner.text


# --- staff -------------------------------------------------------------------------------------------


def test_staff_see_live_turnout_by_building_and_can_withdraw_before_opening(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser
) -> None:
    running = make_poll(app, clock, consultative=True)
    coming = make_poll(app, clock, open_now=False, title="改建车棚", matter=7)
    vote_yes(owner, running)
    assert "【征询意见】" in owner.text  # the consultative label is on the receipt too
    staff.say("/polls")
    assert "【征询意见】续聘阳光物业" in staff.text and "76.80 ㎡" in staff.text and "业主 1 / " in staff.text
    staff.data(button("v", running))
    assert (
        "实时参与情况" in staff.text
        and "1栋：面积 76.80 ㎡" in staff.text
        and "2栋：面积 0.00 ㎡" in staff.text
    )
    assert "同意" not in " ".join(staff.buttons())  # staff (not owners here) get no ballot
    staff.data(button("v", coming))
    assert "四分之三以上" in staff.text and "撤销表决" in staff.buttons()
    staff.press("撤销表决")
    assert "确定撤销" in staff.text and poll_of(app, coming).state == "announced"  # asked first
    staff.press("确定撤销")
    assert "已撤销" in staff.text and poll_of(app, coming).state == "cancelled"
    owner.data(button("cancelok", running))  # a forged confirmation from someone without the right
    assert poll_of(app, running).state == "open"
    staff.data(button("cancel", running))
    assert "不能撤销" in staff.text and poll_of(app, running).state == "open"
    owner.say("/polls")
    assert "改建车棚〔已撤销〕" in owner.text


# --- PostgreSQL: two co-owners confirm at the same moment ---------------------------------------


@pytest.mark.postgres
def test_concurrent_votes_for_one_home_cast_one_ballot_on_postgres(
    postgres_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    pg = make_app(postgres_url, tmp_path, clock)
    try:
        joined(pg, "pg-owner", "DEMO-OWNER")
        joined(pg, "pg-co-owner", "DEMO-OWNER")
        voters = [person_of(pg, "pg-owner"), person_of(pg, "pg-co-owner")]
        for _ in range(3):
            poll_id = make_poll(pg, clock)
            barrier = threading.Barrier(2)
            outcomes: list[str] = []

            def cast(
                person_id: int,
                poll_id: int = poll_id,
                barrier: threading.Barrier = barrier,
                outcomes: list[str] = outcomes,
            ) -> None:
                with pg.sessions() as session:
                    barrier.wait()
                    try:
                        box.vote(session, poll_id, person_id, "yes", clock.now(), pg.settings.seal_key)
                        session.commit()
                        outcomes.append("cast")
                    except polls.PollError as exc:
                        session.rollback()
                        outcomes.append(exc.reason)

            threads = [threading.Thread(target=cast, args=(p,)) for p in voters]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
            assert sorted(outcomes) in (["cast", "voted"], ["cast", "home_voted"]), outcomes
            with pg.sessions() as session:
                turnout = session.exec(select(func.count()).where(PollTurnout.poll_id == poll_id)).one()
                ballots = session.exec(select(func.count()).where(PollBallot.poll_id == poll_id)).one()
            assert (turnout, ballots) == (1, 1)
    finally:
        pg.engine.dispose()
