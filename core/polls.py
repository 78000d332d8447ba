"""Owners' polls: create one, list and view what concerns a person, cast a ballot, check a receipt, follow
the turnout, withdraw a poll, and the scheduler's open, remind and close.

Each use case runs in the turn's `Work`, asks the permission policy once (running polls is
`Action.RUN_POLL` over the poll's compound; a poll over one's home is one's to see), calls the rules in
db.polls and records their events; the notify layer turns those into pushes. A refusal is a `PollError`
with a short `reason` the chat turns into a message. The chat (/newpoll, /polls), the CLI
(`linli poll create`) and the poll job all come in here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from core import audit, committee
from core.permissions import Action, Actor, acting_role, may, place
from core.work import Work
from db import notices, people
from db.models import OrgNode, Poll, PollHome, PollProxy, PollTurnout
from db.polls import authoring, ballots, counting, electorate, proxies, schedule, views
from db.polls.authoring import Draft
from db.polls.ballots import Cast
from db.polls.electorate import Electorate, Reach
from db.polls.terms import ANNOUNCED_TO, CODE_LENGTH, SPECIAL_MATTERS, PollError  # PollError: refusals
from db.polls.views import Turnout
from db.rows import id_of

__all__ = ["CODE_LENGTH", "SPECIAL_MATTERS", "Cast", "Draft", "Electorate", "PollError", "Turnout", "id_of"]


# --- who may do what ----------------------------------------------------------------------------------


def _may_run(work: Work, actor: Actor, node_id: int) -> bool:
    """Whether the actor may run polls in the compound (the system always may)."""
    node = work.session.get(OrgNode, node_id)
    return node is not None and node.kind == "compound" and may(actor, Action.RUN_POLL, place(node.path))


def runs(work: Work, actor: Actor, poll: Poll) -> bool:
    """Whether the actor runs polls where this one runs: its turnout and withdrawal are theirs."""
    return _may_run(work, actor, poll.node_id)


def lives_in_scope(work: Work, actor: Actor, poll: Poll) -> bool:
    """Whether the poll is over one of the actor's homes (owner or tenant, verified or pending)."""
    return actor.person_id is not None and views.over_homes_of(work.session, poll, actor.person_id)


def visible(work: Work, actor: Actor, poll_id: int) -> Poll | None:
    """The poll, when the actor may see it: over one of their homes, where they run polls, or an open poll
    they hold a proxy in."""
    poll = work.session.get(Poll, poll_id)
    if poll is None or not (
        lives_in_scope(work, actor, poll) or runs(work, actor, poll) or _proxy_in(work, actor, poll)
    ):
        return None
    return poll


def _proxy_in(work: Work, actor: Actor, poll: Poll) -> bool:
    """Whether the actor holds a proxy they may vote with in this open poll (a proxy may live elsewhere)."""
    return (
        actor.person_id is not None
        and poll.state == "open"
        and bool(proxies.homes_for(work.session, poll, actor.person_id, work.now, work.policy.zone))
    )


# --- creating and withdrawing -----------------------------------------------------------------------------


def compounds_for(work: Work, actor: Actor) -> list[OrgNode]:
    """The compounds the actor may run polls in, read afresh (a grant may have gone)."""
    return authoring.author_compounds(work.session, actor)


def _may_author(work: Work, actor: Actor, draft: Draft) -> None:
    # A refusal names the first rule broken, in the order an author meets them: the draft's own terms,
    # its compound, the right to run polls there; then (db.polls.authoring.check) the place and times.
    authoring.check_terms(draft)
    node = authoring.compound_of(work.session, draft.node_id)
    if not may(actor, Action.RUN_POLL, place(node.path)):
        raise PollError("not_allowed")


def check_draft(work: Work, actor: Actor, draft: Draft) -> Draft:
    """A draft checked against every rule and the actor's right, cleaned as it would be created."""
    _may_author(work, actor, draft)
    return authoring.check(work.session, draft, work.now)


