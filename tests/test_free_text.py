"""Words or a photo a resident sends outside any flow are offered as a report, with a category proposed
from the words for one-tap confirmation; staff and grid workers keep the plain answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.bootstrap import App
from core.actions import Language
from db import tickets as filing
from db.categories import load_catalog
from db.models import Attachment, Ticket
from tests.support.chat import ChatUser

OFFER = "要把这段话作为报事吗"
CATEGORIES = Path(__file__).resolve().parent.parent / "data" / "categories.yaml"


def tickets(app: App) -> list[Ticket]:
    with app.sessions() as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)).all())


def test_words_outside_a_flow_become_a_report_in_two_taps(owner: ChatUser, app: App) -> None:
    owner.say("电梯又坏了，快来人修")
    assert OFFER in owner.text and "电梯又坏了，快来人修" in owner.text
    [offer] = owner.last
    first_label, first_data = offer.buttons[0][0]
    assert first_label == "✅ 是，报事：电梯故障" and offer.primary == first_data
    others = [label for row in offer.buttons[1:] for label, _ in row]
    assert "停水/漏水" in others and "电梯故障" not in others and others[-1] == "不是报事"
    owner.press("是，报事")
    assert "请确认" in owner.text and "电梯又坏了，快来人修" in owner.text and "位置：1栋" in owner.text
    owner.press("提交")
    [ticket] = tickets(app)
    assert ticket.category == "elevator" and ticket.description == "电梯又坏了，快来人修"


def test_another_category_can_be_chosen_instead(owner: ChatUser, app: App) -> None:
    owner.say("电梯又坏了")
    owner.press("公共设施损坏")
    owner.press("提交")
    [ticket] = tickets(app)
    assert ticket.category == "facility"


def test_words_matching_no_keyword_get_every_category_and_no_proposal(owner: ChatUser) -> None:
    owner.say("你们好，想问个事")
    assert OFFER in owner.text and not any("是，报事" in b for b in owner.buttons())
    assert owner.last[0].primary == "" and "其他" in owner.buttons()


def test_not_a_report_shows_the_menu_and_files_nothing(owner: ChatUser, app: App) -> None:
    owner.say("谢谢你们")
    owner.press("不是报事")
    assert "报事" in " ".join(owner.buttons()) and OFFER not in owner.text
    owner.say("/my")
    assert "草稿已保存" not in owner.text
    assert tickets(app) == []


def test_a_photo_outside_a_flow_is_kept_and_offered(owner: ChatUser, app: App) -> None:
    owner.photo("broken-door.jpg")
    assert "要把这张照片作为报事吗" in owner.text
    owner.press("公共设施损坏")
    assert "照片" in owner.text and "描述" in owner.text  # words still needed
    owner.say("单元门关不上")
    assert "请确认" in owner.text and "照片：1 张" in owner.text
    owner.press("提交")
    with app.sessions() as session:
        assert [a.ref for a in session.exec(select(Attachment)).all()] == ["broken-door.jpg"]


def test_a_photo_with_words_is_offered_with_both(owner: ChatUser, app: App) -> None:
    owner.photo("leak.jpg", caption="楼道水管漏水")
    assert OFFER in owner.text and "1 张照片" in owner.text and "停水/漏水" in owner.buttons()[0]
    owner.press("是，报事")
    assert "照片：1 张" in owner.text
    owner.press("提交")
    assert tickets(app)[0].category == "water"


def test_more_words_while_the_offer_is_open_are_added(owner: ChatUser, app: App) -> None:
    owner.say("楼道灯不亮")
    owner.say("已经三天了")
    assert "楼道灯不亮\n已经三天了" in owner.text
    owner.press("是，报事")
    owner.press("提交")
    assert tickets(app)[0].description == "楼道灯不亮\n已经三天了"


@pytest.mark.parametrize("length", [filing.MAX_DESCRIPTION + 1, 5000])
def test_text_longer_than_a_report_is_refused_not_offered(owner: ChatUser, length: int) -> None:
    owner.say("字" * length)
    assert OFFER not in owner.text and f"最多 {filing.MAX_DESCRIPTION} 字" in owner.text
    assert owner.last[0].keeps_input


def test_staff_and_grid_workers_are_not_offered_a_report(staff: ChatUser, worker: ChatUser) -> None:
    for user in (staff, worker):
        user.say("电梯又坏了")
        assert OFFER not in user.text and "是，报事" not in " ".join(user.buttons())
        user.photo("x.jpg")
        assert "照片作为报事" not in user.text


def test_a_ticket_number_and_commands_are_not_offered(owner: ChatUser) -> None:
    owner.report("噪音扰民", "楼上装修太吵")
    owner.say("#1")
    assert OFFER not in owner.text and "楼上装修太吵" in owner.text
    owner.say("/help")
    assert OFFER not in owner.text
    for sign in ("3", "👍", "？"):  # a stray number (an old numbered menu) or a sign: no report
        owner.say(sign)
        assert OFFER not in owner.text and "报事" in " ".join(owner.buttons())


def test_english_words_propose_an_english_category(owner: ChatUser, app: App) -> None:
    owner.data(Language(locale="en").encode())
    owner.say("The lift is stuck on the 3rd floor again")
    assert "Report this as a problem?" in owner.text
    assert owner.buttons()[0] == "✅ Yes, report: Lift out of order"
    owner.press("Yes, report")
    owner.press("Submit")
    assert tickets(app)[0].category == "elevator"


def test_the_first_category_in_file_order_with_a_keyword_is_proposed() -> None:
    catalog = load_catalog(CATEGORIES)
    proposed = {
        "楼道里有煤气味，还漏水": "gas",  # gas comes before water in the file
        "厨房水管爆了": "water",
        "楼道灯不亮": "facility",
        "小区门口乱停车": "parking",
        "There is a gas smell": "gas",
        "Vegas is far": None,  # English keywords match whole words only
        "你好": None,
    }
    for text, key in proposed.items():
        category = catalog.propose(text)
        assert (category.key if category else None) == key, text


@pytest.mark.parametrize(
    ("keywords", "error"),
    [
        ("[电梯]", "must map"),
        ("{fr: [ascenseur]}", "must map"),
        ("{zh_CN: 电梯}", "list of words"),
        ("{zh_CN: ['']}", "list of words"),
        ("{zh_CN: [漏水]}", "already water's"),
    ],
)
def test_bad_keywords_are_refused_naming_the_entry(tmp_path: Path, keywords: str, error: str) -> None:
    path = tmp_path / "categories.yaml"
    path.write_text(
        "- {key: water, zh_CN: 漏水, sla: utilities, keywords: {zh_CN: [漏水]}}\n"
        f"- {{key: lift, zh_CN: 电梯, sla: utilities, keywords: {keywords}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=error) as raised:
        load_catalog(path)
    assert "(lift)" in str(raised.value)


def test_a_voice_message_outside_a_flow_is_offered_and_needs_no_words(owner: ChatUser, app: App) -> None:
    owner.voice("voice-9", 8)
    assert "要把这段语音作为报事吗" in owner.text
    owner.press("噪音扰民")
    assert "请确认" in owner.text and "语音：8 秒" in owner.text
    owner.press("提交")
    with app.sessions() as session:
        [voice] = session.exec(select(Attachment).where(Attachment.kind == "voice")).all()
    assert voice.ref == "voice-9" and tickets(app)[0].category == "noise"


def test_a_resident_with_two_homes_picks_the_home_after_the_category(app: App) -> None:
    user = ChatUser(app.service, "two-homes")
    user.say("/start DEMO-OWNER")
    user.say("/start DEMO-OWNER2")
    user.say("楼道灯不亮")
    user.press("是，报事")
    assert "多处住址" in user.text
    home = user.buttons()[1]
    user.press(home)
    assert "请确认" in user.text and f"住址：{home}" in user.text and "楼道灯不亮" in user.text
    user.press("提交")
    assert tickets(app)[0].description == "楼道灯不亮"
