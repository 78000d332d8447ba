"""Reading /accounts: the statements of one's compounds (newest first), one opened — totals, the first
lines with the questions asked about them and their answers, more lines, the versions — and asking about
a line, which becomes a 物业收费 ticket linked to it.

Every id a button carries is checked again by core.ledger against the permission policy: another
compound's statement or line, forged or left over, is refused in plain words and changes nothing.
"""

from __future__ import annotations

from core import ledger as use
from core import ledger_links
from core.actions import Accounts
from core.permissions import Action, may
from db.ledger.tables import LedgerLine
from handlers import drafts
from handlers.accounts import names
from handlers.accounts.draft import FLOW_NAME
from handlers.accounts.draft import Accounts as Draft
from handlers.common import given, menu_buttons
from handlers.context import Context
from handlers.types import Button, Inbound, Reply

FIRST_LINES = 8  # a long statement shows its totals and this many lines first, then "more"
MORE_LINES = 12
LISTED = 10  # statements offered as buttons in the list
MAX_QUESTION = 500


def refused(reason: str = "not_found") -> list[Reply]:
    """A plain-words refusal that changes nothing."""
    if reason in ("not_found", "not_allowed"):
        return [Reply("accounts.not_found")]
    return [Reply("accounts.refused", {"reason": reason})]


def latest(items: list[use.Summary]) -> list[use.Summary]:
    """Each statement once, at its newest version the person may see (a draft correction that only its
    filer sees does not hide the published version from them)."""
    shown = {s.statement_id for s in items}
    return [s for s in items if s.superseded_by is None or s.superseded_by not in shown]


def listing(ctx: Context, _: str = "") -> list[Reply]:
    """/accounts: the statements of the person's compounds, newest first; filers also see their drafts
    and a button to start a new statement."""
    actor = ctx.actor()
    filings = use.filings(ctx.work, actor)
    items = use.statements_for(ctx.work, actor)
    if not items and not filings and not may(actor, Action.SEE_ACCOUNTS):
        return [Reply("accounts.not_allowed", {}, menu_buttons(ctx))]
    items = latest(items)[:LISTED]
    rows = [
        [Button.of(Accounts("o", statement=s.statement_id), "accounts.btn_statement", args={"s": s})]
        for s in items
    ]
    if filings:
        rows.append([Button.of(Accounts("n"), "accounts.btn_new")])
    if ctx.state.parked.get("flow") == FLOW_NAME:
        rows.insert(
            0, [drafts.resume_button(FLOW_NAME, primary=True)]
        )  # a statement or question left mid-way
    compounds = sorted({s.compound_name for s in items} | {f.compound_name for f in filings})
    context = {"items": items, "compounds": compounds[:3], "filer": bool(filings)}
    return [Reply("accounts.list", context, rows)]


def load(ctx: Context, statement_id: int | None) -> use.StatementView | None:
    """A statement the person may read, or None (not there, another compound's, or a draft of others)."""
    if statement_id is None:
        return None
    try:
        return use.statement(ctx.work, ctx.actor(), statement_id)
    except use.LedgerError:
        return None


def page_url(ctx: Context, statement_id: int) -> str:
    """The statement page's address, signed for this person for a while ("" without a public address)."""
    if not ctx.public_url or not ctx.seal_key:
        return ""
    token = ledger_links.issue(ctx.seal_key, ctx.person_id, statement_id, ctx.now)
    return ledger_links.page_url(ctx.public_url, statement_id, token)


def ordered(view: use.StatementView) -> list[use.LineView]:
    """Lines as a statement shows them: income first, then expense, each in the statement's order."""
    return [x for side in ("income", "expense") for x in view.lines if x.side == side]


def changes(view: use.StatementView) -> dict[int, str]:
    """What this version changed, by line number: added | removed | changed."""
    return {c.seq: c.kind for c in view.changes.changes} if view.changes is not None else {}


def open_statement(ctx: Context, press: Accounts) -> list[Reply]:
    """A statement opened: totals, the first lines with their questions, and what can be done next."""
    view = load(ctx, press.statement)
    if view is None:
        return refused()
    lines = ordered(view)
    first = lines[:FIRST_LINES]
    context = {
        "s": view,
        "shown": first,
        "more": len(lines) - len(first),
        "names": names.of(ctx),
        "changes": changes(view),
        "url": page_url(ctx, view.summary.statement_id),
    }
    return [Reply("accounts.statement", context, _buttons(view, len(first)))]


def _buttons(view: use.StatementView, upto: int) -> list[list[Button]]:
    sid = view.summary.statement_id
    rows: list[list[Button]] = []
    if upto < len(view.lines):
        rows.append([Button.of(Accounts("m", statement=sid, start=upto), "accounts.btn_more")])
    if view.may_ask and view.lines:
        rows.append([Button.of(Accounts("qs", statement=sid), "accounts.btn_ask", primary=True)])
    extra = []
    if len(view.versions) > 1:
        extra.append(Button.of(Accounts("h", statement=sid), "accounts.btn_versions"))
    if view.may_correct:
        extra.append(Button.of(Accounts("r", statement=sid), "accounts.btn_correct"))
    if extra:
        rows.append(extra)
    rows.append([Button.of(Accounts("l"), "accounts.btn_list")])
    return rows


