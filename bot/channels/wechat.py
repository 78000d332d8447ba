"""WeChat Official Account (residents): callbacks → Inbound, Rendered → passive replies, 客服 and
template messages.

A callback is verified (signature; msg_signature and AES in safe mode), stored in the inbound log, and
only then answered. WeChat waits five seconds and then tries again (three times in all), so the turn
gets about four: done in time, a plain-text first answer goes back as the passive reply; the rest, and
everything when late, goes as 客服 messages after the answer. A retry of a callback already handled
answers "success" and runs nothing twice; one stored but never handled (a crash) is handled then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import requests
from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select
from starlette.background import BackgroundTask

from bot.channels import menus
from bot.channels.base import Intake, Unreachable
from bot.channels.menus import menu_body
from bot.channels.wechat_client import OfficialAccount, StableTokenFetch
from bot.channels.wechat_media import MediaLost, fetch
from bot.channels.wechat_oauth import OPEN_ID, oauth_router
from bot.channels.wechat_seal import Forged, Seal
from bot.channels.wechat_send import Sender
from bot.channels.wechat_templates import TemplateBook
from bot.channels.wechat_wire import (
    CHANNEL,
    MENU,
    MENU_ITEMS,
    NUMBER,
    BadCallback,
    Incoming,
    flat_buttons,
    incoming,
    numbered_choice,
    plain,
    update_id_of,
)
from bot.platform_tokens import Fetch, SharedToken
from bot.stores import FileStore, Identities, IntakeLog
from db.models import Identity, InboundLog, Person
from db.rows import table_of
from handlers.types import Attachment, Inbound, Rendered

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.render import Renderer
    from bot.service import Outcome, Service

log = logging.getLogger(__name__)
TEMPLATES_FILE = Path(__file__).resolve().parents[2] / "data" / "wechat_templates.yaml"
MAX_BODY = 64 * 1024  # a callback is a few hundred bytes; a long text in safe mode stays far below this
PASSIVE_WAIT = 4.0  # seconds a turn may take and still answer passively (WeChat gives up after 5)
RECOVER_BATCH = 200
SUCCESS = "success"  # "nothing passive": WeChat shows nothing and does not try again


@dataclass(frozen=True, slots=True)
class WeChatConfig:
    """What the WeChat channel takes from the settings."""

    app_id: str
    app_secret: str
    token: str  # the callback's Token
    aes_key: str = ""  # EncodingAESKey: safe mode when set
    api_base_url: str = "https://api.weixin.qq.com"
    open_base_url: str = "https://open.weixin.qq.com"
    templates_file: Path | None = None
    public_url: str = ""
    rate_limit: float = 20.0
    window_messages: int = 20
    default_locale: str = "zh_CN"
    reply_lease: timedelta = timedelta(seconds=60)


def fetch_token(config: WeChatConfig) -> Fetch:
    """How to fetch a new access token (the stable-token endpoint), for the shared token store."""
    return StableTokenFetch(config)


@dataclass
class Turn:
    """What handling one callback came to: a turn's outcome, or a text to say without a turn."""

    openid: str
    locale: str
    outcome: Outcome | None = None
    say: str = ""  # a text without a turn (a photo that could not be fetched)
    counted_from: int | None = None  # the answers from this one on were counted in the window by the turn

    @property
    def replies(self) -> list[Rendered]:
        """The answers to send."""
        if self.outcome is not None:
            return self.outcome.replies
        return [Rendered(self.say)] if self.say else []


