"""The web chat against odd input, floods and forged headers: sessions, uploads, limits, bodies, headers."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from bot.web import create_web_app
from db.models import Invite, Residency, WebMessage
from tests.conftest import make_app
from tests.test_webchat import Browser, count, png_bytes, start_report

MB = 1024 * 1024


@pytest.fixture
def tuned(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Any]:
    """Build the app with some settings changed: `tuned(WEB_RATE_SEND="3/day")`."""
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
    assert "照片：0 张" in phone.last_reply  # the report still waits on its summary, no photo taken


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


# --- item 8: rate limits, joined-only uploads, quotas --------------------------------------------------


def test_sends_over_the_session_budget_get_429_with_retry_after(tuned: Any) -> None:
    # A day, not a minute: the sliding window forgives part of the last window, so a minute boundary
    # crossed mid-test would let the fourth send through.
    app = tuned(WEB_RATE_SEND="3/day")
    phone = Browser(app)
    for n in range(3):
        assert phone.post({"id": f"s{n}", "text": "/help"}).status_code == 200
    stored = count(app, WebMessage)
    refused = phone.post({"id": "s3", "text": "/help"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1 and refused.headers["x-linli-reason"] == "rate"
    assert "too many requests" in refused.json()["detail"]
    assert count(app, WebMessage) == stored  # nothing of the refused message was kept
    # Another session on another address has its own budget.
    assert Browser(app, address="198.51.100.20").post({"id": "o1", "text": "/help"}).status_code == 200


@pytest.mark.parametrize("proxies", ["192.0.2.1", "192.0.2.77/24"])  # a network written loosely counts too
def test_the_address_budget_counts_all_its_sessions_and_forwarded_for_is_believed_only_from_a_proxy(
    tuned: Any, proxies: str
) -> None:
    app = tuned(WEB_RATE_SEND_IP="2/day", TRUSTED_PROXIES=proxies)
    first, second = Browser(app, address="203.0.113.9"), Browser(app, address="203.0.113.9")
    assert first.post({"id": "a1", "text": "/help"}).status_code == 200
    assert second.post({"id": "a2", "text": "/help"}).status_code == 200
    # A client cannot escape its address's budget by naming another address itself.
    spoofed = second.post({"id": "a3", "text": "/help"}, headers={"X-Forwarded-For": "10.9.8.7"})
    assert spoofed.status_code == 429
    # Behind the trusted proxy, each client is counted by the address the proxy saw.
    for n, client in enumerate(("198.51.100.1", "198.51.100.2", "198.51.100.3")):
        behind = Browser(app, address="192.0.2.1", headers={"X-Forwarded-For": client})
        assert behind.post({"id": f"p{n}", "text": "/help"}).status_code == 200
        assert behind.post({"id": f"q{n}", "text": "/help"}).status_code == 200
        assert behind.post({"id": f"r{n}", "text": "/help"}).status_code == 429


def test_history_reads_and_photo_uploads_have_budgets(tuned: Any) -> None:
    app = tuned(WEB_RATE_READ="2/day", WEB_RATE_PHOTO="1/day")
    phone = Browser(app)
    assert [phone.client.get("/chat/api/messages").status_code for _ in range(3)] == [200, 200, 429]
    start_report(phone)
    assert phone.upload(png_bytes()).status_code == 200
    again = phone.upload(png_bytes())
    assert again.status_code == 429 and "retry-after" in again.headers
    assert len(stored_files(app)) == 1


def test_new_sessions_per_address_are_limited_and_a_known_session_always_gets_the_page(tuned: Any) -> None:
    app = tuned(WEB_RATE_NEW_SESSION_IP="2/hour")
    kept = Browser(app, address="203.0.113.50")
    Browser(app, address="203.0.113.50")
    flood = TestClient(create_web_app(app), client=("203.0.113.50", 1))
    refused = flood.get("/chat")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "set-cookie" not in refused.headers  # no session was made
    assert "请" in refused.text and "Please reload" in refused.text
    for _ in range(5):  # a reload of a page that has its session is never counted
        assert kept.client.get("/chat").status_code == 200
    assert Browser(app, address="198.51.100.60").page.status_code == 200


def test_a_visitor_who_has_not_joined_cannot_upload(app: App, phone: Browser) -> None:
    phone.say("你好")  # a person row exists, but no home and no role
    response = phone.upload(png_bytes())
    assert response.status_code == 403 and response.headers["x-linli-reason"] == "join_first"
    assert "join" in response.json()["detail"]
    fresh = Browser(app)  # never said anything at all
    assert fresh.upload(png_bytes()).status_code == 403
    assert stored_files(app) == []
    assert all(not m.get("photos") for m in phone.client.get("/chat/api/messages").json()["messages"])


def test_the_daily_photo_quota_counts_what_was_stored(tuned: Any, clock: FixedClock) -> None:
    app = tuned(WEB_UPLOAD_DAILY_PHOTOS="2")
    phone = Browser(app)
    start_report(phone)
    assert phone.upload(png_bytes()).status_code == 200
    assert phone.upload(png_bytes()).status_code == 200
    over = phone.upload(png_bytes())
    assert over.status_code == 429 and over.headers["x-linli-reason"] == "quota"
    assert 0 < int(over.headers["retry-after"]) <= 24 * 3600
    assert len(stored_files(app)) == 2
    clock.advance(hours=24, seconds=1)
    assert phone.upload(png_bytes()).status_code == 200


def test_the_daily_megabyte_quota_counts_the_stored_files(tuned: Any) -> None:
    app = tuned(WEB_UPLOAD_DAILY_MB="1")
    phone = Browser(app)
    start_report(phone)
    noise = Image.frombytes("RGB", (1400, 1400), os.urandom(1400 * 1400 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert phone.upload(out.getvalue()).status_code == 200
    [path] = stored_files(app)
    assert path.stat().st_size > MB  # noise does not compress
    over = phone.upload(png_bytes())
    assert over.status_code == 429 and over.headers["x-linli-reason"] == "quota"
    assert len(stored_files(app)) == 1


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


# --- item 10: headers, script, cookie --------------------------------------------------------------


def test_every_answer_carries_the_security_headers(app: App, phone: Browser) -> None:
    phone.say("/start DEMO-OWNER")
    answers = [
        phone.page,
        phone.client.get("/chat/api/messages"),
        phone.client.get("/healthz"),
        phone.client.get("/nowhere"),
        phone.client.get("/chat/api/messages?after=-5"),
        send_raw(phone, b"x" * (2 * MB)),
    ]
    for answer in answers:
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff", answer.url
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp


def test_the_page_has_no_inline_script_or_style_and_its_files_are_versioned(phone: Browser) -> None:
    page = phone.page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and "<style" not in page
    assert not re.search(r"\s(on[a-z]+|style)=", page)
    for name in ("chat.js", "chat.css"):
        address = re.search(rf'"(/chat/static/{re.escape(name)}\?v=[0-9a-f]{{12}})"', page)
        assert address, name
        served = phone.client.get(address.group(1))
        assert served.status_code == 200 and "immutable" in served.headers["cache-control"]
        assert served.headers["content-type"].startswith(("text/javascript", "text/css"))
        assert phone.client.get(f"/chat/static/{name}?v=old").headers["cache-control"] == "no-cache"
    assert phone.client.get("/chat/static/secret_key").status_code == 404
    assert phone.client.get("/chat/static/..%2Fchat.html").status_code == 404


def test_the_cookie_is_secure_behind_a_trusted_tls_proxy_only(tuned: Any) -> None:
    app = tuned(TRUSTED_PROXIES="192.0.2.1")
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9"}
    proxied = Browser(app, address="192.0.2.1", headers=https)
    assert "; secure" in proxied.page.headers["set-cookie"].lower()
    direct = Browser(app, address="203.0.113.7", headers=https)  # not a proxy we trust
    assert "secure" not in direct.page.headers["set-cookie"].lower()
    public = tuned(WEB_PUBLIC_URL="https://linli.example.cn")
    assert "; secure" in Browser(public).page.headers["set-cookie"].lower()


def test_the_page_links_only_the_bots_own_addresses(app: App, phone: Browser) -> None:
    assert '<meta name="linli-address" content="http://127.0.0.1:8080">' in phone.page.text
    script = re.search(r'src="(/chat/static/chat\.js\?v=\w+)"', phone.page.text)
    assert script
    source = phone.client.get(script.group(1)).text
    assert "if (!isOwn(m[0])) continue;" in source


def test_upkeep_is_scheduled_every_hour(app: App) -> None:
    from bot.runner import make_scheduler

    job = make_scheduler(app).get_job("upkeep")
    assert job is not None and job.trigger.interval == timedelta(hours=1)
