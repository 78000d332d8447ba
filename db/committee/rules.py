"""The rules of committee terms and 换届 (DESIGN §4.6), over the session and plain values.

- A term runs from `starts_on` to `ends_on`, both days inclusive, and an owners' committee's lasts at most
  five years (local rules); a 物管会 stands in only until an election, under the same cap.
- An owners' committee is made of verified owners of the compound, with at most one 主任. A 物管会 has an
  odd number of members and is chaired by a street representative (street staff over the compound).
- At most one committee is in office per compound (the `current` marker, unique per compound): installing
  a committee replaces the one in office, which then owes a 10-day handover (records, seals, accounts).
- Reminders go at 09:00 local time: 6 and 3 months before the day after the term's last day, then on that
  day (the committee leaves office) and every month after it while no committee is in office.

Each function returns the events it caused; the use cases in core/committee.py record them.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from core.events import (
    CommitteeInstalled,
    CommitteeLapsed,
    CommitteeTermReminder,
    Event,
    HandoverOpened,
    HandoverOverdue,
)
from core.permissions import Role, path_ids
from db.committee.tables import HANDOVER_ITEMS, KINDS, Committee, CommitteeMember, Handover
from db.models import Home, OrgNode, Person, Residency, RoleGrant
from db.rows import id_of

MAX_TERM_YEARS = 5
HANDOVER = timedelta(days=10)
HANDOVER_REMIND_EVERY = timedelta(days=7)
REMINDER_HOUR = 9  # pushes about a term go in office hours, never at midnight
BEFORE = {"six": 6, "three": 3}  # reminders before the end, in months
OWNER_POSTS = ("chair", "deputy", "member")
MANAGEMENT_POSTS = ("chair", "street", "community", "owner")
MAX_MEMBERS = 21


class CommitteeError(ValueError):
    """A committee rule was broken; `reason` is a short key the handlers turn into a message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Seat:
    """A person and the post they are to hold."""

    person_id: int
    post: str


# --- dates -----------------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), kept within the month (31 Aug + 6 months: 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def default_end(starts_on: date, years: int = MAX_TERM_YEARS) -> date:
    """The last day of a term of `years` from its first day."""
    return add_months(starts_on, 12 * years) - timedelta(days=1)


def check_term(starts_on: date, ends_on: date) -> None:
    """A term ends after it starts and lasts at most five years; CommitteeError otherwise."""
    if ends_on < starts_on:
        raise CommitteeError("term_order")
    if ends_on > add_months(starts_on, 12 * MAX_TERM_YEARS):
        raise CommitteeError("term_too_long")


def moment(day: date, zone: ZoneInfo) -> datetime:
    """When a reminder about a day goes: 09:00 local time on it."""
    return datetime.combine(day, time(REMINDER_HOUR), zone)


def end_day(committee: Committee) -> date:
    """The first day the committee is no longer in office."""
    return committee.ends_on + timedelta(days=1)


def reminder_at(committee: Committee, which: str, zone: ZoneInfo) -> datetime:
    """When a reminder of a committee is due: "six", "three", "end", or "lapsed" (the next monthly one)."""
    out = end_day(committee)
    if which in BEFORE:
        return moment(add_months(out, -BEFORE[which]), zone)
    if which == "end":
        return moment(out, zone)
    return moment(add_months(out, committee.lapsed_sent), zone)


def serving_on(committee: Committee, on: date) -> bool:
    """Whether a committee is in office on a day."""
    return bool(committee.current) and committee.starts_on <= on <= committee.ends_on


# --- who -------------------------------------------------------------------------------------------------


def check_seats(kind: str, seats: Sequence[Seat], owners: set[int], street: set[int]) -> None:
    """The members fit the kind of committee (see the module's rules); CommitteeError otherwise."""
    if kind not in KINDS:
        raise CommitteeError("bad_kind")
    if not seats:
        raise CommitteeError("no_members")
    if len(seats) > MAX_MEMBERS:
        raise CommitteeError("too_many")
    if len({s.person_id for s in seats}) != len(seats):
        raise CommitteeError("duplicate_member")
    chairs = [s for s in seats if s.post == "chair"]
    if kind == "owners":
        if any(s.post not in OWNER_POSTS for s in seats):
            raise CommitteeError("bad_post")
        if any(s.person_id not in owners for s in seats):
            raise CommitteeError("not_owner")
        if len(chairs) > 1:
            raise CommitteeError("two_chairs")
        return
    if any(s.post not in MANAGEMENT_POSTS for s in seats):
        raise CommitteeError("bad_post")
    if len(chairs) != 1:
        raise CommitteeError("one_chair")
    if chairs[0].person_id not in street:
        raise CommitteeError("chair_not_street")
    if len(seats) % 2 == 0:
        raise CommitteeError("even_members")


