"""Paper ballots' rules (DESIGN §4.8): one ballot per owner whatever the channel (including an online vote
and a paper entry racing for one home), a file taken whole or not at all, and a secret poll's sealed
ballots: registered as they come, entered at the close in one batch a second person confirms, stored with
no link to any home, and checkable with the stub's receipt code."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, inspect
from sqlmodel import Session, select

from bot.clock import FixedClock
from core import paper
from core.permissions import SYSTEM
from core.work import Work
from db.models import (
    OrgNode,
    Person,
    Poll,
    PollBallot,
    PollBatch,
    PollPaper,
    PollTurnout,
    Residency,
    RoleGrant,
)
from db.polls import ballots, counting
from db.polls.terms import PollError
from tests import test_poll_rules
from tests.support import poll_cases
from tests.test_poll_rules import Town
from tests.test_polls_flow import joined, make_app, make_poll, person_of

town = test_poll_rules.town  # the counting compound, as a fixture


def _paper(
    town: Town, home: str, choice: str = "yes", at: datetime | None = None, **kw: object
) -> paper.PaperBallot:
    values: dict[str, object] = {
        "home_id": town.homes[home],
        "choice": choice,
        "method": "door",
        "collector": "李主任",
        "collected_at": at or town.now,
        "photo_channel": "web",
        "photo_ref": "ballot-photo",
        **kw,
    }
    return paper.PaperBallot(**values)  # type: ignore[arg-type]


def _community_staff(town: Town, name: str) -> int:
    """A community worker over the town's community: they may enter paper ballots there."""
    with town.session() as session:
        compound = session.get(OrgNode, town.compound_id)
        assert compound is not None and compound.parent_id is not None
        person = Person(name=name, created_at=town.now)
        session.add(person)
        session.flush()
        assert person.id is not None
        session.add(RoleGrant(person_id=person.id, role="community_staff", node_id=compound.parent_id))
        session.commit()
        return person.id


def _enter(town: Town, poll_id: int, ballot: paper.PaperBallot, now: datetime) -> paper.Entered:
    with town.session() as session:
        work = Work(session, now, town.app.policy)
        entered = paper.enter_paper(work, SYSTEM, poll_id, ballot)
        session.commit()
    return entered


def _poll(session: Session, poll_id: int) -> Poll:
    poll = session.get(Poll, poll_id)
    assert poll is not None
    return poll


def test_a_paper_ballot_counts_and_takes_the_owners_one_vote(town: Town) -> None:
    poll_id = town.open(town.draft(secret=False))
    with town.session() as session:
        opens_at = _poll(session, poll_id).opens_at
    at = opens_at + timedelta(hours=2)
    # 辛 is on the platform, 2栋 1单元 202's owner is not: both vote on paper, door to door.
    _enter(town, poll_id, _paper(town, "2栋/2单元/101", "no", at), at)
    _enter(town, poll_id, _paper(town, "2栋/1单元/202", "yes", at), at)
    with town.session() as session, pytest.raises(PollError) as refused:
        ballots.vote(session, poll_id, town.person["辛"], "yes", at, town.app.settings.seal_key)
    assert refused.value.reason == "home_voted"  # 辛 cannot vote again online
    town.vote(poll_id, "甲", "yes", at)
    # 甲's other home is the same owner: a paper ballot for it is refused, and says which ballot stands.
    with pytest.raises(paper.BallotTaken) as taken:
        _enter(town, poll_id, _paper(town, "1栋/1单元/102", "no", at), at)
    assert taken.value.existing == paper.Existing("online", at)
    with town.session() as session:
        assert counting.channels(session, poll_id) == {"online": 1, "paper": 2, "proxy": 0}
    poll = town.close(poll_id)
    # 甲 240 m² yes, 202 75.50 m² yes, 辛 88.88 m² no: three owners took part.
    assert (poll.result["participating_owners"], poll.result["participating_area"]) == (
        3,
        24000 + 7550 + 8888,
    )
    assert poll.result["approvals"][0]["area"] == 24000 + 7550


