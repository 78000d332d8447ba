"""Telegram through python-telegram-bot: updates → Inbound, Rendered → Bot API calls.

Updates are stored in the inbound log before Telegram considers them delivered: our own loop over
getUpdates stores a batch before the next call confirms it, and our webhook route stores before it
answers 200. PTB's Updater is not used because it confirms before processing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request, Response
from telegram import (
    BotCommand,
    InputMediaPhoto,
    Update,
)
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, ContextTypes, TypeHandler
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.base import Intake, RetryLater, Unreachable
from bot.channels.telegram_wire import (
    CHANNEL,
    as_kept,
    contact_keyboard,
    kept_payload,
    keyboard,
    location_keyboard,
    retry_seconds,
    split_text,
    to_inbound,
    update_id_of,
)
from bot.stores import FileStore, Identities, IntakeLog
from db.models import Identity
from handlers.types import Rendered

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.render import Renderer
    from bot.service import Service

log = logging.getLogger(__name__)
RECOVER_BATCH = 200  # stored updates replayed per read at start; a backlog is drained batch after batch
MAX_WEBHOOK_BODY = 1024 * 1024  # Telegram's updates are a few KB; anything this big is not one
COMMANDS = (
    "start",
    "report",
    "my",
    "polls",
    "ballots",
    "proxy",
    "tasks",
    "queue",
    "stats",
    "console",
    "notices",
    "accounts",
    "committee",
    "rating",
    "policy",
    "help",
    "lang",
    "cancel",
)


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """What the Telegram channel takes from the settings."""

    token: str
    api_base_url: str = ""  # another Bot API server (a local one, a test double); "" for Telegram's
    webhook_url: str = ""  # our public base URL for the webhook; "" to poll getUpdates
    webhook_secret: str = ""  # "" derives one from the token
    poll_timeout: int = 25
    reply_lease: timedelta = timedelta(seconds=60)  # how long a turn's answers are ours to send


class TelegramChannel:
    """The Telegram adapter: PTB Application, our own durable polling loop or webhook, sending."""

    name = CHANNEL

    def __init__(
        self,
        config: TelegramConfig,
        service: Service,
        log_store: IntakeLog,
        identities: Identities,
        files: FileStore,
        renderer: Renderer,
        clock: Clock,
        request: BaseRequest | None = None,
    ) -> None:
        self.config = config
        self.service = service
        self.log_store = log_store
        self.identities = identities
        self.files = files
        self.renderer = renderer
        self.clock = clock
        builder = Application.builder().token(config.token).updater(None)
        if config.api_base_url:
            base = config.api_base_url.rstrip("/")
            builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
        if request is not None:
            builder = builder.request(request).get_updates_request(request)
        else:
            builder = builder.get_updates_request(
                HTTPXRequest(read_timeout=config.poll_timeout + 10, connection_pool_size=2)
            )
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.intake = Intake()
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: set[str] = set()  # update ids being processed by this process right now
        self._stopping = asyncio.Event()
        self.secret = (
            config.webhook_secret or hashlib.sha256(f"linli-webhook:{config.token}".encode()).hexdigest()[:32]
        )

    @property
    def bot(self) -> Any:
        """The PTB Bot."""
        return self.application.bot

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Initialise PTB, publish the command menu, recover stored updates, and start receiving."""
        try:
            await self.application.initialize()
        except InvalidToken:
            log.error("Telegram: the bot token was rejected; Telegram stays off, the web chat runs")
            return
        except NetworkError as exc:
            log.error("Telegram: cannot reach the Bot API (%s); will keep trying", exc)
        self._stopping.clear()
        self.intake.started_at = self.clock.now()
        self._poller = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop receiving and shut PTB down."""
        self._stopping.set()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poller
        with contextlib.suppress(Exception):
            if self.application.running:
                await self.application.stop()
            await self.application.shutdown()

    async def _run(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            try:
                await self.application.initialize()  # a no-op once done; retried while unreachable
                if not self.application.running:
                    await self.application.start()
                await self.publish_commands()
                await self.recover()
                webhook = self.config.webhook_url
                if webhook:
                    await self.bot.set_webhook(
                        url=f"{webhook.rstrip('/')}/telegram/webhook/{self.secret}",
                        secret_token=self.secret,
                        allowed_updates=Update.ALL_TYPES,
                    )
                    self.intake.mode = "webhook"
                    return
                await self.bot.delete_webhook()
                self.intake.mode = "polling"
                await self.poll_forever()
                return
            except asyncio.CancelledError:
                raise
            except (NetworkError, TimedOut) as exc:
                self.intake.last_error = str(exc)[:200]
                log.warning("Telegram: %s; retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)
            except Exception as exc:  # whatever it is, intake must not stop for good
                self.intake.last_error = f"{type(exc).__name__}: {exc}"[:200]
                log.exception("Telegram: intake failed; retrying in %.0f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)

    async def publish_commands(self) -> None:
        """Set the command menu in Chinese (default) and English."""
        for locale, language in (("zh_CN", None), ("en", "en")):
            commands = [BotCommand(c, self.renderer.text(locale, f"telegram.cmd_{c}")) for c in COMMANDS]
            await self.bot.set_my_commands(commands, language_code=language)

    async def recover(self, stale_after: timedelta | None = None) -> None:
        """Process every update stored before a crash but never processed, in batches, oldest first,
        before new work is taken; an update that cannot be parsed is set aside, not retried for ever.

        With `stale_after` (the scheduler's periodic call), only updates stored longer ago than that:
        another process that died after storing them leaves them to us."""
        after = 0
        before = self.clock.now() - stale_after if stale_after is not None else None
        while batch := await asyncio.to_thread(self.log_store.pending, RECOVER_BATCH, after, before):
            after = batch[-1][0]
            updates = [(update_id, payload) for _, update_id, payload in batch]
            await self._process_stored(updates)

    async def poll_forever(self) -> None:
        """Long-poll getUpdates; each batch is stored raw before the next call confirms it, and parsed
        only after it is stored, so an update we cannot read is kept and skipped, never a wall."""
        offset: int | None = None
        timeout = self.config.poll_timeout
        while not self._stopping.is_set():
            try:
                raw = await self._get_updates(offset, timeout)
                self.intake.last_ok = self.clock.now()
                if not raw:
                    continue
                await asyncio.to_thread(self._store_raw, raw)
            except asyncio.CancelledError:
                raise
            except RetryAfter as exc:
                await asyncio.sleep(retry_seconds(exc))
                continue
            except (NetworkError, TimedOut) as exc:
                self.intake.last_error = str(exc)[:200]
                log.warning("Telegram getUpdates: %s", exc)
                await asyncio.sleep(1)
                continue
            except Exception as exc:  # the database is down, a malformed answer: try again, never stop
                self.intake.last_error = f"{type(exc).__name__}: {exc}"[:200]
                log.exception("Telegram getUpdates: could not take a batch; retrying")
                await asyncio.sleep(2)
                continue
            offset = max(int(item["update_id"]) for item in raw) + 1  # stored: now it may be confirmed
            try:
                await self._process_stored(as_kept(raw))
            except asyncio.CancelledError:
                raise
            except Exception:  # stored, so a restart or the next recovery still has it
                log.exception("Telegram: processing a stored batch failed")

    async def _get_updates(self, offset: int | None, timeout: int) -> list[dict[str, Any]]:
        """getUpdates as raw JSON: PTB would parse before we could store, and fail on what it cannot read."""
        data: dict[str, Any] = {"timeout": timeout, "allowed_updates": Update.ALL_TYPES}
        if offset is not None:
            data["offset"] = offset
        result = await self.bot._post("getUpdates", data, read_timeout=timeout + 10)
        if not isinstance(result, list):
            raise TypeError(f"getUpdates answered {type(result).__name__}, not a list")
        return [item for item in result if isinstance(item, dict) and update_id_of(item) is not None]

    def _store_raw(self, raw: list[dict[str, Any]]) -> None:
        self.service.store_many(CHANNEL, as_kept(raw))

    async def store_and_process(self, raw: list[dict[str, Any]]) -> None:
        """Store a batch of raw updates in the inbound log (one transaction), then process it."""
        await asyncio.to_thread(self._store_raw, raw)
        await self._process_stored(as_kept(raw))

    async def _process_stored(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Parse and process stored updates: each chat's in order, different chats side by side, so one
        slow chat does not hold up the others. One that cannot be parsed is set aside with its reason.
        Updates already in flight here are left to the turn that runs them (a chat's order holds)."""
        items = [(uid, payload) for uid, payload in items if uid not in self._in_flight]
        self._in_flight.update(uid for uid, _ in items)
        try:
            await self._process_parsed(items)
        finally:
            self._in_flight.difference_update(uid for uid, _ in items)

    async def _process_parsed(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        updates: list[Update] = []
        unreadable: list[tuple[str, str]] = []
        for update_id, payload in items:
            update = self._parse(payload)
            if update is None:
                unreadable.append((update_id, "cannot parse"))
            else:
                updates.append(update)
        if unreadable:
            await asyncio.to_thread(self._set_aside, unreadable)
        by_chat: dict[object, list[Update]] = {}
        for update in updates:
            key = update.effective_chat.id if update.effective_chat else update.update_id
            by_chat.setdefault(key, []).append(update)
        if len(by_chat) == 1:
            for update in updates:
                await self.application.process_update(update)
            return
        await asyncio.gather(*(self._process_in_order(chat_updates) for chat_updates in by_chat.values()))

    def _parse(self, payload: dict[str, Any]) -> Update | None:
        """A PTB Update from stored JSON, or None (logged once) when PTB cannot read it."""
        if not payload:
            return None  # emptied after a secret turn: it was processed then
        try:
            return Update.de_json(payload, self.bot)
        except Exception as exc:
            log.warning(
                "Telegram update %s cannot be parsed (%s: %s); set aside",
                payload.get("update_id"),
                type(exc).__name__,
                exc,
            )
            return None

    def _set_aside(self, items: list[tuple[str, str]]) -> None:
        """Close stored updates without a turn: (update id, why); no reason means ignored, not set aside."""
        self.intake.set_aside += self.log_store.close(items)

    async def _process_in_order(self, updates: list[Update]) -> None:
        for update in updates:
            await self.application.process_update(update)

    # --- webhook ----------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        """A webhook route that checks the secret header and stores the update before answering."""
        router = APIRouter()

        @router.post("/telegram/webhook/{secret}", include_in_schema=False)
        async def webhook(secret: str, request: Request) -> Response:
            header = request.headers.get("x-telegram-bot-api-secret-token", "")
            if secret != self.secret or header != self.secret:
                raise HTTPException(403)
            body = b""
            async for chunk in request.stream():  # counted as it comes: Content-Length may lie
                body += chunk
                if len(body) > MAX_WEBHOOK_BODY:
                    raise HTTPException(413, "an update is never this large")
            try:
                payload = json.loads(body)
            except ValueError:
                raise HTTPException(400, "not JSON") from None
            update_id = update_id_of(payload) if isinstance(payload, dict) else None
            if update_id is None:
                raise HTTPException(400, "not an update: update_id must be a whole number")
            kept = kept_payload(payload)
            await asyncio.to_thread(self.service.store, CHANNEL, str(update_id), kept)
            self.intake.last_ok = self.clock.now()
            # Parsed only once it is stored: one we cannot read is set aside and still answered 200, so
            # Telegram does not hold every later update behind it.
            task = asyncio.create_task(self._process_stored([(str(update_id), kept)]))
            self._tasks.add(task)  # keep a reference until done, or the task may be collected mid-run
            task.add_done_callback(self._tasks.discard)
            return Response(status_code=200)

        return router

    # --- handling and sending ---------------------------------------------------------------------

    async def _on_update(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        if update.my_chat_member is not None and update.my_chat_member.new_chat_member.status == "kicked":
            await asyncio.to_thread(self.identities.mark_unreachable, str(update.my_chat_member.from_user.id))
        inbound = None if update.my_chat_member is not None else to_inbound(update)
        if inbound is None:  # group posts, inline queries, member changes: done, never replayed
            await asyncio.to_thread(self._set_aside, [(str(update.update_id), "")])
            return
        answered = None
        if update.callback_query is not None:
            # Answered while we work, so the button stops spinning without waiting for the database.
            answered = asyncio.create_task(update.callback_query.answer())
        outcome = await asyncio.to_thread(self.service.handle, inbound, None, self.config.reply_lease)
        if answered is not None:
            with contextlib.suppress(TelegramError):
                await answered
        # The replies were committed with the turn and leased to us: sent now, marked when they left;
        # what does not leave (a crash, a network error) the dispatcher sends when the lease runs out.
        delivered: list[int] = []
        try:
            for index, message in enumerate(outcome.replies):
                try:
                    await self.send(inbound.chat_ref, message)
                except Unreachable:
                    await asyncio.to_thread(self.identities.mark_unreachable, inbound.user_ref)
                    await asyncio.to_thread(self.service.replies_unreachable, outcome.reply_ids[index:])
                    return
                except (NetworkError, RetryLater) as exc:  # still leased to us: the outbox sends them later
                    log.warning(
                        "Telegram: answer to %s not sent now (%s); the outbox retries", inbound.chat_ref, exc
                    )
                    return
                if index < len(outcome.reply_ids):
                    delivered.append(outcome.reply_ids[index])
        finally:
            self.service.replies_sent(delivered)  # marked sent with the next transaction: no hop here

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """PTB's error handler: log with the update's id, and set aside an update that failed before its
        turn claimed it, so no recovery replays it for ever (a claimed one is closed already)."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("Telegram update %s: %s", update_id, context.error, exc_info=context.error)
        if update_id is not None:
            reason = f"failed: {type(context.error).__name__}"
            await asyncio.to_thread(self._set_aside, [(str(update_id), reason)])

    async def push(self, identity: Identity, message: Rendered) -> None:
        """Deliver a pushed message to a Telegram chat."""
        await self.send(identity.chat_id, message)

    def _photo(self, ref: str) -> str | bytes:
        """A photo to send: the bytes of one of our stored files (a /stats chart), else a Telegram file id."""
        data = self.files.read(ref)
        return data if data is not None else ref

    def messages_for(self, message: Rendered) -> int:
        """How many Telegram messages `send` makes of this message (each counts against the limits)."""
        photos = sum(1 for p in message.photos if p.kind == "photo")
        own_keyboard = message.ask_contact and bool(message.buttons)  # the inline buttons hold the text's
        return (
            min(photos, 10)
            + len(split_text(message.text))
            + (1 if message.ask_location else 0)
            + (1 if own_keyboard else 0)
        )

    async def _send_text(self, chat_id: str, text: str, markup: dict[str, Any] | None) -> None:
        """sendMessage, its answer not read into a PTB Message: nothing uses it, and parsing it cost more
        than the rest of the send (errors are raised as with send_message)."""
        data: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if markup is not None:
            data["reply_markup"] = markup
        await self.bot._post("sendMessage", data)

    async def send(self, chat_id: str, message: Rendered) -> None:
        """Send a rendered message: photos first, then text with its buttons, then a location keyboard."""
        try:
            photos = [self._photo(p.ref) for p in message.photos if p.kind == "photo"]
            try:
                if len(photos) == 1:
                    await self.bot.send_photo(chat_id, photos[0])
                elif photos:
                    await self.bot.send_media_group(chat_id, [InputMediaPhoto(ref) for ref in photos[:10]])
            except BadRequest as exc:  # a photo Telegram refuses must not hold back the text and buttons
                if "chat not found" in str(exc).lower():
                    raise
                log.warning("Telegram refused the photos for chat %s (%s); sending the text", chat_id, exc)
            chunks = split_text(message.text)
            # The share-phone keyboard rides on the text unless inline buttons hold its one keyboard.
            contact_below = message.ask_contact and not message.buttons
            for index, chunk in enumerate(chunks):
                last = index == len(chunks) - 1
                markup = keyboard(message)
                if contact_below:
                    markup = contact_keyboard(message.contact_label)
                await self._send_text(chat_id, chunk, markup if last else None)
            if message.ask_contact and not contact_below:
                await self._send_text(chat_id, message.contact_label, contact_keyboard(message.contact_label))
            if message.ask_location:
                await self._send_text(
                    chat_id, message.location_label, location_keyboard(message.location_label)
                )
        except Forbidden as exc:  # blocked by the user, or the account is gone
            raise Unreachable(str(exc)) from exc
        except RetryAfter as exc:  # 429: nothing more on this channel until retry_after has passed
            raise RetryLater(retry_seconds(exc)) from exc
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                raise Unreachable(str(exc)) from exc
            raise
