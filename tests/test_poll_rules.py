"""Owners' polls at the database level (DESIGN §4.2): who counts as one owner, the frozen electorate, the
count against a tally done by hand, receipts, and ballots that link to no one."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import event, inspect
from sqlmodel import Session, select

from bot.bootstrap import App
from db import org, people, polls
from db.models import Home, Notice, OrgNode, Poll, PollBallot, PollHome, PollTurnout, PollVoter, Residency
from db.polls import ballots, electorate, views
from tests.support import poll_cases

COMMUNITY = ("铁西区", "北沟街道", "英雄社区")

# A compound made for counting (areas in m²). Owners, set up in `Town`:
#   甲 owns 1栋 1单元 101, 102 and 201 (one owner of three homes: 240.00 m², one vote)
#   乙 and 丙 co-own 1栋 2单元 101 (one vote, 90.00 m²)
#   丁 and 戊 co-own 1栋 2单元 102 (one owner, 70.00 m²); 丁 alone owns 2栋 1单元 101 (another owner,
#   50.00 m²: the owner sets differ, SPC Art. 9 counts a buyer once only over exactly equal sets)
#   2栋 1单元 102 and 201 are the developer's unsold stock (one owner: 230.00 m², nobody to vote)
#   2栋 1单元 202 has no registered owner (counts as an owner of its own, 75.50 m²)
#   2栋 1单元 301: 己 asked to be its owner (pending), 庚 rents it (tenant) — counts as its own owner
#   辛 owns 2栋 2单元 101 (88.88 m²); 壬 is verified owner of 2栋 2单元 102 (55.55 m²) only after opening
COMPOUND_YAML = """\
district: 铁西区
streets:
  - name: 北沟街道
    communities:
      - name: 英雄社区
        compounds:
          - name: 议事小区
            buildings:
              - name: 1栋
                entrances:
                  - name: 1单元
                    homes:
                      - {number: "101", area: 100}
                      - {number: "102", area: 80}
                      - {number: "201", area: 60}
                  - name: 2单元
                    homes:
                      - {number: "101", area: 90}
                      - {number: "102", area: 70}
              - name: 2栋
                entrances:
                  - name: 1单元
                    homes:
                      - {number: "101", area: 50}
                      - {number: "102", area: 110, unsold: true}
                      - {number: "201", area: 120, unsold: 是}
                      - {number: "202", area: 75.50}
                      - {number: "301", area: 65.25}
                  - name: 2单元
                    homes:
                      - {number: "101", area: 88.88}
                      - {number: "102", area: 55.55, unsold: false}
"""
TOTAL_AREA = 24000 + 9000 + 12000 + 23000 + 7550 + 6525 + 8888 + 5555  # 965.18 m²
TOTAL_OWNERS = 9  # 甲, 乙丙, 丁戊, 丁, developer, 202, 301, 辛, 2栋 2单元 102


@dataclass
class Town:
    """The compound above with its people, on the app's database."""

    app: App
    now: datetime
    compound_id: int = 0
    homes: dict[str, int] = field(default_factory=dict)  # "1栋/1单元/101" -> home id
    person: dict[str, int] = field(default_factory=dict)  # "甲" -> person id

    def session(self) -> Session:
        return self.app.sessions()

    def add_person(self, session: Session, name: str) -> int:
        who = people.find_or_create_person(session, "web", f"town-{name}", "", name, "zh_CN", self.now)
        self.person[name] = who.person_id
        return who.person_id

    def reside(
        self, session: Session, name: str, home: str, kind: str = "owner", status: str = "verified"
    ) -> None:
        person_id = self.person.get(name) or self.add_person(session, name)
        session.add(
            Residency(
                person_id=person_id,
                home_id=self.homes[home],
                kind=kind,
                status=status,
                created_at=self.now,
                decided_at=self.now if status == "verified" else None,
            )
        )
        session.flush()

    def draft(self, opens_in: timedelta = timedelta(days=15), **kw: object) -> polls.Draft:
        opens_at = self.now + opens_in
        values: dict[str, object] = {
            "node_id": self.compound_id,
            "title": "更换1栋电梯",
            "body": "拟使用专项维修资金更换1栋两部电梯，预算约 60 万元。",
            "matter": 5,
            "kind": "decision",
            "opens_at": opens_at,
            "closes_at": opens_at + timedelta(days=7),
            **kw,
        }
        return polls.Draft(**values)  # type: ignore[arg-type]

    def open(self, draft: polls.Draft | None = None) -> int:
        """Create a poll and step it open at its opening time; returns its id."""
        draft = draft or self.draft()
        with self.session() as session:
            poll = poll_cases.create(session, None, draft, self.now, self.app.policy)
            session.commit()
            poll_id = poll.id
        with self.session() as session:
            poll = session.get(Poll, poll_id)
            assert poll is not None
            assert (
                poll_cases.step(session, poll, draft.opens_at, self.app.policy, self.app.settings.seal_key)
                == "opened"
            )
            session.commit()
        assert poll_id is not None
        return poll_id

    def vote(self, poll_id: int, name: str, choice: str, at: datetime) -> polls.Cast:
        with self.session() as session:
            cast = ballots.vote(session, poll_id, self.person[name], choice, at, self.app.settings.seal_key)
            session.commit()
        return cast

    def close(self, poll_id: int) -> Poll:
        with self.session() as session:
            poll = session.get(Poll, poll_id)
            assert poll is not None
            assert (
                poll_cases.step(session, poll, poll.closes_at, self.app.policy, self.app.settings.seal_key)
                == "closed"
            )
            session.commit()
            return poll


