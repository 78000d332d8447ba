"""The H5 page inside WeChat: OAuth sign-in as the Official Account's identity, and links that open a view.

The web app runs with the sign-in routes mounted the way the WeChat channel mounts them; the double plays
WeChat's authorize page and its code exchange. The Official Account chat is a ChatUser on channel "wechat".
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlmodel import select

from bot.bootstrap import App
from bot.channels.wechat import WeChatConfig
from bot.channels.wechat_oauth import STATE_TTL, oauth_router, page_link
from bot.clock import FixedClock
from bot.web import create_web_app
from core.actions import Menu, MyTicket, Notices, Task, Vote
from db.models import Identity, InboundLog
from tests.support.chat import ChatUser
from tests.support.wechat_oauth_double import APP_ID, APP_SECRET, WeChatOAuthDouble

OPEN_BASE = "http://open.wechat.test"
API_BASE = "http://api.wechat.test"
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
SAFARI_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile Safari/604.1"
OPENID = "oRes1dent_0penid-AAAA"
_ids = itertools.count(1)


def wechat_config(app: App) -> WeChatConfig:
    """The WeChat channel's config for the test app, pointing at the double."""
    return WeChatConfig(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        token="callbacktoken",
        api_base_url=API_BASE,
        open_base_url=OPEN_BASE,
        public_url=app.settings.public_url,
    )


