"""What comes in on WeCom: bad and hostile bodies refused before anything is written, callbacks stored
before their turn and processed once after a crash, and a member's voice, photo and location reaching a
report."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.channels.wecom_wire import read_xml, update_id_of
from bot.clock import FixedClock
from db.models import Attachment, InboundLog, Ticket
from tests.support.wecom_app import WeCom, wecom_app
from tests.test_wecom_tasks import jpeg

MEMBER = "ZhaoSi"
BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<xml><ToUserName>x</ToUserName><Encrypt>&lol3;</Encrypt></xml>"
)


@pytest.fixture
def wecom(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[WeCom]:
    """The app with WeCom on, against the API double."""
    with wecom_app(sqlite_url, tmp_path, clock) as harness:
        yield harness


def amr(seconds: int) -> bytes:
    """An AMR-NB recording of that length (silent 12.2 kbit/s frames), as WeCom stores voice."""
    return b"#!AMR\n" + (bytes([0x3C]) + bytes(31)) * 50 * seconds


@pytest.mark.parametrize(
    "body",
    [
        "not xml at all",
        "<xml><Encrypt>unclosed",
        "<xml><ToUserName>x</ToUserName></xml>",  # no Encrypt
        BOMB,
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>',
    ],
)
def test_malformed_and_hostile_envelopes_are_refused_and_nothing_is_written(wecom: WeCom, body: str) -> None:
    answer = wecom.server.post_raw(body)
    assert answer.status_code == 400
    assert wecom.stored() == 0 and wecom.api.calls == []


@pytest.mark.parametrize(
    "plaintext",
    [
        "plain words, not XML",
        BOMB.replace("<Encrypt>&lol3;</Encrypt>", "<MsgType>text</MsgType><Content>&lol3;</Content>"),
        "<xml><MsgType>text</MsgType><Content>no sender, no id</Content></xml>",
    ],
)
def test_a_signed_body_that_decrypts_to_garbage_is_refused(wecom: WeCom, plaintext: str) -> None:
    body, params = wecom.server.seal(plaintext)
    assert wecom.server.post(body, params).status_code == 400
    assert wecom.stored() == 0


def test_an_oversized_body_is_refused(wecom: WeCom) -> None:
    body, params = wecom.server.seal(wecom.server.text(MEMBER, "字" * 40_000))
    assert wecom.server.post(body, params).status_code == 413
    assert wecom.stored() == 0


def test_a_callback_for_another_corp_is_refused(wecom: WeCom) -> None:
    wecom.server.corp_id = "ww0000000000000000"  # same token and key, another corp id inside
    assert wecom.server.send(wecom.server.text(MEMBER, "你好")).status_code == 403
    assert wecom.stored() == 0


def test_a_callback_stored_before_a_crash_runs_once_on_recovery(wecom: WeCom) -> None:
    body, params = wecom.server.seal(wecom.server.text(MEMBER, "DEMO-OWNER"))
    fields = read_xml(
        wecom.channel.crypto.decrypt_message(
            {"Encrypt": read_xml(body)["Encrypt"]},
            params["msg_signature"],
            params["timestamp"],
            params["nonce"],
        )
    )
    update_id = update_id_of(fields)
    assert update_id is not None
    wecom.app.service.store("wecom", update_id, fields)  # stored, then the process died
    assert wecom.api.everything(MEMBER) == []
    # WeCom's retry reaches the new process: stored already, so it runs nothing itself …
    assert wecom.server.post(body, params).status_code == 200
    wecom.settle()
    assert wecom.api.everything(MEMBER) == []
    # … and recovery at start runs the turn, once.
    wecom.client.portal.call(wecom.channel.recover)
    wecom.client.portal.call(wecom.channel.recover)
    [joined] = wecom.api.everything(MEMBER)
    assert "绑定成功" in joined
    with wecom.app.sessions() as session:
        row = session.exec(select(InboundLog).where(InboundLog.update_id == update_id)).one()
    assert row.processed_at is not None


def test_unknown_messages_get_a_clear_answer_and_unknown_events_none(wecom: WeCom) -> None:
    wecom.deliver(wecom.server.text(MEMBER, "DEMO-OWNER"))
    assert "暂不支持" in wecom.turn(MEMBER, wecom.server.video(MEMBER, "MEDIA-video"))
    click = wecom.server._xml(MEMBER, "event", {"Event": "click", "EventKey": "menu"}, msg_id=False)
    assert wecom.turn(MEMBER, click) == ""
    with wecom.app.sessions() as session:
        open_rows = session.exec(select(InboundLog).where(col(InboundLog.processed_at).is_(None))).all()
    assert open_rows == []  # answered or closed: none waits for a recovery that would redo it


def test_voice_photo_and_location_reach_a_report(wecom: WeCom) -> None:
    wecom.deliver(wecom.server.text(MEMBER, "DEMO-OWNER"))
    categories = wecom.turn(MEMBER, wecom.server.text(MEMBER, "/report"))
    line = next(line for line in categories.splitlines() if "停水/漏水" in line)
    wecom.deliver(wecom.server.text(MEMBER, line.split(".", 1)[0]))  # the category by its number
    voice = wecom.api.add_media(amr(12), "audio/amr", "voice.amr")
    wecom.deliver(wecom.server.voice(MEMBER, voice))
    photo = wecom.api.add_media(jpeg())
    assert "照片：1 张" in wecom.turn(MEMBER, wecom.server.image(MEMBER, photo))
    summary = wecom.turn(MEMBER, wecom.server.location(MEMBER, 43.16, 124.35, "阳光花园"))
    assert "语音：12 秒" in summary and "照片：1 张" in summary and "43.16000" in summary
    # seven buttons: numbered
    submit = next(line for line in summary.splitlines() if "提交" in line and line[0].isdigit())
    assert "#1" in wecom.turn(MEMBER, wecom.server.text(MEMBER, submit.split(".", 1)[0]))
    with wecom.app.sessions() as session:
        ticket = session.exec(select(Ticket)).one()
        kinds = sorted(a.kind for a in session.exec(select(Attachment)).all())
    assert (ticket.latitude, ticket.longitude) == (43.16, 124.35) and kinds == ["photo", "voice"]


def test_a_photo_that_is_not_an_image_is_not_stored(wecom: WeCom) -> None:
    wecom.deliver(wecom.server.text(MEMBER, "DEMO-OWNER"))
    sound = io.BytesIO()
    with wave.open(sound, "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000), out.writeframes(bytes(800))
    media = wecom.api.add_media(sound.getvalue(), "image/jpeg")
    assert "暂不支持" in wecom.turn(MEMBER, wecom.server.image(MEMBER, media))
    assert list(wecom.app.settings.files_dir.glob("*")) == []


def test_a_photo_wecom_no_longer_keeps_is_answered_not_retried(wecom: WeCom) -> None:
    wecom.deliver(wecom.server.text(MEMBER, "DEMO-OWNER"))
    assert "暂不支持" in wecom.turn(MEMBER, wecom.server.image(MEMBER, "MEDIA-gone"))
    with wecom.app.sessions() as session:
        assert session.exec(select(InboundLog).where(col(InboundLog.processed_at).is_(None))).all() == []