@pytest.fixture
def town(app: App) -> Iterator[Town]:
    """The counting compound under the demo community, its owners, tenants and the developer's stock."""
    now = app.clock.now()
    town = Town(app, now)
    with app.sessions() as session:
        homes, grids = org.parse_yaml(COMPOUND_YAML)
        org.load_rows(session, homes, grids)
        compound = org.find_node(session, "/".join((*COMMUNITY, "议事小区")))
        assert compound is not None and compound.id is not None
        town.compound_id = compound.id
        for home in session.exec(select(Home).where(Home.compound_id == compound.id)).all():
            building = session.get(OrgNode, home.building_id)
            entrance = session.get(OrgNode, home.entrance_id)
            assert building is not None and entrance is not None and home.id is not None
            town.homes[f"{building.name}/{entrance.name}/{home.number}"] = home.id
        for home in ("1栋/1单元/101", "1栋/1单元/102", "1栋/1单元/201"):
            town.reside(session, "甲", home)
        town.reside(session, "乙", "1栋/2单元/101")
        town.reside(session, "丙", "1栋/2单元/101")
        town.reside(session, "丁", "1栋/2单元/102")
        town.reside(session, "戊", "1栋/2单元/102")
        town.reside(session, "丁", "2栋/1单元/101")
        town.reside(session, "己", "2栋/1单元/301", status="pending")
        town.reside(session, "庚", "2栋/1单元/301", kind="tenant")
        town.reside(session, "辛", "2栋/2单元/101")
        town.add_person(session, "壬")
        session.commit()
    yield town


def units(session: Session, poll_id: int) -> dict[int, str]:
    """home id -> owner unit in the frozen electorate."""
    return dict(
        session.exec(select(PollHome.home_id, PollHome.unit).where(PollHome.poll_id == poll_id)).all()
    )


def voters(session: Session, poll_id: int) -> dict[int, list[str]]:
    """person id -> the owner units they vote for (sorted), for those who may vote."""
    found: dict[int, list[str]] = {}
    for person_id, unit in session.exec(
        select(PollVoter.person_id, PollVoter.unit).where(PollVoter.poll_id == poll_id)
    ).all():
        found.setdefault(person_id, []).append(unit)
    return {p: sorted(u) for p, u in found.items()}


def test_import_marks_the_developers_unsold_homes(town: Town) -> None:
    with town.session() as session:
        homes = session.exec(select(Home).where(Home.compound_id == town.compound_id)).all()
        unsold = {home.id for home in homes if home.unsold}
    assert unsold == {town.homes["2栋/1单元/102"], town.homes["2栋/1单元/201"]}