def test_paper_entries_are_checked_before_anything_is_taken(town: Town) -> None:
    poll_id = town.open(town.draft(secret=False))
    with town.session() as session:
        opens_at = _poll(session, poll_id).opens_at
    at = opens_at + timedelta(hours=1)
    cases = {
        "method": _paper(town, "2栋/1单元/202", at=at, method="mail"),
        "collector": _paper(town, "2栋/1单元/202", at=at, collector="   "),
        "collected_at": _paper(town, "2栋/1单元/202", at=at + timedelta(minutes=5)),  # in the future
        "photo": _paper(
            town, "2栋/1单元/202", at=at, photo_ref=""
        ),  # an open count rests on the signed paper
        "choice": _paper(town, "2栋/1单元/202", at=at, choice="maybe"),
    }
    for reason, ballot in cases.items():
        with pytest.raises(PollError) as refused:
            _enter(town, poll_id, ballot, at)
        assert refused.value.reason == reason
    with pytest.raises(PollError) as early:
        _enter(
            town,
            poll_id,
            _paper(town, "2栋/1单元/202", at=opens_at - timedelta(hours=1)),
            opens_at - timedelta(hours=1),
        )
    assert early.value.reason == "not_open"
    with town.session() as session:
        assert session.exec(select(func.count()).select_from(PollTurnout)).one() == 0


CSV_HEADER = "building,entrance,number,choice,method,collector,collected_at,photo\n"


def test_a_ballot_file_is_taken_whole_or_names_every_bad_line(town: Town) -> None:
    poll_id = town.open(town.draft(secret=False))
    with town.session() as session:
        opens_at = _poll(session, poll_id).opens_at
    at = opens_at + timedelta(days=1)
    stamp = (opens_at + timedelta(hours=3)).astimezone(town.app.policy.zone).strftime("%Y-%m-%d %H:%M")
    town.vote(poll_id, "辛", "yes", at - timedelta(hours=1))
    bad = (
        CSV_HEADER
        + f"2栋,1单元,202,同意,扫楼,李主任,{stamp},a.jpg\n"  # 2: good
        + f"9栋,1单元,101,同意,扫楼,李主任,{stamp},b.jpg\n"  # 3: no such home
        + f"2栋,1单元,301,也许,现场,李主任,{stamp},c.jpg\n"  # 4: not a choice
        + "1栋,2单元,101,反对,投票箱,李主任,yesterday,d.jpg\n"  # 5: not a time
        + f"2栋,2单元,101,反对,扫楼,李主任,{stamp},e.jpg\n"  # 6: 辛 voted online
        + f"2栋,1单元,202,反对,扫楼,王委员,{stamp},f.jpg\n"  # 7: 202 again (line 2 took it)
    )
    with town.session() as session:
        work = Work(session, at, town.app.policy)
        with pytest.raises(paper.PaperFileError) as first:
            paper.enter_file(work, SYSTEM, poll_id, bad)
    assert [(p.line, p.reason) for p in first.value.problems] == [
        (3, "home"),
        (4, "choice"),
        (5, "collected_at"),
    ]
    fixed = "\n".join(line for n, line in enumerate(bad.splitlines(), 1) if n not in (3, 4, 5)) + "\n"
    with town.session() as session:
        work = Work(session, at, town.app.policy)
        with pytest.raises(paper.PaperFileError) as second:
            paper.enter_file(work, SYSTEM, poll_id, fixed)
    assert [(p.line, p.reason) for p in second.value.problems] == [(3, "home_voted"), (4, "twice")]
    with town.session() as session:
        assert session.exec(select(func.count()).select_from(PollPaper)).one() == 0  # nothing was taken
    good = (
        "\ufeff"
        + CSV_HEADER
        + f"2栋,1单元,202,同意,扫楼,李主任,{stamp},a.jpg\n1栋,2单元,101,反对,现场,王委员,{stamp},g.jpg\n"
    )
    with town.session() as session:
        work = Work(session, at, town.app.policy)
        entered = paper.enter_file(work, SYSTEM, poll_id, good)
        session.commit()
    assert {e.home_id for e in entered} == {town.homes["2栋/1单元/202"], town.homes["1栋/2单元/101"]}
    with town.session() as session:
        assert counting.channels(session, poll_id) == {"online": 1, "paper": 2, "proxy": 0}
        row = session.get(PollPaper, (poll_id, f"u{town.homes['1栋/2单元/101']}"))
        assert row is not None and (row.method, row.collector, row.source) == ("meeting", "王委员", "file")


def _secret_town_poll(town: Town) -> tuple[int, datetime, datetime]:
    poll_id = town.open(town.draft(secret=True))
    with town.session() as session:
        poll = _poll(session, poll_id)
        return poll_id, poll.opens_at, poll.closes_at


