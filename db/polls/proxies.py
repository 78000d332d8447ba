"""Proxies' rules (DESIGN §4.8): offers and their one-time codes, claims, revocation, and which homes a
person may vote for as a proxy in a poll.

An offer is a `poll_proxy` row for one home, for one poll (`poll_id`) or for a term of days
(`starts_on`..`ends_on`, both inclusive, in the compound's local calendar). Its claim code is shown once
and only its hash is kept; whoever sends the code within `CLAIM_WINDOW` becomes the proxy. A claimed,
unrevoked proxy is *active* while its poll is announced or open, or while its term has not ended.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from db.models import Home, OrgNode, Person, Poll, PollHome, PollProxy, PollVoter, Residency, RoleGrant
from db.polls.terms import OPEN_STATES, PollError, in_scope, readable_code, typed_code
from db.rows import id_of

CLAIM_WINDOW = timedelta(days=7)  # an unclaimed code stops working after this
MAX_TERM_YEARS = 3  # a term proxy lasts at most this long (a committee's term is at most five)
MAX_NAME = 50  # the proxy's name as written (the column's size)
CLAIM_GROUPS = (4, 4)  # read aloud over the phone: two groups of four
SOURCES = ("owner", "letter")
OWNER, TENANT, VERIFIED = "owner", "tenant", "verified"


# --- the claim code -----------------------------------------------------------------------------------


def new_code() -> str:
    """A claim code the owner forwards: 8 characters easy to read aloud (no 0/O, 1/I), in two groups."""
    return readable_code(CLAIM_GROUPS)


def normalise_code(text: str) -> str:
    """A typed claim code in its printed form (case, spaces and dashes forgiven); "" if malformed."""
    return typed_code(text, CLAIM_GROUPS)


def code_hash(code: str) -> str:
    """What is stored of a claim code: its sha256 (the code itself is shown once and never kept)."""
    return hashlib.sha256(f"linli-proxy|{normalise_code(code)}".encode()).hexdigest()


# --- who owns what --------------------------------------------------------------------------------------


def owners_of(session: Session, home_id: int) -> list[int]:
    """The verified owners of a home, by person id."""
    return list(
        session.exec(
            select(Residency.person_id).where(
                Residency.home_id == home_id, Residency.kind == OWNER, Residency.status == VERIFIED
            )
        ).all()
    )


def owned_homes(session: Session, person_id: int) -> list[int]:
    """The homes a person is a verified owner of, by id."""
    return list(
        session.exec(
            select(Residency.home_id)
            .where(Residency.person_id == person_id, Residency.kind == OWNER, Residency.status == VERIFIED)
            .order_by(col(Residency.home_id))
        ).all()
    )


def lives_in(session: Session, home_id: int, person_id: int) -> bool:
    """Whether the person has any residency in the home (a tenant, or an owner not yet verified)."""
    return (
        session.exec(
            select(Residency.id).where(Residency.home_id == home_id, Residency.person_id == person_id)
        ).first()
        is not None
    )


# --- which polls and terms -------------------------------------------------------------------------------


def covers_home(session: Session, poll: Poll, home: Home) -> bool:
    """Whether the home votes in the poll: the frozen electorate once open, else the poll's scope."""
    if poll.state == "open":
        return session.get(PollHome, (id_of(poll), id_of(home))) is not None
    return in_scope(poll, home)


def polls_over(session: Session, home: Home) -> list[Poll]:
    """The announced and open polls the home votes in, soonest closing first."""
    found = session.exec(
        select(Poll)
        .where(Poll.node_id == home.compound_id, col(Poll.state).in_(OPEN_STATES))
        .order_by(col(Poll.closes_at), col(Poll.id))
    ).all()
    return [p for p in found if covers_home(session, p, home)]


def running_polls(session: Session) -> list[Poll]:
    """Every announced and open poll, soonest closing first."""
    return list(
        session.exec(
            select(Poll).where(col(Poll.state).in_(OPEN_STATES)).order_by(col(Poll.closes_at), col(Poll.id))
        ).all()
    )