def test_owner_units_follow_owners_not_homes(town: Town) -> None:
    poll_id = town.open()
    h = town.homes
    p = town.person
    with town.session() as session:
        unit = units(session, poll_id)
        assert len(unit) == len(h) == 12
        # One owner of three homes: one unit, the areas added up.
        assert unit[h["1栋/1单元/101"]] == unit[h["1栋/1单元/102"]] == unit[h["1栋/1单元/201"]]
        assert polls.unit_area(session, poll_id, unit[h["1栋/1单元/101"]]) == 24000
        # 丁 co-owns 1栋 2单元 102 with 戊 and alone owns 2栋 1单元 101: two owner sets, two units.
        assert unit[h["1栋/2单元/102"]] == f"u{h['1栋/2单元/102']}"
        assert unit[h["2栋/1单元/101"]] == f"u{h['2栋/1单元/101']}"
        assert polls.unit_area(session, poll_id, unit[h["1栋/2单元/102"]]) == 7000
        assert polls.unit_area(session, poll_id, unit[h["2栋/1单元/101"]]) == 5000
        # The developer's unsold homes: one unit.
        assert unit[h["2栋/1单元/102"]] == unit[h["2栋/1单元/201"]] == polls.DEVELOPER_UNIT
        assert polls.unit_area(session, poll_id, polls.DEVELOPER_UNIT) == 23000
        # Homes without a verified owner: each its own unit (a pending owner and a tenant change nothing).
        for home in ("2栋/1单元/202", "2栋/1单元/301", "2栋/2单元/102"):
            assert unit[h[home]] == f"h{h[home]}"
        assert len(set(unit.values())) == TOTAL_OWNERS
        poll = session.get(Poll, poll_id)
        assert poll is not None
        assert (poll.total_area, poll.total_owners) == (TOTAL_AREA, TOTAL_OWNERS)
        # Who may vote: verified owners only; co-owners share their unit; 丁 votes in both of his.
        vote_units = voters(session, poll_id)
        assert set(vote_units) == {p[n] for n in ("甲", "乙", "丙", "丁", "戊", "辛")}
        assert vote_units[p["乙"]] == vote_units[p["丙"]] == [unit[h["1栋/2单元/101"]]]
        assert vote_units[p["戊"]] == [unit[h["1栋/2单元/102"]]]
        assert vote_units[p["丁"]] == sorted([unit[h["1栋/2单元/102"]], unit[h["2栋/1单元/101"]]])
        assert electorate.units_of(session, poll_id, p["丁"]) == vote_units[p["丁"]]
        assert electorate.units_of(session, poll_id, p["壬"]) == []
        assert vote_units[p["甲"]] == [unit[h["1栋/1单元/201"]]]
        assert len({u for us in vote_units.values() for u in us}) == 5


def test_owner_verified_after_opening_is_not_in_the_electorate(town: Town) -> None:
    poll_id = town.open()
    at = town.now + timedelta(days=16)
    with town.session() as session:
        town.reside(session, "壬", "2栋/2单元/102")  # verified now, after the electorate was frozen
        session.commit()
    with town.session() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        assert town.person["壬"] not in voters(session, poll_id)
        assert polls.standing(session, poll, town.person["壬"], at) == "after_freeze"
        assert polls.standing(session, poll, town.person["己"], at) == "pending"
        assert polls.standing(session, poll, town.person["庚"], at) == "tenant"
        assert polls.standing(session, poll, town.person["甲"], at) == "can_vote"
    for name, reason in (("壬", "after_freeze"), ("己", "pending"), ("庚", "tenant")):
        with pytest.raises(polls.PollError) as info:
            town.vote(poll_id, name, "yes", at)
        assert info.value.reason == reason
    with town.session() as session:
        assert session.exec(select(PollTurnout).where(PollTurnout.poll_id == poll_id)).all() == []


