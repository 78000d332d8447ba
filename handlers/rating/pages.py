"""What /rating shows: the ranking of the companies in one's jurisdiction (staff), a company's breakdown
with every indicator's inputs, its records, one record with its evidence, appeal and decision."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from core import evaluation as use
from core.actions import Rating
from core.permissions import Action, Actor, Role, grants_for, may, place
from db.evaluation.policy import default_policy
from db.models import OrgNode
from handlers import onboarding
from handlers.context import Context
from handlers.types import Attachment, Button, Reply, shows_photo

LIST_LIMIT = 20  # companies or records listed in one message; the console lists them all


def shown(value: Fraction | Decimal | int | None) -> str:
    """A score as staff read it: two decimals, rounded half up (as the total itself is rounded)."""
    if value is None:
        return ""
    exact = Fraction(value)
    cents = Decimal(exact.numerator) / Decimal(exact.denominator)
    return str(cents.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def half_of(ctx: Context) -> str:
    """The half-year shown: the current one."""
    return use.current_half(ctx.now)


def refused(reason: str) -> Reply:
    """A refusal of /rating, in plain words."""
    return Reply("rating.refused", {"reason": reason})


def ranks(actor: Actor) -> bool:
    """Whether the actor sees a ranking (community, street, district, admin), not only their own company."""
    return any(g.role is not Role.PROPERTY_STAFF for g in grants_for(actor, Action.VIEW_RATING))


def home_button() -> Button:
    """Back to the first page of /rating."""
    return Button.of(Rating("h"), "rating.btn_home")


def show(ctx: Context, _: str = "") -> list[Reply]:
    """`/rating`: staff see the ranking; a company's staff their own breakdown."""
    ctx.state.clear()
    actor = ctx.actor()
    half = half_of(ctx)
    if ranks(actor):
        return [ranking_page(ctx, half)]
    if not may(actor, Action.VIEW_RATING):
        if not actor.grants and not actor.residences:
            return onboarding.start(ctx, "")  # a visitor who has not joined: how to join
        return [Reply("rating.not_staff")]
    own = use.companies_for(ctx.work, actor, Action.VIEW_RATING)
    if not own:
        return [refused("no_companies")]
    return [company_page(ctx, choice.company_id, half) for choice in own[:LIST_LIMIT]]


def change(now: Any, before: Any) -> Decimal | None:
    """How the total moved since the half before (None: not ranked then)."""
    if before is None:
        return None
    return Decimal(now.total) - Decimal(before.total)


def ranking_page(ctx: Context, half: str) -> Reply:
    """The ranking of the jurisdiction's companies for a half-year, best first."""
    actor = ctx.actor()
    rows = use.ranking(ctx.work, actor, half)
    items = []
    for row in rows:
        moved = change(row.evaluation, row.previous)
        items.append(
            {
                "rank": row.place,
                "name": row.name,
                "grade": row.evaluation.grade,
                "total": shown(row.evaluation.total),
                "change": shown(abs(moved)) if moved is not None else None,
                "up": moved is not None and moved > 0,
                "down": moved is not None and moved < 0,
            }
        )
    buttons = [
        [Button.of(Rating("c", company=row.company_id), text=f"{row.place}. {row.name}")]
        for row in rows[:LIST_LIMIT]
    ]
    tools: list[Button] = []
    if may(actor, Action.ENTER_RECORD):
        tools.append(Button.of(Rating("n"), "rating.btn_new_record"))
    if may(actor, Action.PUBLISH_RATING) and rows:
        tools.append(Button.of(Rating("b"), "rating.btn_board"))
    if tools:
        buttons.append(tools)
    context = {"half": half, "items": items[:LIST_LIMIT], "more": max(0, len(items) - LIST_LIMIT)}
    return Reply("rating.ranking", context, buttons)


def indicator_lines(evaluation: Any) -> list[dict[str, Any]]:
    """Every indicator of an evaluation as the pages word it: key, kind, inputs, weight and points."""
    lines = []
    for line in evaluation.lines:
        item: dict[str, Any] = {
            "key": line.key,
            "kind": line.kind,
            "numerator": line.numerator,
            "denominator": line.denominator,
            "empty": line.empty,
            "weight": shown(line.weight),
            "points": shown(line.points),
        }
        if line.kind == "survey":
            item["homes"] = evaluation.survey_homes
            means = [a.mean for a in evaluation.aspects if a.mean is not None]
            item["mean"] = shown(sum(means, Fraction(0)) / len(means)) if means else ""
        lines.append(item)
    return lines


