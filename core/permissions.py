"""One permission policy (DESIGN §3): the roles, what each may do, and where.

Every "may this person do that to this" in Linli is answered here. The chat's menu and /help, the
handlers' checks and the rules in db/ all ask `may` (or `acting_role`, `grants_for`, `roles_for`), so they
cannot disagree. `RULES` says which roles may do what; `may` adds the four rules that are not a list of
roles (resident commands, votes, working a ticket, seeing the reporter). tests/test_permissions.py checks
every cell of the resulting table.

The module is pure: an actor is a person id with their grants (role, node, node path) and residences; a
target is where an object lies (node paths) with the little a ticket adds (its holder, level, whether the
reporter shares their contact). No database, no chat, no clock.

Jurisdiction is the org subtree: a grant on a node covers that node and everything under it, compared by
materialised path ("/1/4/9/" lies under "/1/4/"). An owners' committee is the exception: it covers its
own compound only, and nothing when it was granted on any other kind of node.

Imports point one way: db/, handlers/ and bot/ import this module; it imports none of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """A staff or grid-worker role, granted over a node of the org tree (stored as `RoleGrant.role`)."""

    GRID_WORKER = "grid_worker"
    PROPERTY_STAFF = "property_staff"
    COMMUNITY_STAFF = "community_staff"
    STREET_STAFF = "street_staff"
    DEPARTMENT_STAFF = "department_staff"
    ADMIN = "admin"
    OWNERS_COMMITTEE = "owners_committee"  # 业主委员会 of one compound


class ResidentKind(StrEnum):
    """How a person lives in a home (stored as `Residency.kind`)."""

    OWNER = "owner"
    TENANT = "tenant"


VERIFIED = "verified"  # the residency status that counts; pending and rejected ones do not
ROLE_VALUES = frozenset(r.value for r in Role)
RESIDENT_KIND_VALUES = frozenset(k.value for k in ResidentKind)


class Action(StrEnum):
    """Something a person may be allowed to do; the first group are what the chat's commands offer."""

    REPORT = "report"  # /report: file a ticket about one's home
    FOLLOW = "follow"  # /my: follow one's own tickets
    SEE_POLLS = "see_polls"  # /polls as a resident: the polls over one's homes and their results
    LIST_TASKS = "list_tasks"  # /tasks: the tickets one holds or may take
    DUTY = "duty"  # /duty: go off duty, so the grid's backup receives new tickets
    VIEW_QUEUE = "view_queue"  # /queue: unassigned, transfer requests, overdue, escalated
    VIEW_STATS = "view_stats"  # /stats: the three rates
    APPROVE_RESIDENT = "approve_resident"  # /pending: verify or reject a resident who joined alone
    SEND_NOTICE = "send_notice"  # /notice, and the delivery reports, cancel and remind of /notices
    RUN_POLL = "run_poll"  # /newpoll, and turnout and withdrawal of polls in /polls
    ENTER_BALLOT = "enter_ballot"  # enter paper ballots and proxy letters of a poll (DESIGN §4.8)
    USE_CONSOLE = "use_console"  # /console: sign in to the staff console at a desk
    IMPORT_ORG = "import_org"  # upload an organisation file for the part of the tree one answers for
    VIEW_AUDIT = "view_audit"  # read the audit log of staff actions under one's jurisdiction
    # Governance (DESIGN §4.4–4.7):
    SEE_ACCOUNTS = "see_accounts"  # /accounts: the 收支公示 of one's compound (residents: their own)
    FILE_STATEMENT = "file_statement"  # draft, file and publish a compound's statement of accounts
    VIEW_RATING = "view_rating"  # /rating: the ranking of companies (property staff: their own breakdown)
    RUN_SURVEY = "run_survey"  # open and close the owners' satisfaction survey of a company
    ENTER_RECORD = "enter_record"  # enter a good or bad record of a property company, decide its appeal
    APPEAL_RECORD = "appeal_record"  # a property company appeals a record against it, once
    PUBLISH_RATING = "publish_rating"  # publish the 红黑榜 as a notice
    SEE_COMMITTEE = "see_committee"  # /committee: who serves on the compound's committee, since and until
    MANAGE_COMMITTEE = "manage_committee"  # set a compound's owners' committee, its members and its term
    SET_UP_MANAGEMENT = "set_up_management"  # set up a 物管会 where no committee is in office
    # On one object:
    VOTE = "vote"  # cast a ballot in a poll over the target
    ANSWER_SURVEY = "answer_survey"  # answer the satisfaction survey of the target compound, once per home
    HOLD_TICKET = "hold_ticket"  # be given a ticket to handle
    WORK_TICKET = "work_ticket"  # accept, post progress, ask the resident, request a transfer, resolve
    ASSIGN_TICKET = "assign_ticket"
    DECIDE_TRANSFER = "decide_transfer"
    CLOSE_DUPLICATE = "close_duplicate"
    SEE_REPORTER = "see_reporter"  # the complainant's home and masked phone on a task card
    # Pushed without asking:
    DIGEST_TASKS = "digest_tasks"  # the morning digest of one's own open tasks
    DIGEST_JURISDICTION = "digest_jurisdiction"  # the morning digest of overdue and unrated tickets