class Phone:
    """A phone's browser (WeChat's own unless told otherwise) on the web app with WeChat sign-in on."""

    def __init__(
        self,
        app: App,
        double: WeChatOAuthDouble,
        agent: str = WECHAT_UA,
        signin: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.app = app
        web = create_web_app(app)
        if signin:  # mounted as the WeChat channel mounts it; the double answers the code exchange
            transport = transport or httpx.ASGITransport(app=double.app)
            web.include_router(oauth_router(wechat_config(app), app.renderer, app.clock, transport=transport))
        base = app.settings.public_url
        self.client = TestClient(web, base_url=base, headers={"User-Agent": agent})
        self.wechat = TestClient(double.app, base_url=OPEN_BASE)
        self.csrf = ""
        self.messages: list[dict[str, Any]] = []

    def open(self, path: str = "/chat", agent: str = "") -> httpx.Response:
        """Open an address and follow redirects, WeChat's authorize page included, to the last answer."""
        headers = {"User-Agent": agent} if agent else None
        response = self.client.get(path, headers=headers, follow_redirects=False)
        for _ in range(6):
            if response.status_code not in (302, 303, 307):
                break
            location = response.headers["location"]
            client = self.wechat if location.startswith(OPEN_BASE) else self.client
            response = client.get(location.split("#", 1)[0], follow_redirects=False)
        if response.status_code == 200 and 'name="csrf-token"' in response.text:
            found = re.search(r'<meta name="csrf-token" content="([^"]+)">', response.text)
            assert found
            self.csrf = found.group(1)
        return response

    def post(self, body: dict[str, Any]) -> httpx.Response:
        """Send what the page's script sends."""
        return self.client.post("/chat/api/send", json=body, headers={"X-CSRF-Token": self.csrf})

    def press(self, data: str, label: str = "") -> str:
        """Press a button by its data; the newest bot text."""
        response = self.post({"id": f"b{next(_ids)}", "button": data, "label": label})
        assert response.status_code == 200, response.text
        self.messages = response.json()["messages"]
        return next(m["text"] for m in reversed(self.messages) if m["outgoing"])

    def say(self, text: str) -> str:
        """Type a message; the newest bot text."""
        response = self.post({"id": f"m{next(_ids)}", "text": text})
        assert response.status_code == 200, response.text
        self.messages = response.json()["messages"]
        return next(m["text"] for m in reversed(self.messages) if m["outgoing"])


@pytest.fixture
def double() -> WeChatOAuthDouble:
    """WeChat, with the resident OPENID using its browser."""
    fake = WeChatOAuthDouble()
    fake.user = OPENID
    return fake


@pytest.fixture
def phone(app: App, double: WeChatOAuthDouble) -> Iterator[Phone]:
    """The resident's phone, in WeChat's browser."""
    browser = Phone(app, double)
    yield browser
    browser.client.close()


def oa_resident(app: App, openid: str = OPENID, code: str = "DEMO-OWNER") -> ChatUser:
    """A resident who joined in the Official Account's chat."""
    user = ChatUser(app.service, openid, channel="wechat", name="王芳")
    user.say(f"/start {code}")
    return user


def meta(html: str, name: str) -> str | None:
    found = re.search(rf'<meta name="{name}" content="([^"]*)"', html)
    return found.group(1) if found else None


def identities(app: App) -> list[tuple[str, str]]:
    with app.sessions() as session:
        return [(i.channel, i.external_id) for i in session.exec(select(Identity)).all()]


# --- sign-in ---------------------------------------------------------------------------------------


def test_the_page_in_wechat_is_the_official_account_identity(
    app: App, double: WeChatOAuthDouble, phone: Phone
) -> None:
    resident = oa_resident(app)
    assert "工单编号 #1" in resident.report("公共设施损坏", "3号楼门口的路灯不亮了")

    page = phone.open("/chat")
    assert page.status_code == 200 and str(page.url).endswith("/chat")
    assert meta(page.text, "linli-joined") == "1"  # joined in the OA chat: the page shows the menu
    exchange = double.calls_to("/sns/oauth2/access_token")
    assert len(exchange) == 1 and exchange[0].params["appid"] == APP_ID
    assert exchange[0].params["secret"] == APP_SECRET
    authorize = double.calls_to("/connect/oauth2/authorize")[0].params
    assert authorize["scope"] == "snsapi_base"
    assert authorize["redirect_uri"] == f"{app.settings.public_url}/wechat/oauth/back"

    listed = phone.press(Menu(command="/my").encode(), "📋 工单")
    assert "我的工单" in listed and "#1" in listed
    # One account, one person: the page wrote as the OA identity, no web identity was made.
    assert identities(app) == [("wechat", OPENID)]
    with app.sessions() as session:
        logged = session.exec(select(InboundLog).where(InboundLog.channel == "wechat")).all()
    assert any(row.update_id.startswith("h5:") for row in logged)  # the page's turn, apart from the OA's
    # What the page showed is the page's history; the OA chat keeps going as the same person.
    assert "我的工单" in phone.client.get("/chat/api/messages").json()["messages"][-1]["text"]
    resident.say("/my")
    assert "#1" in resident.text


def test_a_template_link_signs_in_and_opens_the_ticket(app: App, phone: Phone) -> None:
    oa_resident(app).report("公共设施损坏", "电梯不动了")
    link = page_link(app.settings.public_url, MyTicket("v", ticket=1).encode())
    page = phone.open(link.removeprefix(app.settings.public_url))
    assert page.status_code == 200
    assert urlsplit(str(page.url)).path == "/chat"
    assert meta(page.text, "linli-open") == "t:v:1"
    assert "工单 #1" in phone.press("t:v:1")


def test_outside_wechat_the_page_keeps_its_own_session(app: App, double: WeChatOAuthDouble) -> None:
    browser = Phone(app, double, agent=SAFARI_UA)
    page = browser.open("/chat")
    assert page.status_code == 200 and double.calls == []
    assert "绑定成功" in browser.say("/start DEMO-OWNER")
    assert [channel for channel, _ in identities(app)] == ["web"]


def test_without_the_wechat_channel_a_wechat_browser_gets_the_plain_page(
    app: App, double: WeChatOAuthDouble
) -> None:
    browser = Phone(app, double, signin=False)
    page = browser.open("/chat")
    assert page.status_code == 200 and double.calls == []
    assert "绑定成功" in browser.say("/start DEMO-OWNER")
    assert [channel for channel, _ in identities(app)] == ["web"]


def test_a_web_session_opened_in_wechat_becomes_the_oa_identity(
    app: App, double: WeChatOAuthDouble, phone: Phone
) -> None:
    oa_resident(app)
    # This phone chatted as a web session (opened in another browser, or before WeChat was set up).
    assert phone.open("/chat", agent=SAFARI_UA).status_code == 200
    assert "绑定成功" in phone.say("/start DEMO-OWNER2")
    page = phone.open("/chat?invite=ABC")
    assert urlsplit(str(page.url)).query == "invite=ABC"  # the invite survived the sign-in
    assert meta(page.text, "linli-joined") == "1"


# --- state, redirects, failures ----------------------------------------------------------------------


def signin_start(phone: Phone, next_path: str = "/chat") -> dict[str, str]:
    """Ask our app to sign in; the authorize request's parameters WeChat would see."""
    response = phone.client.get(f"/wechat/oauth?next={quote(next_path, safe='')}", follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(f"{OPEN_BASE}/connect/oauth2/authorize?")
    assert location.endswith("#wechat_redirect")
    return {k: v[0] for k, v in parse_qs(urlsplit(location.split("#")[0]).query).items()}


def wechat_back(phone: Phone, params: dict[str, str]) -> str:
    """What WeChat's authorize page answers: the address of our callback with a code and the state."""
    response = phone.wechat.get("/connect/oauth2/authorize", params=params, follow_redirects=False)
    assert response.status_code == 302
    return response.headers["location"].removeprefix(phone.app.settings.public_url)


def signed_in(phone: Phone) -> bool:
    """Whether the phone's session speaks for OPENID (the page then skips the sign-in redirect)."""
    response = phone.client.get("/chat", follow_redirects=False)
    return response.status_code == 200


def test_a_state_this_session_was_not_given_is_refused(
    app: App, double: WeChatOAuthDouble, phone: Phone
) -> None:
    # An attacker signs in with their own WeChat and hands the victim their callback link (login CSRF).
    attacker = Phone(app, double)
    double.user = "oAttacker"
    back = wechat_back(attacker, signin_start(attacker))
    double.user = OPENID
    refused = phone.client.get(back, follow_redirects=False)
    assert refused.status_code == 400 and "登录链接已失效" in refused.text
    assert double.calls_to("/sns/oauth2/access_token") == []  # the code was never exchanged
    assert not signed_in(phone)
    forged = phone.client.get(f"/wechat/oauth/back?code=code0001&state={'a' * 32}", follow_redirects=False)
    assert forged.status_code == 400 and not signed_in(phone)


def test_a_used_state_is_refused_the_second_time(double: WeChatOAuthDouble, phone: Phone) -> None:
    back = wechat_back(phone, signin_start(phone))
    assert phone.client.get(back, follow_redirects=False).status_code == 303
    again = phone.client.get(back, follow_redirects=False)
    assert again.status_code == 400 and "登录链接已失效" in again.text
    assert len(double.calls_to("/sns/oauth2/access_token")) == 1


def test_a_state_older_than_ten_minutes_is_refused(
    clock: FixedClock, double: WeChatOAuthDouble, phone: Phone
) -> None:
    back = wechat_back(phone, signin_start(phone))
    clock.advance(seconds=STATE_TTL.total_seconds() + 60)
    assert phone.client.get(back, follow_redirects=False).status_code == 400
    assert double.calls_to("/sns/oauth2/access_token") == [] and not signed_in(phone)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/chat",
        "//evil.example/chat",
        "/\\evil.example/chat",
        "/chat\\@evil.example",
        "/chatroom",
        "/chat/../console",
        "/console",
        "javascript:alert(1)",
        "/chat\r\nLocation: https://evil.example",
        "",
    ],
)
def test_sign_in_never_leads_off_the_page(phone: Phone, target: str) -> None:
    response = phone.client.get("/wechat/oauth", params={"next": target}, follow_redirects=False)
    assert response.status_code == 400 and "链接有误" in response.text
    assert "location" not in response.headers