def check_term(starts_on: date, ends_on: date, today: date) -> None:
    """A term runs forward from today at the earliest, ends on or after its start, and lasts at most
    `MAX_TERM_YEARS` years; PollError("term") otherwise."""
    if starts_on < today or ends_on < starts_on:
        raise PollError("term")
    try:
        limit = starts_on.replace(year=starts_on.year + MAX_TERM_YEARS)
    except ValueError:  # 29 February
        limit = starts_on.replace(year=starts_on.year + MAX_TERM_YEARS, day=28)
    if ends_on >= limit:
        raise PollError("term")


def clean_name(name: str) -> str:
    """The proxy's name as written: one line, trimmed; PollError("name") when empty or too long."""
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME:
        raise PollError("name")
    return cleaned


# --- offering, claiming, revoking ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Terms:
    """What an offer is for: one poll, or a term of days (exactly one of them)."""

    poll: Poll | None = None
    term: tuple[date, date] | None = None


def create(
    session: Session,
    home: Home,
    terms: Terms,
    proxy_name: str,
    source: str,
    granted_by: int,
    photo: tuple[str, str],
    now: datetime,
    today: date,
) -> tuple[PollProxy, str]:
    """Write an offer and return it with its claim code (the only time the code exists in clear).

    Refusals: "term" (neither or both of poll and term, or a bad term), "poll" (a poll that is not
    announced or open, or does not cover the home), "name", "photo" (a letter without its photo)."""
    if (terms.poll is None) == (terms.term is None) or source not in SOURCES:
        raise PollError("term")
    poll = terms.poll
    if poll is not None and (poll.state not in OPEN_STATES or not covers_home(session, poll, home)):
        raise PollError("poll")
    if terms.term is not None:
        check_term(*terms.term, today)
    name = clean_name(proxy_name)
    if source == "letter" and not photo[1]:
        raise PollError("photo")
    code = new_code()
    proxy = PollProxy(
        compound_id=home.compound_id,
        home_id=id_of(home),
        poll_id=id_of(terms.poll) if terms.poll is not None else None,
        starts_on=terms.term[0] if terms.term else None,
        ends_on=terms.term[1] if terms.term else None,
        proxy_name=name,
        code_hash=code_hash(code),
        code_expires_at=now + CLAIM_WINDOW,
        source=source,
        granted_by=granted_by,
        photo_channel=photo[0][:16],
        photo_ref=photo[1][:200],
        created_at=now,
    )
    session.add(proxy)
    session.flush()
    return proxy, code


def by_code(session: Session, code: str) -> PollProxy | None:
    """The offer a claim code belongs to, locked for the claim (None: malformed or unknown)."""
    if not normalise_code(code):
        return None
    return session.exec(
        select(PollProxy).where(PollProxy.code_hash == code_hash(code)).with_for_update()
    ).first()


def lock(session: Session, proxy_id: int) -> PollProxy | None:
    """A proxy row locked for a change, read afresh."""
    return session.get(PollProxy, proxy_id, with_for_update=True, populate_existing=True)


def take(session: Session, proxy: PollProxy, person_id: int, now: datetime, today: date) -> None:
    """The person claims the offer. Refusals: "revoked", "claimed" (once only), "expired" (the code's week
    is over), "self" (the person who granted it), "poll" (its poll is over), "term" (its term ended)."""
    if proxy.revoked_at is not None:
        raise PollError("revoked")
    if proxy.proxy_id is not None:
        raise PollError("claimed")
    if proxy.code_expires_at is None or now >= proxy.code_expires_at:
        raise PollError("expired")
    if person_id == proxy.granted_by:
        raise PollError("self")
    if proxy.poll_id is not None:
        poll = session.get(Poll, proxy.poll_id)
        if poll is None or poll.state not in OPEN_STATES:
            raise PollError("poll")
    elif proxy.ends_on is not None and proxy.ends_on < today:
        raise PollError("term")
    proxy.proxy_id, proxy.claimed_at = person_id, now
    session.add(proxy)
    session.flush()