def test_count_equals_a_tally_done_by_hand(town: Town) -> None:
    poll_id = town.open()
    at = town.now + timedelta(days=16)
    town.vote(poll_id, "甲", "yes", at)  # 240.00 m²
    town.vote(poll_id, "乙", "no", at)  # 90.00 m², for 乙 and 丙
    town.vote(poll_id, "戊", "yes", at)  # 70.00 m², for 丁 and 戊's home (not 丁's own 2栋 1单元 101)
    town.vote(poll_id, "辛", "abstain", at)  # 88.88 m²
    with pytest.raises(polls.PollError) as info:
        town.vote(poll_id, "丙", "no", at)  # the co-owner already voted for the home
    assert info.value.reason == "home_voted"
    for name in ("甲", "戊"):
        with pytest.raises(polls.PollError) as info:
            town.vote(poll_id, name, "no", at)
        assert info.value.reason == "voted"
    with town.session() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        # 丙's only unit was cast by 乙; 丁 still has his own home to vote for.
        assert polls.standing(session, poll, town.person["丙"], at) == "home_voted"
        assert polls.standing(session, poll, town.person["丁"], at) == "can_vote"

    # By hand: 4 of 9 owners took part with 488.88 of 965.18 m² — short of two thirds on both counts.
    participating_area = 24000 + 9000 + 7000 + 8888
    with town.session() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        result = polls.count(session, poll, town.app.settings.seal_key)
    assert (result.total_area, result.total_owners) == (96518, 9)
    assert (result.participating_area, result.participating_owners, result.ballots) == (48888, 4, 4)
    assert result.area_turnout == Fraction(48888, 96518) and result.owner_turnout == Fraction(4, 9)
    assert (result.quorum_area_met, result.quorum_owners_met, result.quorum) == (False, False, False)
    (yes,) = result.approvals
    assert (yes.area, yes.owners) == (31000, 2)
    assert yes.area_share == Fraction(31000, participating_area) == Fraction(3875, 6111)
    assert yes.owner_share == Fraction(1, 2)
    assert (yes.area_met, yes.owners_met, yes.passed) == (True, False, False)  # exactly half of owners fails
    assert (result.no_area, result.no_owners, result.abstain_area, result.abstain_owners) == (
        9000,
        1,
        8888,
        1,
    )
    assert result.outcome == "no_quorum"

    poll = town.close(poll_id)
    stored = poll.result  # numbers only: exact shares as [numerator, denominator]
    assert stored["outcome"] == "no_quorum"
    assert (stored["participating_area"], stored["total_area"]) == (48888, 96518)
    assert (stored["area_turnout"], stored["owner_turnout"]) == ([24444, 48259], [4, 9])
    assert (stored["quorum"], stored["quorum_area_met"], stored["quorum_owners_met"]) == (False, False, False)
    assert stored["approvals"][0]["area_share"] == [3875, 6111]
    assert stored["approvals"][0]["owner_share"] == [1, 2]
    with town.session() as session:
        notice = session.get(Notice, poll.result_notice_id)
        assert notice is not None and notice.data["poll"]["event"] == "result"
    # Formatted when shown, with two decimals: 48888 / 96518 = 50.65%; 4/9 = 44.44%; 3875/6111 = 63.41%.
    shown = town.app.renderer.text(
        "zh_CN", "pollpush.closed_author", {"title": poll.title, "poll": notice.data["poll"]}
    )
    assert "（50.65%），业主 4 / 共 9 人（44.44%）" in shown
    assert "（占参与面积 63.41%），2 人（占参与人数 50.00%）" in shown


@dataclass(frozen=True)
class Case:
    """A compound of single-owner homes (an owner letter per home) and the owners who vote yes."""

    name: str
    homes: tuple[tuple[str, str], ...]  # (owner, area in m²)
    voting: str  # owners who vote
    area_turnout: Fraction
    owner_turnout: Fraction
    quorum: bool


QUORUM_CASES = [
    # Exactly two thirds of the area and of the owners: quorum ("以上" includes the number itself).
    Case(
        "exactly 2/3 both",
        (("a", "100"), ("b", "100"), ("c", "100")),
        "ab",
        Fraction(2, 3),
        Fraction(2, 3),
        True,
    ),
    # 0.01 m² short of two thirds of the area, owners exactly two thirds: no quorum.
    Case(
        "area 0.01 m² short",
        (("a", "100"), ("b", "100"), ("c", "100.01")),
        "ab",
        Fraction(20000, 30001),
        Fraction(2, 3),
        False,
    ),
    # Area above, owners one short of two thirds (3 of 5): no quorum.
    Case(
        "owners short",
        (("a", "500"), ("b", "100"), ("c", "100"), ("d", "100"), ("e", "100")),
        "abc",
        Fraction(7, 9),
        Fraction(3, 5),
        False,
    ),
    # An owner of two homes counts once: 2 of 3 owners exactly, with 3/4 of the area.
    Case(
        "two homes, one owner",
        (("a", "100"), ("a", "100"), ("b", "100"), ("c", "100")),
        "ab",
        Fraction(3, 4),
        Fraction(2, 3),
        True,
    ),
    # The same compound, the other two owners: 2/3 of owners but only half the area.
    Case(
        "two homes, not voting",
        (("a", "100"), ("a", "100"), ("b", "100"), ("c", "100")),
        "bc",
        Fraction(1, 2),
        Fraction(2, 3),
        False,
    ),
]