def test_the_page_returned_to_keeps_only_its_own_path_and_query(phone: Phone) -> None:
    back = wechat_back(phone, signin_start(phone, "/chat?open=t:v:1#frag"))
    done = phone.client.get(back, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/chat?open=t:v:1"


@pytest.mark.parametrize(
    "answer",
    [
        {"errcode": 40029, "errmsg": "invalid code"},
        {"errcode": 40163, "errmsg": "code been used"},
        500,
        {"access_token": "x", "openid": "<script>"},
    ],
)
def test_a_failed_code_exchange_shows_a_friendly_page(
    double: WeChatOAuthDouble, phone: Phone, answer: Any
) -> None:
    double.fail_exchange(answer)
    back = wechat_back(phone, signin_start(phone))
    response = phone.client.get(back, follow_redirects=False)
    assert response.status_code == 502
    assert "微信登录没有成功" in response.text and "WeChat sign-in did not work" in response.text
    assert "Traceback" not in response.text and not signed_in(phone)


def test_wechat_not_answering_shows_the_friendly_page(app: App, double: WeChatOAuthDouble) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("no answer", request=request)

    browser = Phone(app, double, transport=httpx.MockTransport(unreachable))
    back = wechat_back(browser, signin_start(browser))
    response = browser.client.get(back, follow_redirects=False)
    assert response.status_code == 502 and "微信登录没有成功" in response.text


def test_a_callback_without_a_code_is_refused(double: WeChatOAuthDouble, phone: Phone) -> None:
    state = signin_start(phone)["state"]
    response = phone.client.get(f"/wechat/oauth/back?state={state}", follow_redirects=False)
    assert response.status_code == 400 and double.calls_to("/sns/oauth2/access_token") == []


def test_a_session_cookie_cannot_be_made_to_name_an_openid(app: App, double: WeChatOAuthDouble) -> None:
    oa_resident(app)
    browser = Phone(app, double, agent=SAFARI_UA)
    # A session naming the resident's openid, signed with any key but the server's, is no session at all.
    forged = base64.b64encode(json.dumps({"wechat_openid": OPENID, "csrf": "x"}).encode())
    browser.client.cookies.set("linli_session", TimestampSigner("not-the-servers-key").sign(forged).decode())
    browser.csrf = "x"
    response = browser.client.get("/chat/api/messages")
    assert response.json() == {"messages": []}
    refused = browser.post({"id": "x1", "text": "/my"})
    assert refused.status_code == 403


# --- ?open= ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "opened"),
    [
        (MyTicket("v", ticket=1).encode(), True),
        (Task("v", ticket=1).encode(), True),
        (Notices("v", notice=3).encode(), True),
        (Vote("v", poll=2).encode(), True),
        (MyTicket("w", ticket=1).encode(), False),  # withdrawing is not a view
        (Vote("ok", poll=2).encode(), False),  # nor is casting a ballot
        (Menu(command="/report").encode(), False),
        ("t:v:99999999999", False),
        ('"><script>alert(1)</script>', False),
    ],
)
def test_only_a_view_is_opened_from_a_link(app: App, data: str, opened: bool) -> None:
    with TestClient(create_web_app(app)) as client:
        page = client.get("/chat", params={"open": data})
    assert page.status_code == 200
    assert meta(page.text, "linli-open") == (data if opened else None)


