"""The web chat over HTTP: session and CSRF, sending, exactly-once, escaping, photo uploads and access."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import func, select

from bot.bootstrap import App
from bot.channels.webchat import WebChat, _body
from bot.web import create_web_app
from core.actions import Menu
from db.models import Attachment, InboundLog, Ticket, WebMessage
from handlers.types import Attachment as Sent
from handlers.types import Rendered

_ids = itertools.count(1)


def png_bytes(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (7, 193, 96)) -> bytes:
    """A small, valid PNG image of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


class Browser:
    """One phone's session with the web chat: opens the page, then sends like the page's script does."""

    def __init__(self, app: App, address: str = "testclient", headers: dict[str, str] | None = None) -> None:
        self.client = TestClient(create_web_app(app), client=(address, 50000), headers=headers)
        self.page = self.client.get("/chat")
        match = re.search(r'<meta name="csrf-token" content="([^"]+)">', self.page.text)
        assert match, "the page carries no CSRF token"
        self.csrf = match.group(1)
        self.messages: list[dict[str, Any]] = []

    def post(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        """Post to /chat/api/send with the page's headers (plus or minus some)."""
        return self.client.post(
            "/chat/api/send", json=body, headers={"X-CSRF-Token": self.csrf, **(headers or {})}
        )

    def say(self, text: str, message_id: str | None = None) -> list[dict[str, Any]]:
        """Type a message; returns the whole conversation as the response lists it."""
        response = self.post({"id": message_id or f"m{next(_ids)}", "text": text})
        assert response.status_code == 200, response.text
        self.messages = response.json()["messages"]
        return self.messages

    def press(self, label: str) -> list[dict[str, Any]]:
        """Press the newest button whose label contains `label`."""
        for message in reversed(self.messages):
            for row in message.get("buttons", []):
                for text, data in row:
                    if label in text:
                        response = self.post({"id": f"b{next(_ids)}", "button": data, "label": text})
                        assert response.status_code == 200, response.text
                        self.messages = response.json()["messages"]
                        return self.messages
        raise AssertionError(f"no button {label!r}")

    def upload(
        self, data: bytes, filename: str = "photo.png", mime: str = "image/png", message_id: str = ""
    ) -> Any:
        """Upload a file the way the page's 📷 button does."""
        response = self.client.post(
            "/chat/api/photo",
            files={"file": (filename, data, mime)},
            data={"id": message_id or f"p{next(_ids)}", "caption": ""},
            headers={"X-CSRF-Token": self.csrf},
        )
        if response.status_code == 200:
            self.messages = response.json()["messages"]
        return response

    @property
    def last_reply(self) -> str:
        """The text of the bot's newest message."""
        return next(m["text"] for m in reversed(self.messages) if m["outgoing"])


@pytest.fixture
def phone(app: App) -> Iterator[Browser]:
    """A resident's phone with the chat page open (not joined yet)."""
    browser = Browser(app)
    yield browser
    browser.client.close()


def count(app: App, model: Any) -> int:
    with app.sessions() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def start_report(phone: Browser) -> None:
    phone.say("/start DEMO-OWNER")
    phone.press("报事")
    phone.press("公共设施损坏")
    phone.say("3号楼门口的路灯不亮了")
    assert "请确认" in phone.last_reply  # the summary, where photos are added


def test_chat_page_sets_a_signed_session_cookie_and_embeds_a_csrf_token(app: App, phone: Browser) -> None:
    cookie = phone.page.headers["set-cookie"]
    assert phone.page.status_code == 200 and "linli_session=" in cookie
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert len(phone.csrf) >= 20
    assert phone.say("/start DEMO-OWNER")  # the token from the page works with that cookie

    # A cookie made up by hand (right shape, no valid signature) is not a session.
    forged = base64.b64encode(json.dumps({"uid": "someone", "csrf": "x" * 32}).encode()).decode()
    intruder = TestClient(create_web_app(app), cookies={"linli_session": forged + ".abc.def"})
    response = intruder.post(
        "/chat/api/send", json={"id": "f1", "text": "hi"}, headers={"X-CSRF-Token": "x" * 32}
    )
    assert response.status_code == 403
    # Another page load gets its own token; this session's token is not accepted there.
    other = Browser(app)
    assert other.csrf != phone.csrf
    assert other.post({"id": "o1", "text": "hi"}, headers={"X-CSRF-Token": phone.csrf}).status_code == 403


def test_send_without_the_csrf_header_is_refused_and_stores_nothing(app: App, phone: Browser) -> None:
    response = phone.client.post("/chat/api/send", json={"id": "n1", "text": "/start DEMO-OWNER"})
    assert response.status_code == 403
    assert count(app, WebMessage) == 0 and count(app, InboundLog) == 0
    assert phone.client.get("/chat/api/messages").json() == {"messages": []}


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}, {"Origin": "null"}],
    ids=["sec-fetch-site", "foreign-origin", "null-origin"],
)
def test_cross_site_posts_are_refused(app: App, phone: Browser, headers: dict[str, str]) -> None:
    response = phone.post({"id": "x1", "text": "/start DEMO-OWNER"}, headers=headers)
    assert response.status_code == 403
    assert count(app, WebMessage) == 0
    # The same request from the page itself goes through.
    same = phone.post({"id": "x2", "text": "/start DEMO-OWNER"}, headers={"Origin": "http://testserver"})
    assert same.status_code == 200


