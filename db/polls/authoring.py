"""Authoring a poll: where it may run, the draft and its checks, the poll's creation with its announcement
(公示, a notice to owners and tenants in scope), and its withdrawal before voting opens.

Who may author is asked of the permission policy by the use cases (core/polls.py); these rules check the
draft itself and write what it decides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from core.events import Event, PollWithdrawn
from core.permissions import Action, Actor, grants_for, outermost
from db import notices
from db.models import Home, Notice, OrgNode, Poll
from db.org import in_subtrees
from db.polls.terms import (
    ANNOUNCED_TO,
    KINDS,
    MATTERS,
    MAX_AHEAD,
    MAX_BODY,
    MAX_CANDIDATE_NAME,
    MAX_CANDIDATES,
    MAX_REASON,
    MAX_TITLE,
    MAX_WINDOW,
    MIN_WINDOW,
    NOTICE_PERIOD,
    RESULT_PUBLICITY,
    SPECIAL_MATTERS,
    PollError,
)
from db.rows import id_of
from db.sla import Policy

GRACE = timedelta(minutes=5)  # slack on "now" and on the 15 days' notice, for a slow author


def author_compounds(session: Session, actor: Actor) -> list[OrgNode]:
    """The compounds an actor may run polls in: those the policy puts in their jurisdiction for polls."""
    paths = outermost(g.path for g in grants_for(actor, Action.RUN_POLL))
    if not paths:
        return []
    found = session.exec(
        select(OrgNode).where(OrgNode.kind == "compound", in_subtrees(col(OrgNode.path), paths))
    ).all()
    return sorted(found, key=lambda n: (n.path, n.name))


def buildings_of(session: Session, compound_id: int) -> list[OrgNode]:
    """A compound's buildings, by name."""
    return list(
        session.exec(
            select(OrgNode)
            .where(OrgNode.parent_id == compound_id, OrgNode.kind == "building")
            .order_by(col(OrgNode.name))
        ).all()
    )


@dataclass(frozen=True, slots=True)
class Draft:
    """Everything staff decide about a poll before it is announced."""

    node_id: int
    title: str
    body: str
    matter: int
    kind: str
    opens_at: datetime
    closes_at: datetime
    buildings: tuple[int, ...] = ()
    candidates: tuple[str, ...] = ()
    seats: int = 0
    secret: bool = True
    changeable: bool = False
    consultative: bool = False
    shortened_reason: str = ""
    attachment: tuple[str, str, str] | None = None  # (kind, channel, ref)


def check_terms(draft: Draft) -> tuple[str, str, tuple[str, ...], int]:
    """A draft's own terms (title, body, matter, kind, candidates, seats) checked: the trimmed title and
    body, the candidates and seats; or the PollError that names what is wrong."""
    title, body = draft.title.strip(), draft.body.strip()
    if not title or len(title) > MAX_TITLE:
        raise PollError("title")
    if not body or len(body) > MAX_BODY:
        raise PollError("body")
    if type(draft.matter) is not int or draft.matter not in MATTERS:
        raise PollError("matter")
    if draft.kind not in KINDS:
        raise PollError("kind")
    candidates = tuple(c.strip() for c in draft.candidates)
    seats = draft.seats
    if draft.kind == "election":
        if len(candidates) < 1 or len(candidates) > MAX_CANDIDATES:
            raise PollError("candidates")
        if any(not c or len(c) > MAX_CANDIDATE_NAME for c in candidates) or len(set(candidates)) != len(
            candidates
        ):
            raise PollError("candidates")
        if type(seats) is not int or not 1 <= seats <= len(candidates):
            raise PollError("seats")
    elif candidates:
        raise PollError("candidates")
    elif seats:
        raise PollError("seats")
    return title, body, candidates, seats


def compound_of(session: Session, node_id: int) -> OrgNode:
    """The compound a draft names, or PollError("node")."""
    node = session.get(OrgNode, node_id)
    if node is None or node.kind != "compound":
        raise PollError("node")
    return node


def check(session: Session, draft: Draft, now: datetime) -> Draft:
    """Validate a draft against every rule but the author's right (the use case asks the permission
    policy); returns it cleaned (trimmed texts, sorted buildings)."""
    title, body, candidates, seats = check_terms(draft)
    reason = draft.shortened_reason.strip()
    node = compound_of(session, draft.node_id)
    known = {b.id for b in buildings_of(session, id_of(node))}
    buildings = tuple(sorted(set(draft.buildings)))
    if not set(buildings) <= known:
        raise PollError("buildings")
    if draft.opens_at < now - GRACE or draft.opens_at > now + MAX_AHEAD:
        raise PollError("opens_at")
    shortened = draft.opens_at < now + NOTICE_PERIOD - GRACE
    if shortened and not reason:
        raise PollError("reason")  # a shorter notice than 15 days needs its reason stated
    if len(reason) > MAX_REASON:
        raise PollError("reason")
    if draft.attachment is not None:
        kind, channel, ref = draft.attachment
        if kind not in ("photo", "document") or not 0 < len(ref) <= 200 or not 0 < len(channel) <= 16:
            raise PollError("attachment")
    window = draft.closes_at - max(draft.opens_at, now)  # measured from when voting will really open
    if window < MIN_WINDOW or window > MAX_WINDOW:
        raise PollError("window")
    homes = session.exec(
        select(func.count())
        .select_from(Home)
        .where(Home.compound_id == node.id, *([col(Home.building_id).in_(buildings)] if buildings else []))
    ).one()
    if not homes:
        raise PollError("no_homes")
    return Draft(
        node_id=id_of(node),
        title=title,
        body=body,
        matter=draft.matter,
        kind=draft.kind,
        opens_at=max(draft.opens_at, now),
        closes_at=draft.closes_at,
        buildings=buildings,
        candidates=candidates,
        seats=seats if draft.kind == "election" else 0,
        secret=draft.secret,
        changeable=draft.changeable,
        consultative=draft.consultative,
        shortened_reason=reason if shortened else "",
        attachment=draft.attachment,
    )


