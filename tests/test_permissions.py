"""The permission policy as a table: every role × action × in or out of jurisdiction, then the chat's
menu, /help and refusals, which must offer and refuse exactly what the policy says, role by role."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.bootstrap import App
from core import actions
from core.actions import Language, Menu
from core.permissions import (
    SYSTEM,
    Action,
    Actor,
    Grant,
    Residence,
    ResidentKind,
    Role,
    Target,
    acting_role,
    may,
    place,
    under,
)
from tests.support.chat import ChatUser

# --- the policy, without a database ----------------------------------------------------------------------

# A small org tree: 区 /1/ → 街道 /1/2/ → 社区 /1/2/3/ → 小区 /1/2/3/4/ → 楼 /1/2/3/4/5/ → 单元 /1/2/3/4/5/6/,
# and a compound in another district. Each role is granted where it naturally sits.
DISTRICT, STREET, COMMUNITY, COMPOUND = "/1/", "/1/2/", "/1/2/3/", "/1/2/3/4/"
BUILDING, ENTRANCE = "/1/2/3/4/5/", "/1/2/3/4/5/6/"
OTHER_BUILDING = "/1/2/3/4/50/"  # same compound, another building
ELSEWHERE = "/90/91/92/93/"  # a compound under another district
ME, SOMEONE = 7, 99


def _staff(role: Role, path: str, kind: str) -> Actor:
    return Actor(ME, (Grant(role, int(path.strip("/").split("/")[-1]), path, kind),))


def _resident(kind: ResidentKind, status: str) -> Actor:
    return Actor(ME, residences=(Residence(kind, status, 1, ENTRANCE),))


PROFILES: dict[str, Actor] = {
    "grid": _staff(Role.GRID_WORKER, COMMUNITY, "community"),
    "prop": _staff(Role.PROPERTY_STAFF, COMPOUND, "compound"),
    "comm": _staff(Role.COMMUNITY_STAFF, COMMUNITY, "community"),
    "street": _staff(Role.STREET_STAFF, STREET, "street"),
    "dept": _staff(Role.DEPARTMENT_STAFF, DISTRICT, "district"),
    "admin": _staff(Role.ADMIN, DISTRICT, "district"),
    "cmte": _staff(Role.OWNERS_COMMITTEE, COMPOUND, "compound"),
    "owner": _resident(ResidentKind.OWNER, "verified"),
    "tenant": _resident(ResidentKind.TENANT, "verified"),
    "pending": _resident(ResidentKind.OWNER, "pending"),
    "new": Actor(ME),  # joined nothing yet
}

# What each target means "in" jurisdiction (first) and "out" of it (second). A ticket lies in its compound.
TARGETS: dict[str, tuple[Target, Target]] = {
    "place": (place(COMPOUND), place(ELSEWHERE)),
    "building": (place(BUILDING), place(ELSEWHERE)),
    "poll over my building": (place(BUILDING), place(OTHER_BUILDING)),
    "queued at community": (Target((COMPOUND,), None, "community"), Target((ELSEWHERE,), None, "community")),
    "held at street": (Target((COMPOUND,), SOMEONE, "street"), Target((ELSEWHERE,), SOMEONE, "street")),
    "held at department": (
        Target((COMPOUND,), SOMEONE, "department"),
        Target((ELSEWHERE,), SOMEONE, "department"),
    ),
    "another's at grid": (Target((COMPOUND,), SOMEONE, "grid"), Target((ELSEWHERE,), SOMEONE, "grid")),
    "held by them": (Target((COMPOUND,), ME, "grid"), Target((ELSEWHERE,), ME, "grid")),
    "not shared": (Target((COMPOUND,), SOMEONE, "grid"), Target((ELSEWHERE,), SOMEONE, "grid")),
    "shared": (
        Target((COMPOUND,), SOMEONE, "grid", contact_shared=True),
        Target((ELSEWHERE,), SOMEONE, "grid", contact_shared=True),
    ),
    "held by them, shared": (
        Target((COMPOUND,), ME, "grid", contact_shared=True),
        Target((ELSEWHERE,), ME, "grid", contact_shared=True),
    ),
}

# Y = allowed, N = refused; a cell is "in/out" of jurisdiction, or one letter when there is no target.
TABLE = """
action               target                grid prop comm street dept admin cmte owner tenant pending new
report               -                     N    N    N    N      N    N     N    Y     Y      Y       Y
follow               -                     N    N    N    N      N    N     N    Y     Y      Y       Y
see_polls            -                     N    N    N    N      N    N     N    Y     Y      Y       Y
list_tasks           place                 Y/N  Y/N  Y/N  Y/N    Y/N  N/N   N/N  N/N   N/N    N/N     N/N
duty                 place                 Y/N  N/N  N/N  N/N    N/N  N/N   N/N  N/N   N/N    N/N     N/N
view_queue           place                 N/N  Y/N  Y/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
view_stats           place                 N/N  Y/N  Y/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
approve_resident     place                 N/N  N/N  Y/N  Y/N    N/N  Y/N   N/N  N/N   N/N    N/N     N/N
send_notice          place                 N/N  Y/N  Y/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
send_notice          building              N/N  Y/N  Y/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
run_poll             place                 N/N  N/N  Y/N  Y/N    Y/N  Y/N   Y/N  N/N   N/N    N/N     N/N
enter_ballot         place                 N/N  N/N  Y/N  Y/N    N/N  Y/N   Y/N  N/N   N/N    N/N     N/N
use_console          place                 N/N  Y/N  Y/N  Y/N    Y/N  Y/N   Y/N  N/N   N/N    N/N     N/N
import_org           place                 N/N  N/N  N/N  Y/N    N/N  Y/N   N/N  N/N   N/N    N/N     N/N
view_audit           place                 N/N  N/N  Y/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
vote                 place                 N/N  N/N  N/N  N/N    N/N  N/N   N/N  Y/N   N/N    N/N     N/N
vote                 poll over my building N/N  N/N  N/N  N/N    N/N  N/N   N/N  Y/N   N/N    N/N     N/N
hold_ticket          place                 Y/N  Y/N  Y/N  N/N    N/N  N/N   N/N  N/N   N/N    N/N     N/N
work_ticket          queued at community   N/N  N/N  Y/N  N/N    N/N  N/N   N/N  N/N   N/N    N/N     N/N
work_ticket          held at street        N/N  N/N  N/N  Y/N    N/N  N/N   N/N  N/N   N/N    N/N     N/N
work_ticket          held at department    N/N  N/N  N/N  N/N    Y/N  N/N   N/N  N/N   N/N    N/N     N/N
work_ticket          another's at grid     N/N  N/N  N/N  N/N    N/N  N/N   N/N  N/N   N/N    N/N     N/N
work_ticket          held by them          Y/Y  Y/Y  Y/Y  Y/Y    Y/Y  Y/Y   Y/Y  Y/Y   Y/Y    Y/Y     Y/Y
assign_ticket        place                 N/N  Y/N  Y/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
decide_transfer      place                 N/N  N/N  Y/N  Y/N    N/N  Y/N   N/N  N/N   N/N    N/N     N/N
close_duplicate      place                 N/N  N/N  Y/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
see_reporter         not shared            Y/N  N/N  Y/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
see_reporter         shared                Y/N  Y/N  Y/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
see_reporter         held by them, shared  Y/Y  Y/Y  Y/Y  Y/Y    Y/Y  Y/Y   Y/Y  Y/Y   Y/Y    Y/Y     Y/Y
digest_tasks         place                 Y/N  N/N  N/N  N/N    N/N  N/N   N/N  N/N   N/N    N/N     N/N
digest_jurisdiction  place                 N/N  N/N  Y/N  Y/N    N/N  N/N   N/N  N/N   N/N    N/N     N/N
see_accounts         place                 N/N  Y/N  Y/N  Y/N    Y/N  Y/N   Y/N  Y/N   Y/N    N/N     N/N
file_statement       place                 N/N  Y/N  N/N  N/N    N/N  Y/N   Y/N  N/N   N/N    N/N     N/N
view_rating          place                 N/N  Y/N  Y/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
run_survey           place                 N/N  N/N  Y/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
enter_record         place                 N/N  N/N  N/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
appeal_record        place                 N/N  Y/N  N/N  N/N    N/N  N/N   N/N  N/N   N/N    N/N     N/N
publish_rating       place                 N/N  N/N  N/N  Y/N    Y/N  Y/N   N/N  N/N   N/N    N/N     N/N
see_committee        place                 N/N  Y/N  Y/N  Y/N    Y/N  Y/N   Y/N  Y/N   Y/N    N/N     N/N
manage_committee     place                 N/N  N/N  Y/N  Y/N    N/N  Y/N   N/N  N/N   N/N    N/N     N/N
set_up_management    place                 N/N  N/N  N/N  Y/N    N/N  Y/N   N/N  N/N   N/N    N/N     N/N
answer_survey        place                 N/N  N/N  N/N  N/N    N/N  N/N   N/N  Y/N   N/N    N/N     N/N
"""


def _rows() -> list[tuple[Action, str, dict[str, str]]]:
    header, *lines = TABLE.strip().splitlines()
    target_at, cells_at = header.index("target"), header.index("grid")
    columns = header[cells_at:].split()
    rows = []
    for line in lines:
        action, target, cells = line[:target_at].strip(), line[target_at:cells_at].strip(), line[cells_at:]
        rows.append((Action(action), target, dict(zip(columns, cells.split(), strict=True))))
    return rows


ROWS = _rows()
CELLS = [
    pytest.param(action, target, profile, cell, id=f"{action.value}-{target}-{profile}")
    for action, target, cells in ROWS
    for profile, cell in cells.items()
]


def test_the_table_covers_every_action_and_profile() -> None:
    assert {action for action, _, _ in ROWS} == set(Action)
    assert all(set(cells) == set(PROFILES) for _, _, cells in ROWS)


@pytest.mark.parametrize(("action", "target", "profile", "cell"), CELLS)
def test_cell(action: Action, target: str, profile: str, cell: str) -> None:
    actor = PROFILES[profile]
    if target == "-":
        assert may(actor, action) is (cell == "Y")
        return
    inside, outside = TARGETS[target]
    expected_in, expected_out = cell.split("/")
    assert may(actor, action, inside) is (expected_in == "Y"), "in jurisdiction"
    assert may(actor, action, outside) is (expected_out == "Y"), "out of jurisdiction"
    if target == "place" and action not in (Action.VOTE,):
        # Without a target ("may they do it anywhere?", what menus ask) the answer is the in-cell.
        assert may(actor, action) is (expected_in == "Y"), "anywhere"


def test_a_committee_reaches_its_own_compound_only() -> None:
    on_community = _staff(Role.OWNERS_COMMITTEE, COMMUNITY, "community")
    assert not may(on_community, Action.RUN_POLL, place(COMPOUND))  # granted on the wrong kind of node
    assert not may(on_community, Action.RUN_POLL)
    assert not may(PROFILES["cmte"], Action.RUN_POLL, place("/1/2/3/40/"))  # the next compound


def test_jurisdiction_is_a_subtree_of_whole_path_steps() -> None:
    assert under("/1/2/3/", "/1/2/") and under("/1/2/", "/1/2/")
    assert not under("/1/23/", "/1/2/") and not under("/1/", "/1/2/") and not under("/1/", "")
    staff = PROFILES["comm"]
    assert not may(staff, Action.VIEW_QUEUE, Target(()))  # a ticket with no compound is nobody's
    assert not may(staff, Action.VIEW_QUEUE, place(COMPOUND, ELSEWHERE))  # the whole of it must be covered


def test_the_policy_imports_nothing_of_the_layers_that_use_it() -> None:
    code = "import sys, core.permissions; print(sorted({m.split('.')[0] for m in sys.modules}))"
    root = Path(__file__).resolve().parent.parent
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    ).stdout
    assert not {"db", "handlers", "bot", "sqlalchemy", "sqlmodel"} & set(ast.literal_eval(loaded))


def test_the_system_may_do_anything() -> None:
    assert all(may(SYSTEM, action) for action in Action)


def test_the_timeline_names_the_role_a_person_works_under() -> None:
    held = Target((COMPOUND,), ME, "grid")
    assert acting_role(PROFILES["comm"], Action.WORK_TICKET, held) is Role.COMMUNITY_STAFF
    assert acting_role(PROFILES["street"], Action.WORK_TICKET, held) is Role.STREET_STAFF
    # The property company works what it is given under its own name, so the timeline and the audit log
    # say who closed it.
    assert acting_role(PROFILES["prop"], Action.WORK_TICKET, held) is Role.PROPERTY_STAFF
    queued = Target((COMPOUND,), None, "community")
    assert acting_role(PROFILES["comm"], Action.WORK_TICKET, queued) is Role.COMMUNITY_STAFF
    assert acting_role(PROFILES["street"], Action.WORK_TICKET, queued) is None


# --- the chat: menu, /help and refusals follow the policy --------------------------------------------------

# Every command each kind of person may use (the README's command tables). The menu offers all but the typed
# ones, and /help explains each of the menu's buttons in words; every other staff command is refused.
EVERYONE = {"/notices", "/mute", "/policy", "/lang", "/cancel", "/help", "/proxy"}
RESIDENT = {"/report", "/my", "/polls"}
POLL_AUTHOR = {"/newpoll", "/polls"}
GOVERNED = {"/accounts", "/committee"}  # a compound's accounts and committee: its residents and its staff
RATING = {"/rating"}
BALLOTS = {"/ballots"}  # paper ballots: community and street staff, admins and the committee
SUPERVISOR = GOVERNED | RATING
EXPECTED: dict[str, set[str]] = {
    "new": EVERYONE | RESIDENT,
    "owner": EVERYONE | RESIDENT | GOVERNED,
    "tenant": EVERYONE | RESIDENT | GOVERNED,
    "grid": EVERYONE | {"/tasks", "/duty"},
    "prop": EVERYONE | {"/tasks", "/queue", "/stats", "/notice", "/console"} | SUPERVISOR,
    "comm": EVERYONE
    | {"/tasks", "/queue", "/stats", "/pending", "/notice", "/console"}
    | POLL_AUTHOR
    | BALLOTS
    | SUPERVISOR,
    "street": EVERYONE
    | {"/tasks", "/queue", "/stats", "/pending", "/notice", "/console"}
    | POLL_AUTHOR
    | BALLOTS
    | SUPERVISOR,
    "dept": EVERYONE | {"/tasks", "/queue", "/stats", "/notice", "/console"} | POLL_AUTHOR | SUPERVISOR,
    "admin": EVERYONE
    | {"/queue", "/stats", "/pending", "/notice", "/console"}
    | POLL_AUTHOR
    | BALLOTS
    | SUPERVISOR,
    "cmte": EVERYONE | POLL_AUTHOR | BALLOTS | {"/console"} | GOVERNED,
}
TYPED_ONLY = {"/duty", "/mute", "/cancel"}
# A staff command and the answer that refuses it.
REFUSALS = {
    "/tasks": "tasks.not_staff",
    "/duty": "tasks.duty_not_grid",
    "/queue": "queue.not_staff",
    "/stats": "queue.not_staff",
    "/pending": "staff.not_staff",
    "/notice": "notices.not_staff",
    "/newpoll": "newpoll.not_allowed",
    "/console": "console.not_staff",
    "/committee": "committee.not_allowed",
    "/accounts": "accounts.not_allowed",
    "/rating": "rating.not_staff",
    "/ballots": "paper.not_allowed",
}
DEMO_CODES = {
    "owner": "DEMO-OWNER",
    "tenant": "DEMO-TENANT",
    "grid": "DEMO-GRID",
    "comm": "DEMO-STAFF",
    "street": "DEMO-STREET",
    "dept": "DEMO-DISTRICT",
    "cmte": "DEMO-COMMITTEE",
}
COMMAND = re.compile(r"(?<![\w/])/[a-z]+")


def _join(app: App, profile: str) -> ChatUser:
    user = ChatUser(app.service, f"perm-{profile}", name=profile)
    if profile in DEMO_CODES:
        user.say(f"/start {DEMO_CODES[profile]}")
    elif profile in ("prop", "admin"):
        from db import org, people

        role, path = {
            "prop": ("property_staff", "铁西区/北沟街道/英雄社区/阳光花园"),
            "admin": ("admin", "铁西区"),
        }[profile]
        with app.sessions() as session:
            node = org.find_node(session, path)
            assert node is not None
            code = people.create_invite(session, role, app.clock.now(), node_id=node.id).code
            session.commit()
        user.say(f"/start {code}")
    return user


@pytest.mark.parametrize("profile", list(EXPECTED))
def test_help_and_menu_offer_what_the_policy_allows(app: App, profile: str) -> None:
    user = _join(app, profile)
    for locale in ("zh_CN", "en"):
        user.data(Language(locale=locale).encode())
        user.say("/help")
        assert not COMMAND.findall(user.text), locale  # words, not commands
        pressed = [actions.decode(data) for m in user.last for row in m.buttons for _, data in row]
        menu = {p.command for p in pressed if isinstance(p, Menu)}
        assert menu == EXPECTED[profile] - TYPED_ONLY, locale
        explained = [label for label in user.buttons() if label not in ("帮助", "Help")]
        assert all(f"{label} — " in user.text for label in explained), (locale, user.text)


@pytest.mark.parametrize("profile", [p for p in EXPECTED if p != "new"])
def test_staff_commands_are_refused_exactly_when_not_offered(app: App, profile: str) -> None:
    user = _join(app, profile)
    for command, refusal in REFUSALS.items():
        user.say(command)
        refused = app.renderer.text("zh_CN", refusal) in user.text
        assert refused is (command not in EXPECTED[profile]), command


@pytest.mark.parametrize("profile", list(EXPECTED))
def test_the_expected_commands_are_the_policys(app: App, profile: str) -> None:
    """The table above is what handlers.common derives from the policy for the same person."""
    from sqlmodel import select

    from db import people
    from db.models import Identity
    from handlers.common import COMMAND_ACTIONS

    user = _join(app, profile)
    user.say("/help")
    with app.sessions() as session:
        person_id = session.exec(
            select(Identity.person_id).where(Identity.external_id == user.user_ref)
        ).one()
        actor = people.actor(session, person_id)
    allowed = {
        name for name, needs in COMMAND_ACTIONS.items() if not needs or any(may(actor, a) for a in needs)
    }
    assert allowed - {"/start"} == EXPECTED[profile]


def _grant(app: App, user: ChatUser, role: str, path: str) -> None:
    """Give a person who already joined one more role, as a second invite would."""
    from db import org, people

    with app.sessions() as session:
        node = org.find_node(session, path)
        assert node is not None
        code = people.create_invite(session, role, app.clock.now(), node_id=node.id).code
        session.commit()
    user.say(f"/start {code}")


def test_a_committee_granted_above_a_compound_runs_no_polls(app: App) -> None:
    member = ChatUser(app.service, "committee-high", name="赵委员")
    _grant(app, member, "owners_committee", "铁西区/北沟街道/英雄社区")
    member.say("/newpoll")
    assert app.renderer.text("zh_CN", "newpoll.not_allowed") in member.text
    member.say("/help")
    assert "/newpoll" not in member.text


def test_the_pushed_and_the_opened_task_card_hide_the_same_reporter(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    """Property staff who also sit on the owners' committee are still the property company."""
    from sqlmodel import select

    from core import tickets
    from db.models import Outbox, Ticket
    from tests.test_case_rules import act
    from tests.test_tasks_flow import person_id

    company = ChatUser(app.service, "property-cmte", name="物业老周")
    _grant(app, company, "property_staff", "铁西区/北沟街道/英雄社区/阳光花园")
    _grant(app, company, "owners_committee", "铁西区/北沟街道/英雄社区/阳光花园")
    owner.report("物业服务", "保洁很久没来了")  # without 允许物业看到
    company_id = person_id(app, company)
    act(app, tickets.assign, 1, person_id(app, staff), company_id)
    with app.sessions() as session:
        assert not session.exec(select(Ticket.share_contact)).one()
        [pushed] = session.exec(
            select(Outbox).where(Outbox.person_id == company_id, Outbox.template == "cases.task")
        ).all()
    assert pushed.context["home"] == "" and pushed.context["phone"] == ""
    company.say("#1")
    assert "阳光花园 1栋 1单元 101" not in company.text and "楼栋：阳光花园 1栋" in company.text