def test_sealed_ballots_are_counted_after_a_second_person_confirms_their_batch(town: Town) -> None:
    poll_id, opens_at, closes_at = _secret_town_poll(town)
    at = opens_at + timedelta(days=1)
    with town.session() as session:
        codes = paper.issue_stubs(Work(session, at, town.app.policy), SYSTEM, poll_id, 5)
        session.commit()
    assert len(set(codes)) == 5
    with pytest.raises(PollError) as shown:
        _enter(town, poll_id, _paper(town, "2栋/1单元/202", "yes", at), at)
    assert shown.value.reason == "sealed_choice"  # nobody sees a secret ballot's choice before the close
    _enter(town, poll_id, _paper(town, "2栋/1单元/202", "", at, photo_ref=""), at)  # 75.50 m²
    _enter(town, poll_id, _paper(town, "2栋/2单元/101", "", at, photo_ref=""), at)  # 辛, 88.88 m²
    town.vote(poll_id, "甲", "yes", at)
    with town.session() as session:
        assert session.exec(select(func.count()).where(PollBallot.poll_id == poll_id)).one() == 1  # 甲's only
    # The close waits for the sealed ballots, and says so once.
    with town.session() as session:
        assert (
            poll_cases.step(
                session, _poll(session, poll_id), closes_at, town.app.policy, town.app.settings.seal_key
            )
            == "awaiting"
        )
        session.commit()
    with town.session() as session:
        poll = _poll(session, poll_id)
        assert poll.state == "open" and poll.next_due_at == closes_at + timedelta(days=1)  # told again daily
    key = town.app.settings.seal_key
    after = closes_at + timedelta(hours=1)
    lee, wang = (_community_staff(town, name) for name in ("李主任", "王委员"))
    with town.session() as session:
        actor_lee, actor_wang = (poll_cases.actor_of(session, p) for p in (lee, wang))
    wrong = [paper.SealedBallot(codes[0], 7550, "no"), paper.SealedBallot(codes[1], 9000, "yes")]
    with town.session() as session, pytest.raises(paper.PaperFileError) as mismatch:
        paper.enter_batch(Work(session, after, town.app.policy), actor_lee, poll_id, wrong, key)
    assert [(p.line, p.reason) for p in mismatch.value.problems] == [
        (2, "area_unmatched"),
        (0, "area_missing"),
    ]
    forged = [paper.SealedBallot("AAAA-BBBB-CCCC", 7550, "no"), paper.SealedBallot(codes[1], 8888, "yes")]
    with town.session() as session, pytest.raises(paper.PaperFileError) as unknown:
        paper.enter_batch(Work(session, after, town.app.policy), actor_lee, poll_id, forged, key)
    assert [(p.line, p.reason) for p in unknown.value.problems] == [(1, "code_unknown")]
    right = [paper.SealedBallot(codes[0], 7550, "no"), paper.SealedBallot(codes[1], 8888, "yes")]
    with town.session() as session:
        paper.enter_batch(Work(session, after, town.app.policy), actor_lee, poll_id, right, key)
        session.commit()
    with town.session() as session, pytest.raises(PollError) as same:
        paper.confirm_batch(Work(session, after, town.app.policy), actor_lee, poll_id, key)
    assert same.value.reason == "same_person"
    with town.session() as session:
        paper.confirm_batch(Work(session, after, town.app.policy), actor_wang, poll_id, key)
        session.commit()
    with town.session() as session:
        poll = _poll(session, poll_id)
        assert poll.next_due_at == after
        assert poll_cases.step(session, poll, after, town.app.policy, key) == "closed"
        session.commit()
    with town.session() as session:
        poll = _poll(session, poll_id)
        # 甲 240 yes, 202 75.50 no, 辛 88.88 yes
        assert poll.result["participating_area"] == 24000 + 7550 + 8888
        assert poll.result["approvals"][0]["area"] == 24000 + 8888
        found = ballots.check_receipt(session, poll, codes[1])
        assert found is not None and found[0] == "yes"  # the owner checks their stub's code
        # No stored row links a home to a choice: ballots carry no unit, the register no choice, the batch
        # keeps nothing once confirmed.
        assert all(
            b.unit is None for b in session.exec(select(PollBallot).where(PollBallot.poll_id == poll_id))
        )
        batch = session.get(PollBatch, poll_id)
        assert batch is not None and batch.ballots == "" and batch.state == "confirmed"
    assert "choice" not in {c["name"] for c in inspect(town.app.engine).get_columns("poll_paper")}


# --- PostgreSQL: an online vote and a paper entry for one home at the same moment ---------------------


