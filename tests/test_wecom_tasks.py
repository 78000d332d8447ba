"""A grid worker on WeCom: new tasks arrive as template cards, presses run the same handlers as Telegram's
buttons, a card pressed is closed, photos come in through the media API, reminders are pushed, and more
buttons than a card holds become numbered lines."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import col, select

from bot.clock import FixedClock
from bot.sweep_job import sweep
from core import actions
from db.models import Attachment, Ticket, TicketEvent
from tests.support.chat import ChatUser
from tests.support.wecom_app import WeCom, wecom_app

WORKER = "LiuWang"


@pytest.fixture
def wecom(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[WeCom]:
    """The app with WeCom on and the first grid's worker joined through an invite bound to them."""
    with wecom_app(sqlite_url, tmp_path, clock) as harness:
        harness.joined(WORKER)
        yield harness


@pytest.fixture
def owner(wecom: WeCom) -> ChatUser:
    """A resident of 阳光花园 1栋 in the web chat."""
    user = ChatUser(wecom.app.service, "owner-1", name="王芳")
    user.say("/start DEMO-OWNER")
    return user


def latest_ticket(wecom: WeCom) -> Ticket:
    with wecom.app.sessions() as session:
        found = session.exec(select(Ticket).order_by(col(Ticket.id).desc())).first()
        assert found is not None
        return found


def jpeg(exif_note: str = "") -> bytes:
    """A small real photo, with EXIF when asked."""
    out = io.BytesIO()
    image = Image.new("RGB", (64, 48), (200, 120, 40))
    exif = Image.Exif()
    if exif_note:
        exif[0x010E] = exif_note  # ImageDescription
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_a_new_task_is_a_card_and_pressing_accept_then_resolve_moves_the_ticket(
    wecom: WeCom, owner: ChatUser
) -> None:
    owner.report("噪音扰民", "楼上装修太吵")
    ticket = latest_ticket(wecom)
    assert ticket.state == "assigned" and ticket.holder_id == wecom.person_of(WORKER)
    wecom.drain()
    card = wecom.api.last_card(WORKER, "新任务")
    assert f"#{ticket.id}" in card.title and "楼上装修太吵" in card.text and "1单元 101" in card.text
    assert card.key("接单") == actions.Task("a", ticket=ticket.id).encode()

    answer = wecom.turn(WORKER, wecom.server.press(WORKER, "接单"))
    assert latest_ticket(wecom).state == "accepted"
    assert card.replaced == "已处理"  # the card's buttons gave way: it cannot be pressed again
    assert "已接单" in answer and "办结时限" in answer
    owner.say(f"#{ticket.id}")
    assert "接单" in owner.text

    assert "办结类型" in wecom.turn(WORKER, wecom.server.press(WORKER, "办结"))
    wecom.deliver(wecom.server.press(WORKER, "经核实无需处理"))
    assert "已办结" in wecom.turn(WORKER, wecom.server.text(WORKER, "已上门核实，装修在允许时段内"))
    assert latest_ticket(wecom).state == "resolved"


def test_a_second_press_of_a_card_button_gets_the_handlers_answer_and_changes_nothing(
    wecom: WeCom, owner: ChatUser
) -> None:
    owner.report("噪音扰民", "楼上装修太吵")
    ticket = latest_ticket(wecom)
    wecom.drain()
    card = wecom.api.last_card(WORKER, "新任务")
    wecom.deliver(wecom.server.press(WORKER, "接单"))
    with pytest.raises(AssertionError, match="buttons are gone"):
        wecom.server.press(WORKER, "接单", containing="新任务")
    # A press WeCom still delivers (another device, a retry of the old card): a new event, same button.
    again = wecom.turn(WORKER, wecom.server.card_event(WORKER, card.key("接单"), card.task_id))
    assert "已经接单，无需重复操作" in again
    with wecom.app.sessions() as session:
        events = session.exec(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)).all()
    assert events.count("accepted") == 1


def test_a_photo_is_fetched_from_wecom_and_stored_without_its_metadata(wecom: WeCom, owner: ChatUser) -> None:
    owner.report("停水/漏水", "水管接头漏水")
    ticket = latest_ticket(wecom)
    wecom.drain()
    wecom.deliver(wecom.server.press(WORKER, "接单"))
    wecom.deliver(wecom.server.press(WORKER, "办结"))
    wecom.deliver(wecom.server.press(WORKER, "已修复"))
    assert "照片" in wecom.turn(WORKER, wecom.server.text(WORKER, "已更换水管接头"))
    media = wecom.api.add_media(jpeg("GPS 43.16,124.35 secret"))
    assert "已收到 1 张" in wecom.turn(WORKER, wecom.server.image(WORKER, media))
    wecom.deliver(wecom.server.press(WORKER, "完成"))
    assert latest_ticket(wecom).state == "resolved"
    with wecom.app.sessions() as session:
        [photo] = session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id)).all()
    stored = wecom.app.settings.files_dir / photo.ref
    assert stored.is_file() and b"secret" not in stored.read_bytes()
    assert Image.open(stored).size == (64, 48)


def test_a_reminder_is_pushed_as_a_card(wecom: WeCom, owner: ChatUser, clock: FixedClock) -> None:
    owner.report("停水/漏水", "楼道漏水")  # utilities: accept within two hours
    ticket = latest_ticket(wecom)
    wecom.drain()
    clock.advance(hours=1, minutes=1)
    assert sweep(wecom.app.sessions, clock.now(), wecom.app.policy)["reminder_50"] == 1
    wecom.drain()
    pushed = wecom.api.everything(WORKER)[-1]
    assert "提醒" in pushed and f"#{ticket.id}" in pushed and "50%" in pushed


def test_more_buttons_than_a_card_holds_are_numbered_and_a_number_presses_one(wecom: WeCom) -> None:
    staff = "ZhangZhuren"
    wecom.joined(staff, role="community_staff", grid="")
    greeting = wecom.api.texts(staff)[-1]
    # staff: the queue first
    assert "回复数字选择：\n1. 📥 待办队列\n2. 📊 三率统计\n3. 🗂 我的任务" in greeting
    assert wecom.api.cards_of(staff) == []  # eleven buttons: no card holds them
    assert "工作队列是空的" in wecom.turn(staff, wecom.server.text(staff, "1"))
    # That answer showed no menu: a number typed now is text, not a line of the menu before it.
    assert "工作队列" not in wecom.turn(staff, wecom.server.text(staff, "1"))
    assert "工作队列" not in wecom.turn(staff, wecom.server.text(staff, "99"))  # no such line


def test_a_stats_chart_is_uploaded_and_sent_as_an_image(wecom: WeCom, owner: ChatUser) -> None:
    staff = "ZhangZhuren"
    wecom.joined(staff, role="community_staff", grid="")
    owner.report("噪音扰民", "楼上装修太吵")
    answer = wecom.turn(staff, wecom.server.text(staff, "/stats"))
    assert "响应 · 解决 · 满意" in answer
    [image] = wecom.api.images(staff)
    assert image.startswith(b"\x89PNG")  # our stored chart, as it is
    assert len(wecom.api.calls_to("media/upload")) == 1
