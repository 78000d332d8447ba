"""Notices: publish one, list what concerns a person, view, acknowledge, cancel, remind, the delivery
report, and muting kinds of notice.

Each use case runs in the turn's `Work`, asks the permission policy once whether the actor may send
notices over the place concerned, calls the rules in db.notices and records their events; the notify
layer turns those into pushes. A refusal is a `NoticeError` with a short `reason` the chat turns into a
message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core import audit
from core.permissions import VERIFIED, Action, Actor, acting_role, grants_for, may, place
from core.work import Work
from db import notices
from db.models import Notice, OrgNode
from db.notices import NoticeError as NoticeError  # the use cases' refusals, as the rules raise them
from db.rows import id_of


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """A notice as its author asks to publish it."""

    kind: str
    title: str
    body: str
    node_id: int
    buildings: tuple[int, ...] = ()
    roles: tuple[str, ...] = notices.DEFAULT_ROLES
    send_at: datetime | None = None  # None: now
    publicity_until: datetime | None = None
    ack_required: bool = False
    attachment: tuple[str, str, str] | None = None  # kind, channel, file reference


@dataclass(frozen=True, slots=True)
class Preview:
    """Whom a draft would reach and when: the recipients, those left out for muting its kind, and when
    its pushes go (None: at once; `held`: later than asked, for quiet hours)."""

    audience: int
    muted: int
    goes_at: datetime | None
    held: bool


@dataclass(frozen=True, slots=True)
class Published:
    """A notice written: its id, how many it reaches, when its pushes go (None: at once)."""

    notice_id: int
    audience: int
    goes_at: datetime | None


@dataclass(frozen=True, slots=True)
class Seen:
    """A notice that reached the person, and whether they acknowledged it."""

    notice: Notice
    acked: bool


@dataclass(frozen=True, slots=True)
class Managed:
    """A notice under the staff member's jurisdiction, with its place and its delivery report."""

    notice: Notice
    place: str
    counts: dict[str, int]
    waiting: list[notices.Waiting] = field(default_factory=list)  # not acknowledged yet (names masked)


@dataclass(frozen=True, slots=True)
class Board:
    """What `/notices` shows a person: the notices they manage (None: they send none) and those that
    reached them (None: not shown, for staff who live nowhere)."""

    managed: list[Managed] | None
    seen: list[Seen] | None


@dataclass(frozen=True, slots=True)
class Viewed:
    """A notice opened: whether it reached the viewer, and whether they acknowledged it."""

    notice: Notice
    mine: bool
    acked: bool


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """An acknowledgement: the notice's title, and whether it was recorded now (not before)."""

    title: str
    fresh: bool


@dataclass(frozen=True, slots=True)
class MuteState:
    """One kind of notice for one person: muted or not, and whether it may be muted at all."""

    kind: str
    muted: bool
    mutable: bool


# --- who may send where -------------------------------------------------------------------------------


def jurisdiction(work: Work, actor: Actor) -> list[OrgNode]:
    """The nodes the actor may send notices over, outermost first (empty: they send none)."""
    nodes = [work.session.get(OrgNode, g.node_id) for g in grants_for(actor, Action.SEND_NOTICE)]
    unique = {n.id: n for n in nodes if n is not None}
    return sorted(unique.values(), key=lambda n: (len(n.path), n.name))


def may_send(actor: Actor, node: OrgNode) -> bool:
    """Whether the actor may send notices over the node (and manage those sent there)."""
    return may(actor, Action.SEND_NOTICE, place(node.path))


def _managed(work: Work, actor: Actor, notice_id: int) -> Notice:
    """A notice the actor may manage (cancel, remind, see the report of)."""
    notice = work.session.get(Notice, notice_id)
    if notice is None:
        raise NoticeError("not_found")
    node = work.session.get(OrgNode, notice.node_id)
    if node is None or not may_send(actor, node):
        raise NoticeError("not_allowed")
    return notice