def verified_owners(session: Session, compound_id: int) -> set[int]:
    """The people who are verified owners of a home in the compound."""
    return set(
        session.exec(
            select(Residency.person_id)
            .join(Home, col(Home.id) == Residency.home_id)
            .where(Home.compound_id == compound_id, Residency.kind == "owner", Residency.status == "verified")
        ).all()
    )


@dataclass(frozen=True, slots=True)
class Owner:
    """A verified owner as a chooser lists them: the person and one of their homes in the compound."""

    person_id: int
    name: str
    building: str
    entrance: str
    number: str


def owners_of(
    session: Session, compound_id: int, building_id: int | None = None, text: str = "", limit: int = 30
) -> list[Owner]:
    """Verified owners of the compound, by building and home: in one building, or whose name has `text`."""
    query = (
        select(Person, Home)
        .join(Residency, col(Residency.person_id) == Person.id)
        .join(Home, col(Home.id) == Residency.home_id)
        .where(Home.compound_id == compound_id, Residency.kind == "owner", Residency.status == "verified")
    )
    if building_id is not None:
        query = query.where(Home.building_id == building_id)
    if text.strip():
        escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(col(Person.name).like(f"%{escaped}%", escape="\\"))
    rows = session.exec(query).all()
    ids = {h.building_id for _, h in rows} | {h.entrance_id for _, h in rows}
    names = (
        dict(session.exec(select(OrgNode.id, OrgNode.name).where(col(OrgNode.id).in_(ids))).all())
        if ids
        else {}
    )
    listed = sorted(
        (names.get(h.building_id, ""), names.get(h.entrance_id, ""), h.number, id_of(p), p.name)
        for p, h in rows
    )
    found: dict[int, Owner] = {}
    for b, e, number, person_id, name in listed:
        found.setdefault(person_id, Owner(person_id, name, b, e, number))
    return list(found.values())[:limit]


def staff_over(session: Session, compound: OrgNode, *roles: Role) -> list[int]:
    """The people holding one of the roles on the compound or a node above it."""
    return list(
        dict.fromkeys(
            session.exec(
                select(RoleGrant.person_id)
                .where(
                    col(RoleGrant.node_id).in_(path_ids(compound.path)),
                    col(RoleGrant.role).in_([r.value for r in roles]),
                )
                .order_by(col(RoleGrant.person_id))
            ).all()
        )
    )


# --- the committee in office -------------------------------------------------------------------------------


def current(session: Session, compound_id: int) -> Committee | None:
    """The committee holding the compound's office marker (its term may have run out since)."""
    return session.exec(
        select(Committee).where(Committee.compound_id == compound_id, col(Committee.current).is_(True))
    ).first()


def members(session: Session, committee_id: int) -> list[tuple[CommitteeMember, str]]:
    """A committee's members with their names, the chair first, then by post and name."""
    order = {post: i for i, post in enumerate(("chair", "deputy", "street", "community", "owner", "member"))}
    rows = session.exec(
        select(CommitteeMember, Person.name)
        .join(Person, col(Person.id) == CommitteeMember.person_id)
        .where(CommitteeMember.committee_id == committee_id)
    ).all()
    return sorted(rows, key=lambda r: (order.get(r[0].post, 9), r[1], r[0].person_id))


def open_handover(session: Session, compound_id: int) -> Handover | None:
    """The compound's latest handover still to be done."""
    return session.exec(
        select(Handover)
        .where(Handover.compound_id == compound_id, col(Handover.done_at).is_(None))
        .order_by(col(Handover.id).desc())
    ).first()