def test_joining_with_an_invite_answers_in_chinese(phone: Browser) -> None:
    messages = phone.say("/start DEMO-OWNER")
    assert [m["outgoing"] for m in messages] == [False, True]
    assert messages[0]["text"] == "/start DEMO-OWNER"
    assert "绑定成功" in messages[1]["text"] and "阳光花园 1栋 1单元 101" in messages[1]["text"]
    assert ["📝 报事", Menu(command="/report").encode()] in messages[1]["buttons"][0]


def test_the_same_client_message_id_is_processed_once(app: App, phone: Browser) -> None:
    first = phone.say("/start DEMO-OWNER", message_id="same-id")
    again = phone.say("/start DEMO-OWNER", message_id="same-id")
    assert again == first  # the retry shows the answer, and nothing new
    assert count(app, WebMessage) == 2

    start_report(phone)
    assert phone.upload(png_bytes(), message_id="photo-1").status_code == 200
    assert phone.upload(png_bytes(), message_id="photo-1").status_code == 200
    assert "照片：1 张" in phone.last_reply
    assert len(list((app.settings.files_dir).iterdir())) == 1  # a retried upload leaves no second file


def test_markup_comes_back_as_plain_text_and_the_page_never_parses_it(app: App, phone: Browser) -> None:
    phone.say("/start DEMO-OWNER")
    attack = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    messages = phone.say(attack)
    assert messages[-2] == {"id": messages[-2]["id"], "outgoing": False, "text": attack}
    script = re.search(r'<script src="(/chat/static/chat\.js\?v=\w+)"', phone.page.text)
    assert script and "<script>" not in phone.page.text  # the page's only script is a file we serve
    source = phone.client.get(script.group(1)).text
    assert not re.search(r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write", source)
    assert "node.textContent = content" in source and "document.createTextNode(text.slice(" in source
    assert "appendText(bubble, msg.text, msg.outgoing)" in source  # only the bot's texts get links ...
    assert "/https?:\\/\\/" in source  # ... and only http(s) addresses, never javascript:
    assert "script-src 'self'" in phone.page.headers["content-security-policy"]
    # An invite in the address is only put into the page when it is a plain code.
    page = phone.client.get("/chat", params={"invite": '"><script>alert(3)</script>'}).text
    assert "alert(3)" not in page


def test_a_photo_during_a_report_is_stored_counted_and_filed(app: App, phone: Browser) -> None:
    start_report(phone)
    image = png_bytes()
    response = phone.upload(image)
    assert response.status_code == 200
    assert "照片：1 张" in phone.last_reply and "完成" not in json.dumps(phone.messages, ensure_ascii=False)
    [name] = next(m for m in reversed(phone.messages) if not m["outgoing"])["photos"]
    stored = Image.open(app.settings.files_dir / name)  # written anew as a JPEG of the same picture
    assert stored.format == "JPEG" and stored.size == (4, 3)
    phone.press("提交")
    assert "工单编号 #1" in phone.last_reply
    with app.sessions() as session:
        [ticket] = session.exec(select(Ticket)).all()
        refs = [(a.kind, a.channel, a.ref) for a in session.exec(select(Attachment)).all()]
    assert ticket.category == "facility" and refs == [("photo", "web", name)]


def test_a_file_that_is_not_an_image_is_refused(app: App, phone: Browser) -> None:
    start_report(phone)
    response = phone.upload(b"%PDF-1.7\n% not a photo\n", "bill.pdf", "application/pdf")
    assert response.status_code == 415 and "JPEG" in response.json()["detail"]
    # Calling it a PNG does not help: the bytes are checked, not the name.
    assert phone.upload(b"<svg onload=alert(1)>", "x.png", "image/png").status_code == 415
    assert not app.settings.files_dir.exists() or not list(app.settings.files_dir.iterdir())
    assert "请确认" in phone.last_reply


def test_an_oversized_photo_is_refused(app: App, phone: Browser) -> None:
    start_report(phone)
    limit = app.settings.max_upload_bytes
    response = phone.upload(png_bytes() + b"\x00" * limit)
    assert response.status_code == 413 and "MB" in response.json()["detail"]
    assert not app.settings.files_dir.exists() or not list(app.settings.files_dir.iterdir())


def test_only_the_uploader_can_fetch_a_photo(app: App, phone: Browser) -> None:
    start_report(phone)
    image = png_bytes()
    phone.upload(image)
    [name] = next(m for m in reversed(phone.messages) if not m["outgoing"])["photos"]
    mine = phone.client.get(f"/chat/files/{name}")
    assert mine.status_code == 200 and mine.content == (app.settings.files_dir / name).read_bytes()
    assert mine.headers["content-type"] == "image/jpeg"
    assert mine.headers["x-content-type-options"] == "nosniff"

    neighbour = Browser(app)
    neighbour.say("/start DEMO-OWNER2")
    assert neighbour.client.get(f"/chat/files/{name}").status_code == 404
    # Naming the file in a message of one's own does not unlock it either.
    neighbour.say(f"/chat/files/{name}")
    neighbour.say(name)
    assert neighbour.client.get(f"/chat/files/{name}").status_code == 404
    assert TestClient(create_web_app(app)).get(f"/chat/files/{name}").status_code == 404


def test_a_ten_thousand_character_text_is_refused_and_changes_nothing(app: App, phone: Browser) -> None:
    phone.say("/start DEMO-OWNER")
    phone.press("报事")
    phone.press("公共设施损坏")
    assert "请用文字描述问题" in phone.last_reply
    phone.say("漏" * 10_000)
    assert "太长" in phone.last_reply and "10000" in phone.last_reply
    assert count(app, Ticket) == 0
    # The draft is still waiting for its description, as it was.
    phone.say("3号楼门口的路灯不亮了")
    assert "描述：3号楼门口的路灯不亮了" in phone.last_reply


def test_the_page_follows_the_language_the_person_chose(phone: Browser) -> None:
    page = phone.page.text
    assert 'data-w="send">发送</button>' in page and 'placeholder="输入消息…"' in page
    assert "Type a message" not in page and "Send" not in page  # one language, not pairs
    phone.say("/start DEMO-OWNER")
    phone.say("/lang")
    # The answer to the switch tells the page its new language, its words and its menu.
    [data] = [
        next(b[1] for row in m["buttons"] for b in row if "English" in b[0])
        for m in reversed(phone.messages)
        if m["outgoing"] and any("English" in b[0] for row in m["buttons"] for b in row)
    ][:1]
    answer = phone.client.post(
        "/chat/api/send?lang=zh_CN",
        json={"id": "lang-en", "button": data, "label": "English"},
        headers={"X-CSRF-Token": phone.csrf},
    ).json()
    assert answer["locale"] == "en" and answer["words"]["send"] == "Send"
    assert [item["label"] for item in answer["menu"]][:3] == ["Report", "Mine", "Votes"]
    reloaded = phone.client.get("/chat").text
    assert 'data-w="send">Send</button>' in reloaded and ">Votes</span>" in reloaded
    assert 'placeholder="Type a message…"' in reloaded and "Report · Follow · Notices" in reloaded
    assert '<html lang="en">' in reloaded and "输入消息" not in reloaded


def post_json(phone: Browser, path: str, body: dict[str, Any], csrf: bool = True) -> Any:
    headers = {"X-CSRF-Token": phone.csrf} if csrf else {}
    return phone.client.post(path, json=body, headers=headers)


def test_the_bottom_menu_follows_the_persons_roles(app: App, phone: Browser) -> None:
    joined = phone.post({"id": "g1", "text": "/start DEMO-GRID"}).json()
    assert joined["menu"][0]["command"] == "/tasks"
    assert joined["menu"][0]["label"] == "任务" and joined["menu"][-1]["command"] == "/help"
    page = phone.client.get("/chat").text
    assert page.index('data-command="/tasks"') < page.index('data-command="/help"')
    assert 'data-command="/report"' not in page  # a grid worker has no home to report from

    resident = Browser(app)
    menu = resident.post({"id": "o1", "text": "/start DEMO-OWNER"}).json()["menu"]
    assert [item["command"] for item in menu] == ["/report", "/my", "/polls", "/notices", "/help"]


def test_the_large_text_switch_is_remembered_for_the_person(app: App, phone: Browser) -> None:
    assert '<body class="">' in phone.page.text
    assert post_json(phone, "/chat/api/prefs", {"large_text": True}, csrf=False).status_code == 403
    phone.say("/start DEMO-OWNER")
    response = post_json(phone, "/chat/api/prefs", {"large_text": True})
    assert response.status_code == 200 and response.json() == {"large_text": True, "saved": True}
    page = phone.client.get("/chat").text
    assert '<body class="large">' in page and 'aria-pressed="true"' in page
    post_json(phone, "/chat/api/prefs", {"large_text": False})
    assert '<body class="">' in phone.client.get("/chat").text


def test_the_primary_button_and_a_refused_text_are_marked_for_the_page() -> None:
    buttons = ((("✅ 提交", "r:submit"),), (("改描述", "r:edit"),))
    body = _body(Rendered("请确认报事内容", buttons, primary="r:submit"))
    assert body["primary"] == "r:submit" and "keeps_input" not in body  # drawn filled, a row of its own
    assert "primary" not in _body(Rendered("请选择", buttons))
    assert _body(Rendered("最多 4096 字", keeps_input=True))["keeps_input"] is True  # text back in the box
    voice = _body(Rendered("#1", photos=(Sent("voice", "a" * 32 + ".webm", duration=7),)))
    assert voice["voices"] == [["a" * 32 + ".webm", 7]] and voice["photos"] == []


WEBM = b"\x1a\x45\xdf\xa3" + b"\x00" * 200  # an EBML header: what Chrome's MediaRecorder writes


def upload_voice(phone: Browser, data: bytes, seconds: int = 3, caption: str = "") -> Any:
    response = phone.client.post(
        "/chat/api/voice",
        files={"file": ("voice", data, "audio/webm")},
        data={"id": f"v{next(_ids)}", "seconds": str(seconds), "caption": caption},
        headers={"X-CSRF-Token": phone.csrf},
    )
    if response.status_code == 200:
        phone.messages = response.json()["messages"]
    return response


def test_a_voice_recorded_on_the_page_becomes_the_reports_description(app: App, phone: Browser) -> None:
    phone.say("/start DEMO-OWNER")
    phone.press("报事")
    phone.press("公共设施损坏")
    response = upload_voice(phone, WEBM, seconds=4)
    assert response.status_code == 200, response.text
    mine = next(m for m in reversed(phone.messages) if not m["outgoing"])
    [[name, seconds]] = mine["voices"]
    assert name.endswith(".webm") and seconds == 4
    assert (app.settings.files_dir / name).read_bytes() == WEBM
    played = phone.client.get(f"/chat/files/{name}")
    assert played.status_code == 200 and played.content == WEBM
    assert Browser(app).client.get(f"/chat/files/{name}").status_code == 404  # only where it was shown
    assert "语音：4 秒" in phone.last_reply  # the summary: a voice needs no words
    phone.press("提交")
    assert "工单编号 #1" in phone.last_reply
    with app.sessions() as session:
        refs = [(a.kind, a.channel, a.ref, a.duration) for a in session.exec(select(Attachment)).all()]
    assert refs == [("voice", "web", name, 4)]


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7 not a recording", png_bytes(), b"<svg onload=alert(1)>" + b" " * 40],
    ids=["pdf", "png", "svg"],
)
def test_a_voice_upload_that_is_not_audio_is_refused(app: App, phone: Browser, data: bytes) -> None:
    start_report(phone)
    response = upload_voice(phone, data)
    assert response.status_code == 415 and "WebM" in response.json()["detail"]
    assert not app.settings.files_dir.exists() or not list(app.settings.files_dir.iterdir())


