"""A half-written report survives detours on every channel: a menu button, another command, another
flow's button, an old button of the draft, a restart; leaving it on purpose asks first."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.bootstrap import App, build
from bot.clock import FixedClock
from core.actions import Menu, Report
from db.models import Conversation, Notice, Ticket
from tests.support.chat import ChatUser
from tests.test_notices import compose
from tests.test_polls_flow import button, make_poll

CHANNELS = ["web", "telegram", "wechat"]
KEPT = "您刚才的报事草稿已保存"


@pytest.fixture(params=CHANNELS)
def resident(app: App, request: pytest.FixtureRequest) -> ChatUser:
    """An owner of 1栋 1单元 101 who joined on one channel."""
    user = ChatUser(app.service, f"{request.param}-owner-1", channel=request.param, name="王阿姨")
    user.say("/start DEMO-OWNER")
    assert "绑定成功" in user.text
    return user


def tickets(app: App) -> list[Ticket]:
    with app.sessions() as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)).all())


def half_written(user: ChatUser, text: str = "楼道灯不亮") -> str:
    """报事 → 公共设施损坏 → the description: the summary's 提交 button, not pressed."""
    user.say("/report")
    user.press("公共设施损坏")
    user.say(text)
    assert "请确认" in user.text
    return next(data for m in user.last for row in m.buttons for label, data in row if "提交" in label)


def test_the_menu_mid_report_keeps_the_draft_and_its_old_submit_button_shows_it_again(
    resident: ChatUser, app: App
) -> None:
    submit = half_written(resident)
    resident.data(Menu(command="/my").encode())  # 工单 in the bottom menu
    assert "您还没有工单" in resident.last[0].text  # the detour's own answer, unchanged
    assert KEPT in resident.last[-1].text and "继续报事" in resident.buttons()[-1]
    # Back in the chat, the summary's 提交 from before: the draft comes back to be looked at, not sent
    # unseen (the same button of an earlier report would look no different).
    resident.data(submit)
    assert "请确认" in resident.text and "楼道灯不亮" in resident.text and "失效" not in resident.text
    assert tickets(app) == []
    resident.press("提交")
    [ticket] = tickets(app)
    assert ticket.description == "楼道灯不亮" and ticket.category == "facility"


def test_an_old_confirm_of_a_sent_notice_does_not_send_the_parked_draft(app: App, staff: ChatUser) -> None:
    compose(staff, title="停水通知")
    old_confirm = next(data for row in staff.last[-1].buttons for label, data in row if "确认" in label)
    staff.data(old_confirm)  # the first notice, sent
    compose(staff, title="第二份通知")  # at its summary, not yet confirmed
    staff.data(Menu(command="/queue").encode())  # a detour: the draft is parked
    staff.data(old_confirm)  # the first notice's button, still in the chat
    assert "第二份通知" in staff.text and "确认" in " ".join(staff.buttons())
    with app.sessions() as session:
        assert [n.title for n in session.exec(select(Notice)).all()] == ["停水通知"]


def test_an_old_discard_button_does_not_throw_away_a_newer_draft(resident: ChatUser, app: App) -> None:
    half_written(resident)
    resident.say("/cancel")
    discard = next(data for row in resident.last[-1].buttons for label, data in row if "放弃" in label)
    resident.press("继续填写")
    resident.press("提交")  # the first report, filed
    half_written(resident, "电梯门夹人")
    resident.data(discard)  # the question about the first draft
    assert "失效" in resident.text
    with app.sessions() as session:
        kept = [c.data.get("description") for c in session.exec(select(Conversation)).all()]
    assert "电梯门夹人" in kept and len(tickets(app)) == 1


def test_an_old_button_that_no_longer_fits_shows_where_the_draft_was(resident: ChatUser, app: App) -> None:
    half_written(resident)
    resident.say("/my")
    for old in (Report("p").encode(), Report("l", where="s").encode()):  # 跳过/完成 of earlier prompts
        resident.data(old)
        assert "失效" not in resident.text and "请确认" in resident.text and "楼道灯不亮" in resident.text
    resident.press("提交")
    assert len(tickets(app)) == 1


def test_an_old_vote_button_mid_report_parks_the_draft(
    resident: ChatUser, app: App, clock: FixedClock
) -> None:
    poll = make_poll(app, clock)
    submit = half_written(resident, "电梯按钮不亮")
    resident.data(button("c", poll, choice="yes"))  # a vote button from an earlier message
    assert "请确认您的选票" in resident.text and KEPT in resident.text
    resident.press("继续报事")
    assert "请确认" in resident.text and "电梯按钮不亮" in resident.text
    resident.data(submit)
    [ticket] = tickets(app)
    assert ticket.description == "电梯按钮不亮"