def create(
    session: Session, author_id: int | None, draft: Draft, now: datetime, policy: Policy
) -> tuple[Poll, list[Event]]:
    """Write a poll and its announcement to everyone in scope (a notice), in the caller's transaction;
    returns the poll and the events raised."""
    draft = check(session, draft, now)
    kind, channel, ref = draft.attachment or ("", "", "")
    poll = Poll(
        node_id=draft.node_id,
        buildings=list(draft.buildings),
        title=draft.title,
        body=draft.body,
        attachment_kind=kind,
        attachment_channel=channel,
        attachment_ref=ref,
        matter=draft.matter,
        kind=draft.kind,
        candidates=list(draft.candidates),
        seats=draft.seats,
        secret=draft.secret,
        changeable=draft.changeable,
        consultative=draft.consultative,
        shortened_reason=draft.shortened_reason,
        author_id=author_id,
        created_at=now,
        opens_at=draft.opens_at,
        closes_at=draft.closes_at,
        state="announced",
        next_due_at=draft.opens_at,
    )
    session.add(poll)
    session.flush()
    poll.announce_notice_id, events = publish(
        session, poll, announcement(poll), poll.closes_at, draft.attachment, now, policy
    )
    session.flush()
    return poll, events


def publish(
    session: Session,
    poll: Poll,
    content: dict[str, Any],
    until: datetime,
    attachment: tuple[str, str, str] | None,
    now: datetime,
    policy: Policy,
) -> tuple[int | None, list[Event]]:
    """Publish (公示) a poll's announcement or result to owners and tenants in scope; returns the notice's
    id and the events its publication raised."""
    notice, published = notices.create(
        session,
        author_id=None,  # the author's right was checked already; committee members hold no notice grant
        kind="meeting",
        title=poll.title,
        body=poll.body,
        node_id=poll.node_id,
        buildings=list(poll.buildings),
        roles=list(ANNOUNCED_TO),
        send_at=now,
        publicity_until=until,
        ack_required=False,
        attachment=attachment,
        now=now,
        data={"poll": content},
        mutable=False,  # a legal requirement: muting meeting notices does not skip a poll's notices
    )
    return notice.id, [published]


def announcement(poll: Poll) -> dict[str, Any]:
    """The poll's terms as its notices carry them (plain values; the templates word them)."""
    return {
        "id": poll.id,
        "event": "announced",
        "matter": poll.matter,
        "special": poll.matter in SPECIAL_MATTERS,
        "kind": poll.kind,
        "candidates": list(poll.candidates),
        "seats": poll.seats,
        "secret": poll.secret,
        "changeable": poll.changeable,
        "consultative": poll.consultative,
        "shortened_reason": poll.shortened_reason,
        "opens_at": poll.opens_at.isoformat(),
        "closes_at": poll.closes_at.isoformat(),
    }


def audience_of(session: Session, notice_id: int | None) -> int:
    """How many people a poll's notice reaches (0 without one)."""
    notice = session.get(Notice, notice_id) if notice_id else None
    return notice.audience_size if notice else 0


def lock(session: Session, poll_id: int) -> Poll:
    """The poll, locked for a change and read afresh, or PollError("not_found")."""
    poll = session.get(Poll, poll_id, with_for_update=True, populate_existing=True)
    if poll is None:
        raise PollError("not_found")
    return poll


def withdraw(session: Session, poll: Poll, now: datetime, policy: Policy) -> list[Event]:
    """Withdraw a (locked) poll that has not opened yet and tell everyone who had its announcement."""
    if poll.state != "announced":
        raise PollError("not_cancellable")
    poll.state, poll.next_due_at, poll.closed_at = "cancelled", None, now
    notice = session.get(Notice, poll.announce_notice_id) if poll.announce_notice_id else None
    if notice is not None:  # the announcement is no longer on display; opened from history it says withdrawn
        notice.data = {**notice.data, "poll": {**notice.data.get("poll", {}), "cancelled": True}}
        notice.publicity_until = now
    withdrawn = {**announcement(poll), "event": "withdrawn", "cancelled": True}
    notice_id, events = publish(session, poll, withdrawn, now + RESULT_PUBLICITY, None, now, policy)
    return [*events, PollWithdrawn(id_of(poll), notice_id)]
