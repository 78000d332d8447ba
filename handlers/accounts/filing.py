"""Filing a statement in chat, step by step: the compound (when the filer serves several), the period (the
last finished quarter offered), then lines — a category button, the amount typed in yuan, a note, an
optional voucher photo — as many as needed, a summary with the totals, and publish. A published statement
is corrected the same way: its lines come back, a line's amount is typed again, lines are added or
removed, and the filer says what changed; the correction is a new version and both stay visible.

The draft lives in the conversation state (`draft.Accounts`) until it is published through core.ledger;
a bad amount is refused with a clear reply and nothing is saved.
"""

from __future__ import annotations

from collections.abc import Callable

from core import ledger as use
from core.actions import Accounts
from db.ledger import periods
from db.ledger.lines import LineDraft, LinesError
from handlers.accounts import names, reading
from handlers.accounts.draft import FILING, FLOW_NAME, TypedLine
from handlers.accounts.draft import Accounts as Draft
from handlers.accounts.money import fen_of
from handlers.common import given, menu_buttons, stale
from handlers.context import Context
from handlers.types import Button, Inbound, Reply

Answer = list[Reply]
MAX_NOTE = 200
MAX_PROJECT = 100
MAX_CHANGE_NOTE = 500
MAX_LINES = 60  # a statement typed in chat; longer ones come as a file (linli ledger file, the console)


def _go(ctx: Context, draft: Draft, step: str, *before: Reply) -> Answer:
    """Move to a step, keep the draft, and ask what the step asks (after any replies given)."""
    if ctx.state.flow != FLOW_NAME:
        ctx.state.go(FLOW_NAME, step)
    ctx.state.step = step
    draft.keep(ctx.state)
    return [*before, *ASKS[step](ctx, draft)]


def _filing(ctx: Context, draft: Draft) -> use.Filing | None:
    """The compound and filer of the draft, while the person may still file for them."""
    found = use.filings(ctx.work, ctx.actor())
    return next((f for f in found if (f.compound_id, f.filer) == (draft.compound, draft.filer)), None)


def _filing_label(filing: use.Filing | None) -> str:
    return filing.compound_name if filing is not None else ""


# --- starting ----------------------------------------------------------------------------------------


def start(ctx: Context, _: Accounts | None = None) -> Answer:
    """新建收支公示: the compound first when the filer serves several, else the period."""
    if ctx.state.flow == FLOW_NAME and ctx.state.step in FILING and Draft.of(ctx.state).compound:
        return resume(ctx)  # a draft in hand is never thrown away by pressing "new" again
    filings = use.filings(ctx.work, ctx.actor())
    if not filings:
        return [Reply("accounts.not_filer", {}, menu_buttons(ctx))]
    ctx.state.go(FLOW_NAME, "compound")
    draft = Draft()
    if len(filings) == 1:
        return _chosen(ctx, draft, filings[0])
    return _go(ctx, draft, "compound")


def _ask_compound(ctx: Context, draft: Draft) -> Answer:
    filings = use.filings(ctx.work, ctx.actor())[:20]
    rows = [
        [
            Button.of(
                Accounts("c", compound=f.compound_id, filer=f.filer),
                "accounts.btn_filing",
                args={"name": f.compound_name, "filer": f.filer},
            )
        ]
        for f in filings
    ]
    rows.append([Button.of(Accounts("x"), "accounts.btn_cancel")])
    return [Reply("accounts.choose_compound", {}, rows)]


def _on_compound(ctx: Context, draft: Draft, press: Accounts) -> Answer:
    found = use.filings(ctx.work, ctx.actor())
    chosen = next((f for f in found if (f.compound_id, f.filer) == (press.compound, press.filer)), None)
    if chosen is None:
        return [stale()]
    return _chosen(ctx, draft, chosen)


def _chosen(ctx: Context, draft: Draft, filing: use.Filing) -> Answer:
    draft.compound, draft.filer = filing.compound_id, filing.filer
    return _go(ctx, draft, "period")


def _ask_period(ctx: Context, draft: Draft) -> Answer:
    today = ctx.now.astimezone(ctx.policy.zone).date()
    last = periods.previous_quarter(today)
    before = periods.previous_quarter(last.start)
    options = [last.label(), before.label()]
    rows = [[Button.of(Accounts("p", period=p), "accounts.btn_period", args={"label": p}) for p in options]]
    rows.append([Button.of(Accounts("x"), "accounts.btn_cancel")])
    context = {"compound": _filing_label(_filing(ctx, draft)), "default": options[0]}
    return [Reply("accounts.choose_period", context, rows)]


def _period(ctx: Context, draft: Draft, text: str) -> Answer:
    try:
        period = periods.parse_period(text.replace(" ", "").upper().replace("-Q", "Q"))
    except periods.PeriodError:
        return _go(ctx, draft, "period", Reply("accounts.bad_period", {"typed": text[:40]}, keeps_input=True))
    draft.period = period.label()
    return _go(ctx, draft, "category")


