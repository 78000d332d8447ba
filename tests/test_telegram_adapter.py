"""The Telegram adapter end to end inside one process: real update JSON in, real Bot API calls out.

Updates go through the real PTB Application that `bot.bootstrap.build` assembles, by the channel's durable
path (`store_and_process`) or the webhook route; the Bot API is the in-memory double.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from telegram import Update
from telegram.ext import ContextTypes

from bot.bootstrap import App
from bot.channels.telegram import COMMANDS, TelegramChannel, to_inbound
from bot.clock import FixedClock
from bot.web import create_web_app
from db.models import Attachment, Identity, InboundLog, Ticket
from tests.conftest import make_app
from tests.support.botapi import BotApi, InProcessRequest, NoNetworkRequest, TgUser

TOKEN = "123:ABC"


@dataclass
class Telegram:
    """The app with its Telegram channel on the double, and the errors PTB reported while handling."""

    app: App
    channel: TelegramChannel
    api: BotApi
    errors: list[BaseException] = field(default_factory=list)

    async def send(self, *updates: dict[str, Any]) -> None:
        """Deliver updates as one getUpdates batch through the durable path."""
        await self.channel.store_and_process(list(updates))

    def tickets(self) -> list[Ticket]:
        """All tickets, oldest first."""
        with self.app.sessions() as session:
            return list(session.exec(select(Ticket).order_by(Ticket.id)).all())

    def identity(self, user: TgUser) -> Identity | None:
        """The Telegram identity row of a user."""
        with self.app.sessions() as session:
            return session.exec(
                select(Identity).where(Identity.channel == "telegram", Identity.external_id == str(user.id))
            ).first()


@pytest.fixture
async def tg(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Telegram]:
    """The assembled app on a fresh database, its PTB Application initialised against the double."""
    api = BotApi(TOKEN)
    app = make_app(
        sqlite_url, tmp_path, clock, telegram_request=InProcessRequest(api), TELEGRAM_BOT_TOKEN=TOKEN
    )
    channel = app.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    harness = Telegram(app, channel, api)

    async def collect(_: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        harness.errors.append(context.error)  # type: ignore[arg-type]

    channel.application.add_error_handler(collect)
    await channel.application.initialize()
    yield harness
    await channel.application.shutdown()
    app.engine.dispose()
    assert not harness.errors, harness.errors


async def joined(tg: Telegram, user_id: int = 501, invite: str = "DEMO-OWNER") -> TgUser:
    """A Telegram user who has joined with an invite."""
    user = tg.api.user(user_id, "王芳")
    await tg.send(user.start(invite))
    return user


async def to_description(tg: Telegram, user: TgUser) -> None:
    """Walk /report up to the description step."""
    await tg.send(user.command("report"))
    await tg.send(user.press("停水/漏水"))


async def test_start_with_invite_answers_in_chinese_with_a_menu(tg: Telegram) -> None:
    user = await joined(tg)
    [reply] = tg.api.calls_to("sendMessage", user.id)
    assert "绑定成功" in reply.text and "阳光花园 1栋 1单元 101" in reply.text
    assert any("报事" in label for label, _ in reply.buttons())
    assert reply.params["reply_markup"]["inline_keyboard"]


async def test_full_report_by_buttons_ends_with_ticket_code(tg: Telegram) -> None:
    user = await joined(tg)
    await tg.send(user.command("report"))
    assert "类别" in tg.api.texts(user.id)[-1]
    presses = [user.press("停水/漏水")]
    await tg.send(presses[-1])
    await tg.send(user.text("厨房水管爆了"))
    assert "请确认" in tg.api.texts(user.id)[-1]
    for label in ("提交",):
        presses.append(user.press(label))
        await tg.send(presses[-1])
    answered = [c.params["callback_query_id"] for c in tg.api.calls_to("answerCallbackQuery")]
    assert answered == [p["callback_query"]["id"] for p in presses]
    [ticket] = tg.tickets()
    assert ticket.id == 1 and ticket.description == "厨房水管爆了" and ticket.category == "water"
    assert "#1" in tg.api.texts(user.id)[-1]


async def test_location_step_offers_a_share_location_keyboard(tg: Telegram) -> None:
    user = await joined(tg)
    await to_description(tg, user)
    await tg.send(user.text("楼道漏水"))
    await tg.send(user.press("改位置"))
    keyboards = [c.params["reply_markup"] for c in tg.api.calls_to("sendMessage", user.id)[-2:]]
    assert keyboards[-1]["keyboard"][0][0]["request_location"] is True


async def test_voice_photo_and_location_reach_the_ticket(tg: Telegram) -> None:
    user = await joined(tg)
    await to_description(tg, user)
    await tg.send(user.voice("voice-1", 12))
    await tg.send(user.photo("photo-big", caption=""))
    await tg.send(user.location(43.16, 124.35))
    summary = tg.api.texts(user.id)[-1]
    assert "语音：12 秒" in summary and "照片：1 张" in summary and "43.16000" in summary
    await tg.send(user.press("提交"))
    [ticket] = tg.tickets()
    with tg.app.sessions() as session:
        refs = sorted((a.kind, a.ref) for a in session.exec(select(Attachment)).all())
    assert refs == [("photo", "photo-big"), ("voice", "voice-1")]  # the largest photo size is kept
    assert (ticket.latitude, ticket.longitude) == (43.16, 124.35)


async def test_redelivered_update_is_processed_once(tg: Telegram) -> None:
    user = await joined(tg)
    await to_description(tg, user)
    await tg.send(user.text("电梯坏了"))
    submit = user.press("提交")
    await tg.send(submit, submit)  # twice in one batch
    await tg.send(submit)  # and again later, as after a crash before the offset was confirmed
    assert len(tg.tickets()) == 1
    confirmations = [t for t in tg.api.texts(user.id) if "#1" in t]
    assert len(confirmations) == 1


async def test_sticker_and_edit_get_a_clear_reply_and_change_nothing(tg: Telegram) -> None:
    user = await joined(tg)
    await to_description(tg, user)
    await tg.send(user.sticker())
    assert "暂不支持" in tg.api.texts(user.id)[-1]
    await tg.send(user.edited("改过的文字"))
    assert "暂不支持" in tg.api.texts(user.id)[-1]
    await tg.send(user.text("楼道灯坏了"))  # still at the description step
    assert "照片" in tg.api.texts(user.id)[-1]
    assert tg.tickets() == []


async def test_photo_where_a_description_is_expected_is_kept_and_words_are_asked_for(tg: Telegram) -> None:
    user = await joined(tg)
    await to_description(tg, user)
    await tg.send(user.photo("photo-1"))
    assert "已收到 1 张照片。请用文字描述问题" in tg.api.texts(user.id)[-1]
    await tg.send(user.text("水管漏水"))
    assert "照片：1 张" in tg.api.texts(user.id)[-1]


async def test_oversized_text_is_refused_and_the_reply_fits(tg: Telegram) -> None:
    user = await joined(tg)
    await to_description(tg, user)
    await tg.send(user.text("漏" * 5000))
    reply = tg.api.texts(user.id)[-1]
    assert "太长" in reply and len(reply) <= 4096
    assert all(c.status == 200 for c in tg.api.calls_to("sendMessage", user.id))


async def test_forged_button_data_is_answered_as_expired(tg: Telegram) -> None:
    user = await joined(tg)
    for data in ("zz:forged", "r:ok", "r:c:not-a-category"):
        await tg.send(user.callback(data))
        assert "已失效" in tg.api.texts(user.id)[-1], data
    assert len(tg.api.calls_to("answerCallbackQuery")) == 3
    assert tg.tickets() == []


async def test_blocked_bot_marks_the_identity_unreachable(tg: Telegram) -> None:
    user = await joined(tg)
    tg.api.forbid(user.id)
    await tg.send(user.command("report"))
    assert tg.api.calls_to("sendMessage", user.id)[-1].status == 403
    identity = tg.identity(user)
    assert identity is not None and identity.unreachable


async def test_kicked_my_chat_member_marks_unreachable_without_sending(tg: Telegram) -> None:
    user = await joined(tg)
    sent = len(tg.api.calls_to("sendMessage"))
    await tg.send(user.kicked())
    identity = tg.identity(user)
    assert identity is not None and identity.unreachable
    assert len(tg.api.calls_to("sendMessage")) == sent


async def test_publish_commands_sets_the_menu_in_both_languages(tg: Telegram) -> None:
    await tg.channel.publish_commands()
    assert [c["command"] for c in tg.api.commands[None]] == list(COMMANDS)
    assert [c["command"] for c in tg.api.commands["en"]] == list(COMMANDS)
    zh = {c["command"]: c["description"] for c in tg.api.commands[None]}
    en = {c["command"]: c["description"] for c in tg.api.commands["en"]}
    assert "报事" in zh["report"] and re.search(r"[A-Za-z]", en["report"]) and zh["report"] != en["report"]


def test_webhook_refuses_a_wrong_secret_and_stores_before_answering(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    api = BotApi(TOKEN)
    app = make_app(
        sqlite_url,
        tmp_path,
        clock,
        telegram_request=InProcessRequest(api),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET="hook-secret-1",
    )
    channel = app.channels["telegram"]
    user = api.user(601, "李强")
    update = user.start("DEMO-OWNER")

    def stored() -> list[InboundLog]:
        with app.sessions() as session:
            return list(session.exec(select(InboundLog).where(InboundLog.channel == "telegram")).all())

    with TestClient(create_web_app(app)) as client:
        client.portal.call(channel.application.initialize)  # type: ignore[union-attr]
        url = "/telegram/webhook/hook-secret-1"
        bad = client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
        assert bad.status_code == 403
        forged_path = client.post(
            "/telegram/webhook/guess",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret-1"},
        )
        assert forged_path.status_code == 403
        assert stored() == []
        not_update = client.post(
            url, json={"hello": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret-1"}
        )
        assert not_update.status_code == 400
        good = client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret-1"})
        assert good.status_code == 200
        assert [row.update_id for row in stored()] == [str(update["update_id"])]  # stored before the 200
        deadline = time.monotonic() + 10
        while not api.texts(user.id) and time.monotonic() < deadline:
            time.sleep(0.02)
        client.portal.call(channel.application.shutdown)  # type: ignore[union-attr]
    assert "绑定成功" in api.texts(user.id)[0]
    app.engine.dispose()


async def test_group_chats_are_ignored(tg: Telegram) -> None:
    user = tg.api.user(701)
    group = Update.de_json(user.group_text("/report"), tg.channel.bot)
    assert to_inbound(group) is None
    inbound = to_inbound(Update.de_json(user.text("你好"), tg.channel.bot))
    assert inbound is not None and inbound.user_ref == "701" and inbound.chat_ref == "701"
    await tg.send(user.group_text("/start DEMO-OWNER"))
    assert tg.api.calls_to("sendMessage") == [] and tg.identity(user) is None


def test_building_the_app_connects_nothing(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> None:
    request = NoNetworkRequest()
    app = make_app(sqlite_url, tmp_path, clock, telegram_request=request, TELEGRAM_BOT_TOKEN=TOKEN)
    assert isinstance(app.channels["telegram"], TelegramChannel)
    assert request.attempts == []
    app.engine.dispose()


async def test_unreachable_bot_api_at_start_is_retried_until_it_answers(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    api = BotApi(TOKEN)
    api.offline = True
    app = make_app(
        sqlite_url, tmp_path, clock, telegram_request=InProcessRequest(api), TELEGRAM_BOT_TOKEN=TOKEN
    )
    channel = app.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    await channel.start()  # must not fail: the web chat keeps running and Telegram comes up later
    try:
        api.offline = False
        await api.wait_for(lambda: bool(api.calls_to("getUpdates")), what="polling after the retry")
        user = api.user(801)
        api.enqueue(user.start("DEMO-OWNER"))
        await api.wait_for(lambda: bool(api.texts(user.id)), what="the welcome reply")
        assert "绑定成功" in api.texts(user.id)[0]
    finally:
        await channel.stop()
        app.engine.dispose()
