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
from db.models import Invite, Residency
from tests.conftest import make_app
from tests.test_webchat import Browser, count, start_report

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
