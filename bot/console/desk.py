"""What every console route stands on: the signed-in person (`Desk`), the app's parts it may use (`Kit`),
the permission gate, CSRF, the unit of work that audits and pushes, and the page renderer.

The console is another channel into the same core (DESIGN §5.2): a route reads the desk, asks
`core.permissions` through `require`, runs a core use case inside `kit.work()` (one transaction: the
change, its timeline events, its outbox pushes and its audit entry), and renders a page.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import Path as PathParam
from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.clock import Clock
from core import notify
from core.permissions import Action, Actor, may
from core.work import Work
from db import console, outbox, people
from db.categories import Catalog
from db.models import Person
from db.sla import Policy
from db.types import MAX_ID, parse_id

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "console"
COOKIE = "linli_console"
LOCALES = ("zh_CN", "en")


# An id in a console address or query: beyond what a row can have it is refused (422), never sent to the
# database (SQLite cannot bind it, PostgreSQL refuses it).
PathId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def number(text: str) -> int | None:
    """An id typed or posted in a form ("12", "#12"), or None when it is not one (ASCII digits only)."""
    return parse_id(text.strip().removeprefix("#").removeprefix("＃"))


class Refused(Exception):
    """A console request that may not go on: rendered as a page (or a redirect to sign-in) with `status`;
    `reason` names a word in the `errors` words (e.g. "not_allowed", "csrf", "not_found")."""

    def __init__(self, status: int, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Desk:
    """The person signed in to this request's console session: who, in which language, with which grants."""

    person_id: int
    name: str
    locale: str
    actor: Actor
    csrf: str
    session_id: str

    def may(self, action: Action) -> bool:
        """Whether the permission policy lets this person do the action somewhere."""
        return may(self.actor, action)


# The console's sections, in the navigation's order, with what each needs (any one of the actions).
SECTIONS: tuple[tuple[str, str, tuple[Action, ...]], ...] = (
    ("home", "/console", (Action.USE_CONSOLE,)),
    ("tickets", "/console/tickets", (Action.VIEW_QUEUE,)),
    ("stats", "/console/stats", (Action.VIEW_STATS,)),
    ("notices", "/console/notices", (Action.SEND_NOTICE,)),
    ("polls", "/console/polls", (Action.RUN_POLL,)),
    ("accounts", "/console/accounts", (Action.SEE_ACCOUNTS, Action.FILE_STATEMENT)),
    ("rating", "/console/rating", (Action.VIEW_RATING,)),
    ("committees", "/console/committees", (Action.SEE_COMMITTEE, Action.MANAGE_COMMITTEE)),
    ("residents", "/console/residents", (Action.APPROVE_RESIDENT,)),
    ("org", "/console/org", (Action.IMPORT_ORG,)),
    ("audit", "/console/audit", (Action.VIEW_AUDIT,)),
)


