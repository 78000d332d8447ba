"""Telegram intake never stops: an update PTB cannot parse is stored and set aside, ignored updates
are closed, a backlog is drained in full, odd webhook bodies get a 4xx, replies committed with a turn
are delivered even when the first send fails, and /healthz tells when intake is stuck."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from bot.bootstrap import App
from bot.channels.telegram import RECOVER_BATCH, TelegramChannel
from bot.clock import FixedClock
from bot.web import create_web_app
from db.models import InboundLog, Outbox
from tests.conftest import make_app
from tests.support.botapi import BotApi, InProcessRequest, TgUser

TOKEN = "123:ABC"
SECRET = "hook-secret-2"


def poison(api: BotApi, user: TgUser) -> dict[str, Any]:
    """A forwarded poll as an older self-hosted Bot API server sends it: PTB 22 refuses to parse it."""
    poll = {
        "id": "77",
        "question": "去哪儿吃饭",
        "options": [],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
    }
    body = {"message_id": 9, "date": 0, "chat": user.chat, "from": user.sender, "poll": poll}
    return {"update_id": api.next_update_id(), "message": body}


def rows(app: App) -> dict[str, InboundLog]:
    """Stored Telegram updates by id."""
    with app.sessions() as session:
        found = session.exec(select(InboundLog).where(InboundLog.channel == "telegram")).all()
        return {row.update_id: row for row in found}


@pytest.fixture
async def polling(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[tuple[App, BotApi]]:
    """The app with its Telegram channel long-polling the in-memory double."""
    api = BotApi(TOKEN)
    app = make_app(
        sqlite_url,
        tmp_path,
        clock,
        telegram_request=InProcessRequest(api),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_POLL_TIMEOUT="1",
    )
    channel = app.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    await channel.start()
    yield app, api
    api.close()
    await channel.stop()
    app.engine.dispose()


async def test_an_unparseable_update_is_kept_set_aside_and_polling_goes_on(
    polling: tuple[App, BotApi],
) -> None:
    app, api = polling
    user = api.user(901, "王芳")
    bad = poison(api, user)
    api.enqueue(bad, user.start("DEMO-OWNER"))
    await api.wait_for(lambda: bool(api.texts(user.id)), what="the answer to the update after the poison")
    assert "绑定成功" in api.texts(user.id)[0]
    stored = rows(app)[str(bad["update_id"])]
    assert stored.processed_at is not None and stored.error == "cannot parse"
    assert stored.payload["message"]["poll"]["question"] == "去哪儿吃饭"  # kept for whoever looks into it
    api.enqueue(user.command("my"))  # the offset moved past it: the next poll gets new updates
    await api.wait_for(lambda: len(api.texts(user.id)) >= 2, what="the answer to /my")
    assert bad["update_id"] in api.acknowledged
    intake = app.channels["telegram"].intake  # type: ignore[attr-defined]
    assert intake.set_aside == 1 and intake.mode == "polling"


async def test_polling_survives_an_unexpected_error(polling: tuple[App, BotApi]) -> None:
    app, api = polling
    channel = app.channels["telegram"]
    original = channel._store_raw  # type: ignore[attr-defined]
    failures = []

    def broken_once(raw: list[dict[str, Any]]) -> None:
        if not failures:
            failures.append(raw)
            raise RuntimeError("the database went away")
        original(raw)

    channel._store_raw = broken_once  # type: ignore[attr-defined]
    user = api.user(902)
    api.enqueue(user.start("DEMO-OWNER"))
    await api.wait_for(lambda: bool(api.texts(user.id)), timeout=15, what="the answer after the failure")
    assert failures and "绑定成功" in api.texts(user.id)[0]
    assert len(api.texts(user.id)) == 1  # not stored the first time, so not confirmed: processed once


def webhook_app(sqlite_url: str, tmp_path: Path, clock: FixedClock, api: BotApi) -> App:
    return make_app(
        sqlite_url,
        tmp_path,
        clock,
        telegram_request=InProcessRequest(api),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
    )


def wait_until(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_webhook_answers_200_to_an_unparseable_update_and_recovery_survives_it(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    api = BotApi(TOKEN)
    app = webhook_app(sqlite_url, tmp_path, clock, api)
    channel = app.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    user = api.user(903)
    bad, good = poison(api, user), user.start("DEMO-OWNER")
    url, headers = f"/telegram/webhook/{SECRET}", {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    with TestClient(create_web_app(app)) as client:
        client.portal.call(channel.application.initialize)  # type: ignore[union-attr]
        assert client.post(url, json=bad, headers=headers).status_code == 200
        assert client.post(url, json=good, headers=headers).status_code == 200
        wait_until(lambda: bool(api.texts(user.id)), "the answer to the good update")
        assert rows(app)[str(bad["update_id"])].error == "cannot parse"
        # An unparseable update stored before this fix (unprocessed) must not stop recovery at start.
        with app.sessions() as session:
            row = session.exec(select(InboundLog).where(InboundLog.update_id == str(bad["update_id"]))).one()
            row.processed_at, row.error = None, ""
            session.commit()
        client.portal.call(channel.recover)
        client.portal.call(channel.application.shutdown)  # type: ignore[union-attr]
    assert rows(app)[str(bad["update_id"])].processed_at is not None
    app.engine.dispose()


@pytest.mark.parametrize(
    "body",
    [
        b'{"update_id": 1.5, "message": {}}',
        b'{"update_id": true, "message": {}}',
        b'{"update_id": "12", "message": {}}',
        b'{"update_id": -4}',
        b'{"update_id": 99999999999999999999999}',
        b"[1, 2]",
        b'{"update_id": 1e999}',
        b"not json",
        b'{"update_id": 5, "x": "\\ud800"',
    ],
)
def test_webhook_refuses_what_is_not_an_update_with_400(
    sqlite_url: str, tmp_path: Path, clock: FixedClock, body: bytes
) -> None:
    app = webhook_app(sqlite_url, tmp_path, clock, BotApi(TOKEN))
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    with TestClient(create_web_app(app)) as client:
        answer = client.post(f"/telegram/webhook/{SECRET}", content=body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert rows(app) == {}
    app.engine.dispose()


def test_webhook_refuses_a_huge_body_with_413(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> None:
    app = webhook_app(sqlite_url, tmp_path, clock, BotApi(TOKEN))
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    body = b'{"update_id": 7, "message": {"text": "' + b"x" * (2 * 1024 * 1024) + b'"}}'
    with TestClient(create_web_app(app)) as client:
        answer = client.post(f"/telegram/webhook/{SECRET}", content=body, headers=headers)
    assert answer.status_code == 413
    assert rows(app) == {}
    app.engine.dispose()


@pytest.fixture
async def tg(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[tuple[App, BotApi]]:
    api = BotApi(TOKEN)
    app = make_app(
        sqlite_url, tmp_path, clock, telegram_request=InProcessRequest(api), TELEGRAM_BOT_TOKEN=TOKEN
    )
    await app.channels["telegram"].application.initialize()  # type: ignore[attr-defined]
    yield app, api
    await app.channels["telegram"].application.shutdown()  # type: ignore[attr-defined]
    app.engine.dispose()


async def test_ignored_updates_are_closed_and_recovery_drains_the_whole_backlog(
    tg: tuple[App, BotApi],
) -> None:
    app, api = tg
    channel = app.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    group = [api.user(1000 + i).group_text(f"大家好 {i}") for i in range(RECOVER_BATCH + 20)]
    people = [api.user(2000 + i) for i in range(30)]
    starts = [user.start("DEMO-OWNER") for user in people]
    # Stored before a crash, never processed: more than one recovery batch of ignored updates first.
    channel._store_raw(group + starts)  # type: ignore[attr-defined]
    await channel.recover()
    left = [row for row in rows(app).values() if row.processed_at is None]
    assert left == []
    assert all(api.texts(user.id) for user in people)
    await channel.recover()  # nothing replayed a second time
    assert all(len(api.texts(user.id)) == 1 for user in people)


async def test_a_refused_photo_does_not_hold_back_the_text(tg: tuple[App, BotApi]) -> None:
    app, api = tg
    channel = app.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    from handlers.types import Attachment, Rendered

    api.refuse("sendPhoto", 400, "Bad Request: IMAGE_PROCESS_FAILED")
    message = Rendered("#3 新任务：楼道灯不亮", ((("接单", "k:a:3"),),), (Attachment("photo", "AgAD-bad"),))
    await channel.send("4242", message)
    assert [c.text for c in api.calls_to("sendMessage", 4242)] == ["#3 新任务：楼道灯不亮"]


async def test_replies_committed_with_a_turn_reach_the_resident_after_a_failed_send(
    tg: tuple[App, BotApi], clock: FixedClock
) -> None:
    app, api = tg
    channel = app.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    user = api.user(3001)
    api.refuse("sendMessage", 502, "Bad Gateway")  # the answer cannot leave now
    with contextlib.suppress(Exception):
        await channel.store_and_process([user.start("DEMO-OWNER")])
    assert api.texts(user.id) == []
    with app.sessions() as session:
        [row] = session.exec(select(Outbox).where(col(Outbox.identity_id).is_not(None))).all()
        assert row.status == "pending" and row.claimed_until is not None
    api.refusals.clear()
    await app.dispatcher.drain()
    assert api.texts(user.id) == []  # still leased to the turn's own sender
    clock.advance(seconds=app.settings.outbox_lease_seconds + 1)
    await app.dispatcher.drain()
    assert len(api.texts(user.id)) == 1 and "绑定成功" in api.texts(user.id)[0]
    with app.sessions() as session:
        assert session.exec(select(Outbox.status).where(Outbox.id == row.id)).one() == "sent"


async def test_sent_replies_are_marked_and_never_sent_again(
    tg: tuple[App, BotApi], clock: FixedClock
) -> None:
    app, api = tg
    channel = app.channels["telegram"]
    user = api.user(3002)
    await channel.store_and_process([user.start("DEMO-OWNER")])  # type: ignore[attr-defined]
    clock.advance(hours=1)
    await app.dispatcher.drain()
    assert len(api.texts(user.id)) == 1
    with app.sessions() as session:
        statuses = session.exec(select(Outbox.status).where(col(Outbox.identity_id).is_not(None))).all()
    assert statuses == ["sent"]


async def test_sent_replies_are_marked_with_the_next_intake_without_a_transaction_of_their_own(
    tg: tuple[App, BotApi],
) -> None:
    app, api = tg
    channel = app.channels["telegram"]
    first, second = api.user(3003), api.user(3004)
    await channel.store_and_process([first.start("DEMO-OWNER")])  # type: ignore[attr-defined]
    assert len(app.service.sent) == 1  # sent, and noted to be marked
    await channel.store_and_process([second.start("DEMO-OWNER")])  # type: ignore[attr-defined]
    with app.sessions() as session:
        statuses = session.exec(
            select(Outbox.status).where(col(Outbox.identity_id).is_not(None)).order_by(col(Outbox.id))
        ).all()
    assert statuses == ["sent", "pending"]  # the first marked in the second's intake transaction
    app.service.flush_sent()
    with app.sessions() as session:
        statuses = session.exec(select(Outbox.status).where(col(Outbox.identity_id).is_not(None))).all()
    assert statuses == ["sent", "sent"] and len(app.service.sent) == 0


async def test_marks_of_sent_replies_wait_for_the_next_transaction_when_one_fails(
    tg: tuple[App, BotApi],
) -> None:
    app, api = tg
    channel = app.channels["telegram"]
    await channel.store_and_process([api.user(3005).start("DEMO-OWNER")])  # type: ignore[attr-defined]
    marks = app.service.sent
    with pytest.raises(RuntimeError), app.sessions() as session, marks.written(session, app.clock.now()):
        raise RuntimeError("the transaction that carried the marks failed")
    assert len(app.service.sent) == 1
    await app.dispatcher.drain()  # the dispatcher's lease carries them now
    assert len(app.service.sent) == 0 and len(api.texts(3005)) == 1
    with app.sessions() as session:
        assert session.exec(select(Outbox.status).where(col(Outbox.identity_id).is_not(None))).all() == [
            "sent"
        ]


def test_healthz_reports_intake_and_fails_when_updates_wait_too_long(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    api = BotApi(TOKEN)
    app = webhook_app(sqlite_url, tmp_path, clock, api)
    channel = app.channels["telegram"]
    with TestClient(create_web_app(app)) as client:
        ok = client.get("/healthz")
        assert ok.status_code == 200 and ok.json()["channels"]["telegram"]["unprocessed"] == 0
        channel._store_raw([api.user(4001).start("DEMO-OWNER")])  # type: ignore[attr-defined]
        assert client.get("/healthz").json()["channels"]["telegram"]["unprocessed"] == 1
        clock.advance(minutes=3)
        stuck = client.get("/healthz")
    assert stuck.status_code == 503
    assert stuck.json()["status"] == "stuck" and "telegram" in stuck.json()["problems"][0]
    app.engine.dispose()


async def test_healthz_fails_when_polling_has_not_answered_for_long(polling: tuple[App, BotApi]) -> None:
    app, api = polling
    web = create_web_app(app)
    await api.wait_for(lambda: bool(api.calls_to("getUpdates")), what="the first poll")
    await asyncio.sleep(0)
    with TestClient(web) as client:
        assert client.get("/healthz").status_code == 200
        api.offline = True
        app.clock.advance(minutes=5)  # type: ignore[attr-defined]
        answer = client.get("/healthz")
    assert answer.status_code == 503 and "no update received" in answer.json()["problems"][0]


async def test_updates_another_process_stored_and_died_with_are_processed_while_running(
    tg: tuple[App, BotApi], clock: FixedClock
) -> None:
    from bot.runner import recover_intake

    app, api = tg
    channel = app.channels["telegram"]
    channel.intake.mode = "webhook"  # type: ignore[attr-defined]
    orphan, fresh = api.user(5001), api.user(5002)
    channel._store_raw([orphan.start("DEMO-OWNER")])  # type: ignore[attr-defined]
    clock.advance(minutes=2)
    channel._store_raw([fresh.start("DEMO-OWNER")])  # type: ignore[attr-defined]  # its turn may be running
    await recover_intake(app)
    assert "绑定成功" in api.texts(orphan.id)[0]
    assert api.texts(fresh.id) == []


async def test_settled_answers_are_pruned_after_a_week_and_pending_ones_kept(
    tg: tuple[App, BotApi], clock: FixedClock
) -> None:
    from bot.runner import prune_replies

    app, api = tg
    channel = app.channels["telegram"]
    await channel.store_and_process([api.user(6001).start("DEMO-OWNER")])  # type: ignore[attr-defined]
    api.refuse("sendMessage", 502, "Bad Gateway")
    with contextlib.suppress(Exception):
        await channel.store_and_process([api.user(6002).start("DEMO-OWNER")])  # type: ignore[attr-defined]
    clock.advance(days=8)
    await prune_replies(app)
    with app.sessions() as session:
        left = session.exec(select(Outbox.status).where(col(Outbox.identity_id).is_not(None))).all()
    assert left == ["pending"]  # the sent answer is gone; the one still owed to 6002 stays


async def test_an_update_that_breaks_before_its_turn_is_set_aside_not_replayed_for_ever(
    tg: tuple[App, BotApi], clock: FixedClock
) -> None:
    app, api = tg
    channel = app.channels["telegram"]
    update = api.user(7001).text("你好")
    update["message"]["from"]["first_name"] = None  # PTB reads it; our translation cannot
    channel._store_raw([update])  # type: ignore[attr-defined]
    await channel.recover()
    stored = rows(app)[str(update["update_id"])]
    assert stored.processed_at is not None and stored.error.startswith("failed: ")
    with TestClient(create_web_app(app)) as client:
        clock.advance(minutes=5)
        assert client.get("/healthz").json()["channels"]["telegram"]["unprocessed"] == 0


async def test_a_secret_answer_that_cannot_be_sent_is_never_written_down(
    tg: tuple[App, BotApi], clock: FixedClock
) -> None:
    """A receipt code that failed to leave is not sent later from the outbox: the resident is told it
    could not be delivered, and nothing of it is stored."""
    from db import people
    from handlers.types import Rendered

    app, api = tg
    receipt = Rendered("回执码：ABCD-EFGH-JKLM", redacted="🔒 不记名投票的选择和回执码只显示一次")
    with app.sessions() as session:
        who = people.find_or_create_person(session, "telegram", "8001", "8001", "王芳", "zh_CN", clock.now())
        app.service._lease_replies(session, who, [receipt], clock.now(), timedelta(seconds=60))
        session.commit()
        [row] = session.exec(select(Outbox).where(col(Outbox.identity_id).is_not(None))).all()
    assert "ABCD" not in str(row.rendered)
    clock.advance(minutes=2)
    await app.dispatcher.drain()
    [text] = api.texts(8001)
    assert "没能送达" in text and "ABCD" not in text