def cancel(session: Session, proxy: PollProxy, by: int, now: datetime) -> None:
    """Revoke a proxy from now on (PollError "revoked" when it already is); a ballot cast stands."""
    if proxy.revoked_at is not None:
        raise PollError("revoked")
    proxy.revoked_at, proxy.revoked_by = now, by
    session.add(proxy)
    session.flush()


# --- what holds now -----------------------------------------------------------------------------------


def local_day(now: datetime, zone: tzinfo | None) -> date:
    """The calendar day a moment falls on where the compound is (UTC when no zone is given)."""
    return now.astimezone(zone or UTC).date()


def state_of(proxy: PollProxy, poll_state: str | None, now: datetime, today: date) -> str:
    """offered (waiting for its code), active, revoked, or ended (its code expired unclaimed, its poll is
    over, or its term has ended)."""
    if proxy.revoked_at is not None:
        return "revoked"
    if proxy.poll_id is not None:
        over = poll_state not in OPEN_STATES
    else:
        over = proxy.ends_on is None or proxy.ends_on < today
    if over:
        return "ended"
    if proxy.proxy_id is None:
        expired = proxy.code_expires_at is None or now >= proxy.code_expires_at
        return "ended" if expired else "offered"
    return "active"


def _live(today: date) -> list[Any]:
    """Conditions of a claimed, unrevoked proxy whose poll is announced or open or whose term runs today."""
    running = select(Poll.id).where(col(Poll.state).in_(OPEN_STATES))
    return [
        col(PollProxy.proxy_id).is_not(None),
        col(PollProxy.revoked_at).is_(None),
        or_(
            col(PollProxy.poll_id).in_(running),
            (col(PollProxy.poll_id).is_(None))
            & (col(PollProxy.starts_on) <= today)
            & (col(PollProxy.ends_on) >= today),
        ),
    ]


def active_homes(session: Session, compound_id: int, person_id: int, today: date) -> int:
    """How many homes of the compound the person holds an active proxy for."""
    return int(
        session.exec(
            select(func.count(func.distinct(PollProxy.home_id))).where(
                PollProxy.compound_id == compound_id, PollProxy.proxy_id == person_id, *_live(today)
            )
        ).one()
    )


def over_limit(session: Session, compound_id: int, limit: int, today: date) -> list[tuple[int, str, int]]:
    """Holders of active proxies for more than `limit` homes of the compound: (person id, name, homes),
    most homes first."""
    homes = func.count(func.distinct(PollProxy.home_id))
    rows = session.exec(
        select(PollProxy.proxy_id, Person.name, homes)
        .join(Person, col(Person.id) == PollProxy.proxy_id)
        .where(PollProxy.compound_id == compound_id, *_live(today))
        .group_by(col(PollProxy.proxy_id), col(Person.name))
        .having(homes > limit)
        .order_by(homes.desc(), col(PollProxy.proxy_id))
    ).all()
    return [(int(p), str(n), int(h)) for p, n, h in rows if p is not None]