# --- the table -----------------------------------------------------------------------------------------

GRID, PROPERTY, COMMUNITY, STREET, DEPARTMENT, ADMIN, COMMITTEE = (
    Role.GRID_WORKER,
    Role.PROPERTY_STAFF,
    Role.COMMUNITY_STAFF,
    Role.STREET_STAFF,
    Role.DEPARTMENT_STAFF,
    Role.ADMIN,
    Role.OWNERS_COMMITTEE,
)
# Staff in DESIGN §1's sense: the property company, community, sub-district, district departments, admin.
STAFF_ROLES: tuple[Role, ...] = (PROPERTY, COMMUNITY, STREET, DEPARTMENT, ADMIN)
# The escalation ladder's levels and who answers for a ticket held at each (DESIGN §4.1).
LEVEL_ROLE: dict[str, Role] = {"community": COMMUNITY, "street": STREET, "department": DEPARTMENT}
SUPERVISOR_ROLES: tuple[Role, ...] = (ADMIN,)  # alerted when a ticket breaches at the top of the ladder
# Who may be handed a ticket (assigned, or after a transfer).
HOLDER_ROLES: tuple[Role, ...] = (GRID, COMMUNITY, PROPERTY)
# Who sees the complainant's home and masked phone without their consent: everyone who may hold or
# supervise a ticket except the property company (DESIGN §3).
REPORTER_ROLES: tuple[Role, ...] = (GRID, COMMUNITY, STREET, DEPARTMENT, ADMIN)
# How the person working a ticket is named on its timeline (a holder with none of these: grid worker).
WORKER_LABELS: tuple[Role, ...] = (GRID, PROPERTY, COMMUNITY, STREET, DEPARTMENT)

