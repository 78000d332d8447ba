"""The web chat against odd input, floods and forged headers: sessions, uploads, limits, bodies, headers."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from db.models import Invite, Residency, WebMessage
from tests.conftest import make_app
from tests.test_webchat import Browser, count, png_bytes, start_report

MB = 1024 * 1024


@pytest.fixture
def tuned(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Any]:
    """Build the app with some settings changed: `tuned(WEB_RATE_SEND="3/minute")`."""
    built: list[App] = []

    def build(**overrides: object) -> App:
        built.append(make_app(sqlite_url, tmp_path, clock, **overrides))
        return built[-1]

    yield build
    for app in built:
        app.engine.dispose()


@pytest.fixture
def phone(app: App) -> Iterator[Browser]:
    """A resident's phone with the chat page open (not joined yet)."""
    browser = Browser(app)
    yield browser
    browser.client.close()


def stored_files(app: App) -> list[Path]:
    folder = app.settings.files_dir
    return sorted(folder.iterdir()) if folder.exists() else []


def jpeg(width: int, height: int, **save: Any) -> bytes:
    """A JPEG of one colour, saved with whatever `save` adds (EXIF, a comment)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(out, "JPEG", **save)
    return out.getvalue()


def send_raw(phone: Browser, raw: bytes, query: str = "") -> Any:
    return phone.client.post(
        f"/chat/api/send{query}",
        content=raw,
        headers={"X-CSRF-Token": phone.csrf, "Content-Type": "application/json"},
    )


# --- item 4: a link from another site keeps the session ---------------------------------------------


def test_a_link_from_another_site_keeps_the_session_its_history_and_the_invite(
    app: App, phone: Browser
) -> None:
    assert "samesite=lax" in phone.page.headers["set-cookie"].lower()  # sent on a link from elsewhere
    phone.say("/start DEMO-OWNER")
    with app.sessions() as session:
        uses_before = session.exec(select(Invite).where(Invite.code == "DEMO-OWNER2")).one().uses_left
    homes_before = count(app, Residency)
    # An official-account article links to /chat with another invite; the resident taps it.
    opened = phone.client.get(
        "/chat",
        params={"invite": "DEMO-OWNER2"},
        headers={"Sec-Fetch-Site": "cross-site", "Referer": "https://mp.weixin.qq.com/s/article"},
    )
    assert opened.status_code == 200
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', opened.text)
    assert token and token.group(1) == phone.csrf  # the same session, not a new one over it
    history = phone.client.get("/chat/api/messages").json()["messages"]
    assert "绑定成功" in history[-1]["text"]
    with app.sessions() as session:
        assert session.exec(select(Invite).where(Invite.code == "DEMO-OWNER2")).one().uses_left == uses_before
    assert count(app, Residency) == homes_before
    # Posts from that other site are still refused: Lax does not loosen the CSRF checks.
    forged = phone.post(
        {"id": "x9", "text": "/start DEMO-OWNER2"}, headers={"Origin": "https://evil.example"}
    )
    assert forged.status_code == 403


# --- item 7: uploads are decoded and written anew ----------------------------------------------------


def test_a_php_file_dressed_as_a_jpeg_is_refused_and_nothing_is_stored(app: App, phone: Browser) -> None:
    start_report(phone)
    response = phone.upload(b"\xff\xd8\xff<?php system($_GET['c']); ?>", "x.jpg", "image/jpeg")
    assert response.status_code == 415 and "JPEG" in response.json()["detail"]
    truncated = phone.upload(jpeg(64, 64)[:300], "cut.jpg", "image/jpeg")
    assert truncated.status_code == 415
    assert stored_files(app) == []
    assert "请发送现场照片" in phone.last_reply  # the report still waits for its photo


def test_an_upload_is_stored_upright_without_exif_or_gps_and_at_most_2560_px(
    app: App, phone: Browser
) -> None:
    start_report(phone)
    exif = Image.Exif()
    exif[0x0112] = 6  # taken with the phone turned: shown rotated by 90°
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (41.0, 48.0, 12.5)
    original = jpeg(4000, 3000, exif=exif, comment=b"home address")
    assert b"PhoneMaker" in original
    assert phone.upload(original, "lamp.jpg", "image/jpeg").status_code == 200
    [path] = stored_files(app)
    data = path.read_bytes()
    stored = Image.open(path)
    assert stored.format == "JPEG" and stored.size == (1920, 2560)  # upright, longest side 2560
    assert not stored.getexif() and b"PhoneMaker" not in data and b"home address" not in data
    assert "exif" not in stored.info and "icc_profile" not in stored.info
    # Transparency survives as a PNG.
    out = io.BytesIO()
    Image.new("RGBA", (40, 30), (0, 0, 0, 0)).save(out, "PNG")
    assert phone.upload(out.getvalue()).status_code == 200
    assert {p.suffix for p in stored_files(app)} == {".jpg", ".png"}


def test_a_decompression_bomb_is_refused_without_being_decoded(app: App, phone: Browser) -> None:
    start_report(phone)
    out = io.BytesIO()
    Image.new("1", (30_000, 30_000)).save(out, "PNG")  # 900 megapixels in under 150 KB
    assert len(out.getvalue()) < app.settings.max_upload_bytes
    response = phone.upload(out.getvalue())
    assert response.status_code == 413 and "pixels" in response.json()["detail"]
    out = io.BytesIO()
    Image.new("1", (9_000, 8_000)).save(out, "PNG")  # under Pillow's own bound, over ours
    assert phone.upload(out.getvalue()).status_code == 413
    assert stored_files(app) == []


# --- item 9: odd input is a 4xx with a clear message -------------------------------------------------


@pytest.mark.parametrize("after", ["9223372036854775808", str(2**31), "-1", "1e3"])
def test_an_out_of_range_after_is_422_on_every_route(any_app: App, after: str) -> None:
    phone = Browser(any_app)
    phone.say("/start DEMO-OWNER")
    read = phone.client.get(f"/chat/api/messages?after={after}")
    assert read.status_code == 422 and "after" in read.json()["detail"]
    sent = send_raw(phone, b'{"id": "x1", "text": "/help"}', f"?after={after}")
    assert sent.status_code == 422 and "after" in sent.json()["detail"]
    assert phone.client.get(f"/chat/api/messages?after={2**31 - 1}").status_code == 200


ODD_BODIES = {
    "lone-surrogate": b'{"id": "o1", "text": "\\ud800"}',
    "surrogate-id": b'{"id": "\\udfff", "text": "hi"}',
    "surrogate-label": b'{"id": "o1", "button": "cmd:/help", "label": "\\ud800"}',
    "nul": b'{"id": "o1", "text": "a\\u0000b"}',
    "huge-number": b'{"id": "o1", "text": 1e999}',
    "nan": b'{"id": "o1", "latitude": NaN, "longitude": 1}',
    "infinity": b'{"id": "o1", "latitude": 1, "longitude": -Infinity}',
    "not-json": b'{"id": "o1", "text": ',
    "a-list": b"[1, 2]",
}


@pytest.mark.parametrize("raw", ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_odd_json_bodies_get_a_clear_422_and_change_nothing(any_app: App, raw: bytes) -> None:
    phone = Browser(any_app)
    phone.say("/start DEMO-OWNER")
    before = count(any_app, WebMessage)
    response = send_raw(phone, raw)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("bad request")
    assert count(any_app, WebMessage) == before
    assert phone.say("/help")  # the session still works


def test_a_nul_in_a_photo_caption_is_refused(app: App, phone: Browser) -> None:
    start_report(phone)
    response = phone.client.post(
        "/chat/api/photo",
        files={"file": ("p.png", png_bytes(), "image/png")},
        data={"id": "c1", "caption": "a\x00b"},
        headers={"X-CSRF-Token": phone.csrf},
    )
    assert response.status_code == 422 and stored_files(app) == []


def test_request_bodies_over_the_limit_get_413(app: App, phone: Browser) -> None:
    phone.say("/start DEMO-OWNER")
    big = b'{"id": "b1", "text": "' + b"x" * (2 * MB) + b'"}'
    declared = send_raw(phone, big)
    assert declared.status_code == 413 and "1 MB" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes are counted as they come
        yield b'{"id": "b2", "text": "'
        for _ in range(40):
            yield b"x" * 64 * 1024
        yield b'"}'

    streamed = phone.client.post(
        "/chat/api/send",
        content=chunks(),
        headers={"X-CSRF-Token": phone.csrf, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    start_report(phone)
    huge = phone.upload(png_bytes() + b"\x00" * (app.settings.max_upload_bytes + 200 * 1024))
    assert huge.status_code == 413 and stored_files(app) == []
    # A webhook-sized delivery of 50 MB is refused at the door, route or not.
    webhook = phone.client.post("/telegram/webhook/any", content=b"{" + b" " * (2 * MB) + b"}")
    assert webhook.status_code == 413
    assert phone.say("/help")
