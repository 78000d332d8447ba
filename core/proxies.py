"""Proxies (委托, DESIGN §4.8): an owner names a proxy in chat, or staff enter a written authorisation
(委托书 photo), for one poll or for a term; the proxy claims it with a one-time code and then votes for that
home in chat; the ballot records that it was cast by proxy. A proxy holding more homes than the configured
limit is flagged to staff (`ProxyFlagged`).

Refusals are `PollError`s with a reason key: not_allowed, not_found (also a malformed or unknown code),
not_owner (a tenant or an owner not yet verified), self, expired, claimed, revoked, term, poll, name, photo.
Letters entered and proxies revoked by staff are written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core import audit
from core.events import ProxyFlagged
from core.permissions import Action, Actor, acting_role, may, place
from core.work import Work
from db import people
from db.committee.rules import current as current_committee
from db.models import Home, OrgNode, Person, Poll, PollProxy
from db.polls import proxies as rules
from db.polls.terms import PollError
from db.rows import id_of

__all__ = ["Offer", "PollError", "ProxyView", "claim", "flagged", "of_person", "offer", "revoke"]


@dataclass(frozen=True, slots=True)
class Offer:
    """A proxy offered: the row and the one-time code the proxy sends to claim it (shown once)."""

    proxy: PollProxy
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ProxyView:
    """A proxy as lists show it: for which home and poll (or term), who holds it, its state."""

    id: int
    home_label: str
    poll_title: str  # "" for a term
    starts_on: date | None
    ends_on: date | None
    proxy_name: str
    granted_by_name: str
    state: str  # offered | active | revoked | ended


def today(work: Work) -> date:
    """The compound's calendar day now (the configured time zone)."""
    return rules.local_day(work.now, work.policy.zone)


def _compound(work: Work, compound_id: int) -> OrgNode:
    node = work.session.get(OrgNode, compound_id)
    if node is None:
        raise PollError("not_found")
    return node


def may_enter(work: Work, actor: Actor, compound_id: int) -> bool:
    """Whether the actor may enter letters of proxy in the compound (ENTER_BALLOT over it)."""
    node = work.session.get(OrgNode, compound_id)
    return (
        actor.person_id is not None
        and node is not None
        and node.kind == "compound"
        and may(actor, Action.ENTER_BALLOT, place(node.path))
    )


def _audit(work: Work, actor: Actor, action: str, proxy: PollProxy, after: dict[str, Any]) -> None:
    """Note a staff action on a proxy in the audit log, under its compound."""
    node = _compound(work, proxy.compound_id)
    role = acting_role(actor, Action.ENTER_BALLOT, place(node.path))
    audit.record(work, actor, role.value if role else "", action, "proxy", proxy.id, node.path, None, after)


def offer(
    work: Work,
    actor: Actor,
    home_id: int,
    proxy_name: str,
    poll_id: int | None = None,
    term: tuple[date, date] | None = None,
    photo: tuple[str, str] = ("", ""),
) -> Offer:
    """Offer a proxy for one home, for one poll or a term: by a verified owner of the home (source "owner"),
    or by staff who may enter ballots there from a 委托书 photo (source "letter", photo required)."""
    if actor.person_id is None:
        raise PollError("not_allowed")  # an offer names who granted it
    session = work.session
    home = session.get(Home, home_id)
    if home is None:
        raise PollError("not_found")
    staff = may_enter(work, actor, home.compound_id)
    owner = actor.person_id in rules.owners_of(session, home_id)
    if staff and (photo[1] or not owner):
        source = "letter"  # a letter entered by staff, whether or not they own a home there
    elif owner:
        source = "owner"
    elif rules.lives_in(session, home_id, actor.person_id):
        raise PollError("not_owner")  # a tenant, or an owner not yet verified
    else:
        raise PollError("not_allowed")
    poll = None
    if poll_id is not None:
        poll = session.get(Poll, poll_id)
        if poll is None:
            raise PollError("not_found")
    terms = rules.Terms(poll, term)
    proxy, code = rules.create(
        session, home, terms, proxy_name, source, actor.person_id, photo, work.now, today(work)
    )
    if source == "letter":
        after = {
            "home_id": home_id,
            "poll_id": poll_id,
            "starts_on": term[0].isoformat() if term else None,
            "ends_on": term[1].isoformat() if term else None,
            "proxy_name": proxy.proxy_name,
            "photo": bool(photo[1]),
        }
        _audit(work, actor, "poll.proxy_letter", proxy, after)
    assert proxy.code_expires_at is not None
    return Offer(proxy, code, proxy.code_expires_at)


