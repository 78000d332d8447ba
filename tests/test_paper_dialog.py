"""Paper ballots entered in chat (DESIGN §4.8), driven like the community worker who collected them door to
door: finding the home by buttons, the choice, how, by whom and when it was collected, the photo, the
confirm page; the home then shows ✅ and its owner cannot vote again online; a second entry shows the
ballot that stands; a secret poll registers a sealed ballot without any choice; a bad typed time is
asked again."""

from __future__ import annotations

from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from db.models import PollPaper, PollTurnout
from tests.support.chat import ChatUser
from tests.test_polls_flow import button, make_poll


def _to_home(user: ChatUser, building: str, entrance: str, number: str) -> None:
    """/ballots, then the home by its buttons (one poll open: its buildings come straight away)."""
    user.say("/ballots")
    assert "选楼栋" in user.text, user.text
    user.press(building)
    assert "选单元" in user.text, user.text
    user.press(entrance)
    assert "选房号" in user.text, user.text
    user.press(number)


def test_a_door_to_door_ballot_is_entered_and_the_owner_cannot_vote_again(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock, secret=False)
    staff.say("/polls")
    staff.press("续聘阳光物业")
    assert "📝 录入纸质票" in staff.buttons()  # the runner's page of an open poll

    staff.press("录入纸质票")
    staff.press("1栋")
    staff.press("1单元")
    assert "101" in staff.buttons() and not any(b.startswith("✅") for b in staff.buttons())
    staff.press("101")
    assert "选票上选的是" in staff.text and "1栋 1单元 101" in staff.text
    staff.say("同意")  # typed at a step of buttons: a reminder and the same page
    assert "请点下面的按钮" in staff.text and "选票上选的是" in staff.text
    staff.press("同意")
    assert "怎么收到的" in staff.text
    staff.press("扫楼")
    assert "谁收的票" in staff.text
    staff.say("刘阿姨")
    assert "什么时候收的" in staff.text
    staff.press("刚刚")
    assert "签字选票的照片" in staff.text and "跳过" not in staff.buttons()  # required in an open poll
    staff.say("好了")
    assert "请发送照片" in staff.text
    staff.photo("ballot-101")
    assert "请核对这张纸质票" in staff.text
    for line in ("房屋：1栋 1单元 101", "选择：同意", "方式：扫楼", "收票人：刘阿姨", "照片：已收到"):
        assert line in staff.text, staff.text
    staff.press("确认录入")
    assert "已录入：1栋 1单元 101" in staff.text and "📝 录入下一张" in staff.buttons()

    with app.sessions() as session:
        turnout = session.exec(select(PollTurnout).where(PollTurnout.poll_id == poll_id)).one()
        kept = session.exec(select(PollPaper).where(PollPaper.poll_id == poll_id)).one()
    assert turnout.channel == "paper" and kept.collector == "刘阿姨" and kept.method == "door"
    assert kept.photo_ref == "ballot-101" and not kept.sealed

    staff.press("录入下一张")  # back to the same entrance's homes, the entered one ticked
    assert "选房号" in staff.text and "✅ 101" in staff.buttons()

    owner.data(button("c", poll_id, choice="no"))  # the owner tries to vote online as well
    owner.press("确认投票") if "✅ 确认投票" in owner.buttons() else None
    assert "投票成功" not in owner.text and "不能再投" in owner.text, owner.text
    with app.sessions() as session:
        assert len(session.exec(select(PollTurnout).where(PollTurnout.poll_id == poll_id)).all()) == 1


def test_a_second_entry_for_the_same_home_shows_the_ballot_that_stands(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock, secret=False)
    owner.data(button("c", poll_id, choice="yes"))
    owner.press("确认投票")
    assert "投票成功" in owner.text

    _to_home(staff, "1栋", "1单元", "✅ 101")
    assert "1栋 1单元 101 已于" in staff.text and "网上投票" in staff.text and "不能再录入" in staff.text
    assert "同意" not in staff.text  # how and when it was cast, never what it chose
    assert "选房号" in staff.text  # the entrance's homes again, for the next one