def test_a_link_to_a_ticket_opens_it_for_its_reporter_and_not_for_a_neighbour(
    app: App, double: WeChatOAuthDouble, phone: Phone
) -> None:
    oa_resident(app).report("公共设施损坏", "楼道灯坏了")
    link = f"/chat?open={MyTicket('v', ticket=1).encode()}"
    page = phone.open(link)
    assert meta(page.text, "linli-open") == "t:v:1"
    assert "工单 #1" in phone.press("t:v:1") and "楼道灯坏了" in phone.messages[-1]["text"]

    double.user = "oNe1ghbour"
    oa_resident(app, "oNe1ghbour", "DEMO-OWNER2")
    other = Phone(app, double)
    page = other.open(link)
    assert meta(page.text, "linli-open") == "t:v:1"  # the link is the same; the handler decides
    refused = other.press("t:v:1")
    assert "没有找到工单 #1" in refused and "楼道灯坏了" not in refused


def test_a_worker_task_link_is_refused_to_a_resident(app: App, phone: Phone) -> None:
    oa_resident(app).report("公共设施损坏", "楼道灯坏了")
    page = phone.open(f"/chat?open={Task('v', ticket=1).encode()}")
    assert meta(page.text, "linli-open") == "k:v:1"
    assert "楼道灯坏了" not in phone.press("k:v:1")


# --- the page in a real browser ------------------------------------------------------------------------


@pytest.mark.browser
def test_a_link_presses_its_view_once_and_not_again_on_reload(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.test_browser import bot_says, chromium, join, phone, running

    with running(tmp_path) as base, chromium() as browser:
        page = phone(browser)
        join(page, base, "DEMO-OWNER")
        page.locator("#menu button", has_text="报事").tap()
        page.locator(".buttons button:enabled", has_text="公共设施损坏").last.tap()
        bot_says(page, "请用文字描述问题")
        page.fill("#text", "楼道灯坏了")
        page.tap("#send")
        bot_says(page, "请确认报事内容")
        page.locator(".buttons button:enabled", has_text="提交").last.tap()
        bot_says(page, "工单编号 #1")

        page.goto(f"{base}/chat?open=t:v:1")
        bot_says(page, "工单 #1")
        expect(page.locator("#log .row.me .bubble", has_text="从链接打开")).to_have_count(1)
        assert page.url == f"{base}/chat"  # the address lost ?open=: a reload does not press it again
        page.reload()
        bot_says(page, "工单 #1")
        page.wait_for_load_state("networkidle")
        expect(page.locator("#log .row.me .bubble", has_text="从链接打开")).to_have_count(1)
        assert page.errors == []
