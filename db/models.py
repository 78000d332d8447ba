"""SQLModel tables: the org tree, people and roles, invites, tickets, conversation state, logs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime

NODE_KINDS = ("district", "street", "community", "compound", "building", "entrance")


def _time(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


class OrgNode(SQLModel, table=True):
    """One node of the org tree: district → street → community → compound → building → entrance."""

    __tablename__ = "org_node"
    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_org_node_parent_name"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)
    name: str = Field(max_length=100)
    parent_id: int | None = Field(default=None, foreign_key="org_node.id", index=True)
    # Materialised path of ids ("/1/4/9/"), so "everything under a node" is one indexed prefix match.
    path: str = Field(default="", max_length=200, index=True)
    # A compound's setting: an owner's self-registration waits for a photo of the ownership certificate.
    owner_document: bool = Field(default=False)


class Home(SQLModel, table=True):
    """A home (户) in an entrance, with its registered area in hundredths of a square metre."""

    __table_args__ = (UniqueConstraint("entrance_id", "number", name="uq_home_entrance_number"),)

    id: int | None = Field(default=None, primary_key=True)
    entrance_id: int = Field(foreign_key="org_node.id", index=True)
    building_id: int = Field(foreign_key="org_node.id", index=True)
    compound_id: int = Field(foreign_key="org_node.id", index=True)
    number: str = Field(max_length=20)
    area_centi_m2: int = Field(ge=0)
    unsold: bool = Field(default=False)  # the developer's unsold stock: all such homes count as one owner


class Grid(SQLModel, table=True):
    """A grid (网格) of buildings inside a community, served by a primary and a backup grid worker."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="org_node.id", index=True)
    name: str = Field(max_length=100)
    worker_id: int | None = Field(default=None, foreign_key="person.id")
    backup_id: int | None = Field(default=None, foreign_key="person.id")


class GridBuilding(SQLModel, table=True):
    """Which grid covers a building (one grid per building)."""

    __tablename__ = "grid_building"

    building_id: int = Field(foreign_key="org_node.id", primary_key=True)
    grid_id: int = Field(foreign_key="grid.id", index=True)