def claim(work: Work, actor: Actor, code: str) -> PollProxy:
    """The proxy claims an offer with its code (once, before it expires; never the owner themself)."""
    if actor.person_id is None:
        raise PollError("not_allowed")
    proxy = rules.by_code(work.session, code)
    if proxy is None:
        raise PollError("not_found")
    # One claim of a person at a time, so two codes claimed at once cannot both (or neither) see the crossing.
    people.lock_person(work.session, actor.person_id)
    day = today(work)
    limit = work.policy.proxy_flag_homes
    before = rules.active_homes(work.session, proxy.compound_id, actor.person_id, day)
    rules.take(work.session, proxy, actor.person_id, work.now, day)
    after = rules.active_homes(work.session, proxy.compound_id, actor.person_id, day)
    if before <= limit < after:
        # Told once per crossing: a holder who stays over the limit is not told of again.
        work.record(ProxyFlagged(id_of(proxy), actor.person_id, after))
    return proxy


def _owns(work: Work, person_id: int, proxy: PollProxy) -> bool:
    """Whether the person revokes as an owner: a verified owner of the home, or the owner who named it."""
    if proxy.source == "owner" and person_id == proxy.granted_by:
        return True
    return person_id in rules.owners_of(work.session, proxy.home_id)


def revoke(work: Work, actor: Actor, proxy_id: int) -> PollProxy:
    """Revoke a proxy: the owner who granted it, any verified owner of the home, or staff who may enter
    ballots there. A ballot already cast by the proxy stands."""
    if actor.person_id is None:
        raise PollError("not_allowed")
    proxy = rules.lock(work.session, proxy_id)
    if proxy is None:
        raise PollError("not_found")
    # An owner (or the owner who named the proxy, even after selling) revokes as an owner; staff who
    # enter ballots there, including whoever entered the letter, act as staff and are audited.
    owner = _owns(work, actor.person_id, proxy)
    if not (owner or may_enter(work, actor, proxy.compound_id)):
        raise PollError("not_allowed")
    rules.cancel(work.session, proxy, actor.person_id, work.now)
    if not owner:
        _audit(work, actor, "poll.proxy_revoke", proxy, {"home_id": proxy.home_id, "poll_id": proxy.poll_id})
    return proxy


def revocable(work: Work, actor: Actor, proxy_id: int) -> ProxyView | None:
    """A proxy the actor may revoke (named it, owns its home, or enters letters there), or None."""
    proxy = work.session.get(PollProxy, proxy_id)
    if proxy is None or actor.person_id is None:
        return None
    if not (_owns(work, actor.person_id, proxy) or may_enter(work, actor, proxy.compound_id)):
        return None
    return view_of(work, proxy)


def view_of(work: Work, proxy: PollProxy) -> ProxyView:
    """A proxy as lists show it."""
    session = work.session
    poll = session.get(Poll, proxy.poll_id) if proxy.poll_id is not None else None
    granter = session.get(Person, proxy.granted_by)
    home = people.home_view(session, proxy.home_id)
    return ProxyView(
        id_of(proxy),
        home.label if home else "",
        poll.title if poll else "",
        proxy.starts_on,
        proxy.ends_on,
        proxy.proxy_name,  # as the owner or the letter wrote it; the account's name may be a nickname
        granter.name if granter else "",
        rules.state_of(proxy, poll.state if poll else None, work.now, today(work)),
    )