@dataclass(frozen=True, slots=True)
class Summary:
    """A draft as it would be created, with where it runs and whom it reaches now."""

    draft: Draft  # checked and cleaned
    place: list[str]  # the compound's names from the top of the tree
    buildings: list[str]  # the names of the buildings it is limited to ([] = all)
    electorate: Electorate  # homes in scope now (the real electorate is frozen when voting opens)
    audience: int  # owners and tenants in scope who would get the announcement now
    reach: Reach | None = None  # the best turnout verified owners could bring now


def summarise(work: Work, actor: Actor, draft: Draft) -> Summary:
    """Check a draft against every rule and the actor's right, and say what it would be and reach."""
    checked = check_draft(work, actor, draft)
    node = authoring.compound_of(work.session, checked.node_id)
    names = {b.id: b.name for b in authoring.buildings_of(work.session, checked.node_id)}
    return Summary(
        checked,
        views.path_names(work.session, node),
        [names.get(b, str(b)) for b in checked.buildings],
        electorate.preview(work.session, checked.node_id, checked.buildings),
        # The announcement cannot be muted (a legal requirement): everyone in scope hears of it.
        len(notices.audience(work.session, checked.node_id, list(checked.buildings), list(ANNOUNCED_TO))),
        electorate.reach(work.session, checked.node_id, checked.buildings),
    )


@dataclass(frozen=True, slots=True)
class Created:
    """A poll announced: the poll and how many owners and tenants its announcement reaches."""

    poll: Poll
    audience: int
    notice_id: int | None


