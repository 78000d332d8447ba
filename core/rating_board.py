"""The 红黑榜 (DESIGN §4.5): the street or district publishes the best and the worst property companies of
its jurisdiction for a half-year — grade and score from the ranking — as a notice of kind "rating" to the
residents under it, through the notice machinery of core.notices (audience, muting, quiet hours, pushes).

Who may: `Action.PUBLISH_RATING` (street, district departments, admin) over the node the notice goes to,
which is the outermost node of their jurisdiction for it. What it shows: the top `SHOWN` companies (红榜)
and the bottom `SHOWN` (黑榜), never the same company on both; with fewer than 2×SHOWN companies ranked,
the better half goes to the red list and the rest to the black. The notice's words are those of
templates/<locale>/rating_notice.j2 (`board_title`, `board_body`) in the publisher's language, as a notice
written by hand would be; the numbers are the ranking's, rounded as /rating shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core import audit, evaluation
from core import notices as notice_cases
from core.permissions import Action, Actor, acting_role, grants_for, may, place
from core.work import Work
from db import notices
from db.models import OrgNode, Person

SHOWN = 3  # companies on each list at most
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LOCALES = ("zh_CN", "en")


class BoardError(ValueError):
    """The 红黑榜 cannot be published; `reason` names the message the person sees."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Placed:
    """A company on the board: its place in the ranking, name, grade and total."""

    rank: int
    company_id: int
    name: str
    grade: str
    total: Fraction


@dataclass(frozen=True, slots=True)
class Board:
    """A 红黑榜 ready to publish: over which node, for which half, the two lists, how many it reaches."""

    node_id: int
    place: str
    half: str
    ranked: int  # companies in the ranking
    top: tuple[Placed, ...]
    bottom: tuple[Placed, ...]
    audience: int


@dataclass(frozen=True, slots=True)
class Published:
    """The 红黑榜 published: its notice and how many residents it reaches."""

    notice_id: int
    audience: int


def choose(ranked: list[Placed], shown: int = SHOWN) -> tuple[tuple[Placed, ...], tuple[Placed, ...]]:
    """The red and black lists of a ranking (best first): the top `shown` and the bottom `shown`,
    disjoint — with fewer than 2×shown companies the better half (rounded up) is red, the rest black.
    The black list reads worst first."""
    red = ranked[: min(shown, (len(ranked) + 1) // 2)]
    rest = ranked[len(red) :]
    black = rest[-min(shown, len(rest)) :] if rest else []
    return tuple(red), tuple(reversed(black))


def where(work: Work, actor: Actor) -> OrgNode | None:
    """The node a 红黑榜 of the actor goes to: the outermost of their jurisdiction for it (None: none)."""
    nodes = [work.session.get(OrgNode, g.node_id) for g in grants_for(actor, Action.PUBLISH_RATING)]
    found = sorted((n for n in nodes if n is not None), key=lambda n: (len(n.path), n.name))
    return found[0] if found else None


def board(work: Work, actor: Actor, half: str) -> Board:
    """What the actor's 红黑榜 for a half-year would show and whom it would reach, without writing."""
    node = where(work, actor)
    if node is None or node.id is None or not may(actor, Action.PUBLISH_RATING, place(node.path)):
        raise BoardError("not_allowed")
    ranked = [
        Placed(row.place, row.company_id, row.name, row.evaluation.grade, Fraction(row.evaluation.total))
        for row in evaluation.ranking(work, actor, half)
    ]
    if not ranked:
        raise BoardError("no_companies")
    top, bottom = choose(ranked)
    audience = len(notices.audience(work.session, node.id, [], list(notices.DEFAULT_ROLES)))
    return Board(node.id, node.name, half, len(ranked), top, bottom, audience)


def publish_board(work: Work, actor: Actor, half: str) -> Published:
    """Publish the actor's 红黑榜 for a half-year as a notice of kind "rating" to the residents (owners and
    tenants) under their street or district; its readers are told when the work publishes."""
    shown = board(work, actor, half)
    locale = _locale(work, actor)
    words = _words(locale, shown)
    draft = notice_cases.NoticeDraft(
        kind="rating",
        title=words["board_title"],
        body=words["board_body"],
        node_id=shown.node_id,
        roles=notices.DEFAULT_ROLES,
    )
    try:
        published = notice_cases.publish_notice(work, actor, draft)
    except notice_cases.NoticeError as exc:
        raise BoardError(exc.reason) from exc
    node = work.session.get(OrgNode, shown.node_id)
    path = node.path if node is not None else ""
    role = acting_role(actor, Action.PUBLISH_RATING, place(path))
    after = {
        "half": half,
        "notice": published.notice_id,
        "top": [[p.name, p.grade, score(p.total)] for p in shown.top],
        "bottom": [[p.name, p.grade, score(p.total)] for p in shown.bottom],
        "audience": published.audience,
    }
    audit.record(
        work,
        actor,
        role.value if role else "",
        "rating.publish",
        "notice",
        published.notice_id,
        path,
        after=after,
    )
    return Published(published.notice_id, published.audience)


def score(total: Fraction) -> str:
    """A total as the board prints it: two decimals, rounded half up."""
    cents = Decimal(total.numerator) / Decimal(total.denominator)
    return str(cents.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _locale(work: Work, actor: Actor) -> str:
    person = work.session.get(Person, actor.person_id) if actor.person_id is not None else None
    return person.locale if person is not None and person.locale in LOCALES else LOCALES[0]


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,  # a notice is plain text; every channel shows it as text
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _words(locale: str, shown: Board) -> dict[str, str]:
    """The notice's title and body in a language, from the blocks of rating_notice.j2."""
    template = _environment().get_template(f"{locale}/rating_notice.j2")
    context: dict[str, Any] = {
        "place": shown.place,
        "half": shown.half,
        "ranked": shown.ranked,
        "top": [_item(p) for p in shown.top],
        "bottom": [_item(p) for p in shown.bottom],
    }
    return {
        name: "".join(template.blocks[name](template.new_context(dict(context)))).strip()
        for name in ("board_title", "board_body")
    }


def _item(placed: Placed) -> dict[str, Any]:
    return {"rank": placed.rank, "name": placed.name, "grade": placed.grade, "total": score(placed.total)}
