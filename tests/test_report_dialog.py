"""Dialog tables for joining and reporting: what a resident sends, what the bot answers."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.bootstrap import App
from db import tickets as filing
from db.models import Attachment, Ticket, TicketEvent
from tests.support.chat import ChatUser


def tickets(app: App) -> list[Ticket]:
    with app.sessions() as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)).all())


def test_join_with_invite_binds_the_home(app: App) -> None:
    user = ChatUser(app.service, "new-1")
    user.say("/start")
    assert "邀请码" in user.text
    user.say("/start DEMO-OWNER")
    assert "绑定成功" in user.text and "业主" in user.text and "阳光花园 1栋 1单元 101" in user.text


def test_unknown_invite_is_refused_and_binds_nothing(app: App) -> None:
    user = ChatUser(app.service, "new-2")
    user.say("/start NOPE-1234")
    assert "无效" in user.text
    user.say("/report")
    assert "请先绑定" in user.text and "/start" not in user.text


def test_a_report_takes_five_taps_from_the_first_screen_after_joining(app: App) -> None:
    user = ChatUser(app.service, "new-3", name="王阿姨")
    user.say("/start DEMO-OWNER")  # the invite link opens the chat: the first screen after joining
    taps = 0

    def tap(label: str) -> None:
        nonlocal taps
        user.press(label)
        taps += 1

    def type_and_send(text: str) -> None:
        nonlocal taps
        user.say(text)
        taps += 2  # the text box, then 发送

    tap("报事")
    tap("公共设施损坏")
    type_and_send("楼道灯不亮")
    assert "请确认" in user.text and "位置：1栋" in user.text  # no photo or location step on the way
    [summary] = user.last
    assert summary.primary == next(data for row in summary.buttons for label, data in row if "提交" in label)
    tap("提交")
    assert "工单编号 #1" in user.text
    assert taps == 5


def test_full_report_flow_gives_a_code_and_stores_everything(owner: ChatUser, app: App) -> None:
    owner.say("/report")
    assert "类别" in owner.text
    owner.press("停水/漏水")
    assert "照片" in owner.text  # photos may come with the description
    owner.photo("tg-photo-1", caption="厨房水管爆了，楼道里全是水")
    assert "请确认" in owner.text and "照片：1 张" in owner.text
    owner.photo("tg-photo-2")  # added on the summary, which shows again
    assert "照片：2 张" in owner.text and "完成" not in owner.buttons()
    owner.location(43.16, 124.35)
    assert "请确认" in owner.text and "43.16000" in owner.text and "照片：2 张" in owner.text
    owner.press("提交")
    [ticket] = tickets(app)
    assert f"#{ticket.id}" in owner.text
    assert ticket.category == "water" and ticket.sla_class == "utilities" and ticket.state == "new"
    assert ticket.description == "厨房水管爆了，楼道里全是水"
    assert (ticket.latitude, ticket.longitude) == (43.16, 124.35)
    with app.sessions() as session:
        refs = [a.ref for a in session.exec(select(Attachment)).all()]
        events = [e.kind for e in session.exec(select(TicketEvent)).all()]
    assert refs == ["tg-photo-1", "tg-photo-2"] and events == ["created", "queued"]  # no grid worker yet


def test_a_photo_alone_is_kept_and_words_are_still_asked_for(owner: ChatUser, app: App) -> None:
    owner.say("/report")
    owner.press("公共设施损坏")
    owner.photo("photo-first")
    assert "已收到 1 张照片" in owner.text and "描述" in owner.text and "请确认" not in owner.text
    owner.say("单元门禁坏了")
    assert "请确认" in owner.text and "照片：1 张" in owner.text
    owner.press("删除照片")
    assert "照片：0 张" in owner.text and "删除照片" not in owner.buttons()
    owner.press("提交")
    [ticket] = tickets(app)
    with app.sessions() as session:
        assert session.exec(select(Attachment)).all() == []
    assert ticket.description == "单元门禁坏了"


def test_photos_beyond_the_limit_are_refused_with_the_summary(owner: ChatUser) -> None:
    owner.say("/report")
    owner.press("环境卫生")
    owner.say("楼道堆满杂物")
    for n in range(filing.MAX_PHOTOS):
        owner.photo(f"p-{n}")
    assert f"照片：{filing.MAX_PHOTOS} 张" in owner.text
    owner.photo("one-too-many")
    assert f"最多 {filing.MAX_PHOTOS} 张" in owner.text and f"照片：{filing.MAX_PHOTOS} 张" in owner.text


def test_the_location_is_the_residents_building_unless_changed_on_the_summary(
    owner: ChatUser, app: App
) -> None:
    owner.say("/report")
    owner.press("噪音扰民")
    owner.say("楼上半夜拖椅子")
    assert "位置：1栋" in owner.text
    owner.press("改位置")
    owner.press("不填位置")
    assert "位置：未填写" in owner.text
    owner.press("改位置")
    owner.press("1栋")
    assert "位置：1栋" in owner.text
    owner.press("提交")
    [ticket] = tickets(app)
    assert ticket.location_text == "1栋"


@pytest.mark.parametrize("length", [filing.MAX_DESCRIPTION + 500, 5000])
def test_a_too_long_description_is_refused_with_the_limit_the_prompt_states(
    owner: ChatUser, length: int
) -> None:
    owner.say("/report")
    owner.press("其他")
    assert f"{filing.MAX_DESCRIPTION} 字以内" in owner.text
    owner.say("长" * length)
    assert f"最多 {filing.MAX_DESCRIPTION} 字" in owner.text and "4096" not in owner.text
    assert owner.last[0].keeps_input  # the page puts the text back in the box
    owner.say("短一点的描述")
    assert "请确认" in owner.text  # still in the flow: nothing was lost


def test_dangerous_category_warns_first_and_files_urgent(owner: ChatUser, app: App) -> None:
    owner.say("/report")
    owner.press("燃气泄漏")
    assert "119" in owner.last[0].text and "110" in owner.last[0].text and "120" in owner.last[0].text
    owner.say("楼道里有很浓的煤气味")
    owner.press("提交")
    assert "紧急" in owner.text
    [ticket] = tickets(app)
    assert ticket.urgent and ticket.sla_class == "urgent"


def test_me_too_joins_the_open_ticket_instead_of_copying_it(
    owner: ChatUser, neighbour: ChatUser, app: App
) -> None:
    owner.report("电梯故障", "1栋电梯停在3楼不动了")
    neighbour.say("/report")
    neighbour.press("电梯故障")
    neighbour.say("电梯坏了")
    assert "我也遇到" in neighbour.text
    # Another resident's words are theirs (a phone number may be in them): only kind, place and time show.
    assert "停在3楼" not in neighbour.text
    neighbour.press("我也遇到")
    [ticket] = tickets(app)
    assert ticket.weight == 2 and f"#{ticket.id}" in neighbour.text
    neighbour.say(f"#{ticket.id}")
    assert "2 户反映" in neighbour.text
    assert "1单元 101" not in neighbour.text  # the reporter's home stays private


def test_voice_description_is_accepted(owner: ChatUser, app: App) -> None:
    owner.say("/report")
    owner.press("噪音扰民")
    owner.voice("voice-1", 12)
    assert "语音：12 秒" in owner.text
    owner.press("提交")
    with app.sessions() as session:
        [voice] = session.exec(select(Attachment).where(Attachment.kind == "voice")).all()
    assert voice.duration == 12


def test_the_resident_decides_whether_the_property_company_sees_who_reported(
    owner: ChatUser, app: App
) -> None:
    owner.say("/report")
    owner.press("物业服务")
    owner.say("保洁很久没来了")
    assert "不向物业公开" in owner.text
    owner.press("允许物业看到")
    assert "联系方式：对物业公开" in owner.text
    owner.press("提交")
    [ticket] = tickets(app)
    assert ticket.share_contact


def test_report_texts_name_no_slash_command(owner: ChatUser) -> None:
    owner.report("噪音扰民", "楼上装修太吵")
    assert "/my" not in owner.text and "工单" in owner.text


def test_words_typed_on_the_summary_are_added_and_a_yes_points_to_submit(owner: ChatUser, app: App) -> None:
    owner.say("/report")
    owner.press("公共设施损坏")
    owner.say("单元门坏了")
    owner.say("关不上，一推就开")
    assert "描述：单元门坏了\n关不上，一推就开" in owner.text
    owner.say("好的")
    assert "请点下方「✅ 提交」" in owner.text and "好的" not in owner.last[-1].text
    owner.press("提交")
    assert tickets(app)[0].description == "单元门坏了\n关不上，一推就开"


def test_a_photo_with_too_long_a_caption_keeps_the_photo_and_hands_the_words_back(owner: ChatUser) -> None:
    owner.say("/report")
    owner.press("公共设施损坏")
    owner.photo("lamp-photo", caption="灯" * 1200)
    assert "最多 1000 字" in owner.text and owner.last[-1].keeps_input
    owner.say("3号楼门口路灯不亮")
    assert "照片：1 张" in owner.text  # the photo stayed with the draft
