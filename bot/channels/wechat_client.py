"""The Official Account API through wechatpy's client: our base URL, the shared access token, one retry
with a new token when WeChat refuses the old one, and WeChat's errcodes as the channel's outcomes.

Every call here blocks (wechatpy uses requests): the channel runs them in worker threads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import requests
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.platform_tokens import SharedToken

if TYPE_CHECKING:
    from bot.channels.wechat import WeChatConfig

log = logging.getLogger(__name__)
T = TypeVar("T")
TIMEOUT = 10.0  # seconds for one API call; WeChat answers in well under one
TOKEN_REFUSED = frozenset({40001, 40014, 42001})  # the token is stale, revoked or malformed
UNREACHABLE = frozenset({43004, 43101})  # unfollowed; refuses our messages
WINDOW_CLOSED = frozenset({45015})  # 客服 only within 48 hours of the person's last message
# Frequency and quota errors, with how long the channel waits before its next send.
BACK_OFF = {45009: 3600.0, 45011: 60.0, 45033: 60.0, -1: 5.0}


class PlatformError(Exception):
    """WeChat answered an errcode (or no JSON at all: errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str) -> None:
        super().__init__(f"WeChat {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class OAClient(WeChatClient):  # type: ignore[misc]  # wechatpy ships no type hints
    """wechatpy's client on our base URL and HTTP session, its token the shared one, no retries of its
    own (ours invalidate the shared token first, so every process learns of it)."""

    def __init__(self, config: WeChatConfig, token: SharedToken, http: requests.Session) -> None:
        super().__init__(config.app_id, config.app_secret, timeout=TIMEOUT, auto_retry=False)
        self.API_BASE_URL = f"{config.api_base_url.rstrip('/')}/cgi-bin/"
        self._http = http
        self.shared = token

    @property
    def access_token(self) -> str:
        """The shared token (fetched under the database lease when stale)."""
        return self.shared.get()

    def fetch_access_token(self) -> None:
        """Never fetched here: the shared token fetches for every process."""
        raise RuntimeError("the access token is fetched by the shared token store")


class StableTokenFetch:
    """The shared token's fetch: POST /cgi-bin/stable_token, force_refresh when the last one was refused.
    Its HTTP session is the channel's, so whatever carries the API calls carries this one too."""

    def __init__(self, config: WeChatConfig) -> None:
        self.config = config
        self.http = requests.Session()
        self.url = f"{config.api_base_url.rstrip('/')}/cgi-bin/stable_token"

    def __call__(self, force: bool) -> tuple[str, int]:
        """(access token, seconds it lasts)."""
        body: dict[str, str | bool] = {
            "grant_type": "client_credential",
            "appid": self.config.app_id,
            "secret": self.config.app_secret,
            "force_refresh": force,
        }
        response = self.http.post(self.url, json=body, timeout=TIMEOUT)
        response.raise_for_status()
        answer = response.json()
        if not isinstance(answer, dict) or not answer.get("access_token"):
            errcode = answer.get("errcode") if isinstance(answer, dict) else None
            errmsg = answer.get("errmsg", "") if isinstance(answer, dict) else ""
            raise PlatformError(errcode, str(errmsg) or "no access_token in the answer")
        return str(answer["access_token"]), int(answer.get("expires_in") or 7200)


class OfficialAccount:
    """The calls the channel makes, each retried once with a fresh token when WeChat refuses the token."""

    def __init__(self, config: WeChatConfig, token: SharedToken, http: requests.Session) -> None:
        self.token = token
        self.client = OAClient(config, token, http)

    def call(self, action: Callable[[OAClient], T]) -> T:
        """Run one API call; errcodes come out as PlatformError."""
        for attempt in (1, 2):
            try:
                return action(self.client)
            except WeChatClientException as exc:
                errcode = _errcode(exc)
                if errcode in TOKEN_REFUSED and attempt == 1:
                    bad = _token_of(exc)
                    log.info("WeChat refused the access token (%s); fetching a new one", errcode)
                    if bad:
                        self.token.invalidate(bad)
                    continue
                raise PlatformError(errcode, str(exc.errmsg or exc)) from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    def send_custom(self, openid: str, body: dict[str, Any]) -> None:
        """A 客服 message (text, image, msgmenu)."""
        self.call(lambda c: c.message._send_custom_message({"touser": openid, **body}))

    def send_template(self, openid: str, template_id: str, url: str, data: dict[str, Any]) -> None:
        """A template message."""
        self.call(lambda c: c.message.send_template(openid, template_id, data, url=url or None))

    def create_menu(self, body: dict[str, Any]) -> None:
        """Publish the account's menu."""
        self.call(lambda c: c.menu.create(body))

    def upload_image(self, name: str, data: bytes, content_type: str) -> str:
        """Upload a temporary image (kept 3 days by WeChat); its media_id."""
        answer = self.call(lambda c: c.media.upload("image", (name, data, content_type)))
        return str(answer["media_id"])

    def download(self, media_id: str) -> tuple[bytes, str]:
        """A temporary media file: (bytes, content type); an errcode answer raises PlatformError."""
        answer = self.call(lambda c: c.media.download(media_id))
        if isinstance(answer, dict):  # wechatpy raises on errcodes; any other JSON is no file either
            raise PlatformError(None, "media/get answered JSON, not a file")
        content_type = str(answer.headers.get("Content-Type", ""))
        return bytes(answer.content), content_type.split(";")[0].strip()

    def create_qr(self, scene: str) -> tuple[str, str]:
        """A permanent parametric QR code for `scene`: (ticket, the URL the code encodes)."""
        body = {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}
        answer = self.call(lambda c: c.qrcode.create(body))
        return str(answer["ticket"]), str(answer["url"])


def _errcode(exc: WeChatClientException) -> int | None:
    value = getattr(exc, "errcode", None)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _token_of(exc: WeChatClientException) -> str:
    """The access token the refused request carried (from its URL)."""
    request = getattr(exc, "request", None)
    url = str(getattr(request, "url", "") or "")
    return parse_qs(urlsplit(url).query).get("access_token", [""])[0]
