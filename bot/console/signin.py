"""Signing in to the console with a one-time link from the chat, signing out, and the language switch.

The link's GET shows a button and changes nothing: chat apps open links to preview them, and a preview
must not use up the person's link. The button's POST uses the link (once, within ten minutes) and opens a
new session, whatever cookie the browser had (no session fixation)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.console.desk import COOKIE, LOCALES, Desk, Kit, Refused, _same_origin
from core import audit
from core.permissions import Action, may
from core.work import Work
from db import console, people
from db.models import Person


def routes(kit: Kit) -> APIRouter:
    """/console/signin (GET shows, POST signs in), /console/signout, /console/lang."""
    router = APIRouter()

    @router.get("/console/signin", include_in_schema=False)
    def signin_page(request: Request, t: str = "", out: str = "") -> HTMLResponse:
        return kit.page(request, None, "signin.html", token=t[:100], signed_out=bool(out))

    @router.post("/console/signin", include_in_schema=False)
    def signin(request: Request, t: str = Form("", max_length=100)) -> Response:
        _same_origin(request)
        with kit.sessions() as session:
            now = kit.clock.now()
            person_id = console.redeem_link(session, t, now)
            if person_id is None:
                session.commit()
                raise Refused(403, "link_used")
            actor = people.actor(session, person_id, now.astimezone(kit.zone).date())
            if not may(actor, Action.USE_CONSOLE):
                session.commit()
                raise Refused(403, "not_allowed")
            old = request.cookies.get(COOKIE, "")
            if old:
                console.end_session(session, old, now)
            opened = console.open_session(session, person_id, now)
            work = Work(session, now, kit.policy, via="console")
            role = next((g.role.value for g in actor.grants), "")
            path = next((g.path for g in actor.grants), "")
            audit.record(work, actor, role, "console.signin", "person", person_id, path)
            session.commit()
        response = RedirectResponse("/console", status_code=303)
        response.set_cookie(
            COOKIE,
            opened.session_id,
            httponly=True,
            samesite="strict",
            secure=kit.https,
            path="/console",
        )
        return response

    @router.post("/console/signout", include_in_schema=False)
    def signout(desk: Desk = Depends(kit.posting)) -> Response:
        with kit.sessions() as session:
            now = kit.clock.now()
            console.end_session(session, desk.session_id, now)
            work = Work(session, now, kit.policy, via="console")
            role = next((g.role.value for g in desk.actor.grants), "")
            path = next((g.path for g in desk.actor.grants), "")
            audit.record(work, desk.actor, role, "console.signout", "person", desk.person_id, path)
            session.commit()
        response = RedirectResponse("/console/signin?out=1", status_code=303)
        response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict", secure=kit.https)
        return response

    @router.post("/console/lang", include_in_schema=False)
    def language(
        request: Request, desk: Desk = Depends(kit.posting), locale: str = Form(..., max_length=8)
    ) -> Response:
        if locale not in LOCALES:
            raise Refused(400, "bad_request")
        with kit.sessions() as session:
            person = session.get(Person, desk.person_id)
            if person is not None:
                person.locale = locale
            session.commit()
        back = request.headers.get("referer", "")
        target = back if back.startswith(str(request.base_url) + "console") else "/console"
        return RedirectResponse(target, status_code=303)

    return router