def test_a_sealed_ballot_in_a_secret_poll_is_registered_without_a_choice(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock, secret=True)
    _to_home(staff, "1栋", "1单元", "101")
    assert "怎么收到的" in staff.text and "密封票" in staff.text
    assert not {"👍 同意", "👎 反对", "✋ 弃权"} & set(staff.buttons())  # no choice is asked
    staff.press("投票箱")
    staff.say("王大爷")
    staff.press("刚刚")
    assert "密封信封" in staff.text
    staff.press("跳过")
    assert "选择：密封票" in staff.text and "照片：无" in staff.text
    staff.press("确认录入")
    assert "已录入：1栋 1单元 101" in staff.text and "密封票" in staff.text

    with app.sessions() as session:
        kept = session.exec(select(PollPaper).where(PollPaper.poll_id == poll_id)).one()
    assert kept.sealed and kept.method == "box" and kept.collector == "王大爷"

    staff.press("录入下一张")
    staff.press("✅ 101")
    assert "纸质投票（密封票）" in staff.text


def test_a_bad_typed_time_is_asked_again_and_the_collector_is_offered_next_time(
    app: App, clock: FixedClock, staff: ChatUser, neighbour: ChatUser
) -> None:
    make_poll(app, clock, secret=False)  # voting opens at 10:00 local time
    clock.advance(hours=3)  # 13:00 local
    _to_home(staff, "1栋", "2单元", "201")
    staff.press("反对")
    staff.press("现场")
    staff.say("赵委员")
    staff.press("今天早些时候")
    assert "请输入收票时间" in staff.text
    staff.say("25:99")
    assert "没看懂这个时间" in staff.text and "请输入收票时间" in staff.text
    staff.say("昨天下午")
    assert "没看懂这个时间" in staff.text
    staff.say("14:30")
    assert "这个时间还没到" in staff.text
    staff.say("09:15")
    assert "早于投票开始" in staff.text
    staff.say("12:05")
    assert "签字选票的照片" in staff.text
    staff.photo("ballot-201")
    assert "时间：" in staff.text and "12:05" in staff.text and "收票人：赵委员" in staff.text
    staff.press("确认录入")
    assert "已录入：1栋 2单元 201" in staff.text

    staff.press("录入下一张")
    staff.press("102")
    staff.press("同意")
    staff.press("现场")
    assert "👤 赵委员" in staff.buttons()  # the name typed last time, in one tap
    staff.press("赵委员")
    assert "什么时候收的" in staff.text


def test_nothing_typed_is_lost_on_a_detour(app: App, clock: FixedClock, staff: ChatUser) -> None:
    make_poll(app, clock, secret=False)
    _to_home(staff, "1栋", "1单元", "101")
    staff.press("弃权")
    staff.press("扫楼")
    staff.say("刘阿姨")
    staff.say("/help")  # read on the way: still in the entry
    assert "纸质票" in staff.text
    staff.say("/polls")  # a detour that leaves it: the ballot is kept, with a button back
    staff.press("继续录入纸质票")
    assert "什么时候收的" in staff.text and "1栋 1单元 101" in staff.text
    staff.press("刚刚")
    staff.photo("ballot-101")
    assert "收票人：刘阿姨" in staff.text and "选择：弃权" in staff.text


def test_only_those_who_may_enter_get_the_flow(app: App, clock: FixedClock, owner: ChatUser) -> None:
    poll_id = make_poll(app, clock, secret=False)
    owner.say("/help")
    assert "纸质票" not in owner.text
    owner.say("/ballots")
    assert "只限业委会成员和社区工作人员" in owner.text
    owner.data(f"pp:s:{poll_id}")
    assert "不能录入" in owner.text
    owner.say("/polls")
    owner.press("续聘阳光物业")
    assert "📝 录入纸质票" not in owner.buttons()


def test_a_committee_member_enters_ballots_too(app: App, clock: FixedClock) -> None:
    make_poll(app, clock, secret=False)
    member = ChatUser(app.service, "committee-1", name="周委员")
    member.say("/start DEMO-COMMITTEE")
    member.say("/help")
    assert "纸质票" in member.text
    _to_home(member, "1栋", "1单元", "101")
    assert "选票上选的是" in member.text