def test_reading_notices_mid_report_leaves_the_draft_where_it_was(resident: ChatUser, app: App) -> None:
    submit = half_written(resident)
    resident.say("/notices")
    assert KEPT not in resident.text  # nothing was left: still in the report
    resident.data(submit)
    assert "工单编号" in resident.text and len(tickets(app)) == 1


def test_cancel_with_a_typed_description_asks_first(resident: ChatUser, app: App) -> None:
    half_written(resident)
    resident.say("/cancel")
    assert "放弃这份报事草稿吗" in resident.text and resident.buttons() == ["继续填写", "放弃"]
    resident.press("继续填写")
    assert "请确认" in resident.text and "楼道灯不亮" in resident.text
    resident.press("取消")  # the summary's own cancel button asks the same
    assert "放弃这份报事草稿吗" in resident.text
    resident.press("放弃")
    assert "草稿已删除" in resident.text
    resident.say("/report")
    assert "选择问题类别" in resident.text  # nothing left to go on with
    resident.press("其他")
    resident.press("取消")  # nothing typed yet: no question
    assert "已取消报事" in resident.text


def test_starting_a_report_again_offers_the_parked_one(resident: ChatUser, app: App) -> None:
    resident.say("/report")
    resident.press("停水/漏水")
    resident.photo("leak-1", caption="厨房水管接头一直在滴水，地上全是水，楼下说天花板也湿了")
    resident.say("/notices")
    resident.say("/polls")  # leaves the report
    assert KEPT in resident.text
    resident.say("/report")
    assert (
        "继续" in resident.text and "停水/漏水" in resident.text and "厨房水管接头一直在滴水" in resident.text
    )
    assert "照片：1 张" in resident.text and "楼下说天花板也湿了" not in resident.text  # the start only
    [offer] = resident.last
    labels = {data: label for row in offer.buttons for label, data in row}
    assert "继续" in labels[offer.primary]  # the main action
    resident.press("继续")
    assert "请确认" in resident.text and "照片：1 张" in resident.text
    resident.say("/my")
    resident.say("/report")
    resident.press("重新开始")
    assert "选择问题类别" in resident.text
    resident.say("/report")  # the old draft is gone
    assert "选择问题类别" in resident.text


def test_typing_report_mid_report_offers_to_go_on(owner: ChatUser) -> None:
    half_written(owner)
    owner.say("/report")
    assert "没写完的报事" in owner.text and KEPT not in owner.text
    owner.press("继续")
    assert "楼道灯不亮" in owner.text


def test_a_report_with_nothing_typed_is_not_kept(owner: ChatUser) -> None:
    owner.say("/report")
    owner.press("其他")
    owner.say("/my")
    assert KEPT not in owner.text
    owner.say("/report")
    assert "选择问题类别" in owner.text


def test_a_parked_draft_survives_a_restart(app: App) -> None:
    user = ChatUser(app.service, "tg-owner-9", channel="telegram")
    user.say("/start DEMO-OWNER")
    half_written(user, "3号楼门口的路灯不亮了")
    user.say("/my")
    app.engine.dispose()
    restarted = build(app.settings, clock=app.clock)  # a new process on the same database
    again = ChatUser(restarted.service, user.user_ref, channel="telegram")
    again.say("/report")
    assert "3号楼门口的路灯不亮了" in again.text
    again.press("继续")
    again.press("提交")
    assert "工单编号" in again.text
    with restarted.sessions() as session:
        [conversation] = [
            c for c in session.exec(select(Conversation)).all() if c.parked or c.flow == "report"
        ] or [None]
    assert conversation is None  # filed: no draft left anywhere
    restarted.engine.dispose()


