"""WeCom app (grid workers and staff): encrypted callbacks → Inbound, Rendered → message.send, cards.

A callback is verified (msg_signature) and decrypted, stored in the inbound log under its MsgId (an event:
who, when, which event, button and card), and answered at once with an empty 200; its turn runs after.
WeCom retries a callback it did not see answered within five seconds: a retry finds it stored and runs
nothing. One stored but never processed (a crash) is processed by `recover`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.work.crypto import WeChatCrypto
from wechatpy.work.exceptions import InvalidCorpIdException

from bot.channels import menus
from bot.channels.base import Intake, RetryLater, Unreachable
from bot.channels.menus import menu_body
from bot.channels.wecom_client import WeComClient, WeComError, gettoken
from bot.channels.wecom_intake import Reader
from bot.channels.wecom_send import Sender
from bot.channels.wecom_wire import CHANNEL, MENU, Malformed, read_xml, text_of, update_id_of
from bot.delivery import RateLimit
from bot.platform_tokens import Fetch, SharedToken, TokenUnavailable
from bot.stores import FileStore, Identities, IntakeLog
from db.models import Identity
from handlers.types import Rendered

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.render import Renderer
    from bot.service import Service

log = logging.getLogger(__name__)
PATH = "/wecom/callback"
MAX_BODY = 64 * 1024  # a callback is a few KB (text is at most 2 048 bytes before encryption)
MAX_USERID = 64
RECOVER_BATCH = 200


@dataclass(frozen=True, slots=True)
class WeComConfig:
    """What the WeCom channel takes from the settings."""

    corp_id: str
    agent_id: int
    secret: str
    token: str  # the callback's Token
    aes_key: str  # EncodingAESKey: WeCom's callbacks are always encrypted
    api_base_url: str = "https://qyapi.weixin.qq.com"
    public_url: str = ""
    rate_limit: float = 20.0
    default_locale: str = "zh_CN"
    reply_lease: timedelta = timedelta(seconds=60)


def fetch_token(config: WeComConfig) -> Fetch:
    """How to fetch a new access token (gettoken), for the shared token store."""
    return lambda force: gettoken(config)


class WeComChannel:
    """The WeCom app adapter: the callback route, durable intake, and sending as app messages."""

    name = CHANNEL

    def __init__(
        self,
        config: WeComConfig,
        service: Service,
        log_store: IntakeLog,
        identities: Identities,
        files: FileStore,
        renderer: Renderer,
        clock: Clock,
        token: SharedToken,
        budget: RateLimit | None = None,
    ) -> None:
        self.config = config
        self.budget = budget  # the outbox's per-member budget: a turn's answers count in it too
        self.service = service
        self.log_store = log_store
        self.identities = identities
        self.files = files
        self.renderer = renderer
        self.clock = clock
        self.token = token
        self.intake = Intake()
        self.crypto = WeChatCrypto(config.token, config.aes_key, config.corp_id)
        self.api = WeComClient(config, token)
        self.reader = Reader(self.api, identities, files, clock, identities.sessions)
        self.sender = Sender(self.api, identities, files, renderer, clock, config.default_locale)
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: set[str] = set()  # update ids being processed by this process right now
        self._members: dict[str, tuple[asyncio.Lock, int]] = {}
        self._menu: asyncio.Task[None] | None = None  # a member's turns run in arrival order

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take callbacks (the route is served by the web app) and process what was stored before."""
        self.intake.mode = "webhook"
        self.intake.started_at = self.clock.now()
        body = menu_body(MENU, lambda key: self.renderer.text(self.config.default_locale, f"wecom.{key}"))
        self._menu = asyncio.create_task(
            menus.publish("WeCom", lambda: self.api.create_menu(body), self.intake)
        )
        try:
            await self.recover()
        except Exception as exc:  # the database is down: the scheduler's recovery tries again
            self.intake.last_error = f"{type(exc).__name__}: {exc}"[:200]
            log.exception("WeCom: recovering stored callbacks failed")

    async def stop(self) -> None:
        """Let the turns under way finish (their answers are leased to us and in the outbox anyway)."""
        await menus.stop(self._menu)
        await self.settle(timeout=10)

    async def settle(self, timeout: float | None = None) -> None:
        """Wait until the turns of the callbacks taken so far are done (or `timeout` seconds)."""
        tasks = list(self._tasks)
        if tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait(tasks, timeout=timeout)

    async def recover(self, stale_after: timedelta | None = None) -> None:
        """Process callbacks stored and never processed, oldest first, in batches; with `stale_after`, only
        those stored longer ago than that (another process died with them)."""
        after = 0
        before = self.clock.now() - stale_after if stale_after is not None else None
        while batch := await asyncio.to_thread(self.log_store.pending, RECOVER_BATCH, after, before):
            after = batch[-1][0]
            await self._process_stored([(update_id, payload) for _, update_id, payload in batch])

    # --- the callback -----------------------------------------------------------------------------

    def router(self) -> APIRouter:
        """GET answers WeCom's URL check; POST takes a callback: verified, decrypted, stored, answered."""
        router = APIRouter()

        @router.get(PATH, include_in_schema=False)
        async def check(request: Request) -> Response:
            query = request.query_params
            try:
                echo = self.crypto.check_signature(
                    query.get("msg_signature", ""),
                    query.get("timestamp", ""),
                    query.get("nonce", ""),
                    query.get("echostr", ""),
                )
            except (InvalidSignatureException, InvalidCorpIdException):
                raise HTTPException(403, "signature does not match") from None
            except Exception:  # an echostr that is not base64 or not ours: say so, never a traceback
                raise HTTPException(400, "echostr cannot be decrypted") from None
            return PlainTextResponse(echo.decode() if isinstance(echo, bytes) else str(echo))

        @router.post(PATH, include_in_schema=False)
        async def callback(request: Request) -> Response:
            body = b""
            async for chunk in request.stream():  # counted as it comes: Content-Length may lie
                body += chunk
                if len(body) > MAX_BODY:
                    raise HTTPException(413, "a callback is never this large")
            fields = self._open(body, request.query_params)
            update_id = update_id_of(fields)
            userid = text_of(fields, "FromUserName")
            if update_id is None or not userid or len(userid) > MAX_USERID:
                raise HTTPException(400, "not a message or event from a member")
            stored = await asyncio.to_thread(self.service.store, CHANNEL, update_id, fields)
            self.intake.last_ok = self.clock.now()
            if stored is not None:  # a retry of one we have stored runs nothing
                self._spawn(self._process_stored([(update_id, fields)]))
            return Response(status_code=200)

        return router

    def _open(self, body: bytes, query: Any) -> dict[str, Any]:
        """The decrypted callback's fields; 403 when the signature or corp id is not ours, 400 when the
        body is not WeCom's encrypted XML."""
        try:
            envelope = read_xml(body)
        except Malformed as exc:
            raise HTTPException(400, str(exc)) from None
        encrypted = text_of(envelope, "Encrypt")
        if not encrypted:
            raise HTTPException(400, "no Encrypt element")
        try:
            plain = self.crypto.decrypt_message(
                {"Encrypt": encrypted},
                query.get("msg_signature", ""),
                query.get("timestamp", ""),
                query.get("nonce", ""),
            )
        except (InvalidSignatureException, InvalidCorpIdException):
            raise HTTPException(403, "signature or corp id does not match") from None
        except Exception:  # signed by someone with the token but not decryptable: not WeCom's
            raise HTTPException(400, "cannot decrypt") from None
        try:
            return read_xml(plain)
        except Malformed as exc:
            raise HTTPException(400, str(exc)) from None

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)  # keep a reference until done, or the task may be collected mid-run
        task.add_done_callback(self._tasks.discard)

    # --- processing -------------------------------------------------------------------------------

    async def _process_stored(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Process stored callbacks: each member's in order, different members side by side. Callbacks
        already in flight here are left to the turn that runs them."""
        items = [(uid, payload) for uid, payload in items if uid not in self._in_flight]
        self._in_flight.update(uid for uid, _ in items)
        try:
            by_member: dict[str, list[tuple[str, dict[str, Any]]]] = {}
            for update_id, payload in items:
                by_member.setdefault(text_of(payload, "FromUserName"), []).append((update_id, payload))
            await asyncio.gather(*(self._in_order(member, mine) for member, mine in by_member.items()))
        finally:
            self._in_flight.difference_update(uid for uid, _ in items)

    async def _in_order(self, member: str, items: list[tuple[str, dict[str, Any]]]) -> None:
        lock, waiting = self._members.get(member, (asyncio.Lock(), 0))
        self._members[member] = (lock, waiting + 1)
        try:
            async with lock:
                for update_id, payload in items:
                    await self._process_one(update_id, payload)
        finally:
            lock, waiting = self._members[member]
            if waiting <= 1:
                del self._members[member]
            else:
                self._members[member] = (lock, waiting - 1)

    async def _process_one(self, update_id: str, payload: dict[str, Any]) -> None:
        if not payload:
            return  # emptied after a secret turn: it was processed then
        try:
            inbound = await asyncio.to_thread(self.reader.inbound, update_id, payload)
        except (WeComError, TokenUnavailable, OSError) as exc:  # a file cannot be fetched now: kept for later
            self.intake.last_error = str(exc)[:200]
            log.warning("WeCom callback %s left for later: %s", update_id, exc)
            return
        except Exception as exc:
            log.exception("WeCom callback %s cannot be read; set aside", update_id)
            await asyncio.to_thread(self._set_aside, [(update_id, f"cannot read: {type(exc).__name__}")])
            return
        if inbound is None:
            await asyncio.to_thread(self._set_aside, [(update_id, "")])
            return
        outcome = await asyncio.to_thread(self.service.handle, inbound, None, self.config.reply_lease)
        if outcome.duplicate:
            return
        await self._answer(inbound.user_ref, outcome.replies, outcome.reply_ids)
        if inbound.button is not None and text_of(payload, "Event").lower() == "template_card_event":
            code = text_of(payload, "ResponseCode")
            await asyncio.to_thread(self.sender.close_card, inbound.user_ref, code)

    async def _answer(self, userid: str, replies: list[Rendered], reply_ids: list[int]) -> None:
        """Send a turn's answers (leased to us and committed with the turn): marked sent as each leaves;
        what does not leave now, the outbox sends when the lease runs out."""
        delivered: list[int] = []
        numbered = False
        try:
            for index, message in enumerate(replies):
                if self.budget is not None:
                    now = self.clock.now().timestamp()
                    if self.budget.chat_wait(userid, self.sender.count(message), now):
                        log.info("WeCom: %s's budget is spent; the outbox sends the answer later", userid)
                        return
                try:
                    layout = await asyncio.to_thread(self.sender.deliver, userid, message)
                except Unreachable:
                    await asyncio.to_thread(self.identities.mark_unreachable, userid)
                    await asyncio.to_thread(self.service.replies_unreachable, reply_ids[index:])
                    return
                except (RetryLater, WeComError, TokenUnavailable) as exc:
                    log.warning("WeCom: answer to %s not sent now (%s); the outbox retries", userid, exc)
                    return
                except Exception:  # still leased to us: the outbox sends it when the lease runs out
                    log.exception("WeCom: answer to %s failed; the outbox retries", userid)
                    return
                numbered = numbered or bool(layout.choices)
                if index < len(reply_ids):
                    delivered.append(reply_ids[index])
        finally:
            self.service.replies_sent(delivered)
        if not numbered:
            # A number typed next answers this turn's question, not a menu shown before it.
            await asyncio.to_thread(self.identities.set_choices, userid, [])

    def _set_aside(self, items: list[tuple[str, str]]) -> None:
        """Close stored callbacks without a turn: (update id, why); no reason means nothing to do."""
        self.intake.set_aside += self.log_store.close(items)

    # --- pushing ----------------------------------------------------------------------------------

    async def push(self, identity: Identity, message: Rendered) -> None:
        """A text, images and a template card (or numbered lines) through message.send."""
        await asyncio.to_thread(self.sender.deliver, identity.external_id, message)

    def messages_for(self, message: Rendered) -> int:
        """How many app messages `push` sends of this message (each counts against a member's limits)."""
        return self.sender.count(message)