def test_voice_uploads_share_the_photo_quota_and_need_a_session(app: App, phone: Browser) -> None:
    assert upload_voice(phone, WEBM).status_code == 403  # not joined yet
    web = app.channels["web"]
    assert isinstance(web, WebChat)
    web.config = replace(web.config, daily_photos=2)
    start_report(phone)
    for _ in range(2):
        assert upload_voice(phone, WEBM).status_code == 200
    refused = upload_voice(phone, WEBM)
    assert refused.status_code == 429 and refused.headers["x-linli-reason"] == "quota"
    assert phone.upload(png_bytes()).status_code == 429  # photos count against the same day
    no_token = phone.client.post(
        "/chat/api/voice",
        files={"file": ("voice", WEBM, "audio/webm")},
        data={"id": "v-none", "seconds": "2"},
    )
    assert no_token.status_code == 403


def test_a_grid_worker_gets_the_residents_voice_on_the_task_card(app: App, phone: Browser) -> None:
    worker = Browser(app)
    worker.say("/start DEMO-GRID")
    phone.say("/start DEMO-OWNER")
    phone.press("报事")
    phone.press("电梯故障")
    assert upload_voice(phone, WEBM, seconds=6).status_code == 200
    [[name, _]] = next(m for m in reversed(phone.messages) if not m["outgoing"])["voices"]
    phone.press("提交")
    assert "工单编号 #1" in phone.last_reply
    asyncio.run(app.dispatcher.drain())  # the task card is pushed to the grid worker's page
    pushed = worker.client.get("/chat/api/messages").json()["messages"]
    card = next(m for m in pushed if m.get("voices"))
    assert card["voices"] == [[name, 6]] and "#1" in card["text"]
    heard = worker.client.get(f"/chat/files/{name}")
    assert heard.status_code == 200 and heard.content == WEBM


