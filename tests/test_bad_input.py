"""Bad input gets a clear reply and changes nothing it should not."""

from __future__ import annotations

from sqlmodel import func, select

from bot.bootstrap import App
from db.conversations import load_state
from db.models import Ticket, TicketEvent
from tests.support.chat import ChatUser


def count(app: App, model: type) -> int:
    with app.sessions() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def state_of(app: App, user: ChatUser) -> tuple[str, str, dict]:
    from db.models import Identity

    with app.sessions() as session:
        identity = session.exec(select(Identity).where(Identity.external_id == user.user_ref)).one()
        state = load_state(session, identity.person_id)
        return state.flow, state.step, state.data


def test_ten_thousand_characters_are_refused_without_touching_the_draft(owner: ChatUser, app: App) -> None:
    owner.say("/report")
    owner.press("环境卫生")
    before = state_of(app, owner)
    owner.say("垃" * 10_000)
    assert "太长" in owner.text and "10000" in owner.text
    assert state_of(app, owner) == before
    owner.say("垃" * 1_001)  # over the description limit, under the message limit
    assert "最多 1000 字" in owner.text
    assert state_of(app, owner) == before


def test_unknown_update_kind_gets_a_reply_and_no_change(owner: ChatUser, app: App) -> None:
    owner.say("/report")
    before = state_of(app, owner)
    owner.unsupported()
    assert "暂不支持" in owner.text
    assert state_of(app, owner) == before


def test_photo_where_text_is_expected_is_kept_but_not_taken_as_description(owner: ChatUser, app: App) -> None:
    owner.say("/report")
    owner.press("停车")
    owner.photo("tg-photo-x")
    assert "请用文字描述问题" in owner.text
    _, step, data = state_of(app, owner)
    assert step == "describe" and data["photos"] == [["web", "tg-photo-x"]] and not data["description"]


def test_forged_and_stale_buttons_change_nothing(owner: ChatUser, app: App) -> None:
    for forged in (
        "r:ok",
        "r:c:nonexistent",
        "t:y:99999",
        "a:y:1",
        "j:h:999999",
        "zz:top",
        "t:v:abc",
        "cmd:/rm",
    ):
        owner.data(forged)
        assert owner.text, forged
        assert "失效" in owner.text or "没有找到" in owner.text or "仅供" in owner.text, (forged, owner.text)
    assert count(app, Ticket) == 0
    owner.report("噪音扰民", "夜里装修")
    assert count(app, Ticket) == 1
    owner.data("r:ok")  # the submit button pressed again after the ticket was filed
    assert "失效" in owner.text
    assert count(app, Ticket) == 1


def test_another_residents_ticket_stays_hidden(owner: ChatUser, neighbour: ChatUser, app: App) -> None:
    owner.report("噪音扰民", "楼上每天半夜拖椅子")
    with app.sessions() as session:
        ticket = session.exec(select(Ticket)).one()
    events_before = count(app, TicketEvent)
    for attempt in (f"#{ticket.id}", f"＃{ticket.id}"):
        neighbour.say(attempt)
        assert "没有找到" in neighbour.text and "拖椅子" not in neighbour.text
    neighbour.data(f"t:y:{ticket.id}")  # forged withdraw
    neighbour.data(f"t:n:{ticket.id}")  # forged add-note
    assert "没有找到" in neighbour.text
    with app.sessions() as session:
        assert session.get(Ticket, ticket.id).state == "new"  # type: ignore[union-attr]
    assert count(app, TicketEvent) == events_before


def test_double_submit_with_the_same_update_is_processed_once(owner: ChatUser, app: App) -> None:
    owner.say("/report")
    owner.press("其他")
    owner.say("单元门禁坏了")
    submit = next(data for m in owner.last for row in m.buttons for label, data in row if "提交" in label)
    owner._send(button=submit, update_id="same-click")
    first = owner.text
    owner._send(button=submit, update_id="same-click")  # the channel redelivered the same click
    assert "#" in first and owner.last == []
    assert count(app, Ticket) == 1


def test_cancel_leaves_the_flow_and_saves_nothing(owner: ChatUser, app: App) -> None:
    owner.say("/report")
    owner.press("其他")
    owner.say("草稿内容")
    owner.say("/cancel")
    assert "放弃这份报事草稿吗" in owner.text  # something typed: asked first
    owner.press("放弃")
    assert "草稿已删除" in owner.text
    assert state_of(app, owner)[0] == ""
    owner.say("/cancel")
    assert "没有进行中" in owner.text
    assert count(app, Ticket) == 0


def test_unknown_command_is_explained(owner: ChatUser) -> None:
    owner.say("/frobnicate now")
    assert "没有看懂“/frobnicate”" in owner.text and "「帮助」" in owner.text  # what was typed, and help