def homes_for(
    session: Session, poll: Poll, person_id: int, now: datetime, zone: tzinfo | None = None
) -> list[int]:
    """The homes of the poll's electorate the person may vote for as a proxy now (claimed, not revoked, for
    this poll or a term covering the day), by home id.

    The day is `now`'s calendar day in `zone`, the compound's configured time zone (UTC when none is
    given); the electorate is the frozen one once the poll is open, else the homes in its scope."""
    today = local_day(now, zone)
    found = session.exec(
        select(PollProxy.home_id, PollProxy.source, PollProxy.granted_by)
        .where(
            PollProxy.compound_id == poll.node_id,
            PollProxy.proxy_id == person_id,
            col(PollProxy.revoked_at).is_(None),
            or_(
                col(PollProxy.poll_id) == poll.id,
                (col(PollProxy.poll_id).is_(None))
                & (col(PollProxy.starts_on) <= today)
                & (col(PollProxy.ends_on) >= today),
            ),
        )
        .distinct()
    ).all()
    home_ids = sorted({home_id for home_id, _, _ in found})
    if not home_ids:
        return []
    if poll.state == "open":
        units = dict(
            session.exec(
                select(PollHome.home_id, PollHome.unit).where(
                    PollHome.poll_id == poll.id, col(PollHome.home_id).in_(home_ids)
                )
            ).all()
        )
        # An owner's proxy stands only while its grantor is one of the owners this poll counts for that home:
        # a seller's proxy, or one named by an owner verified after voting opened, casts nothing. A letter
        # entered by staff stands on its own (the owner need not be registered here).
        voters = set(
            session.exec(
                select(PollVoter.person_id, PollVoter.unit).where(
                    PollVoter.poll_id == poll.id,
                    col(PollVoter.person_id).in_({g for _, source, g in found if source == "owner"} or {0}),
                )
            ).all()
        )
        return sorted(
            {
                home_id
                for home_id, source, granted_by in found
                if home_id in units and (source != "owner" or (granted_by, units[home_id]) in voters)
            }
        )
    homes = session.exec(select(Home).where(col(Home.id).in_(home_ids))).all()
    return sorted(id_of(h) for h in homes if in_scope(poll, h))


def granted_by_or_over(session: Session, person_id: int, limit: int = 30) -> list[PollProxy]:
    """Proxies the person granted, or over homes they own (a co-owner sees the spouse's), newest first."""
    homes = owned_homes(session, person_id)
    condition = col(PollProxy.granted_by) == person_id
    if homes:
        condition = or_(condition, col(PollProxy.home_id).in_(homes))
    return list(
        session.exec(select(PollProxy).where(condition).order_by(col(PollProxy.id).desc()).limit(limit)).all()
    )


def held_by(session: Session, person_id: int, limit: int = 30) -> list[PollProxy]:
    """Proxies the person claimed, newest first."""
    return list(
        session.exec(
            select(PollProxy)
            .where(PollProxy.proxy_id == person_id)
            .order_by(col(PollProxy.id).desc())
            .limit(limit)
        ).all()
    )


def in_compound(session: Session, compound_id: int, limit: int = 30) -> list[PollProxy]:
    """The compound's unrevoked proxies, newest first (staff's list)."""
    return list(
        session.exec(
            select(PollProxy)
            .where(PollProxy.compound_id == compound_id, col(PollProxy.revoked_at).is_(None))
            .order_by(col(PollProxy.id).desc())
            .limit(limit)
        ).all()
    )


# --- finding a home and the staff ------------------------------------------------------------------------


def children(session: Session, parent_id: int, only: list[int] | None = None) -> list[OrgNode]:
    """An org node's children by name (buildings of a compound, entrances of a building); `only` limits
    them to those ids when given and not empty."""
    query = select(OrgNode).where(OrgNode.parent_id == parent_id)
    if only:
        query = query.where(col(OrgNode.id).in_(only))
    return list(session.exec(query.order_by(col(OrgNode.name), col(OrgNode.id))).all())


def homes_of_entrance(session: Session, entrance_id: int) -> list[Home]:
    """An entrance's homes by number."""
    return list(
        session.exec(select(Home).where(Home.entrance_id == entrance_id).order_by(col(Home.number))).all()
    )


def staff_over(session: Session, compound: OrgNode, roles: tuple[str, ...], committee: str) -> list[int]:
    """People holding one of the roles on the compound or a node above it; the owners' committee role
    (`committee`) counts only when granted on the compound itself."""
    ids = [int(part) for part in compound.path.strip("/").split("/") if part]
    rows = session.exec(
        select(RoleGrant.person_id, RoleGrant.role, RoleGrant.node_id).where(
            col(RoleGrant.node_id).in_(ids), col(RoleGrant.role).in_(list(roles))
        )
    ).all()
    return sorted({p for p, role, node in rows if role != committee or node == compound.id})
