"""The core every channel calls: record an Inbound once, run the handlers, commit, render the answers."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.clock import Clock
from bot.render import Renderer
from bot.sent_marks import SentMarks
from db import conversations, outbox, people, turns
from db import inbound as inbound_log
from db.categories import Catalog
from db.models import InboundLog
from db.policy import Library
from db.rows import table_of
from db.sla import Policy
from handlers import router
from handlers.context import Context
from handlers.types import Inbound, Rendered, Reply

log = logging.getLogger(__name__)
Keep = Callable[[Session, int, list[Rendered]], None]


@dataclass(slots=True)
class Outcome:
    """What one Inbound produced: rendered replies for the sender, and whether others got pushes."""

    replies: list[Rendered] = field(default_factory=list)
    identity_id: int | None = None
    duplicate: bool = False
    pushed: bool = False
    reply_ids: list[int] = field(default_factory=list)  # the replies' outbox rows, when leased


class Service:
    """Turns Inbounds into committed changes and rendered Replies; knows no channel SDK."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        renderer: Renderer,
        catalog: Catalog,
        policy: Policy,
        clock: Clock,
        default_locale: str = "zh_CN",
        public_url: str = "",
        files_dir: Path | None = None,
        library: Library | None = None,
        seal_key: bytes = b"",
    ) -> None:
        self.sessions = sessions
        self.renderer = renderer
        self.catalog = catalog
        self.policy = policy
        self.clock = clock
        self.default_locale = default_locale
        self.public_url = public_url
        self.files_dir = files_dir
        self.library = library
        self.seal_key = seal_key
        self.on_push: Callable[[], None] | None = None
        self.sent = SentMarks()  # answers that left, marked sent with the next intake or dispatcher lease

    def store(self, channel: str, update_id: str, payload: dict[str, Any]) -> int | None:
        """Write an update to the inbound log before it is acknowledged; None when already stored."""
        with self.sessions() as session:
            now = self.clock.now()
            with self.sent.written(session, now):
                log_id = inbound_log.store(session, channel, update_id, payload, now)
                session.commit()
            return log_id

    def store_many(self, channel: str, items: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Store a batch of updates in one transaction; returns the ids that were new."""
        with self.sessions() as session:
            now = self.clock.now()
            with self.sent.written(session, now):
                fresh = inbound_log.store_batch(session, channel, items, now)
                session.commit()
        return fresh

    def _claim(self, session: Session, inbound: Inbound, payload: dict[str, Any] | None = None) -> bool:
        """Mark the update processed in this transaction; False when it was processed before."""
        connection = session.connection()
        now = self.clock.now()
        params = {"b_channel": inbound.channel, "b_update_id": inbound.update_id, "b_now": now}
        if connection.execute(_CLAIM, params).rowcount == 1:
            return True  # stored before it was acknowledged (Telegram), now claimed
        # Not stored yet (the web chat answers in the same request; a WeChat callback whose turn starts at
        # once): insert it as processed, unless a row exists already, which means an earlier delivery was
        # processed.
        insert = _INSERT_PG if connection.dialect.name == "postgresql" else _INSERT_SQLITE
        params["b_payload"] = payload or {}
        return connection.execute(insert, params).first() is not None  # rowcount is -1 here on psycopg

    def handle(
        self,
        inbound: Inbound,
        keep: Keep | None = None,
        reply_lease: timedelta | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Outcome:
        """Process one Inbound exactly once and return the rendered replies for its sender.

        `keep`, when given, runs in the same transaction with the identity id and the rendered replies, so
        a channel that keeps its own history (the web chat) can never show less than what was committed.
        With `reply_lease`, the replies are also written to the outbox in that transaction, leased to the
        caller for that long: the caller sends them and says so (`replies_sent`); if it dies first, the
        dispatcher sends them when the lease runs out, so no committed answer is lost.
        A person's turns run one at a time, in every process: their row is locked for the turn.
        An update not stored before is written to the inbound log in the turn's transaction (as processed,
        with `payload`), so it is stored once the outcome is returned.
        """
        try:
            return self._handle(inbound, keep, reply_lease, payload)
        except Exception:
            log.exception("handling %s update %s failed", inbound.channel, inbound.update_id)
            return self._failed(inbound, keep, reply_lease, payload)

    def replies_sent(self, ids: list[int]) -> None:
        """Note a turn's durable replies as delivered; they are marked sent in the next intake store or
        dispatcher lease (see `SentMarks`), or by `flush_sent`. Does no I/O: call it on the event loop."""
        self.sent.add(ids)

    def flush_sent(self) -> None:
        """Mark the delivered replies noted so far as sent, in a transaction of their own (at shutdown)."""
        if len(self.sent):
            with self.sessions() as session, self.sent.written(session, self.clock.now()):
                session.commit()

    def replies_unreachable(self, ids: list[int]) -> None:
        """Close a turn's durable replies that can never arrive (the person blocked the bot)."""
        with self.sessions() as session:
            for outbox_id in ids:
                outbox.mark_status(session, outbox_id, "unreachable", "blocked the bot")
            session.commit()

    def _handle(
        self,
        inbound: Inbound,
        keep: Keep | None,
        reply_lease: timedelta | None,
        payload: dict[str, Any] | None,
    ) -> Outcome:
        with self.sessions() as session:
            now = self.clock.now()
            if inbound.update_id and not self._claim(session, inbound, payload):
                session.rollback()
                return Outcome(duplicate=True)
            # The person's row is locked for the turn: a double press in two processes runs one at a time.
            who, state = turns.begin(
                session,
                inbound.channel,
                inbound.user_ref,
                inbound.chat_ref,
                inbound.display_name,
                self.default_locale,
                now,
            )
            before = conversations.State(
                state.flow, state.step, copy.deepcopy(state.data), copy.deepcopy(state.parked)
            )
            ctx = Context(
                session,
                who,
                state,
                now,
                self.catalog,
                self.policy,
                self.public_url,
                files_dir=self.files_dir,
                library=self.library,
                seal_key=self.seal_key,
            )
            replies = router.handle(ctx, inbound)
            ctx.publish()
            conversations.save_state(session, who.person_id, state, before, now)
            rendered = [self.renderer.render(r, who.locale) for r in replies]
            if inbound.update_id and any(r.secret for r in replies):
                # What a secret ballot chose must not stay in our logs beside who pressed the button.
                session.connection().execute(
                    _FORGET, {"b_channel": inbound.channel, "b_update_id": inbound.update_id}
                )
            if keep is not None:
                keep(session, who.identity_id, rendered)
            reply_ids = self._lease_replies(session, who, rendered, now, reply_lease)
            with self.sent.written(session, now):  # a channel that stores no update first has no other
                session.commit()  # committed before the resident sees any code or confirmation
            pushed = outbox.pushes_waiting(session)
            outcome = Outcome(rendered, who.identity_id, pushed=pushed, reply_ids=reply_ids)
        if outcome.pushed and self.on_push is not None:
            self.on_push()
        return outcome

    def _lease_replies(
        self,
        session: Session,
        who: people.Who,
        rendered: list[Rendered],
        now: datetime,
        lease: timedelta | None,
    ) -> list[int]:
        if lease is None or not rendered:
            return []
        # A secret reply is never written down: should the live send fail, the outbox later says only that
        # it could not be delivered (not the placeholder, which claims it was shown).
        kept = [
            {"text": self.renderer.render(Reply("common.secret_undelivered"), who.locale).text}
            if message.redacted
            else message.kept()
            for message in rendered
        ]
        return outbox.enqueue_replies(session, who.person_id, who.identity_id, kept, now, now + lease)

    def _failed(
        self,
        inbound: Inbound,
        keep: Keep | None,
        reply_lease: timedelta | None,
        payload: dict[str, Any] | None = None,
    ) -> Outcome:
        """After an unexpected error: mark the update done so it cannot crash us again, and apologise."""
        with self.sessions() as session:
            if inbound.update_id:
                self._claim(session, inbound, payload)
            who = people.find_or_create_person(
                session,
                inbound.channel,
                inbound.user_ref,
                inbound.chat_ref,
                inbound.display_name,
                self.default_locale,
                self.clock.now(),
            )
            apology = [self.renderer.render(Reply("common.error"), who.locale)]
            flow = conversations.load_state(session, who.person_id).flow
            if inbound.update_id and router.may_hold_a_secret(inbound, flow):
                # The failed press may have been a secret ballot's choice: keep neither it nor its label.
                session.connection().execute(
                    _FORGET, {"b_channel": inbound.channel, "b_update_id": inbound.update_id}
                )
                apology = [replace(message, redacted=message.text) for message in apology]
            if keep is not None:
                try:
                    with session.begin_nested():
                        keep(session, who.identity_id, apology)
                except Exception:
                    log.exception("keeping the apology for %s failed", inbound.update_id)
            now = self.clock.now()
            reply_ids = self._lease_replies(session, who, apology, now, reply_lease)
            session.commit()
            return Outcome(apology, who.identity_id, reply_ids=reply_ids)


# Built once: these run on every turn, and building a statement costs more than running it on SQLite.
_LOG = table_of(InboundLog)
_CLAIM = (
    update(_LOG)
    .where(
        _LOG.c.channel == bindparam("b_channel"),
        _LOG.c.update_id == bindparam("b_update_id"),
        _LOG.c.processed_at.is_(None),
    )
    .values(processed_at=bindparam("b_now"))
)


_FORGET = (
    update(_LOG)
    .where(_LOG.c.channel == bindparam("b_channel"), _LOG.c.update_id == bindparam("b_update_id"))
    .values(payload={})
)


def _insert_processed(insert: Any) -> Any:
    return (
        insert(_LOG)
        .values(
            channel=bindparam("b_channel"),
            update_id=bindparam("b_update_id"),
            payload=bindparam("b_payload", type_=_LOG.c.payload.type),
            received_at=bindparam("b_now"),
            processed_at=bindparam("b_now"),
        )
        .on_conflict_do_nothing(index_elements=["channel", "update_id"])
        .returning(_LOG.c.id)
    )


_INSERT_PG = _insert_processed(pg_insert)
_INSERT_SQLITE = _insert_processed(sqlite_insert)