def test_the_demo_entry_shows_only_while_the_demo_is_on(app: App) -> None:
    web = app.channels["web"]
    assert isinstance(web, WebChat)
    web.demo = lambda: False  # a real organisation: its residents never see the demo
    page = Browser(app).page.text
    assert 'id="demo-btn"' not in page and "体验演示" not in page
    web.demo = lambda: True
    page = Browser(app).page.text
    assert 'id="demo-btn" data-w="demo">体验演示</button>' in page and "Try" not in page


def test_a_push_brings_the_menu_and_language_with_it(app: App, phone: Browser) -> None:
    messages = phone.say("/start DEMO-OWNER")
    last = messages[-1]["id"]
    assert "menu" not in phone.client.get(f"/chat/api/messages?after={last}").json()  # nothing new
    web = app.channels["web"]
    assert isinstance(web, WebChat)
    identity = web.identities.id_of(_uid(phone))
    assert identity is not None
    web.history.push(identity, {"text": "通知：停水", "buttons": []})
    polled = phone.client.get(f"/chat/api/messages?after={last}&lang=en").json()
    assert [m["text"] for m in polled["messages"]] == ["通知：停水"]
    assert polled["menu"][0]["command"] == "/report" and polled["locale"] == "zh_CN"
    assert polled["words"]["send"] == "发送"  # the page showed English: it gets the person's words


def _uid(phone: Browser) -> str:
    """The page session's own id, as the signed cookie holds it."""
    cookie = phone.client.cookies["linli_session"]
    payload = cookie.split(".")[0]
    data = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    return str(data["uid"])
