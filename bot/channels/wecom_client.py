"""WeCom's server API through wechatpy's work client, with the access token every process shares.

Every call is blocking (requests): the channel runs them in worker threads. A call refused for its token
(40001, 40014, 42001) tells the shared token it is bad and is made once more with a fresh one; any other
refusal is a WeComError with WeCom's errcode, which the channel turns into Unreachable or RetryLater.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import requests
from wechatpy.exceptions import WeChatClientException
from wechatpy.work import WeChatClient

if TYPE_CHECKING:
    from bot.channels.wecom import WeComConfig
    from bot.platform_tokens import SharedToken

log = logging.getLogger(__name__)
TIMEOUT = 10.0  # seconds for one API call; WeCom answers in well under one
TOKEN_REFUSED = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, token expired
# The member is not in the app's visible range, left the organisation, or never existed.
NOT_A_MEMBER = frozenset({60111, 81013, 60011, 81010, 60103, 46004})
FREQUENCY = {45009: 60.0, 45033: 5.0, 45047: 60.0, 45011: 5.0}  # errcode → seconds to wait
INVALID_MEDIA = frozenset({40007})


class WeComError(Exception):
    """WeCom refused a call: its errcode (0 for a transport failure) and message."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeCom errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class NotAMember(WeComError):
    """The userid is not a member the app may write to."""


class TooFrequent(WeComError):
    """WeCom asks us to slow down: wait `seconds`."""

    def __init__(self, errcode: int, errmsg: str, seconds: float) -> None:
        super().__init__(errcode, errmsg)
        self.seconds = seconds


def _refusal(errcode: int, errmsg: str) -> WeComError:
    if errcode in NOT_A_MEMBER:
        return NotAMember(errcode, errmsg)
    if errcode in FREQUENCY:
        return TooFrequent(errcode, errmsg, FREQUENCY[errcode])
    return WeComError(errcode, errmsg)


def gettoken(config: WeComConfig) -> tuple[str, int]:
    """A new access token from gettoken and how many seconds it lasts (WeCom has no forced refresh: it
    gives the current token, or a new one once the old one has been refused)."""
    params = {"corpid": config.corp_id, "corpsecret": config.secret}
    url = f"{config.api_base_url.rstrip('/')}/cgi-bin/gettoken"
    try:
        response = requests.get(url, params=params, timeout=TIMEOUT)
        response.raise_for_status()
        answer = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise WeComError(0, f"gettoken: {type(exc).__name__}") from exc
    if not isinstance(answer, dict):
        raise WeComError(-1, "gettoken did not answer a JSON object")
    errcode = int(answer.get("errcode", 0) or 0)
    if errcode != 0 or not answer.get("access_token"):
        raise WeComError(errcode or -1, str(answer.get("errmsg", "no access_token")))
    return str(answer["access_token"]), int(answer.get("expires_in", 7200))


class WeComClient:
    """The app-message calls Linli makes, each with the shared token and one retry on a refused token."""

    def __init__(self, config: WeComConfig, token: SharedToken) -> None:
        self.config = config
        self.token = token
        self.base = config.api_base_url.rstrip("/")
        # wechatpy's client, its automatic token handling off: the token is shared through the database.
        self.client = WeChatClient(config.corp_id, config.secret, timeout=TIMEOUT, auto_retry=False)
        self.client.API_BASE_URL = f"{self.base}/cgi-bin/"

    def _call(self, request: Callable[[str], Any]) -> Any:
        """Run `request(token)`; on a refused token, invalidate it and try once more with a fresh one."""
        for attempt in (1, 2):
            token = self.token.get()
            try:
                return request(token)
            except requests.RequestException as exc:  # WeCom did not answer: a transient failure
                raise WeComError(0, f"{type(exc).__name__}: {exc}"[:200]) from exc
            except WeChatClientException as exc:
                errcode = int(exc.errcode) if exc.errcode is not None else 0
                if errcode in TOKEN_REFUSED and attempt == 1:
                    log.info("WeCom refused the access token (%s); fetching a new one", errcode)
                    self.token.invalidate(token)
                    continue
                raise _refusal(errcode, str(exc.errmsg)) from exc
        raise AssertionError("unreachable: the second attempt returns or raises")

    def send(self, userid: str, message: dict[str, Any]) -> dict[str, Any]:
        """message/send to one member; NotAMember when WeCom names them invalid."""
        body = {"touser": userid, "agentid": self.config.agent_id, **message}

        def request(token: str) -> Any:
            return self.client.post("message/send", params={"access_token": token}, data=body)

        answer = self._call(request)
        if not isinstance(answer, dict):
            raise WeComError(-1, "message/send did not answer JSON")
        if userid in str(answer.get("invaliduser", "")).split("|"):
            raise NotAMember(81013, f"invaliduser {userid}")
        return answer

    def create_menu(self, body: dict[str, Any]) -> None:
        """Publish the app's menu (menu/create for our agent)."""

        def request(token: str) -> Any:
            return self.client.post(
                "menu/create", params={"access_token": token, "agentid": self.config.agent_id}, data=body
            )

        self._call(request)

    def update_card(self, userid: str, response_code: str, replace_name: str) -> None:
        """update_template_card after a press: the card's buttons become one grey `replace_name`."""
        body = {
            "userids": [userid],
            "agentid": self.config.agent_id,
            "response_code": response_code,
            "button": {"replace_name": replace_name},
        }
        self._call(
            lambda token: self.client.post(
                "message/update_template_card", params={"access_token": token}, data=body
            )
        )

    def upload_image(self, data: bytes, name: str) -> str:
        """media/upload of a photo; its media_id (valid three days)."""

        def request(token: str) -> Any:
            files = {"media": (name, io.BytesIO(data))}
            return self.client.post(
                "media/upload", params={"access_token": token, "type": "image"}, files=files
            )

        answer = self._call(request)
        if not isinstance(answer, dict) or not answer.get("media_id"):
            raise WeComError(-1, "media/upload gave no media_id")
        return str(answer["media_id"])

    def download(self, media_id: str, limit: int) -> bytes:
        """media/get: the bytes of a member's photo or voice; a JSON answer is WeCom refusing."""

        def request(token: str) -> Any:
            return self.client.get("media/get", params={"access_token": token, "media_id": media_id})

        answer = self._call(request)
        if not isinstance(answer, requests.Response):
            raise WeComError(-1, "media/get answered JSON without an errcode")
        if len(answer.content) > limit:
            raise WeComError(-2, f"media larger than {limit} bytes")
        return bytes(answer.content)