class Person(SQLModel, table=True):
    """Anyone who talks to the bot: resident, grid worker or staff."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=100)
    phone: str = Field(default="", max_length=32)
    locale: str = Field(default="zh_CN", max_length=8)
    off_duty: bool = Field(default=False)  # a grid worker away: their grid's backup gets new tickets
    large_text: bool = Field(default=False)  # the web page's 大字 switch, remembered for the person
    created_at: datetime = _time(nullable=False)


class Identity(SQLModel, table=True):
    """A person's account on one channel (a Telegram user, a web chat session)."""

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    chat_id: str = Field(default="", max_length=64)
    person_id: int = Field(foreign_key="person.id", index=True)
    display_name: str = Field(default="", max_length=100)
    unreachable: bool = Field(default=False)
    # Platforms that let us write only after the user did (WeChat's 48-hour 客服 window) count from here.
    last_inbound_at: datetime | None = _time(nullable=True)
    window_sent: int = Field(default=0)  # messages sent in that window so far
    # The button data of the last numbered menu shown on a platform without buttons ("回复 1、2、3").
    choices: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Residency(SQLModel, table=True):
    """A person living in a home as owner or tenant; pending until staff verify it."""

    __table_args__ = (UniqueConstraint("person_id", "home_id", name="uq_residency_person_home"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    home_id: int = Field(foreign_key="home.id", index=True)
    kind: str = Field(max_length=8)  # owner | tenant
    status: str = Field(default="pending", max_length=10, index=True)  # pending | verified | rejected
    created_at: datetime = _time(nullable=False)
    decided_at: datetime | None = _time(nullable=True)
    decided_by: int | None = Field(default=None, foreign_key="person.id")
    invite_id: int | None = Field(default=None, foreign_key="invite.id")  # the code that gave it, if any
    # The ownership certificate page an owner sent with a self-registration: (channel, file ref).
    document_channel: str = Field(default="", max_length=16)
    document_ref: str = Field(default="", max_length=200)


class RoleGrant(SQLModel, table=True):
    """A staff or grid-worker role over a node of the org tree (the jurisdiction)."""

    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("person_id", "role", "node_id", name="uq_role_grant"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    role: str = Field(max_length=24)
    node_id: int = Field(foreign_key="org_node.id", index=True)
    invite_id: int | None = Field(default=None, foreign_key="invite.id")  # the code that gave it, if any


class Invite(SQLModel, table=True):
    """A code that binds whoever presents it to a home or a staff role."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    kind: str = Field(max_length=24)  # owner | tenant | a staff role
    home_id: int | None = Field(default=None, foreign_key="home.id")
    node_id: int | None = Field(default=None, foreign_key="org_node.id")
    grid_id: int | None = Field(default=None, foreign_key="grid.id")
    uses_left: int | None = Field(default=None)  # None: unlimited (demo codes); create_invite sets it
    created_at: datetime = _time(nullable=False)
    expires_at: datetime | None = _time(nullable=True)
    # Bound to one WeCom member: their first message in the app redeems it, no code to type.
    wecom_userid: str | None = Field(default=None, max_length=64, index=True)
    # A property-staff invite for a company: its jurisdiction is the compounds the company serves.
    company_id: int | None = Field(default=None, foreign_key="property_company.id")


class Ticket(SQLModel, table=True):
    """A reported issue (工单), shown to users as #<id>."""

    __table_args__ = (
        Index("ix_ticket_open_match", "building_id", "category", "state"),
        Index("ix_ticket_reporter", "reporter_id", "updated_at"),
        # The sweep reads only tickets with a step due; this index lets it skip every other ticket.
        Index("ix_ticket_next_due", "next_due_at"),
        Index("ix_ticket_holder", "holder_id", "state"),
        Index("ix_ticket_holder_node", "holder_node_id", "state"),
        # The console's list and counts keep to the jurisdiction's compounds, then page by id, deadline or
        # last change (migration 0010).
        Index("ix_ticket_compound_state_id", "compound_id", "state", "id"),
        Index("ix_ticket_compound_due", "compound_id", "clock_due_at", "id"),
        Index("ix_ticket_compound_updated", "compound_id", "updated_at", "id"),
        Index("ix_ticket_compound_created", "compound_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=32)
    sla_class: str = Field(max_length=16)
    urgent: bool = Field(default=False)
    state: str = Field(default="new", max_length=24, index=True)
    reporter_id: int = Field(foreign_key="person.id")
    home_id: int | None = Field(default=None, foreign_key="home.id")
    building_id: int | None = Field(default=None, foreign_key="org_node.id")
    compound_id: int | None = Field(default=None, foreign_key="org_node.id", index=True)
    description: str = Field(default="", max_length=2000)
    latitude: float | None = None
    longitude: float | None = None
    location_text: str = Field(default="", max_length=200)
    weight: int = Field(default=1)
    share_contact: bool = Field(default=False)
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)
    # Who holds it: the escalation level, the org node whose staff answer for it, and the handler.
    level: str = Field(default="grid", max_length=12)  # grid | community | street | department
    grid_id: int | None = Field(default=None, foreign_key="grid.id")
    holder_node_id: int | None = Field(default=None, foreign_key="org_node.id")
    holder_id: int | None = Field(default=None, foreign_key="person.id")
    # The promise made at filing (extended by pauses), used by the three rates.
    accept_due_at: datetime | None = _time(nullable=True)
    resolve_due_at: datetime | None = _time(nullable=True)
    accepted_at: datetime | None = _time(nullable=True)
    resolved_at: datetime | None = _time(nullable=True)
    closed_at: datetime | None = _time(nullable=True)
    # The clock the current holder runs against; escalation starts a new one.
    clock_stage: str = Field(default="", max_length=10)  # accept | resolve | followup | ""
    clock_started_at: datetime | None = _time(nullable=True)
    clock_due_at: datetime | None = _time(nullable=True)
    reminders_sent: int = Field(default=0)
    next_due_at: datetime | None = _time(nullable=True)
    paused_at: datetime | None = _time(nullable=True)
    paused_state: str = Field(default="", max_length=24)
    rating: str = Field(default="", max_length=16)  # satisfied | basically | dissatisfied
    rating_comment: str = Field(default="", max_length=500)
    closure_kind: str = Field(default="", max_length=24)
    duplicate_of: int | None = Field(default=None, foreign_key="ticket.id")
    transfer_reason: str = Field(default="", max_length=500)
    transfer_requested_by: int | None = Field(default=None, foreign_key="person.id")
    reopen_count: int = Field(default=0)


class TicketEvent(SQLModel, table=True):
    """One step on a ticket's timeline: who, in which role, when, what, with which note."""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = _time(nullable=False)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    actor_role: str = Field(max_length=24)
    kind: str = Field(max_length=24)
    note: str = Field(default="", max_length=2000)


class Attachment(SQLModel, table=True):
    """A photo or voice message belonging to a ticket event."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="ticket_event.id")
    kind: str = Field(max_length=8)  # photo | voice
    channel: str = Field(max_length=16)
    ref: str = Field(max_length=200)  # channel file id, or our stored file name
    duration: int | None = None


class TicketFollower(SQLModel, table=True):
    """A resident who joined a ticket with "me too"."""

    __tablename__ = "ticket_follower"

    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True, index=True)
    joined_at: datetime = _time(nullable=False)


class Conversation(SQLModel, table=True):
    """Where a person is in a flow, with the draft so far; survives restarts."""

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    flow: str = Field(default="", max_length=24)
    step: str = Field(default="", max_length=24)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # A flow left mid-way with a draft (a menu detour, another command): {"flow", "step", "data"}, kept
    # until it is resumed, sent or cancelled.
    parked: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _time(nullable=False)


class InboundLog(SQLModel, table=True):
    """Every inbound update, stored before it is acknowledged and processed once."""

    __tablename__ = "inbound_log"
    __table_args__ = (UniqueConstraint("channel", "update_id", name="uq_inbound_channel_update"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    update_id: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = _time(nullable=False)
    processed_at: datetime | None = _time(nullable=True, index=True)
    # Why an update was set aside unhandled (it could not be parsed, or handling it failed); "" otherwise.
    error: str = Field(default="", max_length=200)


class Outbox(SQLModel, table=True):
    """A message to push to a person, written in the transaction that decided it."""

    __table_args__ = (
        Index("ix_outbox_due", "status", "urgent", "id"),
        Index("ix_outbox_notice_status", "notice_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    template: str = Field(max_length=64)
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    buttons: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _time(nullable=False)
    sent_at: datetime | None = _time(nullable=True, index=True)
    attempts: int = Field(default=0)
    error: str = Field(default="", max_length=200)
    not_before: datetime | None = _time(nullable=True, index=True)  # quiet hours hold non-urgent pushes
    urgent: bool = Field(default=False)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    notice_id: int | None = Field(default=None, foreign_key="notice.id")
    # pending → sent | unreachable | failed | cancelled. A dispatcher leases a row until claimed_until;
    # a lease that runs out (the dispatcher died) lets another one send it again.
    status: str = Field(default="pending", max_length=12)
    claimed_until: datetime | None = _time(nullable=True)
    # A turn's answer: sent to this one account as rendered then (a push goes to every reachable account
    # of the person and is rendered when it is sent).
    identity_id: int | None = Field(default=None, foreign_key="identity.id", index=True)
    rendered: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Notice(SQLModel, table=True):
    """A notice or policy publicity sent to an audience: a node of the org tree, buildings, roles."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=12)  # policy | fees | meeting | outage | safety | rating
    title: str = Field(max_length=100)
    body: str = Field(max_length=4000)
    attachment_kind: str = Field(default="", max_length=10)  # photo | document
    attachment_channel: str = Field(default="", max_length=16)
    attachment_ref: str = Field(default="", max_length=200)
    author_id: int | None = Field(default=None, foreign_key="person.id")
    node_id: int = Field(foreign_key="org_node.id", index=True)
    buildings: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    roles: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    urgent: bool = Field(default=False)
    ack_required: bool = Field(default=False)
    send_at: datetime = _time(nullable=False)
    publicity_until: datetime | None = _time(nullable=True)
    state: str = Field(default="scheduled", max_length=12)  # scheduled | sent | cancelled
    audience_size: int = Field(default=0)
    created_at: datetime = _time(nullable=False)
    cancelled_at: datetime | None = _time(nullable=True)
    # Structured content the templates render in each reader's language (a poll's announcement or result).
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class NoticeAck(SQLModel, table=True):
    """A resident's acknowledgement of a notice (once per person)."""

    __tablename__ = "notice_ack"

    notice_id: int = Field(foreign_key="notice.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    at: datetime = _time(nullable=False)


class Mute(SQLModel, table=True):
    """A notice kind a person chose not to receive (safety notices cannot be muted)."""

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    kind: str = Field(max_length=12, primary_key=True)


class WebMessage(SQLModel, table=True):
    """A message shown in the web chat, kept so a reload or a push shows the whole conversation."""

    __tablename__ = "web_message"

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int = Field(foreign_key="identity.id", index=True)
    outgoing: bool
    body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _time(nullable=False)


class Poll(SQLModel, table=True):
    """An owners' decision or committee election over a compound (or some of its buildings)."""

    __table_args__ = (Index("ix_poll_next_due", "next_due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    node_id: int = Field(foreign_key="org_node.id", index=True)  # the compound
    buildings: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # [] = all
    title: str = Field(max_length=100)
    body: str = Field(max_length=3500)
    attachment_kind: str = Field(default="", max_length=10)  # photo | document
    attachment_channel: str = Field(default="", max_length=16)
    attachment_ref: str = Field(default="", max_length=200)
    matter: int  # Civil Code Art. 278 item, 1–9
    kind: str = Field(max_length=10)  # decision | election
    candidates: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    seats: int = Field(default=0)
    secret: bool = Field(default=True)
    changeable: bool = Field(default=False)
    consultative: bool = Field(default=False)
    shortened_reason: str = Field(default="", max_length=300)  # why the 15-day notice was shortened
    author_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _time(nullable=False)
    opens_at: datetime = _time(nullable=False)
    closes_at: datetime = _time(nullable=False)
    # announced → open (electorate frozen) → closed (counted, published); cancelled before it opens.
    state: str = Field(default="announced", max_length=10, index=True)
    reminders_sent: int = Field(default=0)  # 0, 1 (3 days before the close), 2 (1 day before)
    next_due_at: datetime | None = _time(nullable=True)
    opened_at: datetime | None = _time(nullable=True)
    closed_at: datetime | None = _time(nullable=True)
    total_area: int = Field(default=0)  # frozen at opening, 0.01 m²
    total_owners: int = Field(default=0)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    digest: str = Field(default="", max_length=64)  # sha256 over the sorted receipts
    announce_notice_id: int | None = Field(default=None, foreign_key="notice.id")
    result_notice_id: int | None = Field(default=None, foreign_key="notice.id")


class PollHome(SQLModel, table=True):
    """A home of the frozen electorate with the owner unit it counts in (one unit = one owner)."""

    __tablename__ = "poll_home"
    __table_args__ = (Index("ix_poll_home_unit", "poll_id", "unit"),)

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    home_id: int = Field(foreign_key="home.id", primary_key=True)
    building_id: int = Field(foreign_key="org_node.id")
    unit: str = Field(max_length=32)
    area_centi_m2: int


class PollVoter(SQLModel, table=True):
    """A verified owner, at opening, who may cast the one vote of an owner unit they belong to (one row per
    unit: a person owning one home alone and another with a spouse belongs to two owners, SPC Art. 9)."""

    __tablename__ = "poll_voter"

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    unit: str = Field(max_length=32, primary_key=True)


class PollTurnout(SQLModel, table=True):
    """Who voted: one row per owner unit, so a second vote (double click, co-owner, race) cannot insert.

    It holds no choice: what was chosen lives in poll_ballot, which shares no key with this table.
    """

    __tablename__ = "poll_turnout"

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    unit: str = Field(max_length=32, primary_key=True)
    # who cast it: the owner, their proxy, or who entered a paper ballot (None: the command line)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    voted_at: datetime = _time(nullable=False)
    changes: int = Field(default=0)
    channel: str = Field(default="online", max_length=8)  # online | paper | proxy (DESIGN §4.8)
    home_id: int | None = Field(default=None, foreign_key="home.id")  # the home named (paper, proxy)


class PollBallot(SQLModel, table=True):
    """What was chosen, with the unit's area and a receipt hash; no person, home, unit or time.

    `seal` finds the ballot again for a permitted change: an HMAC of the poll and unit under the
    application's ballot key (which is not in the database), or random when the vote cannot change.
    An open (non-secret) poll also records the unit, so staff may see who chose what.
    """

    __tablename__ = "poll_ballot"
    __table_args__ = (UniqueConstraint("poll_id", "seal", name="uq_poll_ballot_seal"),)

    id: str = Field(primary_key=True, max_length=32)  # random; the close rewrites the rows in random order
    poll_id: int = Field(foreign_key="poll.id", index=True)
    seal: str = Field(max_length=64)
    area_centi_m2: int
    choice: str = Field(max_length=200)  # yes | no | abstain, or candidate numbers "1,3"
    receipt: str = Field(max_length=64, unique=True)  # sha256(poll | choice | the voter's code)
    unit: str | None = Field(default=None, max_length=32)  # open polls only


class PollPaper(SQLModel, table=True):
    """A paper ballot as it was collected (DESIGN §4.8): for which home, how, by whom, when, and the photo
    of the signed ballot. In a secret poll it is the register of a sealed ballot handed in (`sealed`): its
    choice is entered only at the close, in a batch (poll_batch), and never beside this row."""

    __tablename__ = "poll_paper"

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    unit: str = Field(max_length=32, primary_key=True)  # with poll_turnout's key: one ballot per owner
    home_id: int = Field(foreign_key="home.id")
    method: str = Field(max_length=8)  # door (扫楼) | meeting (现场) | box (投票箱)
    collector: str = Field(max_length=50)  # who collected it, as written on the ballot
    collected_at: datetime = _time(nullable=False)
    photo_channel: str = Field(default="", max_length=16)
    photo_ref: str = Field(default="", max_length=200)
    sealed: bool = Field(default=False)
    entered_by: int | None = Field(default=None, foreign_key="person.id")  # None: the command line
    entered_at: datetime = _time(nullable=False)
    source: str = Field(default="chat", max_length=8)  # chat | file | console
    # A sealed envelope lost before the count: its home's ballot is given back (the home counts as not
    # having voted), and the register keeps the line with who voided it and when.
    voided_at: datetime | None = _time(nullable=True)
    voided_by: int | None = Field(default=None, foreign_key="person.id")


class PollBatch(SQLModel, table=True):
    """A secret poll's sealed paper ballots, entered at the close by one person and confirmed by another;
    until confirmed the entered ballots are kept encrypted here and nothing is counted."""

    __tablename__ = "poll_batch"

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    state: str = Field(default="pending", max_length=10)  # pending | confirmed
    ballots: str = Field(default="", sa_column=Column(Text, nullable=False))  # encrypted JSON until confirmed
    count: int = Field(default=0)
    entered_by: int = Field(foreign_key="person.id")
    entered_at: datetime = _time(nullable=False)
    confirmed_by: int | None = Field(default=None, foreign_key="person.id")
    confirmed_at: datetime | None = _time(nullable=True)


class PollStub(SQLModel, table=True):
    """A receipt code printed on a paper ballot's stub for a secret poll: only its hash is kept, with no home,
    so that the batch at the close takes genuine ballots only, each once."""

    __tablename__ = "poll_stub"

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    code_hash: str = Field(max_length=64, primary_key=True)  # sha256(poll | code)
    issued_at: datetime = _time(nullable=False)
    used: bool = Field(default=False)


class PollProxy(SQLModel, table=True):
    """An owner's written or chat authorisation (委托) for another person to vote for one home, in one poll
    (`poll_id`) or for a term (`starts_on`..`ends_on`); offered with a one-time code the proxy claims."""

    __tablename__ = "poll_proxy"
    __table_args__ = (
        Index("ix_poll_proxy_home", "home_id"),
        Index("ix_poll_proxy_proxy", "proxy_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    compound_id: int = Field(foreign_key="org_node.id")
    home_id: int = Field(foreign_key="home.id")
    poll_id: int | None = Field(default=None, foreign_key="poll.id")  # None: for the term below
    starts_on: date | None = Field(default=None)
    ends_on: date | None = Field(default=None)
    proxy_id: int | None = Field(default=None, foreign_key="person.id")  # None until the code is claimed
    proxy_name: str = Field(default="", max_length=50)  # as written on the letter or by the owner
    code_hash: str = Field(default="", max_length=64, index=True)  # the one-time claim code's hash
    code_expires_at: datetime | None = _time(nullable=True)
    source: str = Field(max_length=8)  # owner (in chat) | letter (委托书 entered by staff)
    granted_by: int = Field(foreign_key="person.id")
    photo_channel: str = Field(default="", max_length=16)
    photo_ref: str = Field(default="", max_length=200)
    created_at: datetime = _time(nullable=False)
    claimed_at: datetime | None = _time(nullable=True)
    revoked_at: datetime | None = _time(nullable=True)
    revoked_by: int | None = Field(default=None, foreign_key="person.id")


class PlatformToken(SQLModel, table=True):
    """An access token a platform issued (WeChat's lasts two hours), shared by every process; one of them
    refreshes it while holding the lease."""

    __tablename__ = "platform_token"

    name: str = Field(primary_key=True, max_length=64)  # e.g. "wechat:<appid>"
    token: str = Field(default="", max_length=600)
    expires_at: datetime | None = _time(nullable=True)
    lease_until: datetime | None = _time(nullable=True)
    lease_owner: str = Field(default="", max_length=64)


class ConsoleLink(SQLModel, table=True):
    """A one-time sign-in link to the staff console: only its hash is kept; it works once, for ten minutes."""

    __tablename__ = "console_link"

    token_hash: str = Field(primary_key=True, max_length=64)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: datetime = _time(nullable=False)
    expires_at: datetime = _time(nullable=False)
    used_at: datetime | None = _time(nullable=True)


class ConsoleSession(SQLModel, table=True):
    """A signed-in console session: the cookie carries a random id whose hash is the key; it ends on
    sign-out or after being idle too long."""

    __tablename__ = "console_session"

    id_hash: str = Field(primary_key=True, max_length=64)
    person_id: int = Field(foreign_key="person.id", index=True)
    csrf: str = Field(max_length=64)  # the token every form of this session carries
    created_at: datetime = _time(nullable=False)
    last_seen_at: datetime = _time(nullable=False)
    ended_at: datetime | None = _time(nullable=True)


class AuditEntry(SQLModel, table=True):
    """One staff action, in the console or the chat: who, in which role, what, to what, where in the org
    tree, when, and the state before and after. Rows are only ever added."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_path_id", "node_path", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(nullable=False, index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    actor_role: str = Field(default="", max_length=24)
    via: str = Field(default="chat", max_length=16)  # chat | console | cli | scheduler
    action: str = Field(max_length=40)  # e.g. ticket.assign, notice.publish, resident.approve
    subject: str = Field(default="", max_length=24)  # ticket | notice | poll | residency | org
    subject_id: int | None = Field(default=None)
    node_path: str = Field(default="", max_length=200)  # where it happened: supervisors above it see it
    before: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class SavedFilter(SQLModel, table=True):
    """A ticket-list filter a staff member named and kept, as its query string."""

    __tablename__ = "saved_filter"
    __table_args__ = (UniqueConstraint("person_id", "name", name="uq_saved_filter_name"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    name: str = Field(max_length=60)
    query: str = Field(max_length=1000)
    created_at: datetime = _time(nullable=False)
