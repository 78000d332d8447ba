"""The local web chat (an H5 page, the kind opened inside WeChat's browser): HTTP ↔ Inbound/Rendered."""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, File, Form, HTTPException, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from bot.channels import wechat_oauth
from bot.channels.base import Intake
from bot.channels.web_account import WEB, Account, account_of, opens, wants_signin
from bot.channels.web_history import WebHistory
from bot.render import TEMPLATES, Renderer
from bot.stores import FILE_NAME, FileStore, Identities
from bot.throttle import Throttle
from bot.uploads import NotAnImage, TooManyPixels, audio_extension, reencode
from core import actions
from core.permissions import Actor
from db import people, prefs
from db.models import Identity, Person
from db.rows import id_of
from handlers.common import bottom_menu
from handlers.types import Attachment, Inbound, Location, Rendered

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.service import Service

CHANNEL = WEB
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MAX_WEB_TEXT = 20_000  # accepted at the door so the handlers can answer "too long" instead of a 422
MAX_AFTER = 2**31 - 1  # message ids are 32-bit integers on PostgreSQL: a larger one is not an id
ASSETS = {"chat.js": "text/javascript; charset=utf-8", "chat.css": "text/css; charset=utf-8"}
UPLOAD_WINDOW = timedelta(hours=24)  # the per-person upload quota counts this far back
MAX_VOICE_SECONDS = 300  # a hold-to-talk recording the page sends is far shorter
# Voices a browser's <audio> plays (a WeChat voice is AMR or Speex: the page cannot play it).
PLAYABLE = (".webm", ".ogg", ".m4a", ".aac", ".mp3", ".wav")
# The bottom menu's icons, by command (the labels are `buttons.menu_*` blocks in each language).
MENU_ICONS = {
    "/tasks": "🗂",
    "/queue": "📥",
    "/pending": "✅",
    "/report": "📝",
    "/my": "📋",
    "/polls": "🗳️",
    "/stats": "📊",
    "/notices": "📰",
    "/help": "❓",
}


def _plain(text: str) -> bool:
    """Whether text can be stored and sent: UTF-8 encodable (no lone surrogate) and without NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


class PrefsBody(BaseModel):
    """The page's own settings for its person: the 大字 switch."""

    large_text: bool


class SendBody(BaseModel):
    """One message from the page: text, a pressed button, or a location."""

    model_config = ConfigDict(allow_inf_nan=False)  # NaN and 1e999 (infinity) are not coordinates

    id: str = Field(min_length=1, max_length=40)
    text: str = Field(default="", max_length=MAX_WEB_TEXT)
    button: str | None = Field(default=None, max_length=64)
    label: str = Field(default="", max_length=100)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    @field_validator("id", "text", "button", "label")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        if value is not None and not _plain(value):
            raise ValueError("text must be valid Unicode without NUL characters")
        return value


@dataclass(frozen=True, slots=True)
class WebConfig:
    """What the web chat takes from the settings."""

    public_url: str
    default_locale: str
    max_upload_bytes: int
    daily_photos: int  # uploads per person in UPLOAD_WINDOW
    daily_mb: int


@dataclass(frozen=True, slots=True)
class Asset:
    """A file the page loads (its script, its styles), with a version that changes with its content."""

    body: bytes
    media_type: str
    version: str


def _assets() -> dict[str, Asset]:
    found = {}
    for name, media_type in ASSETS.items():
        body = (TEMPLATES / "web" / name).read_bytes()
        found[name] = Asset(body, media_type, hashlib.sha256(body).hexdigest()[:12])
    return found