def company_context(name: str, half: str, evaluation: Any) -> dict[str, Any]:
    """A company's breakdown as the chat and the console word it."""
    return {
        "name": name,
        "half": half,
        "total": shown(evaluation.total),
        "grade": evaluation.grade,
        "base": shown(evaluation.base),  # the indicators' points
        "base_max": shown(default_policy().base),
        "lines": indicator_lines(evaluation),
        "good": {"count": evaluation.good.count, "points": shown(evaluation.good.counted)},
        "bad": {"count": evaluation.bad.count, "points": shown(evaluation.bad.counted)},
        "aspects": [
            {"aspect": a.aspect, "mean": shown(a.mean) if a.mean is not None else "", "homes": a.homes}
            for a in evaluation.aspects
        ],
    }


def company_page(ctx: Context, company_id: int, half: str) -> Reply:
    """One company's breakdown: every indicator with its inputs and points, records, total and grade."""
    try:
        found = use.breakdown(ctx.work, ctx.actor(), company_id, half)
        count = len(use.records(ctx.work, ctx.actor(), company_id, half))
    except use.EvaluationError as exc:
        return refused(exc.reason)
    context = company_context(found.name, half, found.evaluation)
    buttons = [[Button.of(Rating("r", company=company_id), "rating.btn_records", args={"n": count})]]
    if ranks(ctx.actor()):
        buttons.append([home_button()])
    return Reply("rating.company", context, buttons)


def records_page(ctx: Context, company_id: int, half: str) -> Reply:
    """A company's records of the half-year, newest first, each a button to open it."""
    try:
        found = use.records(ctx.work, ctx.actor(), company_id, half)
        name = use.breakdown(ctx.work, ctx.actor(), company_id, half).name
    except use.EvaluationError as exc:
        return refused(exc.reason)
    items = [record_item(r) for r in found]
    buttons = [
        [Button.of(Rating("v", record=item["id"]), "rating.btn_record", args=item)]
        for item in items[:LIST_LIMIT]
    ]
    buttons.append([Button.of(Rating("c", company=company_id), "rating.btn_company")])
    context = {
        "name": name,
        "half": half,
        "items": items[:LIST_LIMIT],
        "more": max(0, len(items) - LIST_LIMIT),
    }
    return Reply("rating.records", context, buttons)


def record_item(record: Any) -> dict[str, Any]:
    """A record as the pages word it."""
    return {
        "id": record.id,
        "good": record.good,
        "points": record.points,
        "compound": record.compound_name,
        "company": record.company_name,
        "reason": record.reason,
        "by": record.entered_by_name,
        "date": record.entered_at.isoformat(),
        "appeal": record.appeal_text,
        "appealed_at": record.appealed_at.isoformat() if record.appealed_at else "",
        "decision": record.decision,
        "note": record.decision_note,
        "decided_at": record.decided_at.isoformat() if record.decided_at else "",
        "counts": record.counts,
    }


def may_appeal(ctx: Context, record: Any) -> bool:
    """Whether the person may appeal the record now: one of its company's staff, before any appeal."""
    if record.appeal_text or not _may_on(ctx, Action.APPEAL_RECORD, record):
        return False
    return record.company_id in use.own_company_ids(ctx.work, ctx.actor())


def may_decide(ctx: Context, record: Any) -> bool:
    """Whether the person may decide the record's appeal now: appealed, undecided, in their jurisdiction."""
    return bool(record.appeal_text) and not record.decision and _may_on(ctx, Action.ENTER_RECORD, record)


def _may_on(ctx: Context, action: Action, record: Any) -> bool:
    node = ctx.session.get(OrgNode, record.compound_id)
    return node is not None and may(ctx.actor(), action, place(node.path))


def record_page(ctx: Context, record_id: int) -> Reply:
    """One record: its reason, evidence photo, appeal and decision; the appeal or decision button for
    whoever may use it now."""
    try:
        record = use.record(ctx.work, ctx.actor(), record_id)
    except use.EvaluationError as exc:
        return refused(exc.reason)
    item = record_item(record)
    channel, ref = record.evidence or ("", "")
    photos = [Attachment("photo", ref)] if ref and shows_photo(channel, ctx.person.channel) else []
    item["photo_elsewhere"] = bool(ref) and not photos
    buttons: list[list[Button]] = []
    if may_appeal(ctx, record):
        buttons.append([Button.of(Rating("a", record=record_id), "rating.btn_appeal")])
    if may_decide(ctx, record):
        buttons.append([Button.of(Rating("d", record=record_id), "rating.btn_decide")])
    buttons.append([Button.of(Rating("r", company=record.company_id), "rating.btn_records_back")])
    return Reply("rating.record", item, buttons, photos=photos)
