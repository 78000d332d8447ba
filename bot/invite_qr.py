"""QR codes for invites, to print and put up at a building's entrance.

With WeChat set up, the code is the Official Account's permanent parametric QR code whose scene is the
invite: scanning it opens the account, and following it (or writing to it) joins with that invite. Without
WeChat, it is the web chat's link with the invite filled in.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import segno

PRINT_PIXELS = 1200  # at least this wide: 10 cm at 300 dpi, read from a step away on a printed sheet
BORDER = 4  # the quiet zone the QR standard asks for, in modules: scanners need the white margin
DPI = 300
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
SCENE_MAX = 64  # WeChat's limit for a string scene


class QrError(Exception):
    """The QR code could not be made; the message is one line meant for the operator."""


def web_link(public_url: str, code: str) -> str:
    """The web chat's address that opens with the invite filled in."""
    return f"{public_url.rstrip('/')}/chat?invite={quote(code, safe='')}"


def _answer(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON body of a WeChat API answer; QrError when it is not one or carries an error code."""
    try:
        body = response.json()
    except ValueError:
        raise QrError(f"WeChat's {what} answered HTTP {response.status_code} without JSON") from None
    if not isinstance(body, dict):
        raise QrError(f"WeChat's {what} answered something unexpected")
    if body.get("errcode"):
        raise QrError(f"WeChat's {what} refused: {body.get('errcode')} {body.get('errmsg', '')}".strip())
    return body


def wechat_scene_url(
    api_base_url: str, app_id: str, secret: str, code: str, transport: httpx.BaseTransport | None = None
) -> str:
    """The address the Official Account's permanent QR code for invite `code` encodes (blocking)."""
    if not 1 <= len(code) <= SCENE_MAX:
        raise QrError(f"an invite code of {len(code)} characters cannot be a QR scene")
    try:
        with httpx.Client(base_url=api_base_url.rstrip("/"), timeout=TIMEOUT, transport=transport) as client:
            # The stable token without force_refresh is the one the running service holds: asking for it
            # does not invalidate it.
            token = _answer(
                client.post(
                    "/cgi-bin/stable_token",
                    json={
                        "grant_type": "client_credential",
                        "appid": app_id,
                        "secret": secret,
                        "force_refresh": False,
                    },
                ),
                "access token",
            ).get("access_token")
            if not isinstance(token, str) or not token:
                raise QrError("WeChat's access token answer held no token")
            created = _answer(
                client.post(
                    "/cgi-bin/qrcode/create",
                    params={"access_token": token},
                    json={"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": code}}},
                ),
                "QR code",
            )
    except httpx.HTTPError as exc:
        raise QrError(f"WeChat's API at {api_base_url} did not answer: {exc.__class__.__name__}") from None
    url = created.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise QrError("WeChat's QR code answer held no address")
    return url


def write_png(content: str, path: Path) -> int:
    """Write `content` as a QR code PNG big enough to print, with its quiet zone; its width in pixels."""
    qr = segno.make_qr(content, error="m")  # medium correction: a scuffed or dirty print still reads
    modules = int(qr.symbol_size(scale=1, border=BORDER)[0])
    scale = max(1, math.ceil(PRINT_PIXELS / modules))
    qr.save(str(path), kind="png", scale=scale, border=BORDER, dpi=DPI)
    return modules * scale
