"""Signing the H5 page in as the resident's WeChat account: OAuth 2.0 (snsapi_base) inside WeChat.

The WeChat channel mounts `oauth_router`. `GET /wechat/oauth?next=/chat…` sends the browser to WeChat's
authorize page; WeChat sends it back to `/wechat/oauth/back` with a code, which is exchanged for the
openid and kept in the signed session. From then on the web chat speaks for that openid (channel
"wechat"): the page and the Official Account chat are one account of one person. Only the callback here
ever writes the openid into the session, and the session cookie is signed, so no one can name someone
else's openid.

The `state` WeChat carries back is a random nonce this session was given, kept in the signed session
beside the page it leads to and the moment it was issued: a state from another session (a login CSRF),
one used before, or one older than ten minutes is refused, and `next` is only ever a path of the page.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import httpx
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

if TYPE_CHECKING:
    from bot.channels.wechat import WeChatConfig
    from bot.clock import Clock
    from bot.render import Renderer

log = logging.getLogger(__name__)

WECHAT = "wechat"  # the channel (Identity.channel) a signed-in page speaks as
OPENID = "wechat_openid"  # the session's key for the signed-in openid: written by `back` alone
PENDING = "wechat_oauth"  # the session's unused states: state → [next, issued at (ISO)]
ROUTE = "wechat_oauth"  # the sign-in route's name: the web chat asks the app whether it is mounted
START = "/wechat/oauth"
BACK = "/wechat/oauth/back"
PAGE = "/chat"
STATE_TTL = timedelta(minutes=10)
MAX_PENDING = 4  # pages signing in at once in one browser; older states are dropped
MAX_NEXT = 512
TIMEOUT = httpx.Timeout(8.0, connect=4.0)  # WeChat's browser gives up on a slow page long before this
STATE = re.compile(r"^[0-9a-f]{32}$")  # WeChat passes back only [A-Za-z0-9], at most 128 bytes
CODE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
OPEN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def safe_next(raw: str) -> str | None:
    """The page path to return to (`/chat`, with its query), or None for anything else (no open redirect)."""
    if not raw or len(raw) > MAX_NEXT or not raw.startswith(PAGE) or "\\" in raw:
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in raw):
        return None
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or parts.path != PAGE:
        return None
    return urlunsplit(("", "", PAGE, parts.query, ""))  # rebuilt: only the path and query go on


def signin_path(next_path: str = PAGE) -> str:
    """The local address that signs a page in and then opens `next_path` (a path of the chat page)."""
    return f"{START}?{urlencode({'next': next_path})}"


def page_link(public_url: str, about: str = "") -> str:
    """The address a WeChat menu or template message links to: sign in, then open the page (on the
    ticket, task, notice or poll `about` names, its encoded view button, when given)."""
    target = f"{PAGE}?open={quote(about, safe='')}" if about else PAGE
    return f"{public_url.rstrip('/')}{signin_path(target)}"


def session_openid(session: dict[str, Any]) -> str | None:
    """The openid a session signed in as, or None."""
    openid = session.get(OPENID)
    return openid if isinstance(openid, str) and OPEN_ID.match(openid) else None


def in_wechat(user_agent: str) -> bool:
    """Whether a request comes from WeChat's own browser (not WeCom's, whose users are not the OA's)."""
    agent = user_agent.lower()
    return "micromessenger" in agent and "wxwork" not in agent


def _pending(session: dict[str, Any], now: datetime) -> dict[str, list[str]]:
    """The session's unused states still in time; anything malformed or stale is dropped."""
    kept: dict[str, list[str]] = {}
    stored = session.get(PENDING)
    for state, entry in stored.items() if isinstance(stored, dict) else ():
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(v, str) for v in entry)):
            continue
        try:
            issued = datetime.fromisoformat(entry[1])
        except ValueError:
            continue
        if issued.tzinfo is not None and timedelta(0) <= now - issued <= STATE_TTL:
            kept[state] = entry
    return kept


async def exchange_code(
    config: WeChatConfig, code: str, transport: httpx.AsyncBaseTransport | None = None
) -> str | None:
    """The openid WeChat gives for an authorize code, or None when the exchange fails (logged)."""
    params = {
        "appid": config.app_id,
        "secret": config.app_secret,
        "code": code,
        "grant_type": "authorization_code",
    }
    try:
        async with httpx.AsyncClient(
            base_url=config.api_base_url, timeout=TIMEOUT, transport=transport
        ) as client:
            response = await client.get("/sns/oauth2/access_token", params=params)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:  # no answer, or not JSON (a proxy's error page)
        log.warning("wechat sign-in: the code exchange failed: %s", exc.__class__.__name__)
        return None
    openid = body.get("openid") if isinstance(body, dict) else None
    if response.status_code != 200 or not isinstance(openid, str) or not OPEN_ID.match(openid):
        errcode = body.get("errcode") if isinstance(body, dict) else None
        errmsg = body.get("errmsg") if isinstance(body, dict) else None
        log.warning(
            "wechat sign-in: the code exchange was refused: HTTP %d, errcode %s (%s)",
            response.status_code,
            errcode,
            errmsg,
        )
        return None
    return openid


def oauth_router(
    config: WeChatConfig,
    renderer: Renderer,
    clock: Clock,
    transport: httpx.AsyncBaseTransport | None = None,
) -> APIRouter:
    """The sign-in routes (`/wechat/oauth`, `/wechat/oauth/back`); `transport` replaces the network
    for the code exchange (a test double)."""
    router = APIRouter()
    back_url = f"{config.public_url.rstrip('/')}{BACK}"

    def problem(reason: str, status: int) -> HTMLResponse:
        html = renderer.page("wechat_signin.html", reason=reason, retry=signin_path())
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    @router.get(START, name=ROUTE, include_in_schema=False)
    def start(request: Request, next_: str = Query(PAGE, alias="next")) -> Response:
        target = safe_next(next_)
        if target is None:
            return problem("bad_link", 400)
        now = clock.now()
        state = secrets.token_hex(16)
        pending = _pending(request.session, now)
        pending[state] = [target, now.isoformat()]
        request.session[PENDING] = dict(list(pending.items())[-MAX_PENDING:])
        query = urlencode(  # WeChat reads these in this order
            [
                ("appid", config.app_id),
                ("redirect_uri", back_url),
                ("response_type", "code"),
                ("scope", "snsapi_base"),
                ("state", state),
            ]
        )
        authorize = f"{config.open_base_url.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"
        return RedirectResponse(authorize, status_code=302, headers={"Cache-Control": "no-store"})

    @router.get(BACK, include_in_schema=False)
    async def back(request: Request, code: str = "", state: str = "") -> Response:
        pending = _pending(request.session, clock.now())
        entry = pending.pop(state, None) if STATE.match(state) else None
        request.session[PENDING] = pending  # a state is used once, whatever happens next
        if entry is None:
            return problem("expired", 400)
        if not CODE.match(code):  # no code: WeChat did not sign the resident in
            return problem("failed", 400)
        openid = await exchange_code(config, code, transport)
        if openid is None:
            return problem("failed", 502)
        request.session[OPENID] = openid
        return RedirectResponse(entry[0], status_code=303, headers={"Cache-Control": "no-store"})

    return router