def small_town(app: App, name: str, homes: list[tuple[str, str]]) -> Town:
    """A compound `name` of one entrance whose homes 001, 002, … have these (owners, area in m²): each
    letter of `owners` is one verified owner of the home ("" leaves it without a registered owner)."""
    town = Town(app, app.clock.now())
    rows = [
        org.HomeRow(i + 1, (*COMMUNITY, name, "1栋", "1单元"), f"{i + 1:03d}", org.parse_area(area, i + 1))  # type: ignore[arg-type]
        for i, (_, area) in enumerate(homes)
    ]
    with app.sessions() as session:
        org.load_rows(session, rows, [])
        compound = org.find_node(session, "/".join((*COMMUNITY, name)))
        assert compound is not None and compound.id is not None
        town.compound_id = compound.id
        for (owners, _), row in zip(homes, rows, strict=True):
            home = org.find_home(session, "/".join((*COMMUNITY, name, "1栋", "1单元", row.number)))
            assert home is not None and home.id is not None
            town.homes[row.number] = home.id
            for owner in owners:
                town.reside(session, owner, row.number)
        session.commit()
    return town


def relabel(town: Town, poll_id: int, owner: str, channel: str) -> None:
    """Store the owner's cast ballot as a paper or proxy ballot is stored: its turnout row names the
    channel, the home and who entered it (a committee member, or the proxy), not the owner."""
    with town.session() as session:
        helper = town.person.get(f"录入{channel}") or town.add_person(session, f"录入{channel}")
        (unit,) = electorate.units_of(session, poll_id, town.person[owner])
        turnout = session.get(PollTurnout, (poll_id, unit))
        assert turnout is not None
        home = session.exec(
            select(PollHome.home_id).where(PollHome.poll_id == poll_id, PollHome.unit == unit)
        ).first()
        turnout.channel, turnout.person_id, turnout.home_id = channel, helper, home
        session.commit()


def cast_for_home(town: Town, poll_id: int, home: str, by: str, choice: str, at: datetime) -> None:
    """Store a ballot for one home of an open (non-secret) poll as a vote naming that home stores it: the
    unit's turnout row, cast by `by`, and its ballot with the unit's area."""
    with town.session() as session:
        unit = session.exec(
            select(PollHome.unit).where(PollHome.poll_id == poll_id, PollHome.home_id == town.homes[home])
        ).one()
        session.add(
            PollTurnout(
                poll_id=poll_id, unit=unit, person_id=town.person[by], voted_at=at, home_id=town.homes[home]
            )
        )
        session.add(
            PollBallot(
                id=secrets.token_hex(16),
                poll_id=poll_id,
                seal=secrets.token_hex(32),
                area_centi_m2=polls.unit_area(session, poll_id, unit),
                choice=choice,
                receipt=polls.receipt_hash(poll_id, choice, ballots.new_code()),
                unit=unit,
            )
        )
        session.commit()


CHANNEL_MIXES = {"online": ("online",), "mixed": ("paper", "online", "proxy")}


@pytest.mark.parametrize("mix", list(CHANNEL_MIXES))
@pytest.mark.parametrize("case", QUORUM_CASES, ids=lambda c: c.name)
def test_quorum_boundary_is_two_thirds_inclusive(app: App, case: Case, mix: str) -> None:
    # The "mixed" run casts the same ballots by paper, online and proxy in turn: nothing may change.
    town = small_town(app, "边界小区", [(owner, area) for owner, area in case.homes])
    poll_id = town.open()
    channels = CHANNEL_MIXES[mix]
    for i, owner in enumerate(case.voting):
        town.vote(poll_id, owner, "yes", town.now + timedelta(days=16))
        if channels[i % len(channels)] != "online":
            relabel(town, poll_id, owner, channels[i % len(channels)])
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        result = polls.count(session, poll, app.settings.seal_key)
        overall, _ = views.turnout(session, poll)
    total = sum(org.parse_area(a, 1) for _, a in case.homes)
    assert result.total_area == total and result.total_owners == len({o for o, _ in case.homes})
    assert (result.area_turnout, result.owner_turnout) == (case.area_turnout, case.owner_turnout)
    assert result.quorum is case.quorum
    assert result.outcome == ("passed" if case.quorum else "no_quorum")  # everyone who voted said yes
    # The live turnout agrees with the count, whichever way the ballots came.
    assert (overall.area, overall.owners) == (result.participating_area, result.participating_owners)
    assert sum(p.owners for p in overall.channels.values()) == len(case.voting)
    if mix == "mixed":
        assert overall.channels["paper"].owners == (len(case.voting) + 2) // 3
    poll = town.close(poll_id)
    assert poll.result["outcome"] == result.outcome
    assert sum(poll.result["channels"].values()) == poll.result["ballots"] == len(case.voting)