def live(views: list[ProxyView]) -> list[ProxyView]:
    """Those still waiting for their code or in force."""
    return [v for v in views if v.state in ("offered", "active")]


def of_person(work: Work, actor: Actor) -> tuple[list[ProxyView], list[ProxyView]]:
    """The proxies the actor granted (over their homes) and those they hold."""
    if actor.person_id is None:
        return [], []
    granted = rules.granted_by_or_over(work.session, actor.person_id)
    held = rules.held_by(work.session, actor.person_id)
    return [view_of(work, p) for p in granted], [view_of(work, p) for p in held]


def of_compound(work: Work, actor: Actor, compound_id: int) -> list[ProxyView]:
    """The compound's unrevoked proxies, for staff who may enter letters there (PollError otherwise)."""
    if not may_enter(work, actor, compound_id):
        raise PollError("not_allowed")
    return [view_of(work, p) for p in rules.in_compound(work.session, compound_id)]


def flagged(work: Work, actor: Actor, compound_id: int) -> list[tuple[int, str, int]]:
    """Proxies over the limit in a compound: (person id, name, active homes), for those running polls."""
    node = _compound(work, compound_id)
    if not may(actor, Action.RUN_POLL, place(node.path)):
        raise PollError("not_allowed")
    return rules.over_limit(work.session, compound_id, work.policy.proxy_flag_homes, today(work))


# --- what the chat offers ------------------------------------------------------------------------------


def homes_to_offer(work: Work, actor: Actor) -> list[tuple[int, str]]:
    """The homes the actor may name a proxy for (verified owner): (home id, label)."""
    if actor.person_id is None:
        return []
    found = []
    for home_id in rules.owned_homes(work.session, actor.person_id):
        view = people.home_view(work.session, home_id)
        found.append((home_id, view.label if view else str(home_id)))
    return found


def polls_of_home(work: Work, home_id: int) -> list[Poll]:
    """The announced and open polls the home votes in."""
    home = work.session.get(Home, home_id)
    return rules.polls_over(work.session, home) if home is not None else []


def covered(work: Work, poll: Poll, home_ids: list[int]) -> list[int]:
    """Those of the homes the poll covers (its frozen electorate once open)."""
    found = []
    for home_id in home_ids:
        home = work.session.get(Home, home_id)
        if home is not None and rules.covers_home(work.session, poll, home):
            found.append(home_id)
    return found


def committee_ends(work: Work, home_id: int) -> date | None:
    """The last day of the compound's committee in office (本届), when it is still to come."""
    home = work.session.get(Home, home_id)
    committee = current_committee(work.session, home.compound_id) if home is not None else None
    if committee is None or committee.ends_on < today(work):
        return None
    return committee.ends_on


def letter_polls(work: Work, actor: Actor) -> list[Poll]:
    """The announced and open polls whose letters of proxy the actor may enter."""
    return [p for p in rules.running_polls(work.session) if may_enter(work, actor, p.node_id)]


def buildings(work: Work, poll: Poll) -> list[OrgNode]:
    """The buildings of the poll's scope, by name."""
    return rules.children(work.session, poll.node_id, list(poll.buildings) or None)


def entrances(work: Work, poll: Poll, building_id: int) -> list[OrgNode]:
    """A building's entrances, by name (empty when the building is outside the poll)."""
    if building_id not in {id_of(b) for b in buildings(work, poll)}:
        return []
    return rules.children(work.session, building_id)


def homes(work: Work, poll: Poll, entrance_id: int) -> list[Home]:
    """An entrance's homes the poll covers, by number."""
    found = rules.homes_of_entrance(work.session, entrance_id)
    return [h for h in found if rules.covers_home(work.session, poll, h)]
