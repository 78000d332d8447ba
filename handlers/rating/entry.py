"""Entering a good or bad record in chat (street and district staff): company → compound → good or bad →
points → reason typed → evidence photo (required for a bad record) → confirm; a company's appeal of a
record (typed, once); and staff's decision on it (upheld or not, with a typed note).

Each step is declared once in `STEPS` with what it asks; every id a button carries is checked again by
the use cases in core/evaluation.py, which refuse another jurisdiction's company or record.
"""

from __future__ import annotations

from collections.abc import Callable

from core import evaluation as use
from core.actions import Rating
from core.permissions import Action, may
from db.evaluation.policy import default_policy
from handlers.common import given, stale
from handlers.context import Context
from handlers.rating.draft import NAME, RatingDraft
from handlers.rating.pages import may_appeal, may_decide, record_page, refused
from handlers.types import Attachment, Button, Inbound, Reply, shows_photo

MAX_REASON = 500  # as the record keeps it
MAX_NOTE = 500
MAX_APPEAL = 1000
POINT_CHOICES = (1, 2, 3, 5, 10, 15, 20)  # offered as buttons within the policy's range for the kind

Ask = Callable[[Context, RatingDraft], Reply]


def _choices(ctx: Context) -> list[use.CompanyChoice]:
    """The companies the person may enter records of, with the compounds each serves under them."""
    return use.companies_for(ctx.work, ctx.actor(), Action.ENTER_RECORD)


def _choice(ctx: Context, company_id: int) -> use.CompanyChoice | None:
    return next((c for c in _choices(ctx) if c.company_id == company_id), None)


def points_range(good: bool) -> tuple[int, int]:
    """The points one record of a kind may carry (the policy's range)."""
    policy = default_policy()
    return policy.good_points if good else policy.bad_points


def _cancel_row() -> list[Button]:
    return [Button.of(Rating("x"), "rating.btn_cancel")]


def _go(ctx: Context, draft: RatingDraft, step: str, *before: Reply) -> list[Reply]:
    ctx.state.go(NAME, step)
    draft.keep(ctx.state)
    return [*before, ASKS[step](ctx, draft)]


# --- the asks --------------------------------------------------------------------------------------------


def ask_company(ctx: Context, _: RatingDraft) -> Reply:
    """Which company: those serving compounds in the person's jurisdiction."""
    choices = _choices(ctx)
    rows = [[Button.of(Rating("nc", company=c.company_id), text=c.name)] for c in choices]
    return Reply("rating.ask_company", {"none": not choices}, [*rows, _cancel_row()])


def ask_compound(ctx: Context, draft: RatingDraft) -> Reply:
    """Which compound the record concerns: those the company serves in the jurisdiction."""
    choice = _choice(ctx, draft.company)
    compounds = choice.compounds if choice is not None else ()
    rows = [[Button.of(Rating("np", compound=c.id), text=c.name)] for c in compounds]
    return Reply("rating.ask_compound", {"company": choice.name if choice else ""}, [*rows, _cancel_row()])


def ask_kind(ctx: Context, _: RatingDraft) -> Reply:
    """A good record (加分) or a bad one (扣分)."""
    row = [
        Button.of(Rating("nk", good=True), "rating.btn_good"),
        Button.of(Rating("nk", good=False), "rating.btn_bad"),
    ]
    return Reply("rating.ask_kind", {}, [row, _cancel_row()])


def ask_points(ctx: Context, draft: RatingDraft) -> Reply:
    """How many points, within the policy's range for the kind."""
    low, high = points_range(bool(draft.good))
    offered = [p for p in POINT_CHOICES if low <= p <= high] or [low]
    row = [
        Button.of(Rating("nn", points=p), "rating.btn_points", args={"points": p, "good": draft.good})
        for p in offered
    ]
    rows = [row[i : i + 4] for i in range(0, len(row), 4)]
    return Reply("rating.ask_points", {"good": draft.good, "low": low, "high": high}, [*rows, _cancel_row()])


def ask_reason(_: Context, draft: RatingDraft) -> Reply:
    """The reason, typed."""
    return Reply("rating.ask_reason", {"good": draft.good, "limit": MAX_REASON}, [_cancel_row()])


def ask_evidence(_: Context, draft: RatingDraft) -> Reply:
    """The evidence photo: required for a bad record, optional for a good one."""
    rows = [] if not draft.good else [[Button.of(Rating("ns"), "rating.btn_no_photo")]]
    return Reply("rating.ask_evidence", {"good": draft.good}, [*rows, _cancel_row()])


