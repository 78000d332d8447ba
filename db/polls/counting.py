"""The close's count: the ballots against the frozen electorate, and the result kept as numbers.

A stored result (`poll.result`) holds counts, exact shares as [numerator, denominator] and the facts the
tally decided on (quorum, approval, who was elected, by candidate number) and how many ballots came by
each channel (`channels`: online, paper, proxy; results stored before channels existed lack it); the
templates word and format them (percentages, names) when they are shown, in the reader's language.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, cast

from sqlalchemy import func
from sqlmodel import Session, col, select

from db.models import Poll, PollTurnout
from db.polls.authoring import announcement
from db.polls.ballots import opened_ballots
from db.polls.electorate import unit_areas as electorate_areas
from db.polls.views import CHANNELS
from db.rows import id_of
from db.tally import Ballot, Choice, Result, tally
from db.tally import Home as TallyHome


def count(session: Session, poll: Poll, key: bytes) -> Result:
    """Tally the ballots against the frozen electorate, without linking a ballot to anyone.

    Units that voted are replaced by their anonymous ballots (each its own one-unit owner with the
    ballot's area); the multiset of those areas must equal that of the units that voted.
    """
    voted = set(session.exec(select(PollTurnout.unit).where(PollTurnout.poll_id == poll.id)).all())
    unit_areas = electorate_areas(session, id_of(poll))
    ballots = opened_ballots(session, poll, key)
    if sorted(a for _, a, _ in ballots) != sorted(unit_areas[u] for u in voted):
        raise RuntimeError(f"poll {poll.id}: ballots do not match the owners who voted")
    electorate = [TallyHome(u, a, u) for u, a in unit_areas.items() if u not in voted and a > 0]
    electorate += [TallyHome(f"b{i}", a, f"b{i}") for i, a, _ in ballots]
    if poll.kind == "decision":
        decisions = [Ballot(f"b{i}", cast(Choice, c)) for i, _, c in ballots]  # checked when cast
        return tally(electorate, decisions, poll.matter)
    candidates = tuple(str(n) for n in range(1, len(poll.candidates) + 1))
    approvals = [Ballot(f"b{i}", frozenset(c.split(",")) if c else frozenset()) for i, _, c in ballots]
    return tally(electorate, approvals, poll.matter, candidates, poll.seats)


def share(value: Fraction | None) -> list[int] | None:
    """An exact share as JSON keeps it: [numerator, denominator] (None: nobody to share among)."""
    return None if value is None else [value.numerator, value.denominator]


def channels(session: Session, poll_id: int) -> dict[str, int]:
    """How many ballots came by each channel (online, paper, proxy; zero included), from the turnout."""
    found = dict(
        session.exec(
            select(PollTurnout.channel, func.count())
            .where(PollTurnout.poll_id == poll_id)
            .group_by(col(PollTurnout.channel))
        ).all()
    )
    return {**{c: 0 for c in CHANNELS}, **{str(c): int(n) for c, n in found.items()}}


def facts(result: Result, receipt_digest: str, by_channel: dict[str, int] | None = None) -> dict[str, Any]:
    """The result as stored: numbers and decisions only (options are "yes" or candidate numbers), and
    the ballots by channel when given."""
    stored: dict[str, Any] = {
        "outcome": result.outcome,
        "total_area": result.total_area,
        "total_owners": result.total_owners,
        "participating_area": result.participating_area,
        "participating_owners": result.participating_owners,
        "ballots": result.ballots,
        "area_turnout": share(result.area_turnout),
        "owner_turnout": share(result.owner_turnout),
        "quorum": result.quorum,
        "quorum_area_met": result.quorum_area_met,
        "quorum_owners_met": result.quorum_owners_met,
        "approval_threshold": share(result.approval_threshold),
        "approval_inclusive": result.approval_inclusive,
        "approvals": [
            {
                "option": a.option,
                "area": a.area,
                "owners": a.owners,
                "area_share": share(a.area_share),
                "owner_share": share(a.owner_share),
                "area_met": a.area_met,
                "owners_met": a.owners_met,
                "passed": a.passed,
            }
            for a in result.approvals
        ],
        "no_area": result.no_area,
        "no_owners": result.no_owners,
        "abstain_area": result.abstain_area,
        "abstain_owners": result.abstain_owners,
        "elected": list(result.elected),
        "runoff": list(result.runoff),
        "runoff_seats": result.runoff_seats,
        "digest": receipt_digest,
    }
    if by_channel is not None:
        stored["channels"] = dict(by_channel)
    return stored


def published(poll: Poll) -> dict[str, Any]:
    """A closed poll's result with its terms, as its result notice and pages carry it (plain values)."""
    return {**announcement(poll), "event": "result", **poll.result}