# Which roles may do an action, over the subtree of the node they were granted on.
RULES: dict[Action, tuple[Role, ...]] = {
    # Whoever may hold a ticket or answers for a level of the ladder has a task list.
    Action.LIST_TASKS: (GRID, PROPERTY, COMMUNITY, STREET, DEPARTMENT),
    Action.DUTY: (GRID,),
    Action.VIEW_QUEUE: STAFF_ROLES,
    Action.VIEW_STATS: STAFF_ROLES,
    Action.APPROVE_RESIDENT: (COMMUNITY, STREET, ADMIN),
    Action.SEND_NOTICE: STAFF_ROLES,
    Action.RUN_POLL: (COMMUNITY, STREET, DEPARTMENT, ADMIN, COMMITTEE),
    # Paper ballots are collected door to door by the committee and community staff (DESIGN §4.8).
    Action.ENTER_BALLOT: (COMMUNITY, STREET, ADMIN, COMMITTEE),
    # Grid workers work from the chat on the move; the desk is for staff and owners' committees.
    Action.USE_CONSOLE: (*STAFF_ROLES, COMMITTEE),
    Action.IMPORT_ORG: (STREET, ADMIN),
    # Supervisors: community staff over their grid workers and property companies, and those above them.
    Action.VIEW_AUDIT: (COMMUNITY, STREET, DEPARTMENT, ADMIN),
    # Staff and the committee read the accounts of their jurisdiction; residents theirs (`may`).
    Action.SEE_ACCOUNTS: (*STAFF_ROLES, COMMITTEE),
    # The company files fees and common-part income, the committee the fund it manages (DESIGN §4.4).
    Action.FILE_STATEMENT: (PROPERTY, COMMITTEE, ADMIN),
    # A property company's jurisdiction is the compounds it serves: it sees its own breakdown only.
    Action.VIEW_RATING: (PROPERTY, COMMUNITY, STREET, DEPARTMENT, ADMIN),
    Action.RUN_SURVEY: (COMMUNITY, STREET, DEPARTMENT, ADMIN),
    # Only street and district staff grade companies (DESIGN §4.5).
    Action.ENTER_RECORD: (STREET, DEPARTMENT, ADMIN),
    Action.APPEAL_RECORD: (PROPERTY,),
    Action.PUBLISH_RATING: (STREET, DEPARTMENT, ADMIN),
    Action.SEE_COMMITTEE: (*STAFF_ROLES, COMMITTEE),
    Action.MANAGE_COMMITTEE: (COMMUNITY, STREET, ADMIN),
    Action.SET_UP_MANAGEMENT: (STREET, ADMIN),
    Action.HOLD_TICKET: HOLDER_ROLES,
    Action.ASSIGN_TICKET: STAFF_ROLES,
    Action.DECIDE_TRANSFER: (COMMUNITY, STREET, ADMIN),
    Action.CLOSE_DUPLICATE: (COMMUNITY, STREET, DEPARTMENT, ADMIN),
    Action.DIGEST_TASKS: (GRID,),
    Action.DIGEST_JURISDICTION: (COMMUNITY, STREET),
}
del GRID, PROPERTY, COMMUNITY, STREET, DEPARTMENT, ADMIN, COMMITTEE
# Offered to verified residents, and to someone who holds no role yet (the answer tells them how to join).
RESIDENT_ACTIONS = frozenset({Action.REPORT, Action.FOLLOW, Action.SEE_POLLS})
# Read by staff over their jurisdiction and by verified residents (owners and tenants) over their compound.
RESIDENT_READS = frozenset({Action.SEE_ACCOUNTS, Action.SEE_COMMITTEE})


# --- who and what --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grant:
    """A role over a node of the org tree: the node's id, its materialised path and its kind."""

    role: Role
    node_id: int
    path: str
    node_kind: str = ""


@dataclass(frozen=True, slots=True)
class Residence:
    """A person living in a home: as owner or tenant, its status, and the path of the home's entrance."""

    kind: ResidentKind
    status: str
    home_id: int
    path: str


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a person with their grants and residences; no person id is the system (CLI, scheduler)."""

    person_id: int | None
    grants: tuple[Grant, ...] = ()
    residences: tuple[Residence, ...] = ()


SYSTEM = Actor(None)


@dataclass(frozen=True, slots=True)
class Target:
    """What an action is done to, as the org tree sees it.

    `paths`: where it lies — a ticket's compound, a notice's node, a poll's compound (or, for a vote, the
    buildings it is limited to). A ticket adds its holder, its level on the ladder, and whether the
    reporter agreed to show the property company who they are."""

    paths: tuple[str, ...]
    holder_id: int | None = None
    level: str = ""
    contact_shared: bool = False


def place(*paths: str) -> Target:
    """A target that is only a place in the org tree."""
    return Target(tuple(paths))


# --- the org subtree -----------------------------------------------------------------------------------


def under(path: str, ancestor: str) -> bool:
    """Whether the node at `path` is the node at `ancestor` or lies beneath it."""
    return bool(ancestor) and path.startswith(ancestor)


def path_ids(path: str) -> list[int]:
    """The node ids on a materialised path, from the root down (the node itself last)."""
    return [int(part) for part in path.strip("/").split("/") if part]


def outermost(paths: Iterable[str]) -> list[str]:
    """The paths without those lying under another one of them, shortest first."""
    kept: list[str] = []
    for path in sorted(set(paths), key=lambda p: (len(p), p)):
        if not any(under(path, k) for k in kept):
            kept.append(path)
    return kept


def reaches(grant: Grant) -> bool:
    """Whether a grant covers anything at all: an owners' committee only when granted on a compound."""
    return grant.role is not Role.OWNERS_COMMITTEE or grant.node_kind == "compound"