def more(ctx: Context, press: Accounts) -> list[Reply]:
    """The next lines of a long statement."""
    view = load(ctx, press.statement)
    if view is None:
        return refused()
    lines = ordered(view)
    start = min(given(press.start), len(lines))
    part = lines[start : start + MORE_LINES]
    upto = start + len(part)
    context = {
        "s": view,
        "shown": part,
        "more": len(lines) - upto,
        "names": names.of(ctx),
        "changes": changes(view),
    }
    return [Reply("accounts.more", context, _buttons(view, upto))]


def versions(ctx: Context, press: Accounts) -> list[Reply]:
    """Every version of a statement, each with what its filer said changed; a button opens each."""
    view = load(ctx, press.statement)
    if view is None:
        return refused()
    buttons = [
        Button.of(
            Accounts("o", statement=v.statement_id), "accounts.btn_version", args={"version": v.version}
        )
        for v in view.versions
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([Button.of(Accounts("l"), "accounts.btn_list")])
    return [Reply("accounts.versions", {"s": view}, rows)]


# --- asking about a line ---------------------------------------------------------------------------------


def pick(ctx: Context, press: Accounts) -> list[Reply]:
    """对这一项有疑问: which line? A button for each, or its number typed (channels without buttons)."""
    view = load(ctx, press.statement)
    if view is None or not view.may_ask:
        return refused()
    ctx.state.go(FLOW_NAME, "pick")
    Draft(statement=view.summary.statement_id).keep(ctx.state)
    return [_pick_reply(ctx, view)]


def _pick_reply(ctx: Context, view: use.StatementView) -> Reply:
    # By line number: a channel that turns a typed number into the N-th button (WeChat) then picks the
    # line of that number, as the typed-number fallback here does.
    lines = sorted(view.lines, key=lambda n: n.seq)
    table = names.of(ctx)
    rows = [
        [Button.of(Accounts("q", line=n.line_id), "accounts.btn_line", args={"n": n, "names": table})]
        for n in lines
    ]
    rows.append([Button.of(Accounts("x"), "accounts.btn_cancel")])
    return Reply("accounts.pick_line", {"lines": lines, "names": table, "changes": changes(view)}, rows)


def picked_by_number(ctx: Context, draft: Draft, inbound: Inbound) -> list[Reply]:
    """A line's number typed at the pick step."""
    view = load(ctx, draft.statement)
    if view is None:
        ctx.state.clear()
        return refused()
    typed = inbound.text.strip().removeprefix("第").removesuffix("项").removesuffix("行").strip()
    chosen = next((n for n in view.lines if typed.isdigit() and n.seq == int(typed)), None)
    if chosen is None:
        seqs = [n.seq for n in view.lines] or [1]
        bad = Reply("accounts.bad_pick", {"first": min(seqs), "last": max(seqs)})
        return [bad, _pick_reply(ctx, view)]
    return _ask_about(ctx, view, chosen)


def ask(ctx: Context, press: Accounts) -> list[Reply]:
    """A line's button: the person is asked to type their question."""
    line_id = given(press.line)
    line = ctx.session.get(LedgerLine, line_id)
    view = load(ctx, line.statement_id) if line is not None else None
    chosen = next((n for n in view.lines if n.line_id == line_id), None) if view is not None else None
    if view is None or chosen is None or not view.may_ask:
        return refused()
    return _ask_about(ctx, view, chosen)


def _ask_about(ctx: Context, view: use.StatementView, line: use.LineView) -> list[Reply]:
    ctx.state.go(FLOW_NAME, "ask")
    Draft(statement=view.summary.statement_id, line=line.line_id).keep(ctx.state)
    cancel = [[Button.of(Accounts("x"), "accounts.btn_cancel")]]
    return [Reply("accounts.ask", {"line": line, "names": names.of(ctx)}, cancel)]


def asked(ctx: Context, draft: Draft, inbound: Inbound) -> list[Reply]:
    """The question typed: a 物业收费 ticket linked to the line, confirmed with its number."""
    text = inbound.text.strip()
    if len(text) > MAX_QUESTION:
        limits = {"limit": MAX_QUESTION, "length": len(text)}
        return [Reply("accounts.too_long", limits, keeps_input=True)]
    if not text:
        return [Reply("accounts.empty_question"), *resume_ask(ctx, draft)]
    try:
        done = use.ask(ctx.work, ctx.actor(), given(draft.line), text, ctx.catalog.get("fees"))
    except use.LedgerError as exc:
        ctx.state.clear()
        return refused(exc.reason)
    ctx.state.clear()
    return [Reply("accounts.asked", {"ticket": done.ticket_id}, menu_buttons(ctx))]


def resume_ask(ctx: Context, draft: Draft) -> list[Reply]:
    """Ask again for what the asking step waits for: the line, or the question."""
    view = load(ctx, draft.statement)
    if view is None:
        ctx.state.clear()
        return refused()
    if ctx.state.step == "ask":
        chosen = next((n for n in view.lines if n.line_id == draft.line), None)
        if chosen is not None:
            return _ask_about(ctx, view, chosen)
    ctx.state.go(FLOW_NAME, "pick")
    draft.keep(ctx.state)
    return [_pick_reply(ctx, view)]
