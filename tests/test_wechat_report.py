"""A resident on WeChat: joins by scanning an invite's QR code, reports with a voice (WeChat's speech
recognition as the description) and a photo, picks from numbered lists and menus, gets the ticket code."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import select

from bot.clock import FixedClock
from db.models import Attachment
from tests.support.wechat_app import WeChat, wechat_harness

OPENID = "o_resident_0000000000000001"


def jpeg() -> bytes:
    """A small photo as a phone would send it."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 40)).save(out, "JPEG")
    return out.getvalue()


def amr(seconds: int) -> bytes:
    """An AMR-NB voice of `seconds` (12.2 kbit/s frames of 20 ms)."""
    frame = bytes([0x3C]) + bytes(31)
    return b"#!AMR\n" + frame * (seconds * 50)


@pytest.fixture
def wx(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[WeChat]:
    """The app with WeChat on, plaintext callbacks."""
    harness = wechat_harness(sqlite_url, tmp_path, clock)
    yield harness
    harness.app.engine.dispose()


def number_of(text: str, label: str) -> str:
    """The number a numbered list gives `label`."""
    match = re.search(rf"^(\d+)\. [^\n]*{re.escape(label)}", text, re.MULTILINE)
    assert match, f"{label!r} is not numbered in {text!r}"
    return match.group(1)


async def test_scanning_an_invite_qr_code_joins_with_it(wx: WeChat) -> None:
    user = wx.user(OPENID)
    delivery = await wx.post(user.subscribe("DEMO-OWNER"))
    assert delivery.success  # the welcome has a menu: it follows as a 客服 message
    welcome = wx.last(OPENID)
    assert "绑定成功" in welcome and "阳光花园 1栋 1单元 101" in welcome
    identity = wx.identity(OPENID)
    assert identity is not None and identity.last_inbound_at is not None


async def test_scanning_while_following_joins_too_and_a_plain_follow_asks_for_a_code(wx: WeChat) -> None:
    await wx.post(wx.user("o_follower_plain_0000000000001").subscribe())
    assert "绑定成功" not in wx.last("o_follower_plain_0000000000001", 5)
    await wx.post(wx.user("o_follower_scans_0000000000001").scan("DEMO-OWNER2"))
    assert "绑定成功" in wx.last("o_follower_scans_0000000000001")


async def test_report_with_voice_and_photo_ends_with_the_ticket_code(wx: WeChat) -> None:
    user = await wx.joined(OPENID)
    await wx.post(user.click("cmd:/report"))
    categories = wx.last(OPENID)
    # More categories than a menu holds: numbered lines and a link to the H5 page instead.
    assert "类别" in categories and "https://linli.example.cn/wechat/oauth?next=%2Fchat" in categories
    await wx.post(user.text(number_of(categories, "停水/漏水")))
    voice = wx.api.add_media(amr(7), "audio/amr", "voice")
    await wx.post(user.voice(voice, recognition="厨房水管爆了，一直在漏水"))
    assert "照片" in wx.last(OPENID)
    photo = wx.api.add_media(jpeg())
    await wx.post(user.image(photo))
    assert "照片：1 张" in wx.last(OPENID)
    await wx.post(wx.tap(user, "改位置"))
    asked = wx.last(OPENID)
    assert "位置" in asked and "＋" in asked  # WeChat has no location button: the hint says where
    await wx.post(user.location(43.16, 124.35, "阳光花园1栋"))
    summary = wx.last(OPENID)
    assert "厨房水管爆了" in summary and "语音：7 秒" in summary and "照片：1 张" in summary
    await wx.post(wx.tap(user, "提交"))
    [ticket] = wx.tickets()
    assert ticket.description == "厨房水管爆了，一直在漏水" and ticket.category == "water"
    assert f"#{ticket.id}" in wx.last(OPENID)
    with wx.app.sessions() as session:
        files = session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id)).all()
    kinds = sorted(f.kind for f in files)
    assert kinds == ["photo", "voice"]
    stored_photo = next(f for f in files if f.kind == "photo")
    assert wx.channel.files.read(stored_photo.ref) is not None  # downloaded at once into our store
    stored_voice = next(f for f in files if f.kind == "voice")
    assert wx.channel.files.read(stored_voice.ref) == amr(7)  # kept as it came


async def test_a_voice_without_recognition_is_kept_as_the_description(wx: WeChat) -> None:
    user = await wx.joined(OPENID)
    await wx.post(user.text("/report"))
    await wx.post(user.text(number_of(wx.last(OPENID), "停水/漏水")))
    voice = wx.api.add_media(amr(3), "audio/amr", "voice")
    await wx.post(user.voice(voice))
    assert "照片" in wx.last(OPENID)


async def test_expired_media_is_asked_again_and_nothing_is_filed(wx: WeChat) -> None:
    user = await wx.joined(OPENID)
    await wx.post(user.text("/report"))
    await wx.post(user.text(number_of(wx.last(OPENID), "停水/漏水")))
    await wx.post(user.text("楼道漏水"))
    delivery = await wx.post(user.image("image-expired", pic_url="not-a-url"))
    assert "重新发送" in delivery.text
    assert wx.stored()[-1].error.startswith("media")


async def test_a_photo_whose_media_id_fails_is_fetched_from_its_pic_url(wx: WeChat) -> None:
    user = await wx.joined(OPENID)
    await wx.post(user.text("/report"))
    await wx.post(user.text(number_of(wx.last(OPENID), "停水/漏水")))
    await wx.post(user.text("楼道漏水"))
    photo = wx.api.add_media(jpeg())
    wx.api.inject("/cgi-bin/media/get", 40007)
    await wx.post(user.image(photo))
    assert "照片：1 张" in wx.last(OPENID)
