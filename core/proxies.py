"""Proxies (委托, DESIGN §4.8): an owner names a proxy in chat, or staff enter a written authorisation
(委托书 photo), for one poll or for a term; the proxy claims it with a one-time code and then votes for that
home in chat; the ballot records that it was cast by proxy. A proxy holding more homes than the configured
limit is flagged to staff (`ProxyFlagged`).

Refusals are `PollError`s with a reason key: not_allowed, not_found, not_owner, self, expired, claimed,
revoked, term, poll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.permissions import Actor
from core.work import Work
from db.models import PollProxy


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
    raise NotImplementedError


def claim(work: Work, actor: Actor, code: str) -> PollProxy:
    """The proxy claims an offer with its code (once, before it expires; never the owner themself)."""
    raise NotImplementedError


def revoke(work: Work, actor: Actor, proxy_id: int) -> PollProxy:
    """Revoke a proxy: the owner who granted it, any verified owner of the home, or staff who may enter
    ballots there. A ballot already cast by the proxy stands."""
    raise NotImplementedError


def of_person(work: Work, actor: Actor) -> tuple[list[ProxyView], list[ProxyView]]:
    """The proxies the actor granted (over their homes) and those they hold."""
    raise NotImplementedError


def flagged(work: Work, actor: Actor, compound_id: int) -> list[tuple[int, str, int]]:
    """Proxies over the limit in a compound: (person id, name, active homes), for those running polls."""
    raise NotImplementedError
