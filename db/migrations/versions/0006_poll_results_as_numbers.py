"""poll results kept as numbers: exact shares, candidate numbers; the templates format them

A closed poll's result (`poll.result`) was stored ready to render: percentages as text, shares as "n/d",
candidates by name, with the poll's terms copied in. It now holds only numbers and decisions (shares as
[numerator, denominator], elected and run-off candidates by number); the templates word and format them
when shown. The same result travels in the result notice (`notice.data["poll"]`) and in the pushes already
queued with it (the notice's rows, the author's `pollpush.closed_author`): all are converted, both ways,
so closed polls display exactly as before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 18:00:00
"""

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUORUM = Fraction(2, 3)
SPECIAL_MATTERS = (6, 7, 8)
# The poll's terms, as its notices carry them next to the result.
TERMS = (
    "id",
    "event",
    "matter",
    "special",
    "kind",
    "candidates",
    "seats",
    "secret",
    "changeable",
    "consultative",
    "shortened_reason",
    "opens_at",
    "closes_at",
)
AUTHOR_CLOSED = "pollpush.closed_author"
NOTICE = "notices.notice"

poll = sa.table(
    "poll",
    sa.column("id", sa.Integer()),
    sa.column("result", sa.JSON()),
    sa.column("result_notice_id", sa.Integer()),
    sa.column("matter", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("candidates", sa.JSON()),
    sa.column("seats", sa.Integer()),
    sa.column("secret", sa.Boolean()),
    sa.column("changeable", sa.Boolean()),
    sa.column("consultative", sa.Boolean()),
    sa.column("shortened_reason", sa.String()),
    sa.column("opens_at", db.types.UTCDateTime()),
    sa.column("closes_at", db.types.UTCDateTime()),
)
notice = sa.table("notice", sa.column("id", sa.Integer()), sa.column("data", sa.JSON()))
outbox = sa.table(
    "outbox",
    sa.column("id", sa.Integer()),
    sa.column("template", sa.String()),
    sa.column("notice_id", sa.Integer()),
    sa.column("context", sa.JSON()),
)


# --- the two forms ------------------------------------------------------------------------------------


def _pair(text: str) -> list[int] | None:
    """ "n/d" (or "" for none) as [n, d]."""
    if not text:
        return None
    numerator, denominator = text.split("/")
    return [int(numerator), int(denominator)]


def _text(pair: list[int] | None) -> str:
    return "" if pair is None else f"{pair[0]}/{pair[1]}"


def _percent(pair: list[int] | None) -> str:
    """As the templates show a share: two decimals, rounded half up, exact."""
    if pair is None:
        return "—"
    numerator, denominator = pair
    hundredths = (numerator * 20000 + denominator) // (2 * denominator)
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


def _met(pair: list[int] | None, threshold: Fraction, inclusive: bool) -> bool:
    if pair is None:
        return False
    share = Fraction(*pair)
    return share >= threshold if inclusive else share > threshold


COUNTS = (
    "outcome",
    "total_area",
    "total_owners",
    "participating_area",
    "participating_owners",
    "ballots",
    "quorum",
    "approval_inclusive",
    "no_area",
    "no_owners",
    "abstain_area",
    "abstain_owners",
    "runoff_seats",
    "digest",
)


def to_numbers(old: dict[str, Any]) -> dict[str, Any]:
    """A result as it was stored (ready to render) in the form kept now (numbers only)."""
    number = {name: str(n) for n, name in enumerate(old.get("candidates", []), 1)}
    threshold = _pair(old["approval_threshold"])
    inclusive = bool(old["approval_inclusive"])
    bar = Fraction(*threshold) if threshold else Fraction(1, 2)
    area_turnout, owner_turnout = _pair(old["area_turnout"]), _pair(old["owner_turnout"])
    approvals = []
    for a in old["approvals"]:
        area_share, owner_share = _pair(a["area_share"]), _pair(a["owner_share"])
        approvals.append(
            {
                "option": a["option"],
                "area": a["area"],
                "owners": a["owners"],
                "area_share": area_share,
                "owner_share": owner_share,
                "area_met": _met(area_share, bar, inclusive),
                "owners_met": _met(owner_share, bar, inclusive),
                "passed": a["passed"],
            }
        )
    return {
        **{name: old[name] for name in COUNTS},
        "area_turnout": area_turnout,
        "owner_turnout": owner_turnout,
        "quorum_area_met": _met(area_turnout, QUORUM, True),
        "quorum_owners_met": _met(owner_turnout, QUORUM, True),
        "approval_threshold": threshold,
        "approvals": approvals,
        "elected": [number[name] for name in old["elected"]],
        "runoff": [number[name] for name in old["runoff"]],
    }


def to_text(new: dict[str, Any], terms: dict[str, Any]) -> dict[str, Any]:
    """A result kept as numbers, with the poll's terms, back in the form stored before (ready to render)."""
    candidates = list(terms.get("candidates", []))
    election = terms.get("kind") == "election"
    approvals = [
        {
            "option": a["option"],
            "name": candidates[int(a["option"]) - 1] if election else "",
            "area": a["area"],
            "owners": a["owners"],
            "area_share": _text(a["area_share"]),
            "owner_share": _text(a["owner_share"]),
            "area_pct": _percent(a["area_share"]),
            "owner_pct": _percent(a["owner_share"]),
            "passed": a["passed"],
        }
        for a in new["approvals"]
    ]
    return {
        **terms,
        "event": "result",
        **{name: new[name] for name in COUNTS},
        "area_turnout": _text(new["area_turnout"]),
        "owner_turnout": _text(new["owner_turnout"]),
        "area_turnout_pct": _percent(new["area_turnout"]),
        "owner_turnout_pct": _percent(new["owner_turnout"]),
        "approval_threshold": _text(new["approval_threshold"]),
        "approvals": approvals,
        "elected": [candidates[int(n) - 1] for n in new["elected"]],
        "runoff": [candidates[int(n) - 1] for n in new["runoff"]],
    }


def _is_text(result: dict[str, Any]) -> bool:
    return isinstance(result.get("area_turnout"), str)


def _is_numbers(result: dict[str, Any]) -> bool:
    return isinstance(result.get("area_turnout"), list) or result.get("area_turnout", "") is None


def _published_up(shown: dict[str, Any]) -> dict[str, Any]:
    """A result notice's `poll` (terms and result) in the form kept now."""
    return {**{k: shown[k] for k in TERMS if k in shown}, "event": "result", **to_numbers(shown)}


def _published_down(shown: dict[str, Any]) -> dict[str, Any]:
    return to_text(shown, {k: shown[k] for k in TERMS if k in shown})


# --- the rows -----------------------------------------------------------------------------------------


def _terms_of(row: Any) -> dict[str, Any]:
    """A poll's terms from its columns, as its announcement carries them."""
    return {
        "id": row.id,
        "event": "announced",
        "matter": row.matter,
        "special": row.matter in SPECIAL_MATTERS,
        "kind": row.kind,
        "candidates": list(row.candidates),
        "seats": row.seats,
        "secret": bool(row.secret),
        "changeable": bool(row.changeable),
        "consultative": bool(row.consultative),
        "shortened_reason": row.shortened_reason,
        "opens_at": row.opens_at.isoformat(),
        "closes_at": row.closes_at.isoformat(),
    }


def _convert(
    result: Callable[[Any], dict[str, Any] | None],
    published: Callable[[dict[str, Any]], dict[str, Any]],
    due: Callable[[dict[str, Any]], bool],
) -> None:
    """Rewrite every closed poll's result, its result notice, and the pushes queued with them."""
    connection = op.get_bind()
    rows = connection.execute(sa.select(poll).where(poll.c.result_notice_id.is_not(None))).all()
    for row in rows:
        stored = dict(row.result or {})
        if due(stored):
            connection.execute(sa.update(poll).where(poll.c.id == row.id).values(result=result(row)))
        data = connection.execute(
            sa.select(notice.c.data).where(notice.c.id == row.result_notice_id)
        ).scalar()
        if data and due(data.get("poll", {})):
            new = {**data, "poll": published(data["poll"])}
            connection.execute(sa.update(notice).where(notice.c.id == row.result_notice_id).values(data=new))
        # The notice's pushes were queued with one context for all of them: convert it once.
        sample = connection.execute(
            sa.select(outbox.c.context)
            .where(outbox.c.notice_id == row.result_notice_id, outbox.c.template == NOTICE)
            .limit(1)
        ).scalar()
        if sample and due(sample.get("poll", {})):
            connection.execute(
                sa.update(outbox)
                .where(outbox.c.notice_id == row.result_notice_id, outbox.c.template == NOTICE)
                .values(context={**sample, "poll": published(sample["poll"])})
            )
    for push in connection.execute(sa.select(outbox).where(outbox.c.template == AUTHOR_CLOSED)).all():
        context = dict(push.context or {})
        if due(context.get("poll", {})):
            context["poll"] = published(context["poll"])
            connection.execute(sa.update(outbox).where(outbox.c.id == push.id).values(context=context))


def upgrade() -> None:
    _convert(lambda row: to_numbers(row.result), _published_up, _is_text)


def downgrade() -> None:
    _convert(lambda row: to_text(row.result, _terms_of(row)), _published_down, _is_numbers)