@pytest.mark.postgres
def test_an_online_vote_and_a_paper_entry_racing_for_one_home_cast_one_ballot(
    postgres_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    pg = make_app(postgres_url, tmp_path, clock)
    try:
        joined(pg, "pg-owner", "DEMO-OWNER")
        owner_id = person_of(pg, "pg-owner")
        for _ in range(3):
            poll_id = make_poll(pg, clock, secret=False)
            with pg.sessions() as session:
                home_id = session.exec(select(Residency.home_id).where(Residency.person_id == owner_id)).one()
            barrier = threading.Barrier(2)
            outcomes: list[str] = []

            def online(
                poll_id: int = poll_id, barrier: threading.Barrier = barrier, out: list[str] = outcomes
            ) -> None:
                with pg.sessions() as session:
                    barrier.wait()
                    try:
                        ballots.vote(session, poll_id, owner_id, "yes", clock.now(), pg.settings.seal_key)
                        session.commit()
                        out.append("online")
                    except PollError as exc:
                        session.rollback()
                        out.append(exc.reason)

            def on_paper(
                poll_id: int = poll_id,
                home_id: int = home_id,
                barrier: threading.Barrier = barrier,
                out: list[str] = outcomes,
            ) -> None:
                ballot = paper.PaperBallot(home_id, "no", "door", "李主任", clock.now(), "web", "photo")
                with pg.sessions() as session:
                    barrier.wait()
                    try:
                        paper.enter_paper(Work(session, clock.now(), pg.policy), SYSTEM, poll_id, ballot)
                        session.commit()
                        out.append("paper")
                    except PollError as exc:
                        session.rollback()
                        out.append(exc.reason)

            threads = [threading.Thread(target=online), threading.Thread(target=on_paper)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
            assert sorted(outcomes) in (["home_voted", "online"], ["home_voted", "paper"]), outcomes
            with pg.sessions() as session:
                turnout = session.exec(select(func.count()).where(PollTurnout.poll_id == poll_id)).one()
                count = session.exec(select(func.count()).where(PollBallot.poll_id == poll_id)).one()
            assert (turnout, count) == (1, 1)
    finally:
        pg.engine.dispose()


def test_an_owner_of_several_homes_writes_one_homes_area_and_a_spoiled_ballot_still_counts(
    town: Town,
) -> None:
    poll_id, opens_at, closes_at = _secret_town_poll(town)
    at = opens_at + timedelta(days=1)
    key = town.app.settings.seal_key
    with town.session() as session:
        codes = paper.issue_stubs(Work(session, at, town.app.policy), SYSTEM, poll_id, 3)
        session.commit()
    # 甲 (three homes, 240 m² in all) hands in the envelope at 102; 202 and 乙丙's home hand in theirs.
    for home in ("1栋/1单元/102", "2栋/1单元/202", "1栋/2单元/101"):
        _enter(town, poll_id, _paper(town, home, "", at, photo_ref=""), at)
    after = closes_at + timedelta(hours=1)
    lee, wang = (_community_staff(town, name) for name in ("李主任", "王委员"))
    with town.session() as session:
        actor_lee, actor_wang = (poll_cases.actor_of(session, p) for p in (lee, wang))
        typed = f"{codes[0]}, 80, 同意\n{codes[1]}，75.5，反对\n, 90, 废票\n"  # 甲 wrote his home's 80 m²
        ballots_in = paper.parse_batch(Work(session, after, town.app.policy), actor_lee, poll_id, typed)
        paper.enter_batch(Work(session, after, town.app.policy), actor_lee, poll_id, ballots_in, key)
        session.commit()
    with town.session() as session:
        lines = paper.pending_lines(Work(session, after, town.app.policy), actor_wang, poll_id, key)
        assert sorted(area for _, area, _ in lines) == [7550, 9000, 24000]  # 甲's ballot weighs his 240 m²
        assert paper.pending_lines(Work(session, after, town.app.policy), actor_lee, poll_id, key) == []
        paper.confirm_batch(Work(session, after, town.app.policy), actor_wang, poll_id, key)
        session.commit()
    with town.session() as session:
        assert poll_cases.step(session, _poll(session, poll_id), after, town.app.policy, key) == "closed"
        session.commit()
    with town.session() as session:
        result = _poll(session, poll_id).result
    assert result["participating_area"] == 24000 + 7550 + 9000 and result["participating_owners"] == 3
    assert (result["approvals"][0]["area"], result["no_area"], result["abstain_area"]) == (24000, 7550, 9000)
    assert result["channels"] == {"online": 0, "paper": 3, "proxy": 0}