def _on_period(ctx: Context, draft: Draft, press: Accounts) -> Answer:
    return _period(ctx, draft, given(press.period))


def _typed_period(ctx: Context, draft: Draft, inbound: Inbound) -> Answer:
    return _period(ctx, draft, inbound.text.strip())


# --- lines ---------------------------------------------------------------------------------------------


def _ask_category(ctx: Context, draft: Draft) -> Answer:
    fund = draft.filer == "committee"
    table = names.of(ctx)
    buttons = [
        Button.of(
            Accounts("k", category=c.key),
            "accounts.btn_category",
            args={"side": c.side, "name": table[c.key]},
        )
        for side in ("income", "expense")
        for c in use.catalog().of(side, fund)
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    if draft.lines:
        rows.append([Button.of(Accounts("d"), "accounts.btn_done")])
    rows.append([Button.of(Accounts("x"), "accounts.btn_cancel")])
    context = {"number": len(draft.lines) + 1, "correcting": bool(draft.correcting), "version": draft.version}
    return [Reply("accounts.choose_category", context, rows)]


def _on_category(ctx: Context, draft: Draft, press: Accounts) -> Answer:
    category = use.catalog().get(given(press.category))
    if category is None or category.fund != (draft.filer == "committee"):
        return [stale()]
    if len(draft.lines) >= MAX_LINES:
        return _go(ctx, draft, "lines", Reply("accounts.refused", {"reason": "too_many_lines"}))
    draft.category, draft.amount_fen, draft.note = category.key, None, ""
    return _go(ctx, draft, "amount")


def _ask_amount(ctx: Context, draft: Draft) -> Answer:
    name = names.of(ctx).get(draft.category, draft.category)
    return [
        Reply("accounts.ask_amount", {"category": name}, [[Button.of(Accounts("x"), "accounts.btn_cancel")]])
    ]


def _amount(ctx: Context, draft: Draft, inbound: Inbound) -> Answer:
    fen = fen_of(inbound.text)
    if fen is None:
        # Nothing is saved: the step is asked again, and the typed text stays in the box to fix.
        bad = Reply("accounts.bad_amount", {"typed": inbound.text.strip()[:40]}, keeps_input=True)
        return [bad]
    draft.amount_fen = fen
    category = use.catalog().get(draft.category)
    if category is not None and category.fund and category.side == "expense":
        return _go(ctx, draft, "project")  # spending the maintenance fund names its project
    return _go(ctx, draft, "note")


def _ask_project(ctx: Context, draft: Draft) -> Answer:
    cancel = [[Button.of(Accounts("x"), "accounts.btn_cancel")]]
    return [Reply("accounts.ask_project", {}, cancel)]


def _project(ctx: Context, draft: Draft, inbound: Inbound) -> Answer:
    text = inbound.text.strip()
    if len(text) > MAX_PROJECT:
        return [Reply("accounts.too_long", {"limit": MAX_PROJECT, "length": len(text)}, keeps_input=True)]
    if not text:
        return _go(ctx, draft, "project")
    draft.project = text
    return _go(ctx, draft, "note")


def _ask_note(ctx: Context, draft: Draft) -> Answer:
    return [Reply("accounts.ask_note", {}, [[Button.of(Accounts("sn"), "accounts.btn_skip")]])]


def _note(ctx: Context, draft: Draft, inbound: Inbound) -> Answer:
    text = inbound.text.strip()
    if len(text) > MAX_NOTE:
        return [Reply("accounts.too_long", {"limit": MAX_NOTE, "length": len(text)}, keeps_input=True)]
    if not text:
        return _go(ctx, draft, "note")
    draft.note = text
    return _go(ctx, draft, "voucher")


def _skip_note(ctx: Context, draft: Draft, _: Accounts) -> Answer:
    draft.note = ""
    return _go(ctx, draft, "voucher")


def _ask_voucher(ctx: Context, draft: Draft) -> Answer:
    return [Reply("accounts.ask_voucher", {}, [[Button.of(Accounts("sv"), "accounts.btn_skip")]])]


def _voucher(ctx: Context, draft: Draft, inbound: Inbound) -> Answer:
    photos = [a for a in inbound.attachments if a.kind == "photo"]
    if not photos:
        return _go(ctx, draft, "voucher")
    return _line_done(ctx, draft, (inbound.channel, photos[-1].ref))


def _skip_voucher(ctx: Context, draft: Draft, _: Accounts) -> Answer:
    return _line_done(ctx, draft, None)


def _line_done(ctx: Context, draft: Draft, photo: tuple[str, str] | None) -> Answer:
    category = use.catalog().get(draft.category)
    if category is None or draft.amount_fen is None:
        return _go(ctx, draft, "category")
    line = TypedLine(
        side=category.side,
        category=category.key,
        amount_fen=draft.amount_fen,
        note=draft.note,
        project=draft.project,
        photo=photo,
    )
    draft.lines.append(line)
    draft.category, draft.amount_fen, draft.note, draft.project = "", None, "", ""
    ctx.state.step = "lines"
    draft.keep(ctx.state)
    return _summary(ctx, draft, added=line)


def _summary(ctx: Context, draft: Draft, added: TypedLine | None = None) -> Answer:
    income, expense = draft.totals()
    context = {
        "added": added,
        "compound": _filing_label(_filing(ctx, draft)),
        "period": draft.period,
        "lines": draft.lines,
        "names": names.of(ctx),
        "income": income,
        "expense": expense,
        "ready": bool(draft.lines),
        "correcting": bool(draft.correcting),
        "version": draft.version,
    }
    rows: list[list[Button]] = []
    if draft.lines:
        finish = "accounts.btn_file_correction" if draft.correcting else "accounts.btn_publish"
        rows.append([Button.of(Accounts("ok"), finish, primary=True)])
    rows.append([Button.of(Accounts("a"), "accounts.btn_add")])
    if draft.correcting:
        for i in range(len(draft.lines))[:10]:
            edit = Accounts("e", statement=draft.correcting, start=i)
            rows.append([Button.of(edit, "accounts.btn_edit", args={"n": i + 1})])
    if draft.lines:
        rows.append([Button.of(Accounts("u"), "accounts.btn_undo")])
    rows.append([Button.of(Accounts("x"), "accounts.btn_cancel")])
    return [Reply("accounts.draft", context, rows)]


def _ask_lines(ctx: Context, draft: Draft) -> Answer:
    return _summary(ctx, draft)


def _add(ctx: Context, draft: Draft, _: Accounts) -> Answer:
    return _go(ctx, draft, "category")


def _undo(ctx: Context, draft: Draft, _: Accounts) -> Answer:
    if draft.lines:
        draft.lines.pop()
    return _go(ctx, draft, "lines")


def _done(ctx: Context, draft: Draft, _: Accounts) -> Answer:
    return _go(ctx, draft, "lines")


# --- correcting ---------------------------------------------------------------------------------------


def correct(ctx: Context, press: Accounts) -> Answer:
    """更正 on a published statement: its lines come back as a draft to change, add to or remove from."""
    view = reading.load(ctx, press.statement)
    if view is None:
        return reading.refused()
    if not view.may_correct:
        return reading.refused("superseded" if view.summary.superseded_by else "not_allowed")
    lines = [
        TypedLine(side=x.side, category=x.category, amount_fen=x.amount_fen, note=x.note, project=x.project)
        for x in view.lines
    ]
    m = view.summary
    draft = Draft(
        compound=m.compound_id,
        filer=m.filer,
        period=m.label,
        lines=lines,
        correcting=m.statement_id,
        version=m.version,
    )
    ctx.state.go(FLOW_NAME, "lines")
    return _go(ctx, draft, "lines")


def _edit(ctx: Context, draft: Draft, press: Accounts) -> Answer:
    """改第N项 in a correction: the line's amount is typed again (the press names the version and index)."""
    index = given(press.start)
    if not draft.correcting or press.statement != draft.correcting or index >= len(draft.lines):
        return [stale()]
    draft.editing = index
    return _go(ctx, draft, "edit")


def _ask_edit(ctx: Context, draft: Draft) -> Answer:
    index = draft.editing if draft.editing is not None else 0
    if index >= len(draft.lines):
        return _ask_lines(ctx, draft)
    line = draft.lines[index]
    context = {
        "number": index + 1,
        "category": names.of(ctx).get(line.category, line.category),
        "amount": line.amount_fen,
    }
    return [Reply("accounts.ask_edit", context, [[Button.of(Accounts("d"), "accounts.btn_cancel")]])]


def _edited(ctx: Context, draft: Draft, inbound: Inbound) -> Answer:
    fen = fen_of(inbound.text)
    if fen is None:
        return [Reply("accounts.bad_amount", {"typed": inbound.text.strip()[:40]}, keeps_input=True)]
    index = draft.editing
    if index is not None and index < len(draft.lines):
        draft.lines[index] = draft.lines[index].model_copy(update={"amount_fen": fen})
    draft.editing = None
    return _go(ctx, draft, "lines")


def _ask_change_note(ctx: Context, draft: Draft) -> Answer:
    return [Reply("accounts.ask_change_note", {}, [[Button.of(Accounts("d"), "accounts.btn_cancel")]])]


def _change_note(ctx: Context, draft: Draft, inbound: Inbound) -> Answer:
    text = inbound.text.strip()
    if len(text) > MAX_CHANGE_NOTE:
        return [Reply("accounts.too_long", {"limit": MAX_CHANGE_NOTE, "length": len(text)}, keeps_input=True)]
    if not text:
        return _go(ctx, draft, "change_note")
    return _publish(ctx, draft, text)


# --- publishing ----------------------------------------------------------------------------------------


def _ok(ctx: Context, draft: Draft, _: Accounts) -> Answer:
    if not draft.lines:
        return _go(ctx, draft, "lines", Reply("accounts.refused", {"reason": "empty"}))
    if draft.correcting:
        return _go(ctx, draft, "change_note")
    return _publish(ctx, draft, "")


def _publish(ctx: Context, draft: Draft, change_note: str) -> Answer:
    """File the draft through core.ledger and publish it (a correction as the next version)."""
    filing = _filing(ctx, draft)
    if filing is None:
        ctx.state.clear()
        return reading.refused("not_allowed")
    lines = [
        LineDraft(
            x.side, x.category, x.amount_fen, x.note, x.project, vouchers=((x.photo,) if x.photo else ())
        )
        for x in draft.lines
    ]
    try:
        if draft.correcting:
            filed = use.correct(ctx.work, ctx.actor(), draft.correcting, change_note, lines)
        else:
            period = periods.parse_period(draft.period)
            wanted = use.StatementDraft(filing.compound_id, period, filing.filer, tuple(lines))
            filed = use.draft_statement(ctx.work, ctx.actor(), wanted)
        published = use.publish(ctx.work, ctx.actor(), filed.statement_id)
    except use.LedgerError as exc:
        return _go(ctx, draft, "lines", Reply("accounts.refused", {"reason": str(exc.reason)}))
    except LinesError as exc:
        return _go(ctx, draft, "lines", Reply("accounts.refused", {"reason": exc.bad[0].reason}))
    except periods.PeriodError:
        return _go(ctx, draft, "period", Reply("accounts.refused", {"reason": "bad_period"}))
    ctx.state.clear()
    income, expense = draft.totals()
    context = {
        "compound": filing.compound_name,
        "period": draft.period,
        "version": published.version,
        "income": income,
        "expense": expense,
        "url": reading.page_url(ctx, published.statement_id),
    }
    view = Accounts("o", statement=published.statement_id)
    return [Reply("accounts.published", context, [[Button.of(view, "accounts.btn_open")]])]


def cancel(ctx: Context, _: Accounts) -> Answer:
    """取消: leave /accounts (a typed draft is thrown away only after /cancel asks)."""
    ctx.state.clear()
    return [Reply("accounts.left", {}, menu_buttons(ctx))]


# --- the steps, declared once --------------------------------------------------------------------------

ASKS: dict[str, Callable[[Context, Draft], Answer]] = {
    "compound": _ask_compound,
    "period": _ask_period,
    "category": _ask_category,
    "amount": _ask_amount,
    "project": _ask_project,
    "note": _ask_note,
    "voucher": _ask_voucher,
    "lines": _ask_lines,
    "edit": _ask_edit,
    "change_note": _ask_change_note,
}
# Which buttons each step takes (by verb); any other press of the family re-asks the step.
PRESSES: dict[str, dict[str, Callable[[Context, Draft, Accounts], Answer]]] = {
    "compound": {"c": _on_compound},
    "period": {"p": _on_period},
    "category": {"k": _on_category, "d": _done},
    "amount": {},
    "project": {},
    "note": {"sn": _skip_note},
    "voucher": {"sv": _skip_voucher},
    "lines": {"a": _add, "u": _undo, "ok": _ok, "e": _edit, "d": _done},
    "edit": {"d": _done},
    "change_note": {"d": _done},
}
TYPED: dict[str, Callable[[Context, Draft, Inbound], Answer]] = {
    "period": _typed_period,
    "amount": _amount,
    "project": _project,
    "note": _note,
    "voucher": _voucher,
    "edit": _edited,
    "change_note": _change_note,
}


def on_press(ctx: Context, press: Accounts) -> Answer | None:
    """A filing button at the step that takes it; None when the step does not take it."""
    job = PRESSES.get(ctx.state.step, {}).get(press.verb)
    return job(ctx, Draft.of(ctx.state), press) if job is not None else None


def on_text(ctx: Context, inbound: Inbound) -> Answer:
    """Text (or a photo) typed at a filing step; a step that wants a button asks for it again."""
    job = TYPED.get(ctx.state.step)
    draft = Draft.of(ctx.state)
    if job is None:
        return ASKS[ctx.state.step](ctx, draft)
    return job(ctx, draft, inbound)


def resume(ctx: Context) -> Answer:
    """Ask the current filing step again."""
    return ASKS[ctx.state.step](ctx, Draft.of(ctx.state))