class WebChat:
    """The web chat channel: its routes, and pushes stored as messages the page fetches."""

    name = CHANNEL
    intake: Intake | None = None  # a page's message is handled in its own request: no intake to watch

    def __init__(
        self,
        config: WebConfig,
        service: Service,
        history: WebHistory,
        identities: Identities,
        files: FileStore,
        renderer: Renderer,
        clock: Clock,
        throttle: Throttle,
        demo: Callable[[], bool] = lambda: False,
    ) -> None:
        self.config = config
        self.service = service
        self.history = history
        self.identities = identities
        self.files = files
        self.renderer = renderer
        self.clock = clock
        self.throttle = throttle
        self.demo = demo  # asked per page: the demo is switched on after the channels are built
        # A page signed in with WeChat speaks as the Official Account's identity: its accounts and uploads.
        self.accounts = {
            CHANNEL: identities,
            wechat_oauth.WECHAT: Identities(identities.sessions, wechat_oauth.WECHAT),
        }
        self.uploads = {
            CHANNEL: history,
            wechat_oauth.WECHAT: WebHistory(history.sessions, history.clock, wechat_oauth.WECHAT),
        }
        self.assets = _assets()
        # Decoding photos takes memory and CPU: a few at a time, whatever the number of uploads waiting.
        self.encoders = anyio.CapacityLimiter(2)

    async def start(self) -> None:
        """Nothing to start: the web app serves the routes."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def messages_for(self, message: Rendered) -> int:
        """A push is one stored message, whatever it holds."""
        return 1

    async def push(self, identity: Identity, message: Rendered) -> None:
        """Store a pushed message; the page picks it up on its next poll."""
        # Off the event loop: a broadcast must not hold up the pages being served meanwhile.
        # Marked as pushed: its buttons (a rating asked for, an approval, a notice to acknowledge) stay
        # active when the person says something else, unlike the answers to their own turns.
        await asyncio.to_thread(self.history.push, id_of(identity), {**_body(message), "pushed": True})

    # --- session and request checks ---------------------------------------------------------------

    def _identity_id(self, account: Account | None) -> int | None:
        return self.accounts[account.channel].id_of(account.external_id) if account else None

    def _wait(self, request: Request, action: str, uid: str | None) -> int | None:
        """Spend one `action` from the session's and the address's budgets; seconds to wait when spent."""
        return self.throttle.take(action, uid, request.client.host if request.client else None)

    def _limit(self, request: Request, action: str, account: Account | None) -> None:
        wait = self._wait(request, action, account.external_id if account else None)
        if wait is not None:
            raise HTTPException(
                429,
                f"too many requests; try again in {wait} s",
                headers={"Retry-After": str(wait), "X-Linli-Reason": "rate"},
            )

    def _check_post(self, request: Request) -> Account:
        """A post must come from our own page: same origin, the session's CSRF token, a session."""
        if request.headers.get("sec-fetch-site") == "cross-site":
            raise HTTPException(403, "cross-site request refused")
        origin = request.headers.get("origin")
        ours = {request.headers.get("host", ""), urlsplit(self.config.public_url).netloc}
        if origin and origin.split("://", 1)[-1] not in ours:  # behind a proxy Host may be the upstream's
            raise HTTPException(403, "cross-origin request refused")
        account = account_of(request)
        token = request.headers.get("x-csrf-token", "")
        csrf = request.session.get("csrf")
        if account is None or not isinstance(csrf, str) or not secrets.compare_digest(token, csrf):
            raise HTTPException(403, "missing or stale session; reload the page")
        return account

    def _joined(self, account: Account | None) -> bool:
        """Whether the session's person has joined (a home or a role), e.g. through the Official Account."""
        if account is None:
            return False
        # `uploads` answers None exactly when the person has not joined; since now, it reads nothing more.
        return self.uploads[account.channel].uploads(account.external_id, self.clock.now()) is not None

    def _person(self, account: Account | None) -> tuple[str, list[dict[str, str]]]:
        """The session's person's language and bottom menu (by their roles: command, icon, label), read
        in one database session: every send's answer carries both."""
        found = None
        actor = Actor(None)
        if account is not None:
            with self.history.sessions() as session:
                found = session.exec(
                    select(Identity.person_id, Person.locale)
                    .join(Person, col(Person.id) == Identity.person_id)
                    .where(Identity.channel == account.channel, Identity.external_id == account.external_id)
                ).first()
                if found is not None:
                    actor = people.actor(session, found[0])
        locale = (found[1] if found is not None else "") or self.config.default_locale
        menu = [
            {
                "command": command,
                "icon": MENU_ICONS.get(command, ""),
                "label": self.renderer.text(locale, f"buttons.menu_{command[1:]}"),
            }
            for command in bottom_menu(actor)
        ]
        return locale, menu

    def _large_text(self, account: Account | None) -> bool:
        person_id = self.accounts[account.channel].person_of(account.external_id) if account else None
        if person_id is None:
            return False
        with self.history.sessions() as session:
            return prefs.large_text(session, person_id)

    def _words(self, locale: str) -> dict[str, str]:
        """The page's own words (labels, notices) in a language: `_words.html`."""
        module: Any = self.renderer.pages.get_template("_words.html").module
        found = getattr(module, locale, None) or module.zh_CN
        return dict(found)

    def _page_state(self, account: Account, shown_locale: str) -> dict[str, Any]:
        """What a send's answer tells the page besides the messages: the person's language (with the
        page's words when it changed since the page was drawn) and their bottom menu."""
        locale, menu = self._person(account)
        state: dict[str, Any] = {"locale": locale, "menu": menu}
        if locale != shown_locale:
            state["words"] = self._words(locale)
        return state

    def _turn(self, account: Account, inbound: Inbound, shown: dict[str, Any], after: int) -> dict[str, Any]:
        shown_once: dict[int, dict[str, Any]] = {}

        def keep(session: Session, identity_id: int, replies: list[Rendered]) -> None:
            # Written in the turn's own transaction: the history shows exactly what was committed.
            now = self.clock.now()
            secret = any(m.redacted for m in replies)
            mine = {"text": "🔒"} if secret else shown  # the pressed choice of a secret ballot is not kept
            self.history.add(session, identity_id, False, mine, now)
            for message in replies:
                body = _body(message)
                if message.redacted:
                    placeholder = {**body, "text": message.redacted, "buttons": []}
                    row_id = self.history.add(session, identity_id, True, placeholder, now, need_id=True)
                    assert row_id is not None  # need_id: flushed for it
                    shown_once[row_id] = body
                else:
                    self.history.add(session, identity_id, True, body, now)

        outcome = self.service.handle(inbound, keep)
        if outcome.duplicate:  # a retried upload: the first copy is the one kept
            for name in [*shown.get("photos", []), *(v[0] for v in shown.get("voices", []))]:
                self.files.delete(name)
        identity_id = outcome.identity_id or self._identity_id(account)
        messages = self.history.page(identity_id, after)
        for message in messages:  # this answer shows a secret reply once; the history keeps the placeholder
            message.update(shown_once.get(message["id"], {}))
        return {"messages": messages}

    def _may_upload(self, account: Account) -> None:
        """Refuse a photo or voice from someone who has not joined, or who used up the day's quota."""
        config = self.config
        since = self.clock.now() - UPLOAD_WINDOW
        recent = self.uploads[account.channel].uploads(account.external_id, since)
        if recent is None:
            raise HTTPException(
                403,
                "join first: photos can be sent once you have joined",
                headers={"X-Linli-Reason": "join_first"},
            )
        stored = sum(self.files.size(name) for name, _ in recent)
        quota_bytes = config.daily_mb * 1024 * 1024
        if len(recent) >= config.daily_photos or stored >= quota_bytes:
            oldest = min((at for _, at in recent), default=since)
            wait = max(1, math.ceil((oldest + UPLOAD_WINDOW - self.clock.now()).total_seconds()))
            raise HTTPException(
                429,
                f"daily photo quota used up ({config.daily_photos} photos, {config.daily_mb} MB a day)",
                headers={"Retry-After": str(wait), "X-Linli-Reason": "quota"},
            )

    def _asset_url(self, name: str) -> str:
        return f"/chat/static/{name}?v={self.assets[name].version}"

    def _busy(self, wait: int) -> HTMLResponse:
        """The page a new visitor gets while their address has opened too many sessions."""
        html = self.renderer.page("busy.html", wait=wait, style=self._asset_url("chat.css"))
        headers = {"Retry-After": str(wait), "Cache-Control": "no-store"}
        return HTMLResponse(html, status_code=429, headers=headers)

    async def _received(
        self, request: Request, id: str, caption: str, file: UploadFile, what: str
    ) -> tuple[Account, bytes]:
        """An upload's checks (our page, the budget, the message, joined, the day's quota, the size) and
        its bytes; one budget for all the uploads of a page."""
        account = self._check_post(request)
        self._limit(request, "photo", account)
        if not CLIENT_ID.match(id) or len(caption) > MAX_WEB_TEXT or not _plain(caption):
            raise HTTPException(422, "bad message")
        await run_in_threadpool(self._may_upload, account)
        limit = self.config.max_upload_bytes
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(413, f"{what} larger than {limit // (1024 * 1024)} MB")
        return account, data

    async def _upload_turn(
        self,
        account: Account,
        id: str,
        caption: str,
        attachment: Attachment,
        shown: dict[str, Any],
        after: int,
    ) -> JSONResponse:
        """The turn of a stored upload with its caption; the person's bubble shows `shown` beside it."""
        inbound = Inbound(
            channel=account.channel,
            user_ref=account.external_id,
            chat_ref=account.external_id,
            update_id=account.update_id(id),
            text=caption,
            attachments=(attachment,),
        )
        shown = {"text": caption, **shown}
        return JSONResponse(await run_in_threadpool(self._turn, account, inbound, shown, after))

    # --- routes -----------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        """The web chat's routes: the page, sending, uploading, history and files."""
        router = APIRouter()

        @router.get("/chat", response_class=HTMLResponse)
        def page(request: Request, invite: str = "", open_: str = Query("", alias="open")) -> Response:
            account = account_of(request)
            signin = wants_signin(request, account)
            if signin is not None:  # inside WeChat the page is the Official Account's chat: sign in first
                return RedirectResponse(signin, status_code=302)
            # An existing session is always kept: a link from elsewhere must not cost the history or
            # an invite. Only a new one is counted against the address's budget.
            if account is None:
                wait = self._wait(request, "session", None)
                if wait is not None:
                    return self._busy(wait)
                account = account_of(request, create=True)
            if not isinstance(request.session.get("csrf"), str):
                request.session["csrf"] = secrets.token_urlsafe(24)
            lang, menu = self._person(account)
            html = self.renderer.page(
                "chat.html",
                csrf=request.session["csrf"],
                invite=invite if re.fullmatch(r"[A-Za-z0-9_-]{0,32}", invite) else "",
                open=open_ if opens(open_) else "",
                joined=self._joined(account),
                lang=lang,
                words=self._words(lang),
                menu=menu,
                large_text=self._large_text(account),
                max_text=MAX_WEB_TEXT,
                choose_home=actions.Join("c").encode(),
                public_url=self.config.public_url,
                script=self._asset_url("chat.js"),
                style=self._asset_url("chat.css"),
                demo=self.demo(),
            )
            return HTMLResponse(html, headers={"Cache-Control": "no-store"})

        @router.get("/chat/static/{name}")
        def asset(name: str, v: str = "") -> Response:
            found = self.assets.get(name)
            if found is None:
                raise HTTPException(404)
            # A versioned address never changes content; any other is checked again each time.
            cache = "public, max-age=31536000, immutable" if v == found.version else "no-cache"
            return Response(
                found.body,
                media_type=found.media_type,
                headers={"Cache-Control": cache, "ETag": f'"{found.version}"'},
            )

        @router.get("/chat/api/messages")
        def messages(
            request: Request,
            after: int = Query(0, ge=0, le=MAX_AFTER),
            lang: str = Query("", max_length=8),
        ) -> JSONResponse:
            account = account_of(request)
            self._limit(request, "read", account)
            found = self.history.page(self._identity_id(account), after)
            if not found or account is None or after == 0:
                return JSONResponse({"messages": found})
            # Something new was pushed (an approval, a role): the menu and language may have changed too.
            return JSONResponse({"messages": found, **self._page_state(account, lang)})

        @router.post("/chat/api/send")
        def send(
            request: Request,
            body: SendBody,
            after: int = Query(0, ge=0, le=MAX_AFTER),
            lang: str = Query("", max_length=8),
        ) -> JSONResponse:
            account = self._check_post(request)
            self._limit(request, "send", account)
            if not CLIENT_ID.match(body.id):
                raise HTTPException(422, "bad message id")
            location = None
            if body.latitude is not None and body.longitude is not None:
                location = Location(body.latitude, body.longitude)
            inbound = Inbound(
                channel=account.channel,
                user_ref=account.external_id,
                chat_ref=account.external_id,
                update_id=account.update_id(body.id),
                text=body.text if body.button is None else "",
                button=body.button,
                location=location,
            )
            # A button or a menu entry shows its label in the user's bubble, typed text itself.
            shown: dict[str, Any] = {
                "text": body.label if body.button is not None or body.label else body.text
            }
            if location is not None:
                shown = {"text": "📍", "location": [location.latitude, location.longitude]}
            result = self._turn(account, inbound, shown, after)
            return JSONResponse({**result, **self._page_state(account, lang)})

        @router.post("/chat/api/prefs")
        def set_prefs(request: Request, body: PrefsBody) -> JSONResponse:
            account = self._check_post(request)
            self._limit(request, "send", account)
            person_id = self.accounts[account.channel].person_of(account.external_id)
            saved = False
            if person_id is not None:  # before the first message there is nobody to remember it for
                with self.history.sessions() as session:
                    saved = prefs.set_large_text(session, person_id, body.large_text)
                    session.commit()
            return JSONResponse({"large_text": body.large_text, "saved": saved})

        @router.post("/chat/api/photo")
        async def photo(
            request: Request,
            file: UploadFile = File(...),
            id: str = Form(...),
            caption: str = Form(""),
            after: int = Query(0, ge=0, le=MAX_AFTER),
        ) -> JSONResponse:
            account, data = await self._received(request, id, caption, file, "photo")
            try:
                # Decoded and written anew: upright, at most 2560 px, no EXIF/GPS; a non-image never lands.
                stored, ext = await anyio.to_thread.run_sync(reencode, data, limiter=self.encoders)
            except TooManyPixels:
                raise HTTPException(413, "photo has too many pixels") from None
            except NotAnImage:
                raise HTTPException(415, "not a JPEG, PNG, GIF or WebP image") from None
            name = f"{secrets.token_urlsafe(24)}.{ext}"
            await run_in_threadpool(self.files.save, name, stored)
            attachment = Attachment("photo", name, size=len(stored))
            return await self._upload_turn(account, id, caption, attachment, {"photos": [name]}, after)

        @router.post("/chat/api/voice")
        async def voice(
            request: Request,
            file: UploadFile = File(...),
            id: str = Form(...),
            seconds: int = Form(..., ge=1, le=MAX_VOICE_SECONDS),
            caption: str = Form(""),
            after: int = Query(0, ge=0, le=MAX_AFTER),
        ) -> JSONResponse:
            account, data = await self._received(request, id, caption, file, "recording")
            ext = audio_extension(data)  # by its first bytes, whatever the browser says it is
            if ext is None:
                raise HTTPException(415, "not a WebM, Ogg, MP4, AAC, MP3 or WAV recording")
            name = f"{secrets.token_urlsafe(24)}.{ext}"
            await run_in_threadpool(self.files.save, name, data)
            attachment = Attachment("voice", name, duration=seconds, size=len(data))
            return await self._upload_turn(
                account, id, caption, attachment, {"voices": [[name, seconds]]}, after
            )

        @router.get("/chat/files/{name}")
        def file(request: Request, name: str) -> FileResponse:
            identity_id = self._identity_id(account_of(request))
            if identity_id is None or not FILE_NAME.match(name) or not self.history.shows(identity_id, name):
                raise HTTPException(404)
            path = self.files.path(name)
            if path is None:
                raise HTTPException(404)
            return FileResponse(path, headers={"Cache-Control": "private, max-age=86400"})

        return router


def _body(message: Rendered) -> dict[str, Any]:
    body: dict[str, Any] = {
        "text": message.text,
        "buttons": [[list(b) for b in row] for row in message.buttons],
        "photos": [p.ref for p in message.photos if p.kind != "voice" and FILE_NAME.match(p.ref)],
        "ask_location": message.ask_location,
        "location_label": message.location_label,
    }
    voices = [
        [p.ref, p.duration or 0]
        for p in message.photos
        if p.kind == "voice" and FILE_NAME.match(p.ref) and p.ref.endswith(PLAYABLE)
    ]
    if voices:
        body["voices"] = voices
    if message.primary:
        body["primary"] = message.primary  # the step's main button: drawn filled, a row of its own
    if message.keeps_input:
        body["keeps_input"] = True  # the reply refused the typed text: the page puts it back in the box
    return body