def ask_confirm(ctx: Context, draft: RatingDraft) -> Reply:
    """The whole record, to enter or cancel."""
    choice = _choice(ctx, draft.company)
    compound = next((c for c in choice.compounds if c.id == draft.compound), None) if choice else None
    names = (choice.name if choice else "", compound.name if compound else "")
    channel, ref = draft.channel, draft.photo
    photos = [Attachment("photo", ref)] if ref and shows_photo(channel, ctx.person.channel) else []
    context = {
        "company": names[0],
        "compound": names[1],
        "good": draft.good,
        "points": draft.points,
        "reason": draft.reason,
        "photo": bool(ref),
    }
    row = [
        Button.of(Rating("ok"), "rating.btn_enter", primary=True),
        Button.of(Rating("x"), "rating.btn_cancel"),
    ]
    return Reply("rating.confirm", context, [row], photos=photos)


def ask_appeal(_: Context, draft: RatingDraft) -> Reply:
    """The company's reason for appealing, typed."""
    return Reply("rating.ask_appeal", {"limit": MAX_APPEAL, "record": draft.record}, [_cancel_row()])


def ask_decision(_: Context, draft: RatingDraft) -> Reply:
    """Uphold the appeal (the record stops counting) or reject it (the record stands)."""
    row = [
        Button.of(Rating("du", record=draft.record, good=True), "rating.btn_uphold"),
        Button.of(Rating("du", record=draft.record, good=False), "rating.btn_reject"),
    ]
    return Reply("rating.ask_decision", {"record": draft.record}, [row, _cancel_row()])


def ask_note(_: Context, draft: RatingDraft) -> Reply:
    """The note that goes with the decision, typed."""
    return Reply("rating.ask_note", {"upheld": draft.upheld, "limit": MAX_NOTE}, [_cancel_row()])


ASKS: dict[str, Ask] = {
    "company": ask_company,
    "compound": ask_compound,
    "kind": ask_kind,
    "points": ask_points,
    "reason": ask_reason,
    "evidence": ask_evidence,
    "confirm": ask_confirm,
    "appeal": ask_appeal,
    "decision": ask_decision,
    "note": ask_note,
}


def resume(ctx: Context) -> list[Reply]:
    """Ask again what the step the person is at asks."""
    ask = ASKS.get(ctx.state.step)
    if ask is None:
        ctx.state.clear()
        return [stale()]
    return [ask(ctx, RatingDraft.of(ctx.state))]


# --- the presses ---------------------------------------------------------------------------------------


def start(ctx: Context) -> list[Reply]:
    """`➕ 录入记录`: only street and district staff (and admins) enter records."""
    if not may(ctx.actor(), Action.ENTER_RECORD):
        return [refused("not_allowed")]
    if not _choices(ctx):
        return [refused("no_companies")]
    return _go(ctx, RatingDraft(), "company")


def _at(ctx: Context, step: str) -> RatingDraft | None:
    """The draft when the person is at this step of /rating, else None (the press is stale)."""
    return RatingDraft.of(ctx.state) if (ctx.state.flow, ctx.state.step) == (NAME, step) else None


def chose_company(ctx: Context, press: Rating) -> list[Reply]:
    """A company chosen: it must be one the person may grade."""
    draft = _at(ctx, "company")
    if draft is None or _choice(ctx, given(press.company)) is None:
        return [stale()]
    draft.company = given(press.company)
    return _go(ctx, draft, "compound")


def chose_compound(ctx: Context, press: Rating) -> list[Reply]:
    """A compound chosen: one the company serves in the person's jurisdiction."""
    draft = _at(ctx, "compound")
    choice = _choice(ctx, draft.company) if draft is not None else None
    if draft is None or choice is None or press.compound not in {c.id for c in choice.compounds}:
        return [stale()]
    draft.compound = given(press.compound)
    return _go(ctx, draft, "kind")


def chose_kind(ctx: Context, press: Rating) -> list[Reply]:
    """Good or bad."""
    draft = _at(ctx, "kind")
    if draft is None:
        return [stale()]
    draft.good = given(press.good)
    return _go(ctx, draft, "points")


