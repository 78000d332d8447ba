"""Whom a web chat page speaks for, and which views a link may open on it.

A page's signed session holds either its own id (channel "web") or, inside WeChat, the Official Account
openid it signed in as (channel "wechat", written only by the sign-in callback in `wechat_oauth`). Every
route of the web chat speaks for that one account.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from fastapi import Request
from starlette.routing import NoMatchFound

from bot.channels import wechat_oauth
from core import actions

WEB = "web"
# The views a link may open on load (`/chat?open=…`, a WeChat template message's link): a ticket, a grid
# worker's task, a notice, a poll. The handler behind each checks who may see it, like any press.
OPENABLE = (actions.MyTicket, actions.Task, actions.Notices, actions.Vote)


@dataclass(frozen=True, slots=True)
class Account:
    """Whom a page speaks for: its own session id (channel "web") or the WeChat openid it signed in as."""

    channel: str
    external_id: str

    def update_id(self, message_id: str) -> str:
        """The inbound log's id for one of the page's messages."""
        if self.channel == WEB:
            return f"{self.external_id}:{message_id}"
        # Apart from the ids the Official Account's own callbacks use on the same channel, and within the
        # log's 64 characters whatever the openid's length.
        digest = hashlib.sha256(f"{self.external_id}:{message_id}".encode()).hexdigest()
        return f"h5:{digest[:40]}"


def account_of(request: Request, create: bool = False) -> Account | None:
    """The session's account: the WeChat openid it signed in as (while this app signs pages in with
    WeChat), else its own id; with `create`, a new id when it has neither (an existing one is kept)."""
    openid = wechat_oauth.session_openid(request.session)
    if openid is not None and signin_mounted(request):
        return Account(wechat_oauth.WECHAT, openid)
    uid = request.session.get("uid")
    if uid is None and create:
        uid = secrets.token_urlsafe(16)
        request.session["uid"] = uid
    return Account(WEB, uid) if isinstance(uid, str) and uid else None


def signin_mounted(request: Request) -> bool:
    """Whether this app signs pages in with WeChat: the WeChat channel mounted the sign-in routes."""
    try:
        request.app.url_path_for(wechat_oauth.ROUTE)
    except NoMatchFound:
        return False
    return True


def wants_signin(request: Request, account: Account | None) -> str | None:
    """Where to send a page opened inside WeChat that has not signed in yet (the page's own address
    comes back after), or None: outside WeChat, or without the WeChat channel, nothing changes."""
    if account is not None and account.channel != WEB:
        return None
    if not wechat_oauth.in_wechat(request.headers.get("user-agent", "")) or not signin_mounted(request):
        return None
    here = wechat_oauth.safe_next(
        f"{wechat_oauth.PAGE}?{request.url.query}" if request.url.query else "/chat"
    )
    return wechat_oauth.signin_path(here) if here else None


def opens(data: str) -> bool:
    """Whether button data is a view a link may open on load (a ticket, task, notice or poll)."""
    press = actions.decode(data)
    return isinstance(press, OPENABLE) and press.verb == "v"