class WeChatChannel:
    """The WeChat Official Account adapter."""

    name = CHANNEL

    def __init__(
        self,
        config: WeChatConfig,
        service: Service,
        log_store: IntakeLog,
        identities: Identities,
        files: FileStore,
        renderer: Renderer,
        clock: Clock,
        token: SharedToken,
    ) -> None:
        self.config = config
        self.service = service
        self.log_store = log_store
        self.identities = identities
        self.files = files
        self.renderer = renderer
        self.clock = clock
        self.token = token
        # Every API call, download and token fetch goes through one session (tests mount the double on it).
        self.http = token.fetch.http if isinstance(token.fetch, StableTokenFetch) else requests.Session()
        self.api = OfficialAccount(config, token, self.http)
        book = TemplateBook.load(config.templates_file or TEMPLATES_FILE)
        self.sender = Sender(config, self.api, identities, files, renderer, clock, book)
        self.seal = Seal(config.token, config.app_id, config.aes_key)
        self.intake = Intake(mode="webhook")
        self.passive_wait = PASSIVE_WAIT
        self.oauth_transport: httpx.AsyncBaseTransport | None = None  # the sign-in's code exchange (tests)
        self._in_flight: dict[str, asyncio.Task[Turn | None]] = {}  # callbacks in hand here, by id
        self._retried: set[str] = set()  # callbacks in hand that WeChat posted again: answer by 客服
        self._tasks: set[asyncio.Task[Any]] = set()
        self._menu: asyncio.Task[None] | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Publish the menu (retried until WeChat takes it) and handle what was stored before a crash,
        both in the background: callbacks are taken meanwhile (one in hand is never run twice)."""
        self.intake.started_at = self.clock.now()
        body = menu_body(MENU, lambda key: self.sender.text(self.config.default_locale, key, None))
        self._menu = asyncio.create_task(
            menus.publish("WeChat", lambda: self.api.create_menu(body), self.intake)
        )
        self._keep(asyncio.create_task(self._recover_at_start()))

    async def _recover_at_start(self) -> None:
        try:
            await self.recover()
        except Exception:  # the database is down: the runner's periodic recovery tries again
            log.exception("WeChat: recovering stored callbacks at start failed")

    async def stop(self) -> None:
        """Stop publishing the menu and let the callbacks in hand finish sending."""
        await menus.stop(self._menu)
        pending = [*self._tasks, *self._in_flight.values()]
        if pending:
            await asyncio.wait(pending, timeout=5)

    async def recover(self, stale_after: timedelta | None = None) -> None:
        """Handle stored callbacks never handled (a crash, another process that died), oldest first;
        their answers go as 客服 messages. With `stale_after`, only those stored longer ago than that."""
        after = 0
        before = self.clock.now() - stale_after if stale_after is not None else None
        while batch := await asyncio.to_thread(self.log_store.pending, RECOVER_BATCH, after, before):
            after = batch[-1][0]
            for _, update_id, payload in batch:
                if update_id in self._in_flight:
                    continue
                turn = await self._start(update_id, {str(k): str(v) for k, v in payload.items()})
                if turn is not None:
                    await self._deliver(turn, 0)

    # --- the callback -----------------------------------------------------------------------------

    def router(self) -> APIRouter:
        """GET answers WeChat's URL check; POST takes callbacks; and the H5 page's sign-in routes."""
        router = APIRouter()
        router.include_router(oauth_router(self.config, self.renderer, self.clock, self.oauth_transport))

        @router.get("/wechat/callback", include_in_schema=False)
        async def check(request: Request) -> Response:
            query = request.query_params
            echostr = query.get("echostr", "")
            if not self.seal.signed(query) or not echostr or len(echostr) > 256:
                raise HTTPException(403)
            return Response(echostr, media_type="text/plain")

        @router.post("/wechat/callback", include_in_schema=False)
        async def callback(request: Request) -> Response:
            arrived = time.monotonic()  # WeChat's five seconds run from its post, not from our store
            query = request.query_params
            if not self.seal.signed(query) or not self.seal.fresh(query, self.clock.now().timestamp()):
                raise HTTPException(403)
            body = b""
            async for chunk in request.stream():  # counted as it comes: Content-Length may lie
                body += chunk
                if len(body) > MAX_BODY:
                    raise HTTPException(413, "a callback is never this large")
            try:
                fields = self.seal.open(body, query)
            except Forged:
                raise HTTPException(403) from None
            except BadCallback as exc:
                raise HTTPException(400, str(exc)) from None
            if not OPEN_ID.match(fields.get("FromUserName", "")):
                raise HTTPException(400, "FromUserName is not an openid")
            try:
                return await self._answer(fields, arrived)
            except Exception:  # WeChat must never show "该公众号暂时无法提供服务"
                log.exception("WeChat: answering callback %s failed", update_id_of(fields))
                return Response(SUCCESS, media_type="text/plain")

        return router

    def _reply(self, text: str, fields: dict[str, str]) -> Response:
        """A passive text reply to a callback (sealed in safe mode)."""
        return Response(
            self.seal.reply(text, fields, int(self.clock.now().timestamp())), media_type="application/xml"
        )

    async def _answer(self, fields: dict[str, str], arrived: float) -> Response:
        update_id = update_id_of(fields)
        if update_id not in self._in_flight and _at_once(fields):
            # Stored in the turn's own transaction (as processed), which commits before any answer: one
            # write instead of two. A retry of one handled before finds its row there and runs nothing.
            return await self._run(update_id, fields, arrived, stored=False)
        try:
            stored = await asyncio.to_thread(self.service.store, CHANNEL, update_id, fields)
        except Exception as exc:  # the database does not answer: nothing was kept, so ask to send again
            log.exception("WeChat: cannot store callback %s", update_id)
            self.intake.last_error = f"store: {type(exc).__name__}: {exc}"[:200]
            return self._busy(fields)
        self.intake.last_ok = self.clock.now()
        # A retry: handled already or in hand here answers "success"; one stored before a crash runs now.
        if update_id in self._in_flight:
            # WeChat gave up on the first post: its passive reply could no longer arrive.
            self._retried.add(update_id)
            return Response(SUCCESS, media_type="text/plain")
        if stored is None and await asyncio.to_thread(self._processed, update_id):
            return Response(SUCCESS, media_type="text/plain")
        return await self._run(update_id, fields, arrived, stored=True)

    def _busy(self, fields: dict[str, str]) -> Response:
        """Nothing could be stored: say so, so the resident sends it again."""
        return self._reply(self.sender.text(self.config.default_locale, "busy"), fields)

    async def _run(self, update_id: str, fields: dict[str, str], arrived: float, stored: bool) -> Response:
        """Run the callback's turn and answer: passively when in time, else "success" and 客服 messages."""
        task = self._start(update_id, fields, stored)
        try:
            left = self.passive_wait - (time.monotonic() - arrived)
            turn = await asyncio.wait_for(asyncio.shield(task), max(0.0, left))
        except TimeoutError:  # late: "success" now, every answer by 客服 when the turn is done
            if not stored:  # the turn has not committed: the callback is stored now, before the answer
                try:
                    await asyncio.to_thread(self.service.store, CHANNEL, update_id, fields)
                except Exception:
                    log.exception("WeChat: cannot store callback %s", update_id)
                    self._keep(asyncio.create_task(self._deliver_when_done(task)))
                    return self._busy(fields)
            self._keep(asyncio.create_task(self._deliver_when_done(task)))
            return Response(SUCCESS, media_type="text/plain")
        except Exception:
            if stored:
                raise
            log.exception("WeChat: callback %s could neither be handled nor stored", update_id)
            return self._busy(fields)
        self.intake.last_ok = self.clock.now()
        if turn is None or not turn.replies:
            return Response(SUCCESS, media_type="text/plain")
        first = turn.replies[0]
        late = time.monotonic() - arrived > self.passive_wait or update_id in self._retried
        self._retried.discard(update_id)
        if late or not plain(first):
            return Response(
                SUCCESS, media_type="text/plain", background=BackgroundTask(self._deliver, turn, 0)
            )
        if turn.outcome is not None and turn.outcome.reply_ids:
            self.service.replies_sent(turn.outcome.reply_ids[:1])
        response = self._reply(first.text, fields)
        if len(turn.replies) > 1:  # after the answer has gone, so the passive reply reads first
            response.background = BackgroundTask(self._deliver, turn, 1)
        return response

    def _processed(self, update_id: str) -> bool:
        with self.log_store.sessions() as session:
            found = session.exec(
                select(InboundLog.id).where(
                    InboundLog.channel == CHANNEL,
                    InboundLog.update_id == update_id,
                    col(InboundLog.processed_at).is_not(None),
                )
            ).first()
        return found is not None

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)  # a reference until done, or the task may be collected mid-run
        task.add_done_callback(self._tasks.discard)

    def _start(
        self, update_id: str, fields: dict[str, str], stored: bool = True
    ) -> asyncio.Task[Turn | None]:
        task = asyncio.create_task(self._handle(update_id, fields, stored))
        self._in_flight[update_id] = task
        task.add_done_callback(lambda _: self._in_flight.pop(update_id, None))
        return task

    async def _deliver_when_done(self, task: asyncio.Task[Turn | None]) -> None:
        turn = await task
        if turn is not None:
            await self._deliver(turn, 0)

    # --- the turn ---------------------------------------------------------------------------------

    async def _handle(self, update_id: str, fields: dict[str, str], stored: bool = True) -> Turn | None:
        """Run the turn a callback asks for; None when it asks for none (or ran before). One not `stored`
        yet is stored by the turn's transaction, or here when there is no turn; should that fail too,
        this raises."""
        openid = fields.get("FromUserName", "")
        try:
            asked = incoming(fields)
            if not stored and (asked.action != "turn" or asked.media):
                await asyncio.to_thread(self.service.store, CHANNEL, update_id, fields)
                stored = True
            if asked.action != "turn":
                if asked.action == "unsubscribe":
                    await asyncio.to_thread(self.identities.mark_unreachable, openid)
                await asyncio.to_thread(self.log_store.close, [(update_id, "")])
                return None
            try:
                inbound = await self._inbound(update_id, openid, asked)
            except MediaLost as exc:
                log.warning("WeChat: media of %s could not be fetched: %s", update_id, exc)
                await asyncio.to_thread(self._set_aside, update_id, f"media: {exc}")
                locale = await asyncio.to_thread(self.sender.locale_of, openid)
                kind = asked.media[0].kind if asked.media else "image"
                return Turn(openid, locale, say=self.sender.text(locale, "media_failed", {"kind": kind}))
            return await asyncio.to_thread(self._turn, inbound, None if stored else fields)
        except Exception as exc:  # closed with its reason, so no recovery replays it for ever
            log.exception("WeChat: callback %s failed", update_id)
            if not stored:
                await asyncio.to_thread(self.service.store, CHANNEL, update_id, fields)
            await asyncio.to_thread(self._set_aside, update_id, f"failed: {type(exc).__name__}")
            return None

    def _set_aside(self, update_id: str, reason: str) -> None:
        self.intake.set_aside += self.log_store.close([(update_id, reason)])

    async def _inbound(self, update_id: str, openid: str, asked: Incoming) -> Inbound:
        """The Inbound of a callback: a numbered reply as the press it picks, media fetched and kept."""
        text, button = asked.text, asked.button
        if asked.numbered and NUMBER.match(text):  # only a bare number may pick from the last menu
            choices = await asyncio.to_thread(self.identities.choices_of, openid)
            picked = numbered_choice(text, choices)
            if picked is not None:
                text, button = "", picked
        attachments: list[Attachment] = []
        for media in asked.media:
            attachments.append(await asyncio.to_thread(fetch, self.api, self.http, self.files, media))
        return Inbound(
            channel=CHANNEL,
            user_ref=openid,
            chat_ref=openid,
            update_id=update_id,
            text=text,
            button=button,
            attachments=tuple(attachments),
            location=asked.location,
            unsupported=asked.unsupported,
        )

    def _turn(self, inbound: Inbound, payload: dict[str, str] | None = None) -> Turn | None:
        """The turn (its answers leased to us); in its transaction, the 48-hour window starts again and
        numbers typed next pick from the last menu it showed (none: numbers are text again)."""
        now = self.clock.now()
        locale: list[str] = []
        counted_from: list[int] = []

        def keep(session: Session, identity_id: int, rendered: list[Rendered]) -> None:
            # What Identities.note_inbound, set_choices and spend_window write, in the turn's own
            # transaction: fewer commits on every callback, which WeChat gives five seconds. The window
            # starts again with the 客服 messages the answers will take when the first goes passively (a
            # late first one is counted when it is sent); one that fails to leave stays counted, which
            # only turns a push into a template message sooner.
            # Typed numbers pick from the last list shown as numbered lines (too long for a menu), else
            # from the last menu: a short line after a long list (a kept draft's button) must not take
            # the list's numbers away.
            shown = [message for message in rendered if message.buttons]
            numbered = [m for m in shown if len(flat_buttons(m)) > MENU_ITEMS]
            last = numbered[-1] if numbered else shown[-1] if shown else None
            choices = [data for _, data in flat_buttons(last)] if last is not None else []
            first = 1 if rendered and plain(rendered[0]) else 0
            sent = sum(self.sender.count(message) for message in rendered[first:])
            connection = session.connection()
            connection.execute(
                _NOTE, {"b_id": identity_id, "b_now": now, "b_choices": choices, "b_sent": sent}
            )
            locale.append(str(connection.execute(_LOCALE, {"b_id": identity_id}).scalar() or ""))
            counted_from[:] = [first]

        outcome = self.service.handle(
            inbound, keep, self.config.reply_lease, dict(payload) if payload else None
        )
        if outcome.duplicate:
            return None
        return Turn(
            inbound.user_ref,
            (locale or [""])[0] or self.config.default_locale,
            outcome,
            counted_from=counted_from[0] if counted_from else None,
        )

    async def _deliver(self, turn: Turn, start: int) -> None:
        """Send a turn's answers from `start` on as 客服 messages, marking each sent as it leaves; what
        does not leave stays leased to us, and the outbox sends it when the lease runs out."""
        ids = turn.outcome.reply_ids if turn.outcome is not None else []
        delivered: list[int] = []
        spent = 0  # WeChat counts a turn's 客服 answers in the window as well
        try:
            for index in range(start, len(turn.replies)):
                try:
                    await asyncio.to_thread(
                        self.sender.custom, turn.openid, turn.replies[index], turn.locale, False
                    )
                except Unreachable:
                    await asyncio.to_thread(self.identities.mark_unreachable, turn.openid)
                    await asyncio.to_thread(self.service.replies_unreachable, ids[index:])
                    return
                except Exception as exc:
                    log.warning(
                        "WeChat: answer to %s not sent now (%s); the outbox retries", turn.openid, exc
                    )
                    return
                if turn.counted_from is None or index < turn.counted_from:
                    spent += self.sender.count(turn.replies[index])
                if index < len(ids):
                    delivered.append(ids[index])
        finally:
            self.service.replies_sent(delivered)
            if spent:
                await asyncio.to_thread(self.identities.spend_window, turn.openid, spent)

    # --- pushes -----------------------------------------------------------------------------------

    async def push(self, identity: Identity, message: Rendered) -> None:
        """A 客服 message inside the 48-hour window, else a template message."""
        await asyncio.to_thread(self.sender.push, identity.external_id, message)

    def messages_for(self, message: Rendered) -> int:
        """How many API calls `push` makes of this message (as 客服 messages; a template is one)."""
        return max(1, self.sender.count(message))


def _at_once(fields: dict[str, str]) -> bool:
    """Whether the callback's turn starts at once, with nothing to fetch first (no media)."""
    try:
        asked = incoming(fields)
    except Exception:  # handled, and set aside, by the turn's own path
        return False
    return asked.action == "turn" and not asked.media


# Built once: they run on every callback, and building a statement costs more than running it on SQLite.
_IDENTITY, _PERSON = table_of(Identity), table_of(Person)
_NOTE = (
    update(_IDENTITY)
    .where(_IDENTITY.c.id == bindparam("b_id"))
    .values(
        last_inbound_at=bindparam("b_now", type_=_IDENTITY.c.last_inbound_at.type),
        window_sent=bindparam("b_sent"),
        unreachable=False,
        choices=bindparam("b_choices", type_=_IDENTITY.c.choices.type),
    )
)
_LOCALE = (
    select(_PERSON.c.locale)
    .select_from(_PERSON.join(_IDENTITY, _IDENTITY.c.person_id == _PERSON.c.id))
    .where(_IDENTITY.c.id == bindparam("b_id"))
)