def _audit(
    work: Work,
    actor: Actor,
    action: str,
    notice: Notice,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Note a staff action on a notice in the audit log, under the node it was sent over."""
    node = work.session.get(OrgNode, notice.node_id)
    path = node.path if node is not None else ""
    role = acting_role(actor, Action.SEND_NOTICE, place(path)) if path else None
    audit.record(work, actor, role.value if role else "", action, "notice", notice.id, path, before, after)


def _person(actor: Actor) -> int:
    """The person acting; the system reads no notices and mutes nothing."""
    if actor.person_id is None:
        raise NoticeError("not_recipient")
    return actor.person_id


# --- writing -----------------------------------------------------------------------------------------


def places(work: Work, actor: Actor) -> list[OrgNode]:
    """Every node the actor may send notices over, down to compounds (buildings are chosen under a
    compound), in tree order."""
    return notices.places_under(work.session, jurisdiction(work, actor))


def check_notice(work: Work, actor: Actor, draft: NoticeDraft) -> None:
    """Check a draft as publishing would (NoticeError naming the first rule broken), without writing."""
    node = work.session.get(OrgNode, draft.node_id)
    if node is None:
        raise NoticeError("node")
    if not may_send(actor, node):
        raise NoticeError("not_allowed")
    notices.check(
        work.session,
        draft.kind,
        draft.title,
        draft.body,
        draft.node_id,
        list(draft.buildings),
        list(draft.roles),
        draft.send_at,
        draft.publicity_until,
        work.now,
    )


def preview_notice(work: Work, draft: NoticeDraft) -> Preview:
    """Whom the draft would reach now and when its pushes would go."""
    everyone = notices.audience(work.session, draft.node_id, list(draft.buildings), list(draft.roles))
    reached = notices.recipients(
        work.session, draft.node_id, list(draft.buildings), list(draft.roles), draft.kind
    )
    send_at = max(draft.send_at or work.now, work.now)
    urgent = draft.kind in notices.URGENT_KINDS
    goes = notices.release_time(urgent, send_at, work.now, work.policy)
    return Preview(
        len(reached), len(everyone) - len(reached), goes, bool(goes and not urgent and goes > send_at)
    )


def publish_notice(work: Work, actor: Actor, draft: NoticeDraft) -> Published:
    """Write a notice over a node the actor may send to; its recipients are told when the work publishes."""
    node = work.session.get(OrgNode, draft.node_id)
    if node is None:
        raise NoticeError("node")
    if not may_send(actor, node):
        raise NoticeError("not_allowed")
    notice, published = notices.create(
        work.session,
        actor.person_id,
        draft.kind,
        draft.title,
        draft.body,
        draft.node_id,
        list(draft.buildings),
        list(draft.roles),
        draft.send_at,
        draft.publicity_until,
        draft.ack_required,
        draft.attachment,
        work.now,
    )
    work.record(published)
    goes = notices.release_time(notice.urgent, notice.send_at, work.now, work.policy)
    after = {
        "kind": notice.kind,
        "title": notice.title,
        "audience": notice.audience_size,
        "send_at": notice.send_at.isoformat(),
        "ack_required": notice.ack_required,
    }
    _audit(work, actor, "notice.publish", notice, after=after)
    return Published(published.notice_id, notice.audience_size, goes)


# --- reading -----------------------------------------------------------------------------------------


def notices_for(work: Work, actor: Actor, limit: int = 10) -> Board:
    """`/notices`: staff get the delivery report of the latest notices under their jurisdiction;
    residents (and whoever sends none) the notices that reached them and are still on display."""
    roots = jurisdiction(work, actor)
    managed: list[Managed] | None = None
    if roots:
        managed = []
        for notice in notices.authored_under(work.session, roots, limit):
            node = work.session.get(OrgNode, notice.node_id)
            counts = notices.report(work.session, id_of(notice))
            waiting = _waiting(work, notice) if notice.ack_required else []
            managed.append(Managed(notice, node.name if node else "", counts, waiting))
    seen: list[Seen] | None = None
    if not roots or any(r.status == VERIFIED for r in actor.residences):
        person_id = _person(actor)
        shown = notices.visible(work.session, person_id, work.now, limit)
        done = notices.acked(work.session, person_id, [n.id for n in shown if n.id is not None])
        seen = [Seen(n, n.id in done) for n in shown]
    return Board(managed, seen)


def state_of(work: Work, notice: Notice) -> str:
    """A notice's state as staff read it: cancelled, scheduled (its pushes not due yet) or sent."""
    if notice.state == "cancelled":
        return "cancelled"
    waits = notices.release_time(notice.urgent, notice.send_at, work.now, work.policy)
    return "scheduled" if waits is not None else "sent"


def managed_page(work: Work, actor: Actor, limit: int = 50, after_id: int | None = None) -> list[Managed]:
    """A page of the notices under the actor's jurisdiction with their delivery counts, newest first;
    `after_id` is the last notice of the page before (it must be one they manage)."""
    roots = jurisdiction(work, actor)
    after = _managed(work, actor, after_id) if after_id is not None else None
    found = []
    for notice in notices.authored_under(work.session, roots, limit, after):
        node = work.session.get(OrgNode, notice.node_id)
        found.append(Managed(notice, node.name if node else "", notices.report(work.session, id_of(notice))))
    return found


def managed_notice(work: Work, actor: Actor, notice_id: int) -> Managed:
    """A notice the actor manages, with its place, delivery counts and who has not acknowledged it
    (names masked); NoticeError("not_found" | "not_allowed") otherwise."""
    notice = _managed(work, actor, notice_id)
    node = work.session.get(OrgNode, notice.node_id)
    counts = notices.report(work.session, notice_id)
    waiting = _waiting(work, notice) if notice.ack_required else []
    return Managed(notice, node.name if node else "", counts, waiting)


def view_notice(work: Work, actor: Actor, notice_id: int) -> Viewed:
    """A notice that reached the actor, or one they may manage; `not_found` for any other."""
    notice = work.session.get(Notice, notice_id)
    if notice is None:
        raise NoticeError("not_found")
    person_id = actor.person_id
    mine = person_id is not None and notices.is_recipient(work.session, notice_id, person_id, work.now)
    if not mine:
        node = work.session.get(OrgNode, notice.node_id)
        if node is None or not may_send(actor, node):
            raise NoticeError("not_found")
    acked = person_id is not None and bool(notices.acked(work.session, person_id, [notice_id]))
    return Viewed(notice, mine, acked)


def delivery_report(work: Work, actor: Actor, notice_id: int) -> dict[str, int]:
    """A managed notice's delivery counts: audience, sent, pending, failed, unreachable, cancelled,
    acknowledged."""
    _managed(work, actor, notice_id)
    return notices.report(work.session, notice_id)


def mask_name(name: str) -> str:
    """A resident's name as staff see it in lists: the first character, the rest starred (王**)."""
    name = name.strip()
    return name[:1] + "*" * min(len(name) - 1, 2) if name else ""


def _waiting(work: Work, notice: Notice) -> list[notices.Waiting]:
    return [replace(w, name=mask_name(w.name)) for w in notices.unacknowledged(work.session, notice)]


def unacknowledged(work: Work, actor: Actor, notice_id: int) -> list[notices.Waiting]:
    """Who has not acknowledged a managed notice, by building and home, names masked (DESIGN §3: staff
    lists show no full names of residents); empty for a notice that asks for no acknowledgement."""
    notice = _managed(work, actor, notice_id)
    return _waiting(work, notice) if notice.ack_required else []


# --- after sending -----------------------------------------------------------------------------------


def acknowledge(work: Work, actor: Actor, notice_id: int) -> Acknowledged:
    """A recipient confirms they read a notice that asks for it (once; a second time changes nothing)."""
    fresh = notices.acknowledge(work.session, notice_id, _person(actor), work.now)
    notice = work.session.get(Notice, notice_id)
    return Acknowledged(notice.title if notice else "", fresh)


def cancel_notice(work: Work, actor: Actor, notice_id: int) -> int:
    """Hold back what of a managed notice has not gone out; how many messages were held back."""
    notice = _managed(work, actor, notice_id)
    before = {"state": notice.state}
    held = notices.cancel(work.session, notice, work.now)
    _audit(work, actor, "notice.cancel", notice, before, {"state": notice.state, "held_back": held})
    return held


def remind(work: Work, actor: Actor, notice_id: int) -> int:
    """Remind everyone a managed notice reached who has not acknowledged it; how many were reminded."""
    notice = _managed(work, actor, notice_id)
    reminder = notices.remind(work.session, notice)
    work.record(reminder)
    _audit(work, actor, "notice.remind", notice, after={"reminded": len(reminder.recipients)})
    return len(reminder.recipients)


# --- muting ------------------------------------------------------------------------------------------


def mutes_of(work: Work, actor: Actor) -> list[MuteState]:
    """Every kind of notice, muted or not for the actor; safety notices cannot be muted."""
    silenced = notices.muted(work.session, _person(actor))
    return [MuteState(k, k in silenced, k not in notices.UNMUTABLE) for k in notices.KINDS]


def mute(work: Work, actor: Actor, kind: str) -> None:
    """Stop receiving a kind of notice (`kind` unknown, `not_mutable` for safety notices)."""
    notices.mute(work.session, _person(actor), kind)


def unmute(work: Work, actor: Actor, kind: str) -> None:
    """Receive a muted kind of notice again."""
    notices.unmute(work.session, _person(actor), kind)


def toggle_mute(work: Work, actor: Actor, kind: str) -> bool:
    """Mute a kind the actor receives, or receive again one they muted; whether it is muted now."""
    if kind in notices.muted(work.session, _person(actor)):
        unmute(work, actor, kind)
        return False
    mute(work, actor, kind)
    return True
