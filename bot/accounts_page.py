"""The statement page residents open from the chat (收支公示): a server-rendered, phone-first page with the
table of lines, totals and balances, a chart of income and expense by category, the versions and what
changed, and the questions asked under each line with their answers.

Who is looking: the signed, expiring link the chat handed this person (`?t=`, core.ledger_links), or the
web chat's own session cookie. Either way the page shows only what core.ledger lets that person see: a
forged or expired link, another compound's statement or someone else's draft get a plain-words page (403
or 404) and nothing of the statement.

The route is mounted with the console's accounts section (bot/console/accounts.py), whose Kit it renders
with: the same templates, words, vendored ECharts and stylesheet folder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select

from bot.channels.web_account import account_of
from bot.console import accounts_chart, assets
from bot.console.desk import LOCALES, Kit, PathId
from core import ledger, ledger_links
from core.work import Work
from db import people
from db.ledger.lines import yuan
from db.models import Identity, Person

Token = Annotated[str, Query(max_length=100)]


def period_name(label: str, locale: str) -> str:
    """A period's name as residents read it: 2026Q3 → 2026年第3季度 / Q3 2026."""
    zh = locale == "zh_CN"
    if len(label) == 6 and label[4] == "Q":
        return f"{label[:4]}年第{label[5]}季度" if zh else f"Q{label[5]} {label[:4]}"
    if len(label) == 6 and label[4] == "H":
        half = "上" if label[5] == "1" else "下"
        return f"{label[:4]}年{half}半年" if zh else f"H{label[5]} {label[:4]}"
    if len(label) == 7 and label[4] == "-":
        return f"{label[:4]}年{int(label[5:])}月" if zh else label
    if len(label) == 4:
        return f"{label}年" if zh else label
    return label.replace("~", " 至 " if zh else " to ")


def names(locale: str) -> dict[str, str]:
    """Category key → name in a language."""
    return {c.key: c.name(locale) for c in ledger.catalog().ordered}


def statement_context(
    kit: Kit, view: ledger.StatementView, locale: str, link: Callable[[int], str]
) -> dict[str, Any]:
    """What the shared statement template needs, for the page and the console alike."""
    words = kit.words(locale)["accounts"]
    table = names(locale)
    return {
        "v": view,
        "a": words,
        "names": table,
        "yuan": yuan,
        "link": link,
        "period_name": lambda summary: period_name(summary.label, locale),
        "chart": accounts_chart.option(view, table, words),
        "chart_size": accounts_chart.size(view),
        "echarts": assets.ECHARTS,
    }


def _chat_person(kit: Kit, request: Request) -> int | None:
    """The person of the web chat session this browser holds, if any."""
    account = account_of(request)
    if account is None:
        return None
    with kit.sessions() as session:
        return session.exec(
            select(Identity.person_id).where(
                Identity.channel == account.channel, Identity.external_id == account.external_id
            )
        ).first()


def _locale(kit: Kit, session: Session, person_id: int | None) -> str:
    person = session.get(Person, person_id) if person_id else None
    return person.locale if person is not None and person.locale in LOCALES else kit.default_locale


def routes(kit: Kit) -> APIRouter:
    """GET /accounts/{statement_id}[?t=TOKEN]: one statement's page for the person the link or the
    chat session speaks for."""
    router = APIRouter()

    @router.get("/accounts/{statement_id:int}", include_in_schema=False)
    def page(request: Request, statement_id: PathId, t: Token = "") -> HTMLResponse:
        now = kit.clock.now()
        person_id = ledger_links.person_of(kit.seal_key, t, statement_id, now) if t else None
        if t and person_id is None:
            return _denied(kit, kit.default_locale, "expired", 403)
        if person_id is None:
            person_id = _chat_person(kit, request)
        if person_id is None:
            return _denied(kit, kit.default_locale, "no_link", 403)
        with kit.sessions() as session:
            locale = _locale(kit, session, person_id)
            actor = people.actor(session, person_id, now.astimezone(kit.zone).date())
            try:
                view = ledger.statement(Work(session, now, kit.policy), actor, statement_id)
            except ledger.LedgerError:
                return _denied(kit, locale, "not_found", 404)

            def link(other: int) -> str:
                # A link opens one statement: another version gets its own token, as long-lived.
                if not t:
                    return f"/accounts/{other}"
                return (
                    f"/accounts/{other}?t={ledger_links.for_statement(kit.seal_key, t, statement_id, other)}"
                )

            context = statement_context(kit, view, locale, link)
            title = f"{view.summary.compound_name} · {period_name(view.summary.label, locale)}"
            html = kit.pages.get_template("accounts/page.html").render(
                w=kit.words(locale), locale=locale, title=title, ticket_link=None, **context
            )
        return HTMLResponse(html, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    return router


def _denied(kit: Kit, locale: str, reason: str, status: int) -> HTMLResponse:
    """The plain-words page of a link that shows nothing: why, and the way back to the chat."""
    words = kit.words(locale)
    html = kit.pages.get_template("accounts/page.html").render(
        w=words,
        a=words["accounts"],
        locale=locale,
        title=words["accounts"]["denied_title"],
        v=None,
        reason=reason,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