def install(
    session: Session,
    compound_id: int,
    kind: str,
    starts_on: date,
    ends_on: date,
    filed_on: date | None,
    seats: Sequence[Seat],
    now: datetime,
    zone: ZoneInfo,
    by: int | None = None,
    poll_id: int | None = None,
) -> tuple[Committee, Committee | None, list[Event]]:
    """Put a committee in office, replacing the one there (which owes a handover); returns the new one,
    the one it replaced and the events. The terms and seats are checked by the caller."""
    check_term(starts_on, ends_on)
    old = current(session, compound_id)
    events: list[Event] = []
    if old is not None:
        old.state = "ended" if old.ends_on < now.astimezone(zone).date() else "replaced"
        old.current, old.ended_at, old.next_due_at, old.next_reminder = None, now, None, ""
        session.add(old)
        session.flush()  # the marker must be free before the new committee takes it
    # A committee that ended earlier stops reminding the street: the office is filled again.
    session.exec(
        update(Committee)
        .where(col(Committee.compound_id) == compound_id, col(Committee.next_reminder) == "lapsed")
        .values(next_due_at=None, next_reminder="")
    )
    chair = next((s.person_id for s in seats if s.post == "chair"), None)
    committee = Committee(
        compound_id=compound_id,
        kind=kind,
        starts_on=starts_on,
        ends_on=ends_on,
        filed_on=filed_on,
        current=True,
        installed_by_poll_id=poll_id,
        chair_id=chair,
        created_by=by,
        created_at=now,
    )
    _schedule(committee, now, zone)
    session.add(committee)
    session.flush()
    for seat in seats:
        session.add(CommitteeMember(committee_id=id_of(committee), person_id=seat.person_id, post=seat.post))
    session.flush()
    replaced = id_of(old) if old is not None else None
    events.append(CommitteeInstalled(id_of(committee), compound_id, kind, replaced, poll_id))
    if old is not None:
        handover = Handover(
            compound_id=compound_id,
            old_committee_id=id_of(old),
            new_committee_id=id_of(committee),
            items=list(HANDOVER_ITEMS),
            created_at=now,
            due_at=now + HANDOVER,
            next_due_at=now + HANDOVER,
        )
        session.add(handover)
        session.flush()
        events.append(HandoverOpened(id_of(handover)))
    return committee, old, events


def _schedule(committee: Committee, now: datetime, zone: ZoneInfo) -> None:
    """The committee's first reminder still ahead (a committee set late skips those already past)."""
    for which in ("six", "three", "end"):
        at = reminder_at(committee, which, zone)
        if at > now:
            committee.next_reminder, committee.next_due_at = which, at
            return
    committee.next_reminder, committee.next_due_at = "end", now  # its term is already over: end it now


def end(committee: Committee, now: datetime) -> None:
    """Take a committee out of office at the end of its term."""
    committee.state, committee.current, committee.ended_at = "ended", None, now


def step(session: Session, committee: Committee, now: datetime, zone: ZoneInfo) -> tuple[str, list[Event]]:
    """Apply the committee's due reminder once; returns what was done ("six", "three", "ended", "lapsed",
    "" for nothing) and the events. A late run sends the latest reminder due, never two at once."""
    which = committee.next_reminder
    if committee.next_due_at is None or now < committee.next_due_at or not which:
        return "", []
    compound_id = committee.compound_id
    if which in BEFORE:
        if not committee.current:
            committee.next_reminder, committee.next_due_at = "", None
            return "", []
        if reminder_at(committee, "end", zone) <= now:
            which = "end"  # down past the end: the term is over, say that instead
        else:
            if which == "six" and reminder_at(committee, "three", zone) <= now:
                which = "three"
            after = "three" if which == "six" else "end"
            committee.next_reminder, committee.next_due_at = after, reminder_at(committee, after, zone)
            return which, [CommitteeTermReminder(id_of(committee), compound_id, BEFORE[which])]
    done = "lapsed"
    if which == "end":
        done = "ended"
        if committee.current:
            end(committee, now)
    filled = current(session, compound_id)
    if filled is not None and filled.id != committee.id:
        committee.next_reminder, committee.next_due_at = "", None
        return done if which == "end" else "", []
    # Months since the end, counting this one; a run that was down for months sends one, not many.
    out = end_day(committee)
    months = 0
    while moment(add_months(out, months + 1), zone) <= now:
        months += 1
    committee.lapsed_sent = months + 1
    committee.next_reminder, committee.next_due_at = "lapsed", reminder_at(committee, "lapsed", zone)
    return done, [CommitteeLapsed(id_of(committee), compound_id, months)]


# --- the handover ----------------------------------------------------------------------------------------


def handover_step(handover: Handover, now: datetime) -> tuple[str, list[Event]]:
    """Remind community staff of an overdue handover, once a week from its deadline until it is done."""
    if handover.done_at is not None:
        handover.next_due_at = None
        return "", []
    if now < handover.due_at:
        handover.next_due_at = handover.due_at
        return "", []
    weeks = (now - handover.due_at) // HANDOVER_REMIND_EVERY + 1
    handover.next_due_at = handover.due_at + HANDOVER_REMIND_EVERY * weeks
    if weeks <= handover.reminders_sent:
        return "", []
    handover.reminders_sent = weeks
    days_late = (now - handover.due_at).days
    return "handover_overdue", [HandoverOverdue(id_of(handover), days_late)]


def finish_handover(handover: Handover, now: datetime, by: int | None) -> None:
    """Mark the handover done; CommitteeError("handover_done") when it already is."""
    if handover.done_at is not None:
        raise CommitteeError("handover_done")
    handover.done_at, handover.done_by, handover.next_due_at = now, by, None