def covers(grant: Grant, target: Target) -> bool:
    """Whether a grant's jurisdiction holds the whole target."""
    return reaches(grant) and bool(target.paths) and all(under(p, grant.path) for p in target.paths)


# --- the questions -------------------------------------------------------------------------------------


def roles_for(action: Action) -> tuple[str, ...]:
    """The roles that may do an action somewhere, as stored (for queries that look for such people)."""
    return tuple(r.value for r in RULES.get(action, ()))


def grants_for(actor: Actor, action: Action) -> list[Grant]:
    """The actor's grants under which they may do an action: their jurisdiction for it."""
    allowed = RULES.get(action, ())
    return [g for g in actor.grants if g.role in allowed and reaches(g)]


def acting_role(actor: Actor, action: Action, target: Target | None = None) -> Role | None:
    """The role under which the actor may do the action to the target (anywhere when None), or None.

    For working a ticket the holder acts whatever their grants, under the role shown on the timeline."""
    if action is Action.WORK_TICKET:
        if target is None:
            return None
        if actor.person_id is not None and target.holder_id == actor.person_id:
            labels = [g.role for g in actor.grants if g.role in WORKER_LABELS and covers(g, target)]
            return labels[0] if labels else Role.GRID_WORKER
        role = LEVEL_ROLE.get(target.level)
        found = [g.role for g in actor.grants if g.role is role and covers(g, target)]
        return found[0] if found else None
    for grant in grants_for(actor, action):
        if target is None or covers(grant, target):
            return grant.role
    return None


def may(actor: Actor, action: Action, target: Target | None = None) -> bool:
    """Whether the actor may do the action to the target; with no target, whether they may anywhere
    (never for working a ticket or seeing its reporter, which only make sense for one ticket)."""
    if actor.person_id is None:
        return True  # the system: the CLI and the scheduler act for the operator
    if action in RESIDENT_ACTIONS:
        return not actor.grants or any(r.status == VERIFIED for r in actor.residences)
    if action in RESIDENT_READS and lives_in(actor, target):
        return True  # a verified resident reads their own compound's accounts and committee
    if action is Action.ANSWER_SURVEY:
        return any(
            is_voter(r.kind, r.status) and (target is None or any(under(r.path, p) for p in target.paths))
            for r in actor.residences
        )
    if action is Action.VOTE:
        return any(
            is_voter(r.kind, r.status) and (target is None or any(under(r.path, p) for p in target.paths))
            for r in actor.residences
        )
    if action is Action.SEE_REPORTER:
        if target is None:
            return False
        if any(g.role in REPORTER_ROLES and covers(g, target) for g in actor.grants):
            return True
        # The property company, and a holder without a reporter-seeing role, only with the consent.
        return target.contact_shared and (
            target.holder_id == actor.person_id
            or any(g.role is Role.PROPERTY_STAFF and covers(g, target) for g in actor.grants)
        )
    return acting_role(actor, action, target) is not None


def lives_in(actor: Actor, target: Target | None) -> bool:
    """Whether the actor is a verified resident of a home under the target (anywhere when None)."""
    return any(
        r.status == VERIFIED and (target is None or any(under(r.path, p) for p in target.paths))
        for r in actor.residences
    )


def is_voter(kind: str, status: str) -> bool:
    """Whether a residency carries a vote: only verified owners vote (DESIGN §2), tenants never."""
    return kind == ResidentKind.OWNER and status == VERIFIED