def test_any_flow_that_declares_resume_keeps_its_draft(
    app: App, staff: ChatUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mechanism is the router's: the poll composer, given `resume`, is parked and brought back."""
    import dataclasses

    from handlers import newpoll, router
    from handlers.newpoll.draft import PollDraft

    def resume(ctx: object) -> list[object]:  # what the flow would declare: re-ask the missing answer
        draft = PollDraft.of(ctx.state)  # type: ignore[attr-defined]
        return newpoll._settle(ctx, draft, newpoll.advance(ctx, draft))  # type: ignore[arg-type]

    resumable = dataclasses.replace(newpoll.FLOW, resume=resume)  # type: ignore[arg-type]
    monkeypatch.setitem(router.BY_NAME, newpoll.NAME, resumable)
    monkeypatch.setitem(router.PRESSES, newpoll.NewPoll, resumable)
    monkeypatch.setitem(router.TEXTS, newpoll.NAME, resumable)
    staff.say("/newpoll")
    if "请选择小区" in staff.text:
        staff.press("阳光花园")
    staff.press("整个小区")
    staff.say("关于加装电梯的表决")
    assert "请输入表决说明" in staff.text
    staff.say("/queue")
    assert "您刚才的表决草稿已保存" in staff.text
    staff.press("继续发起表决")
    assert "请输入表决说明" in staff.text
    staff.say("拟在1栋加装电梯，费用按楼层分摊。")
    assert "请选择表决事项" in staff.text  # the brought-back draft goes on where it was
    staff.say("/cancel")
    assert "放弃这份表决草稿吗" in staff.text


def test_a_photo_of_a_parked_draft_is_not_cleaned_up_as_an_orphan(owner: ChatUser, app: App) -> None:
    from db.files import referenced_names

    stored = "Zr3v6mPq0xYt8Lk2Wn4Bs9Hd.jpg"  # a name the web chat gives a stored photo
    owner.say("/report")
    owner.press("公共设施损坏")
    owner.photo(stored, caption="单元门坏了")
    owner.say("/my")
    assert KEPT in owner.text
    with app.sessions() as session:
        assert stored in referenced_names(session)


def test_the_draft_lines_speak_english(owner: ChatUser) -> None:
    from core.actions import Language

    owner.data(Language(locale="en").encode())
    owner.say("/report")
    owner.press("Noise")
    owner.say("Drilling every night after 11")
    owner.say("/my")
    assert "Your unfinished report is kept" in owner.last[-1].text
    assert owner.buttons()[-1] == "▶️ Go on with the report"
    owner.say("/report")
    assert "unfinished report" in owner.text and "Drilling every night" in owner.text
    assert owner.buttons() == ["▶️ Go on", "Start again"]
    owner.press("Go on")
    owner.say("/cancel")
    assert "Throw away this report draft?" in owner.text
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in owner.text + "".join(owner.buttons()))


def test_words_typed_after_a_detour_can_go_into_the_parked_report(resident: ChatUser, app: App) -> None:
    resident.say("/report")
    resident.press("公共设施损坏")
    resident.say("/notices")
    resident.say("/my")  # nothing typed yet: not kept
    resident.say("/report")
    resident.press("公共设施损坏")
    resident.say("楼道灯不亮")
    resident.say("/my")
    resident.photo("lamp.jpg", caption="已经三天了")  # no flow open: offered, with the parked report
    assert "要把这段话作为报事吗" in resident.text
    resident.press("加到刚才的报事里")
    assert (
        "请确认" in resident.text
        and "楼道灯不亮\n已经三天了" in resident.text
        and "照片：1 张" in resident.text
    )
    resident.press("提交")
    [ticket] = tickets(app)
    assert ticket.description == "楼道灯不亮\n已经三天了"


def test_words_added_to_a_report_parked_at_the_description_go_straight_on(owner: ChatUser, app: App) -> None:
    owner.say("/report")
    owner.press("噪音扰民")
    owner.photo("noise.jpg")  # a photo, no words yet: kept, and worth keeping
    owner.say("/polls")
    assert KEPT in owner.text
    owner.say("楼上每天半夜拖椅子")
    owner.press("加到刚才的报事里")
    assert "请确认" in owner.text and "类别：噪音扰民" in owner.text and "照片：1 张" in owner.text


def test_a_draft_saved_at_the_old_photo_step_takes_its_photo_and_shows_the_summary(
    owner: ChatUser, app: App
) -> None:
    half_written(owner)
    with app.sessions() as session:
        [conversation] = session.exec(select(Conversation).where(Conversation.flow == "report")).all()
        conversation.step = "photos"  # as the release before this one left it
        session.add(conversation)
        session.commit()
    owner.photo("old-step.jpg")
    assert "请确认" in owner.text and "照片：1 张" in owner.text
    owner.data(Report("p").encode())  # that release's 完成
    assert "请确认" in owner.text and "失效" not in owner.text


def test_a_second_kept_draft_says_it_replaced_the_first(resident: ChatUser) -> None:
    half_written(resident, "水管漏水")
    resident.data(Menu(command="/my").encode())  # the first draft is kept
    resident.say("门禁坏了")  # offered as a report: adding it to the kept one comes first
    assert resident.last[-1].primary == resident.last[-1].buttons[0][0][1]
    assert "加到刚才的报事里" in resident.last[-1].buttons[0][0][0]
    resident.press("是，报事")  # a new report after all
    resident.data(Menu(command="/my").encode())
    assert KEPT in resident.text and "替换" in resident.text