def chose_points(ctx: Context, press: Rating) -> list[Reply]:
    """The points, within the policy's range."""
    draft = _at(ctx, "points")
    low, high = points_range(bool(draft.good)) if draft is not None else (0, -1)
    if draft is None or not low <= given(press.points) <= high:
        return [stale()]
    draft.points = given(press.points)
    return _go(ctx, draft, "reason")


def no_photo(ctx: Context, _: Rating) -> list[Reply]:
    """A good record without a photo."""
    draft = _at(ctx, "evidence")
    if draft is None or not draft.good:
        return [stale()]
    return _go(ctx, draft, "confirm")


def enter(ctx: Context, _: Rating) -> list[Reply]:
    """✅ 录入: the use case checks it all again and records it."""
    draft = _at(ctx, "confirm")
    if draft is None:
        return [stale()]
    channel, ref = draft.channel, draft.photo
    try:
        entered = use.enter_record(
            ctx.work,
            ctx.actor(),
            draft.company,
            draft.compound,
            bool(draft.good),
            draft.points,
            draft.reason,
            (channel, ref) if ref else None,
        )
    except use.EvaluationError as exc:
        ctx.state.clear()
        return [refused(exc.reason)]
    ctx.state.clear()
    return [
        Reply("rating.entered", {"good": draft.good, "points": draft.points}),
        record_page(ctx, entered.id),
    ]


def cancel(ctx: Context, _: Rating) -> list[Reply]:
    """取消: nothing is kept."""
    if ctx.state.flow != NAME:
        return [stale()]
    ctx.state.clear()
    return [Reply("rating.cancelled")]


def appeal(ctx: Context, press: Rating) -> list[Reply]:
    """申诉: a company's staff appeal a record against it, once; the reason is typed next."""
    record_id = given(press.record)
    try:
        record = use.record(ctx.work, ctx.actor(), record_id)
    except use.EvaluationError as exc:
        return [refused(exc.reason)]
    if not may_appeal(ctx, record):
        return [refused("already_appealed" if record.appeal_text else "not_allowed")]
    return _go(ctx, RatingDraft(record=record_id), "appeal")


def decide(ctx: Context, press: Rating) -> list[Reply]:
    """裁决申诉: street or district staff decide a record's appeal."""
    record_id = given(press.record)
    try:
        record = use.record(ctx.work, ctx.actor(), record_id)
    except use.EvaluationError as exc:
        return [refused(exc.reason)]
    if not may_decide(ctx, record):
        reason = "already_decided" if record.decision else "not_appealed" if not record.appeal_text else ""
        return [refused(reason or "not_allowed")]
    return _go(ctx, RatingDraft(record=record_id), "decision")


def decided(ctx: Context, press: Rating) -> list[Reply]:
    """Upheld or not: the note is typed next."""
    draft = _at(ctx, "decision")
    if draft is None or press.record != draft.record:
        return [stale()]
    draft.upheld = given(press.good)
    return _go(ctx, draft, "note")


# --- typed text and photos -----------------------------------------------------------------------------


def on_text(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Text or a photo inside /rating: the reason, the evidence, an appeal or a decision's note."""
    draft = RatingDraft.of(ctx.state)
    step = ctx.state.step
    text = inbound.text.strip()
    photos = [a for a in inbound.attachments if a.kind == "photo"]
    if step == "evidence":
        if not photos:
            return [Reply("rating.photo_needed", {"good": draft.good}), ask_evidence(ctx, draft)]
        draft.channel, draft.photo = inbound.channel, photos[-1].ref
        return _go(ctx, draft, "confirm")
    limits = {"reason": MAX_REASON, "appeal": MAX_APPEAL, "note": MAX_NOTE}
    if step not in limits:
        return [Reply("rating.use_buttons"), *resume(ctx)]
    if not text:
        return [Reply("rating.text_needed"), *resume(ctx)]
    if len(text) > limits[step]:
        return [Reply("rating.too_long", {"limit": limits[step], "length": len(text)}, keeps_input=True)]
    if step == "reason":
        draft.reason = text
        return _go(ctx, draft, "evidence")
    ctx.state.clear()
    try:
        if step == "appeal":
            use.appeal_record(ctx.work, ctx.actor(), draft.record, text)
            done = Reply("rating.appealed")
        else:
            use.decide_appeal(ctx.work, ctx.actor(), draft.record, bool(draft.upheld), text)
            done = Reply("rating.decided", {"upheld": draft.upheld})
    except use.EvaluationError as exc:
        return [refused(exc.reason)]
    return [done, record_page(ctx, draft.record)]
