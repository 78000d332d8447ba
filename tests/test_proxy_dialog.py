"""Proxies in chat (DESIGN §4.8), driven like users: an owner names a proxy and forwards the code, the proxy
claims it with `/proxy CODE`, the owner revokes it; staff enter a written letter with its photo; typed
slips re-ask the step without losing what was given."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from core import notify
from core import polls as poll_use_cases
from core.actions import Proxies
from core.work import Work
from db import people
from db.models import AuditEntry, Identity, Poll, PollProxy, PollTurnout
from db.polls import proxies as rules
from tests.support import committees
from tests.support.chat import ChatUser
from tests.test_polls_flow import make_poll

CODE = re.compile(r"委托码：([A-Z2-9]{4}-[A-Z2-9]{4})")


def code_in(user: ChatUser) -> str:
    match = CODE.search(user.text)
    assert match, user.text
    return match.group(1)


def person_of(app: App, user: ChatUser) -> int:
    with app.sessions() as session:
        return session.exec(select(Identity.person_id).where(Identity.external_id == user.user_ref)).one()


def proxies(app: App) -> list[PollProxy]:
    with app.sessions() as session:
        found = list(session.exec(select(PollProxy).order_by(PollProxy.id)).all())  # type: ignore[arg-type]
        for row in found:
            session.expunge(row)
        return found


def stranger(app: App, ref: str = "proxy-1", name: str = "赵六") -> ChatUser:
    """Someone who lives elsewhere (the owner's son in another city): talks to the bot, joins nothing."""
    user = ChatUser(app.service, ref, name=name)
    user.say("/help")
    return user


def offer_for_poll(owner: ChatUser, title: str, name: str) -> str:
    owner.say("/proxy")
    owner.press("委托他人投票")
    assert "为 " in owner.text and "长期委托" in str(owner.buttons), owner.text
    owner.press(title)
    assert "请输入受托人的姓名" in owner.text
    owner.say(name)
    assert "请确认委托" in owner.text and name in owner.text
    owner.press("确认委托")
    return code_in(owner)


def test_owner_names_a_proxy_who_claims_it_and_the_owner_revokes(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock)
    code = offer_for_poll(owner, "续聘阳光物业", "赵六")
    assert code in owner.text and "「🤝 委托投票」→「🔑 领取委托」" in owner.text
    assert "赵六" in owner.text and "等待受托人领取" in owner.text
    [row] = proxies(app)
    assert row.code_hash != code and row.code_hash == rules.code_hash(code)  # only the hash is kept
    assert row.source == "owner" and row.poll_id == poll_id and row.proxy_id is None

    son = stranger(app)
    son.say(f"/proxy {code.lower()}")  # case and dashes forgiven
    assert "您已领取委托" in son.text and "1栋 1单元 101" in son.text and "续聘阳光物业" in son.text
    assert "打开表决" in str(son.buttons)
    son_id, owner_id = person_of(app, son), person_of(app, owner)
    with app.sessions() as session:
        loaded = session.get(Poll, poll_id)
        assert loaded is not None
        home = rules.owned_homes(session, owner_id)[0]
        assert rules.homes_for(session, loaded, son_id, clock.now()) == [home]

    son.say(f"/proxy {code}")  # a second time: once only
    assert "已经被领取过" in son.text

    owner.say("/proxy")
    assert "已生效" in owner.text
    owner.press("撤销：")
    assert "撤销这条委托吗" in owner.text
    owner.press("确定撤销")
    assert "已撤销" in owner.text and "赵六" in owner.text
    with app.sessions() as session:
        loaded = session.get(Poll, poll_id)
        assert loaded is not None
        assert rules.homes_for(session, loaded, son_id, clock.now()) == []
    son.say("/proxy")
    assert "没有进行中的委托" in son.text


def test_a_term_proxy_until_a_typed_day_and_slips_re_ask_without_losing_the_name(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    make_poll(app, clock)
    owner.say("/proxy")
    owner.press("委托他人投票")
    owner.press("长期委托")
    assert "到哪一天为止" in owner.text
    owner.say("明年")
    assert "没看懂这个日期" in owner.text
    too_far = (clock.now() + timedelta(days=4 * 366)).date().isoformat()
    owner.say(too_far)
    assert "委托最长 3 年" in owner.text
    ends = (clock.now() + timedelta(days=200)).date()
    owner.say(ends.isoformat())
    assert "请输入受托人的姓名" in owner.text and ends.isoformat() in owner.text
    owner.say("赵" * 60)
    assert "最多 50 个字" in owner.text
    owner.say("/my")  # a detour keeps the draft
    assert "委托草稿已保存" in owner.text
    owner.press("继续委托")
    assert "请输入受托人的姓名" in owner.text
    owner.say("赵六")
    owner.press("确认委托")
    code = code_in(owner)
    [row] = proxies(app)
    assert row.poll_id is None and row.ends_on == ends and row.starts_on == clock.now().date()
    son = stranger(app)
    son.say("/proxy")
    son.press("领取委托")
    son.say("ABCD-EFGH")
    assert "没有找到这个委托码" in son.text  # typed again, still in the step
    son.say(code)
    assert "您已领取委托" in son.text and ends.isoformat() in son.text


def test_the_owner_cannot_claim_their_own_code_and_a_tenant_cannot_offer(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    make_poll(app, clock)
    code = offer_for_poll(owner, "续聘阳光物业", "赵六")
    owner.say(f"/proxy {code}")
    assert "不能自己领取" in owner.text
    tenant = ChatUser(app.service, "tenant-1", name="租户")
    tenant.say("/start DEMO-TENANT")
    tenant.say("/proxy")
    assert "委托他人投票" not in str(tenant.buttons)
    # an old offer button pressed by the tenant: refused with the reason
    tenant.data(Proxies("o").encode())
    assert "只有已核实的业主才能委托" in tenant.text


def test_staff_enter_a_letter_with_its_photo_and_revoke_it(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser
) -> None:
    make_poll(app, clock)
    staff.say("/proxy")
    staff.press("录入委托书")
    staff.press("续聘阳光物业")
    staff.press("1栋")
    staff.press("1单元")
    assert "或直接输入门牌号" in staff.text
    staff.say("909")
    assert "没有这个门牌号" in staff.text
    staff.say("101")  # typed, as in a high-rise whose homes do not all fit as buttons
    assert "请输入受托人的姓名" in staff.text and "1栋 1单元 101" in staff.text
    staff.say("钱七")
    assert "请拍照发送委托书" in staff.text
    staff.say("没有照片")
    assert "请发送委托书的照片" in staff.text
    staff.photo("letter-1")
    assert "委托书照片：已收到" in staff.text
    staff.press("确认委托")
    code = code_in(staff)
    [row] = proxies(app)
    assert row.source == "letter" and row.photo_ref == "letter-1" and row.photo_channel == "web"
    with app.sessions() as session:
        actions = session.exec(select(AuditEntry.action)).all()
    assert "poll.proxy_letter" in actions

    proxy = stranger(app, "proxy-2", "钱七")
    proxy.say(f"/proxy {code}")
    assert "您已领取委托" in proxy.text

    staff.press("再录一份")
    staff.press("本小区的委托")
    assert "钱七" in staff.text and "已生效" in staff.text
    staff.press("撤销：")
    staff.press("确定撤销")
    assert "已撤销" in staff.text
    with app.sessions() as session:
        actions = session.exec(select(AuditEntry.action)).all()
    assert "poll.proxy_revoke" in actions
    # the owner sees nothing of it any more
    owner.say("/proxy")
    assert "钱七" not in owner.text


def test_from_a_polls_page_the_owner_goes_straight_to_the_name(
    app: App, clock: FixedClock, owner: ChatUser, neighbour: ChatUser
) -> None:
    """The poll's page offers 委托他人投票 with the poll in its button: one home, so the name is asked."""
    poll_id = make_poll(app, clock, buildings=("1栋",))
    owner.data(Proxies("op", poll=poll_id).encode())
    assert "请输入受托人的姓名" in owner.text and "续聘阳光物业" in owner.text
    owner.say("赵六")
    owner.press("确认委托")
    assert code_in(owner)
    outside = make_poll(app, clock, buildings=("2栋",), title="2栋加装电梯")
    neighbour.data(Proxies("op", poll=outside).encode())
    assert "不包括这户房屋" in neighbour.text  # none of their homes votes in that poll


def test_the_proxy_votes_for_the_home_and_the_ballot_says_so(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock)
    code = offer_for_poll(owner, "续聘阳光物业", "赵六")
    son = stranger(app)
    son.say(f"/proxy {code}")
    son_id, owner_id = person_of(app, son), person_of(app, owner)
    with app.sessions() as session:
        home = rules.owned_homes(session, owner_id)[0]
        work = Work(session, clock.now(), app.policy)
        actor = people.actor(session, son_id)
        poll_use_cases.cast_ballot(work, actor, poll_id, "yes", app.settings.seal_key, home)
        notify.publish(work)
        session.commit()
    with app.sessions() as session:
        turnout = session.exec(select(PollTurnout).where(PollTurnout.poll_id == poll_id)).one()
        assert turnout.channel == "proxy" and turnout.home_id == home


def test_a_term_until_the_committees_end_and_staff_see_who_holds_many(
    app: App, clock: FixedClock, owner: ChatUser, staff: ChatUser
) -> None:
    members = [committees.owner(app, f"委员{n}", home) for n, home in enumerate(committees.homes("2栋")[:5])]
    today = clock.now().date()
    ends = today.replace(year=today.year + 2)
    posts = ["chair", "deputy", "member", "member", "member"]
    committees.set_committee(app, list(zip(members, posts, strict=True)), today, ends)
    owner.say("/proxy")
    owner.press("委托他人投票")
    owner.press("长期委托")
    owner.press("本届")
    assert f"至 {ends.isoformat()} 的各项表决" in owner.text
    owner.say("赵六")
    owner.press("确认委托")
    son = stranger(app)
    son.say(f"/proxy {code_in(owner)}")
    staff.data(Proxies("f", compound=committees.compound_id(app)).encode())
    assert "受托户数超过 5 户的人：目前没有" in staff.text
    owner.data(Proxies("f", compound=committees.compound_id(app)).encode())
    assert "没有办理这项委托的权限" in owner.text