def test_equal_owner_sets_are_one_owner_and_a_chain_of_overlapping_sets_stays_apart(any_app: App) -> None:
    # 夫+妻 own 001 and 004 (equal sets: one owner of 180 m²); 妻+母 own 002 and 母+弟 own 003: the chain
    # 夫妻 – 妻母 – 母弟 is three owners, not one; 005 has no registered owner.
    town = small_town(
        any_app,
        "买受人小区",
        [("夫妻", "100"), ("妻母", "90"), ("母弟", "70"), ("夫妻", "80"), ("", "60")],
    )
    h, p = town.homes, town.person
    poll_id = town.open(town.draft(secret=False))
    with town.session() as session:
        unit = units(session, poll_id)
        assert unit[h["001"]] == unit[h["004"]] == f"u{h['001']}"
        assert polls.unit_area(session, poll_id, unit[h["001"]]) == 18000
        assert len({unit[h["001"]], unit[h["002"]], unit[h["003"]]}) == 3
        assert unit[h["002"]] == f"u{h['002']}" and unit[h["003"]] == f"u{h['003']}"
        assert unit[h["005"]] == f"h{h['005']}"
        poll = session.get(Poll, poll_id)
        assert poll is not None and (poll.total_owners, poll.total_area) == (4, 40000)
        # 妻 and 母 each vote for two owners; everyone else for one.
        assert electorate.units_of(session, poll_id, p["妻"]) == sorted([unit[h["001"]], unit[h["002"]]])
        assert electorate.units_of(session, poll_id, p["母"]) == sorted([unit[h["002"]], unit[h["003"]]])
        assert electorate.units_of(session, poll_id, p["夫"]) == [unit[h["001"]]]
        assert electorate.voter_ids(session, poll_id) == sorted(p[n] for n in "夫妻母弟")
    at = town.now + timedelta(days=16)
    town.vote(poll_id, "夫", "yes", at)  # for 001 and 004
    with town.session() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        # 妻 still has 002 to vote for; 弟 and 母 have not voted at all.
        assert polls.standing(session, poll, p["妻"], at) == "can_vote"
        assert electorate.non_voters(session, poll_id) == sorted(p[n] for n in "妻母弟")
        own = electorate.own_turnout(session, poll_id, p["妻"])
        assert own is not None and own.unit == unit[h["001"]] and own.person_id == p["夫"]
    cast_for_home(town, poll_id, "002", "母", "no", at)  # 母 names 002, the home she owns with 妻
    with town.session() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        # Both of 妻's owners have voted, neither by her; 母 cast one of hers and still has 003.
        assert polls.standing(session, poll, p["妻"], at) == "home_voted"
        assert polls.standing(session, poll, p["母"], at) == "can_vote"
        assert electorate.non_voters(session, poll_id) == sorted(p[n] for n in "母弟")
    town.vote(poll_id, "弟", "yes", at)  # 003, for 母 and 弟
    with town.session() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        assert polls.standing(session, poll, p["母"], at) == "voted"  # all hers voted, one by her
        assert polls.standing(session, poll, p["妻"], at) == "home_voted"
        assert electorate.non_voters(session, poll_id) == []
        result = polls.count(session, poll, town.app.settings.seal_key)
        overall, (building,) = views.turnout(session, poll)
    assert (overall.owners, overall.area, overall.channels["online"].owners) == (3, 34000, 3)
    assert (building.owners, building.total_owners, building.total_area) == (3, 4, 40000)
    # 3 of 4 owners with 340 of 400 m²: quorum; yes 250 m² and 2 of 3 owners.
    assert (result.participating_owners, result.participating_area, result.quorum) == (3, 34000, True)
    assert (result.approvals[0].owners, result.approvals[0].area, result.outcome) == (2, 25000, "passed")