@dataclass
class Kit:
    """The parts of the running app the console uses, handed over by the composition root."""

    sessions: sessionmaker[Session]
    clock: Clock
    policy: Policy
    catalog: Catalog
    zone: ZoneInfo
    public_url: str
    default_locale: str = "zh_CN"
    files_dir: Path | None = None
    seal_key: bytes = b""
    on_push: Callable[[], None] | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # what one section needs and others do not
    pages: Environment = field(init=False)
    _words: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.pages = Environment(
            # The chat templates are reachable too, so a page words a thing with the chat's own macro.
            loader=ChoiceLoader([FileSystemLoader(TEMPLATES), FileSystemLoader(TEMPLATES.parent)]),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.pages.filters["localtime"] = self.localtime
        self.pages.globals["category_name"] = self.category_name
        self.pages.globals["half_name"] = self.half_name

    @property
    def https(self) -> bool:
        """Whether the console is reached over https (the cookie is then Secure)."""
        return self.public_url.startswith("https://")

    # --- words and formatting ---------------------------------------------------------------------

    def words(self, locale: str) -> dict[str, Any]:
        """Every console word in a language: the `zh_CN` / `en` dicts of each `words/*.html`, by file name
        (`w.tickets.title`), read once."""
        locale = locale if locale in LOCALES else self.default_locale
        if locale not in self._words:
            merged: dict[str, Any] = {}
            for path in sorted((TEMPLATES / "words").glob("*.html")):
                module: Any = self.pages.get_template(f"words/{path.name}").module
                merged[path.stem] = getattr(module, locale, None) or module.zh_CN
            self._words[locale] = merged
        return self._words[locale]

    def localtime(self, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """A moment in the service's time zone, as staff read it."""
        return value.astimezone(self.zone).strftime(fmt) if value is not None else ""

    def category_name(self, key: str, locale: str) -> str:
        """A category's name in a language (the key itself when unknown)."""
        category = self.catalog.get(key)
        return category.name(locale) if category else key

    def half_name(self, half: str, locale: str) -> str:
        """A half-year code such as 2026H2 in words (2026年下半年), by the chat's `_names.j2` macro."""
        locale = locale if locale in LOCALES else self.default_locale
        return str(self.pages.get_template(f"{locale}/_names.j2").module.half(half))  # type: ignore[attr-defined]

    # --- who is at the desk -----------------------------------------------------------------------

    def desk(self, request: Request) -> Desk:
        """The signed-in person of this request; refused (401, to the sign-in page) without a live session,
        and (403) for someone the policy does not let use the console at all."""
        session_id = request.cookies.get(COOKIE, "")
        with self.sessions() as session:
            found = console.find_session(session, session_id, self.clock.now())
            session.commit()  # the touch, or the end of an idle session
            if found is None:
                raise Refused(401, "signed_out")
            person = session.get(Person, found.person_id)
            assert person is not None  # a session belongs to a person
            actor = people.actor(session, found.person_id, self.clock.now().astimezone(self.zone).date())
            desk = Desk(
                found.person_id,
                person.name,
                person.locale if person.locale in LOCALES else self.default_locale,
                actor,
                found.csrf,
                session_id,
            )
        if not desk.may(Action.USE_CONSOLE):
            raise Refused(403, "not_allowed")
        return desk

    async def posting(self, request: Request) -> Desk:
        """The desk of a form post, after its CSRF token and origin are checked (403 otherwise)."""
        desk = self.desk(request)
        _same_origin(request)
        token = request.headers.get("x-csrf-token", "")
        if not token:
            form = await request.form()
            value = form.get("csrf", "")
            token = value if isinstance(value, str) else ""
        if not token or not secrets.compare_digest(token, desk.csrf):
            raise Refused(403, "csrf")
        return desk

    # --- doing things -----------------------------------------------------------------------------

    @contextmanager
    def work(self) -> Iterator[Work]:
        """One console action's transaction: use cases record events on the Work; on leaving the block
        they become outbox pushes and everything commits together (or nothing, on an exception)."""
        with self.sessions() as session:
            work = Work(session, self.clock.now(), self.policy, via="console")
            yield work
            notify.publish(work)
            session.commit()
            pushed = outbox.pushes_waiting(session)
        if pushed and self.on_push is not None:
            self.on_push()

    # --- pages ------------------------------------------------------------------------------------

    def page(
        self, request: Request, desk: Desk | None, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """Render a console page for the desk (its language, navigation and CSRF token)."""
        locale = desk.locale if desk is not None else self.default_locale
        nav = (
            [(key, href) for key, href, needs in SECTIONS if any(desk.may(a) for a in needs)]
            if desk is not None
            else []
        )
        html = self.pages.get_template(name).render(
            w=self.words(locale),
            locale=locale,
            desk=desk,
            csrf=desk.csrf if desk is not None else "",
            nav=nav,
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def require(desk: Desk, *needs: Action) -> None:
    """Refuse (403) unless the policy lets the desk's person do one of the actions somewhere; the route
    then checks the object itself against the same policy (jurisdiction), as the chat does."""
    if not any(desk.may(action) for action in needs):
        raise Refused(403, "not_allowed")


def _same_origin(request: Request) -> None:
    """A post must come from our own pages: the browser's Sec-Fetch-Site, else Origin, must say so."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise Refused(403, "csrf")
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        parts = urlsplit(origin)
        if parts.netloc != request.headers.get("host", ""):
            raise Refused(403, "csrf")