def _audit(
    work: Work,
    actor: Actor,
    action: str,
    poll: Poll,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Note a staff action on a poll in the audit log, under the poll's compound."""
    node = work.session.get(OrgNode, poll.node_id)
    path = node.path if node is not None else ""
    role = acting_role(actor, Action.RUN_POLL, place(path)) if path else None
    audit.record(work, actor, role.value if role else "", action, "poll", poll.id, path, before, after)


def create_poll(work: Work, actor: Actor, draft: Draft) -> Created:
    """Create a poll and announce it (公示) to the owners and tenants in scope."""
    _may_author(work, actor, draft)
    poll, events = authoring.create(work.session, actor.person_id, draft, work.now, work.policy)
    work.record(*events)
    audience = authoring.audience_of(work.session, poll.announce_notice_id)
    after = {
        "title": poll.title,
        "matter": poll.matter,
        "kind": poll.kind,
        "opens_at": poll.opens_at.isoformat(),
        "closes_at": poll.closes_at.isoformat(),
        "secret": poll.secret,
        "audience": audience,
    }
    _audit(work, actor, "poll.create", poll, after=after)
    return Created(poll, audience, poll.announce_notice_id)


def withdraw_poll(work: Work, actor: Actor, poll_id: int) -> Poll:
    """Withdraw a poll before voting opens; those who had its announcement are told."""
    poll = authoring.lock(work.session, poll_id)
    if not runs(work, actor, poll):
        raise PollError("not_allowed")
    before = {"state": poll.state}
    work.record(*authoring.withdraw(work.session, poll, work.now, work.policy))
    _audit(work, actor, "poll.withdraw", poll, before, {"state": poll.state})
    return poll


# --- what a person sees -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listing:
    """What `/polls` shows: the polls over the person's homes, and those where they run polls."""

    mine: list[Poll]
    run: list[Poll]


def polls_for(work: Work, actor: Actor, run_limit: int = 10) -> Listing:
    """The polls over the actor's homes (recent and coming), and the latest (`run_limit`) where they run
    polls."""
    mine = views.for_resident(work.session, actor.person_id, work.now) if actor.person_id else []
    if actor.person_id is not None:  # a proxy may live elsewhere: the polls they vote in by proxy come too
        seen = {p.id for p in mine}
        mine += [p for p in _proxied_polls(work, actor.person_id) if p.id not in seen]
    compounds = [id_of(c) for c in compounds_for(work, actor)]
    return Listing(mine, views.in_compounds(work.session, compounds, run_limit))


def _proxied_polls(work: Work, person_id: int) -> list[Poll]:
    """Open polls in which the person holds a proxy they may vote with now."""
    compounds = set(
        work.session.exec(
            select(PollProxy.compound_id).where(
                PollProxy.proxy_id == person_id, col(PollProxy.revoked_at).is_(None)
            )
        ).all()
    )
    if not compounds:
        return []
    running = work.session.exec(
        select(Poll)
        .where(col(Poll.node_id).in_(compounds), Poll.state == "open")
        .order_by(col(Poll.closes_at))
    ).all()
    return [p for p in running if proxies.homes_for(work.session, p, person_id, work.now, work.policy.zone)]


@dataclass(frozen=True, slots=True)
class Standing:
    """Where the actor stands in a poll (see db.polls.electorate.standing), when their home voted and how
    (online, paper, proxy: an owner whose ballot came on paper is told so, not that a co-owner voted)."""

    reason: str
    voted_at: datetime | None = None
    channel: str = ""


def standing_in(work: Work, actor: Actor, poll: Poll) -> Standing:
    """Where the actor stands in a poll: may vote, voted (when, how), or why they cannot vote."""
    assert actor.person_id is not None
    return standing_as(work, actor, poll, electorate.standing(work.session, poll, actor.person_id, work.now))


def standing_as(work: Work, actor: Actor, poll: Poll, reason: str) -> Standing:
    """A standing the actor was given by a refusal, with when and how their home voted."""
    if reason not in ("voted", "changeable", "home_voted") or actor.person_id is None:
        return Standing(reason)
    turnout = electorate.own_turnout(work.session, id_of(poll), actor.person_id)
    return Standing(reason, turnout.voted_at, turnout.channel) if turnout else Standing(reason)


@dataclass(frozen=True, slots=True)
class PollView:
    """One poll as the actor sees it: whether it is over their home (then where they stand), whether they
    run it (then, while it is open, live turnout overall and per building)."""

    poll: Poll
    resident: bool
    author: bool
    standing: Standing | None = None
    turnout: Turnout | None = None
    buildings: list[Turnout] = field(default_factory=list)


def view(work: Work, actor: Actor, poll_id: int) -> PollView | None:
    """A poll's page for the actor, or None when it is not theirs to see."""
    poll = visible(work, actor, poll_id)
    if poll is None:
        return None
    resident, author = lives_in_scope(work, actor, poll), runs(work, actor, poll)
    found = PollView(poll, resident, author, standing_in(work, actor, poll) if resident else None)
    if author and poll.state == "open":
        overall, per_building = views.turnout(work.session, poll)
        found = replace(found, turnout=overall, buildings=per_building)
    return found


def outside(work: Work, actor: Actor, poll_id: int) -> bool:
    """Whether the actor owns a home in the poll's compound but outside the buildings it is limited to
    (they are told why they cannot vote, without being shown the poll)."""
    poll = work.session.get(Poll, poll_id)
    if poll is None or actor.person_id is None:
        return False
    if not views.in_compound_of(work.session, poll, actor.person_id):
        return False
    return electorate.standing(work.session, poll, actor.person_id, work.now) == "outside"


def place_of(work: Work, poll: Poll) -> tuple[str, list[str]]:
    """The compound's name and the buildings the poll is limited to ([] = all)."""
    return views.place_names(work.session, poll)


def shown_result(poll: Poll) -> dict[str, Any]:
    """A closed poll's result with its terms, as plain values for its page (the templates word them)."""
    return counting.published(poll)


def turnout(work: Work, actor: Actor, poll: Poll) -> tuple[Turnout, list[Turnout]] | None:
    """Live turnout overall and per building, for those who run the poll (None for anyone else)."""
    if not runs(work, actor, poll):
        return None
    return views.turnout(work.session, poll)


# --- voting -------------------------------------------------------------------------------------------


def choice_of(poll: Poll, picked: list[int]) -> str:
    """An election's picked candidates as a ballot's choice, or PollError("choice" | "too_many")."""
    return ballots.canonical_choice(poll, ",".join(str(n) for n in picked))


@dataclass(frozen=True, slots=True)
class Target:
    """A home the actor may vote for in a poll: their own owner unit ("own") or a home they hold a proxy for
    ("proxy"); `home_id` names it when voting (one home of the unit); `voted` when its ballot stands."""

    home_id: int
    unit: str
    label: str  # the home within the poll's compound: 3栋 1单元 101 (the unit's first, "+N" for more homes)
    how: str  # own | proxy
    voted: bool


def targets(work: Work, actor: Actor, poll: Poll) -> list[Target]:
    """The homes the actor may vote for in an open poll: their own owner units, then proxies."""
    if actor.person_id is None or poll.state != "open":
        return []
    session = work.session
    own = electorate.units_of(session, id_of(poll), actor.person_id)
    found = [_target(work, poll, unit, None, "own") for unit in own]
    for home_id in proxies.homes_for(session, poll, actor.person_id, work.now, work.policy.zone):
        home = session.get(PollHome, (poll.id, home_id))
        if home is not None and home.unit not in own:
            found.append(_target(work, poll, home.unit, home_id, "proxy"))
    return found


def _target(work: Work, poll: Poll, unit: str, home_id: int | None, how: str) -> Target:
    """A target for a unit: named by `home_id` (a proxy's home) or the unit's first home."""
    homes = sorted(
        work.session.exec(
            select(PollHome.home_id).where(PollHome.poll_id == poll.id, PollHome.unit == unit)
        ).all()
    )
    named = home_id if home_id is not None else homes[0]
    view = people.home_view(work.session, named)
    label = f"{view.building} {view.entrance} {view.number}" if view else str(named)  # one compound per poll
    if home_id is None and len(homes) > 1:
        label += f" +{len(homes) - 1}"
    voted = work.session.get(PollTurnout, (poll.id, unit)) is not None
    return Target(named, unit, label, how, voted)


def cast_ballot(
    work: Work, actor: Actor, poll_id: int, choice: str, seal_key: bytes, home_id: int | None = None
) -> Cast:
    """Cast (or, where allowed, change) the one vote of the actor's owner unit, or of `home_id` (one of their
    own units, or a home they hold a proxy for: the ballot records it was cast by proxy); PollError with the
    reason ("which_home" when the actor votes for several homes and named none)."""
    if actor.person_id is None or visible_to_voter(work, actor, poll_id) is None:
        raise PollError("not_found")
    return ballots.vote(
        work.session, poll_id, actor.person_id, choice, work.now, seal_key, home_id, work.policy.zone
    )


def visible_to_voter(work: Work, actor: Actor, poll_id: int) -> Poll | None:
    """The poll, when the actor may see it (`visible` counts the proxies they hold)."""
    return visible(work, actor, poll_id)


@dataclass(frozen=True, slots=True)
class Receipt:
    """A receipt code checked against the ballot box: the choice it was counted with, if any."""

    well_formed: bool
    choice: str = ""
    fingerprint: str = ""
    found: bool = False


def check_receipt(work: Work, actor: Actor, poll_id: int, code: str) -> tuple[Poll, Receipt] | None:
    """Look a typed receipt code up among the poll's ballots (None: the poll is not the actor's to see)."""
    poll = visible(work, actor, poll_id)
    if poll is None:
        return None
    if not ballots.normalise_code(code):
        return poll, Receipt(well_formed=False)
    found = ballots.check_receipt(work.session, poll, code)
    if found is None:
        return poll, Receipt(well_formed=True)
    return poll, Receipt(True, found[0], found[1], found=True)


# --- the scheduler ------------------------------------------------------------------------------------


def advance(work: Work, poll: Poll, key: bytes) -> str:
    """Apply a poll's due step (open, remind or close) and record what it raised; returns what was done
    ("opened", "reminded", "closed", or "" for nothing)."""
    done, events = schedule.step(work.session, poll, work.now, work.policy, key)
    work.record(*events)
    if done == "closed":
        committee.after_poll(work, poll)  # a passed election of the committee installs it (DESIGN §4.6)
    return done