def test_turnout_and_the_result_are_split_by_channel(town: Town) -> None:
    poll_id = town.open()
    at = town.now + timedelta(days=16)
    town.vote(poll_id, "甲", "yes", at)  # 1栋, 240.00 m², online
    town.vote(poll_id, "乙", "no", at)  # 1栋, 90.00 m², entered from paper
    relabel(town, poll_id, "乙", "paper")
    town.vote(poll_id, "辛", "yes", at)  # 2栋, 88.88 m², cast by a proxy
    relabel(town, poll_id, "辛", "proxy")
    town.vote(poll_id, "戊", "abstain", at)  # 1栋, 70.00 m², on paper too
    relabel(town, poll_id, "戊", "paper")
    with town.session() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        overall, buildings = views.turnout(session, poll)
    assert (overall.area, overall.owners, overall.total_owners) == (48888, 4, TOTAL_OWNERS)
    shown = {c: (part.area, part.owners) for c, part in overall.channels.items()}
    assert shown == {"online": (24000, 1), "paper": (16000, 2), "proxy": (8888, 1)}
    by_name = {b.name: b for b in buildings}
    one, two = by_name["1栋"], by_name["2栋"]
    assert {c: part.owners for c, part in one.channels.items()} == {"online": 1, "paper": 2, "proxy": 0}
    assert (one.area, one.total_area, one.owners, one.total_owners) == (40000, 40000, 3, 3)
    assert {c: part.area for c, part in two.channels.items()} == {"online": 0, "paper": 0, "proxy": 8888}
    assert (two.area, two.total_area, two.owners, two.total_owners) == (8888, 56518, 1, 6)
    # The quorum line: two thirds of 965.18 m² (643.46 rounded up) and of 9 owners (6).
    assert (overall.area_needed, overall.owners_needed) == (64346, 6)

    poll = town.close(poll_id)
    assert poll.result["channels"] == {"online": 1, "paper": 2, "proxy": 1}
    with town.session() as session:
        notice = session.get(Notice, poll.result_notice_id)
        assert notice is not None
        assert notice.data["poll"]["channels"] == {"online": 1, "paper": 2, "proxy": 1}
    renderer = town.app.renderer
    context = {"title": poll.title, "poll": notice.data["poll"]}
    assert "共 4 张选票：网上 1 票 · 纸质 2 票 · 委托 1 票。" in renderer.text(
        "zh_CN", "pollpush.closed_author", context
    )
    assert "4 ballots: 1 online · 2 on paper · 1 by proxy." in renderer.text(
        "en", "pollpush.closed_author", context
    )
    # A result stored before ballots were counted by channel still reads as it did.
    old = {k: v for k, v in notice.data["poll"].items() if k != "channels"}
    for locale, line in (("zh_CN", "共 4 张选票。"), ("en", "4 ballots.")):
        text = renderer.text(locale, "pollpush.closed_author", {"title": poll.title, "poll": old})
        assert line in text and "网上" not in text and "online" not in text


def test_receipts_digest_can_be_recomputed_and_each_voter_finds_their_ballot(town: Town) -> None:
    poll_id = town.open()
    at = town.now + timedelta(days=16)
    casts = {
        name: town.vote(poll_id, name, choice, at)
        for name, choice in (("甲", "yes"), ("乙", "no"), ("辛", "abstain"))
    }
    poll = town.close(poll_id)
    with town.session() as session:
        listed = polls.receipts(session, poll_id)
        assert len(listed) == 3 and listed == sorted(listed)
        recomputed = hashlib.sha256("\n".join(listed).encode()).hexdigest()
        assert poll.digest == recomputed == poll.result["digest"]
        for cast in casts.values():
            assert polls.receipt_hash(poll_id, cast.choice, cast.code) in listed
            assert polls.check_receipt(session, poll, cast.code) == (cast.choice, cast.fingerprint)
            assert polls.check_receipt(session, poll, cast.code.lower().replace("-", " ")) is not None
        assert polls.check_receipt(session, poll, "AAAA-BBBB-CCCC") is None
        notice = session.get(Notice, poll.result_notice_id)
        assert notice is not None and notice.data["poll"]["digest"] == recomputed


