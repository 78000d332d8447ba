"""Voting for several homes in chat (DESIGN §4.8): an owner who holds a neighbour's proxy first picks which
home the ballot is for, the receipt says it was cast by proxy, and the next home follows; a proxy who
lives elsewhere votes from the poll's button all the same."""

from __future__ import annotations

from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from db import org
from db.models import Home, PollProxy, PollTurnout
from tests.support.chat import ChatUser, person_of
from tests.test_polls_flow import COMPOUND, button, make_poll

NEIGHBOUR_HOME = ("1栋", "2单元", "201")


def _grant(app: App, clock: FixedClock, poll_id: int, proxy: ChatUser, owner: ChatUser) -> None:
    """The neighbour's proxy for this poll, claimed by `proxy` (as the proxies' own flow leaves it)."""
    holder, granter = person_of(app.sessions, proxy), person_of(app.sessions, owner)
    with app.sessions() as session:
        compound = org.find_node(session, COMPOUND)
        entrance = org.find_node(session, f"{COMPOUND}/{NEIGHBOUR_HOME[0]}/{NEIGHBOUR_HOME[1]}")
        assert compound is not None and entrance is not None
        home = session.exec(
            select(Home).where(Home.entrance_id == entrance.id, Home.number == NEIGHBOUR_HOME[2])
        ).one()
        session.add(
            PollProxy(
                compound_id=compound.id,
                home_id=home.id,
                poll_id=poll_id,
                proxy_id=holder,
                proxy_name=proxy.name,
                source="owner",
                granted_by=granter,
                created_at=clock.now(),
                claimed_at=clock.now(),
            )
        )
        session.commit()


def _turnout(app: App, poll_id: int) -> list[PollTurnout]:
    with app.sessions() as session:
        rows = session.exec(select(PollTurnout).where(PollTurnout.poll_id == poll_id)).all()
        return [PollTurnout.model_validate(r.model_dump()) for r in rows]


def test_a_proxy_picks_the_home_then_votes_for_each(
    app: App, clock: FixedClock, owner: ChatUser, neighbour: ChatUser
) -> None:
    poll_id = make_poll(app, clock)
    _grant(app, clock, poll_id, owner, neighbour)

    owner.say("/polls")
    owner.press("续聘阳光物业")
    assert "您可以为 2 户投票" in owner.text
    assert {"🏠 1栋 1单元 101（本人）", "🏠 1栋 2单元 201（受托）"} <= set(owner.buttons())
    assert "👍 同意" not in owner.buttons()  # which home comes first

    owner.data(button("c", poll_id, choice="yes"))  # a choice from an old page: which home, first
    assert "为哪一户投票" in owner.text

    owner.press("201（受托）")
    assert "为 1栋 2单元 201（受托）投票" in owner.text
    owner.say("同意")  # typed at a step of buttons: a reminder, the same home kept
    assert "请点击下方按钮" in owner.text and "1栋 2单元 201（受托）" in owner.text
    owner.press("同意")
    assert "为：1栋 2单元 201（受托）" in owner.text
    owner.press("确认投票")
    assert "投票成功" in owner.text and "已代 1栋 2单元 201 户投票" in owner.text
    rows = _turnout(app, poll_id)
    assert len(rows) == 1 and rows[0].channel == "proxy"
    assert rows[0].person_id == person_of(app.sessions, owner)  # who cast it: the proxy

    owner.press("为下一户投票")  # one home left, their own: the ballot as it always was
    assert "您可以为" not in owner.text and "👍 同意" in owner.buttons()
    owner.press("反对")
    owner.press("确认投票")
    assert "投票成功" in owner.text and "已代" not in owner.text
    assert sorted(r.channel for r in _turnout(app, poll_id)) == ["online", "proxy"]

    neighbour.data(button("c", poll_id, choice="no"))  # the neighbour's own home has voted by proxy
    assert "投票成功" not in neighbour.text and "不能再投" in neighbour.text


def test_a_proxy_who_lives_elsewhere_votes_from_the_polls_button(
    app: App, clock: FixedClock, worker: ChatUser, neighbour: ChatUser
) -> None:
    poll_id = make_poll(app, clock)
    _grant(app, clock, poll_id, worker, neighbour)

    worker.data(button("v", poll_id))
    assert "续聘阳光物业" in worker.text and "您受托为 1栋 2单元 201 投票" in worker.text
    worker.press("同意")
    assert "为：1栋 2单元 201（受托）" in worker.text
    worker.press("确认投票")
    assert "已代 1栋 2单元 201 户投票" in worker.text
    rows = _turnout(app, poll_id)
    assert len(rows) == 1 and rows[0].channel == "proxy"

    worker.press("确认投票") if "✅ 确认投票" in worker.buttons() else worker.data(button("ok", poll_id))
    assert len(_turnout(app, poll_id)) == 1  # pressed twice: still one ballot
