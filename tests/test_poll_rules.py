"""Owners' polls at the database level (DESIGN §4.2): who counts as one owner, the frozen electorate, the
count against a tally done by hand, receipts, and ballots that link to no one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import inspect
from sqlmodel import Session, select

from bot.bootstrap import App
from db import org, people, polls
from db.models import Home, Notice, OrgNode, Poll, PollBallot, PollHome, PollTurnout, PollVoter, Residency
from db.polls import ballots
from tests.support import poll_cases

COMMUNITY = ("铁西区", "北沟街道", "英雄社区")

# A compound made for counting (areas in m²). Owners, set up in `Town`:
#   甲 owns 1栋 1单元 101, 102 and 201 (one owner of three homes: 240.00 m², one vote)
#   乙 and 丙 co-own 1栋 2单元 101 (one vote, 90.00 m²)
#   丁 and 戊 co-own 1栋 2单元 102, and 丁 alone owns 2栋 1单元 101 (one owner: 120.00 m²)
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
TOTAL_OWNERS = 8  # 甲, 乙丙, 丁戊, developer, 202, 301, 辛, 2栋 2单元 102


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


def voters(session: Session, poll_id: int) -> dict[int, str]:
    """person id -> owner unit, for those who may vote."""
    return dict(
        session.exec(select(PollVoter.person_id, PollVoter.unit).where(PollVoter.poll_id == poll_id)).all()
    )


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
        # 丁 co-owns 1栋 2单元 102 with 戊 and alone owns 2栋 1单元 101: all one unit.
        assert unit[h["1栋/2单元/102"]] == unit[h["2栋/1单元/101"]]
        assert polls.unit_area(session, poll_id, unit[h["2栋/1单元/101"]]) == 12000
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
        # Who may vote: verified owners only; co-owners share their unit.
        vote_units = voters(session, poll_id)
        assert set(vote_units) == {p[n] for n in ("甲", "乙", "丙", "丁", "戊", "辛")}
        assert vote_units[p["乙"]] == vote_units[p["丙"]] == unit[h["1栋/2单元/101"]]
        assert vote_units[p["丁"]] == vote_units[p["戊"]] == unit[h["2栋/1单元/101"]]
        assert vote_units[p["甲"]] == unit[h["1栋/1单元/201"]]
        assert len(set(vote_units.values())) == 4


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
    town.vote(poll_id, "戊", "yes", at)  # 120.00 m², for 丁 and 戊
    town.vote(poll_id, "辛", "abstain", at)  # 88.88 m²
    for name in ("丙", "丁"):  # their co-owner already voted for the home
        with pytest.raises(polls.PollError) as info:
            town.vote(poll_id, name, "no", at)
        assert info.value.reason == "home_voted"
    with pytest.raises(polls.PollError) as info:
        town.vote(poll_id, "甲", "no", at)
    assert info.value.reason == "voted"

    # By hand: 4 of 8 owners took part with 538.88 of 965.18 m² — short of two thirds on both counts.
    participating_area = 24000 + 9000 + 12000 + 8888
    with town.session() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        result = polls.count(session, poll, town.app.settings.seal_key)
    assert (result.total_area, result.total_owners) == (96518, 8)
    assert (result.participating_area, result.participating_owners, result.ballots) == (53888, 4, 4)
    assert result.area_turnout == Fraction(53888, 96518) and result.owner_turnout == Fraction(1, 2)
    assert (result.quorum_area_met, result.quorum_owners_met, result.quorum) == (False, False, False)
    (yes,) = result.approvals
    assert (yes.area, yes.owners) == (36000, 2)
    assert yes.area_share == Fraction(36000, participating_area) == Fraction(1125, 1684)
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
    assert (stored["participating_area"], stored["total_area"]) == (53888, 96518)
    assert (stored["area_turnout"], stored["owner_turnout"]) == ([26944, 48259], [1, 2])
    assert (stored["quorum"], stored["quorum_area_met"], stored["quorum_owners_met"]) == (False, False, False)
    assert stored["approvals"][0]["area_share"] == [1125, 1684]
    assert stored["approvals"][0]["owner_share"] == [1, 2]
    with town.session() as session:
        notice = session.get(Notice, poll.result_notice_id)
        assert notice is not None and notice.data["poll"]["event"] == "result"
    # Formatted when shown, with two decimals: 53888 / 96518 = 55.83%; 1125/1684 = 66.805…%, half up.
    shown = town.app.renderer.text(
        "zh_CN", "pollpush.closed_author", {"title": poll.title, "poll": notice.data["poll"]}
    )
    assert "（55.83%），业主 4 / 共 8 人（50.00%）" in shown
    assert "（占参与面积 66.81%），2 人（占参与人数 50.00%）" in shown


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


@pytest.mark.parametrize("case", QUORUM_CASES, ids=lambda c: c.name)
def test_quorum_boundary_is_two_thirds_inclusive(app: App, case: Case) -> None:
    now = app.clock.now()
    town = Town(app, now)
    rows = [
        org.HomeRow(
            i + 1, (*COMMUNITY, "边界小区", "1栋", "1单元"), f"{i + 1:03d}", org.parse_area(area, i + 1)
        )  # type: ignore[arg-type]
        for i, (_, area) in enumerate(case.homes)
    ]
    with app.sessions() as session:
        org.load_rows(session, rows, [])
        compound = org.find_node(session, "/".join((*COMMUNITY, "边界小区")))
        assert compound is not None and compound.id is not None
        town.compound_id = compound.id
        for (owner, _), row in zip(case.homes, rows, strict=True):
            home = org.find_home(session, "/".join((*COMMUNITY, "边界小区", "1栋", "1单元", row.number)))
            assert home is not None and home.id is not None
            town.homes[row.number] = home.id
            town.reside(session, owner, row.number)
        session.commit()
    poll_id = town.open()
    for owner in case.voting:
        town.vote(poll_id, owner, "yes", now + timedelta(days=16))
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        result = polls.count(session, poll, app.settings.seal_key)
    total = sum(org.parse_area(a, 1) for _, a in case.homes)
    assert result.total_area == total and result.total_owners == len({o for o, _ in case.homes})
    assert (result.area_turnout, result.owner_turnout) == (case.area_turnout, case.owner_turnout)
    assert result.quorum is case.quorum
    assert result.outcome == ("passed" if case.quorum else "no_quorum")  # everyone who voted said yes


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
    assert turnout_columns == {"poll_id", "unit", "person_id", "voted_at", "changes"}
    assert not turnout_columns & {"choice", "receipt", "seal", "ballot_id", "area_centi_m2"}
    shared = {fk["referred_table"] for fk in schema.get_foreign_keys("poll_ballot")}
    assert shared == {"poll"}

    secret = town.open()
    open_ = town.open(town.draft(secret=False, title="公开表决：更换门禁"))
    at = town.now + timedelta(days=16)
    for poll_id in (secret, open_):
        for name, choice in (("甲", "yes"), ("丙", "no"), ("丁", "abstain")):
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
        vote_units = voters(session, open_)
        open_ballots = session.exec(select(PollBallot).where(PollBallot.poll_id == open_)).all()
        assert {(b.unit, b.choice) for b in open_ballots} == {
            (vote_units[town.person["甲"]], "yes"),
            (vote_units[town.person["丙"]], "no"),
            (vote_units[town.person["丁"]], "abstain"),
        }
        # The turnout says who voted, not what: its rows match the voters' units and nothing else.
        turnout = session.exec(select(PollTurnout.unit).where(PollTurnout.poll_id == secret)).all()
        assert set(turnout) == {vote_units[town.person[n]] for n in ("甲", "丙", "丁")}