def test_ballots_carry_no_link_to_voters(town: Town) -> None:
    # The schema: a ballot has no person, home or time column; the turnout has no choice.
    schema = inspect(town.app.engine)
    ballot_columns = {c["name"] for c in schema.get_columns("poll_ballot")}
    assert ballot_columns == {"id", "poll_id", "seal", "area_centi_m2", "choice", "receipt", "unit"}
    turnout_columns = {c["name"] for c in schema.get_columns("poll_turnout")}
    assert turnout_columns == {"poll_id", "unit", "person_id", "voted_at", "changes", "channel", "home_id"}
    assert not turnout_columns & {"choice", "receipt", "seal", "ballot_id", "area_centi_m2"}
    shared = {fk["referred_table"] for fk in schema.get_foreign_keys("poll_ballot")}
    assert shared == {"poll"}

    secret = town.open()
    open_ = town.open(town.draft(secret=False, title="公开表决：更换门禁"))
    at = town.now + timedelta(days=16)
    for poll_id in (secret, open_):
        for name, choice in (("甲", "yes"), ("丙", "no"), ("戊", "abstain")):
            town.vote(poll_id, name, choice, at)
    with town.session() as session:
        person_ids = set(town.person.values())
        home_ids = set(town.homes.values())
        all_units = set(units(session, secret).values())
        forbidden = {*person_ids, *home_ids, *map(str, person_ids), *map(str, home_ids), *all_units}
        secret_ballots = session.exec(select(PollBallot).where(PollBallot.poll_id == secret)).all()
        assert len(secret_ballots) == 3
        for ballot in secret_ballots:
            assert ballot.unit is None
            for column in ballot_columns - {"poll_id"}:
                assert getattr(ballot, column) not in forbidden, column
        vote_units = {p: us[0] for p, us in voters(session, open_).items() if len(us) == 1}
        open_ballots = session.exec(select(PollBallot).where(PollBallot.poll_id == open_)).all()
        assert {(b.unit, b.choice) for b in open_ballots} == {
            (vote_units[town.person["甲"]], "yes"),
            (vote_units[town.person["丙"]], "no"),
            (vote_units[town.person["戊"]], "abstain"),
        }
        # The turnout says who voted, not what: its rows match the voters' units and nothing else.
        turnout = session.exec(select(PollTurnout.unit).where(PollTurnout.poll_id == secret)).all()
        assert set(turnout) == {vote_units[town.person[n]] for n in ("甲", "丙", "戊")}


def test_freezing_and_turnout_do_not_grow_with_the_homes(app: App) -> None:
    # 120 homes, a couple in each: freezing writes them in a few statements, none carrying a parameter
    # per home, and live turnout is summed by the database, a row per building and channel.
    town = small_town(app, "规模小区", [("", "80")] * 120)
    with app.sessions() as session:
        for number in town.homes:
            for who in (f"夫{number}", f"妻{number}"):
                town.reside(session, who, number)
        session.commit()
    statements: list[tuple[str, int, int]] = []  # (sql, parameter sets, largest set)

    def seen(_conn: object, _cursor: object, sql: str, params: object, _ctx: object, many: bool) -> None:
        sets = list(params) if many else [params]  # type: ignore[call-overload]
        statements.append((sql, len(sets), max((len(p) for p in sets if p), default=0)))

    event.listen(app.engine, "before_cursor_execute", seen)
    try:
        poll_id = town.open()
        opened = list(statements)
        statements.clear()
        with app.sessions() as session:
            poll = session.get(Poll, poll_id)
            assert poll is not None
            overall, (building,) = views.turnout(session, poll)
        read = list(statements)
    finally:
        event.remove(app.engine, "before_cursor_execute", seen)
    assert (overall.total_owners, building.total_owners, building.total_area) == (120, 120, 960000)
    assert max(largest for _, _, largest in opened) < 60  # no IN list of the 120 homes' ids
    homes_written = [n for sql, n, _ in opened if sql.startswith("INSERT INTO poll_home")]
    voters_written = [n for sql, n, _ in opened if sql.startswith("INSERT INTO poll_voter")]
    assert homes_written == [120] and voters_written == [240]  # one executemany each
    turnout_reads = [sql for sql, _, _ in read if "poll_home" in sql]
    assert len(turnout_reads) == 2 and all("GROUP BY" in sql for sql in turnout_reads)
