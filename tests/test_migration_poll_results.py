"""Migration 0006: results of closed polls stored ready to render (percentages as text, candidates by
name) become numbers, in the poll, its result notice and the pushes queued with them; they read exactly
as before, and the migration steps down and up again without loss."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from alembic import command
from sqlalchemy import text
from sqlmodel import Session, select

from bot.render import Renderer
from db.engine import make_engine
from db.migrate import alembic_config
from db.models import Notice, Outbox, Poll
from db.polls.counting import facts
from db.tally import Ballot, Home, tally

OPENS, CLOSES = datetime(2026, 12, 6, 1, 0, tzinfo=UTC), datetime(2026, 12, 20, 1, 0, tzinfo=UTC)
TERMS = {
    "event": "result",
    "seats": 0,
    "secret": True,
    "changeable": False,
    "shortened_reason": "",
    "opens_at": OPENS.isoformat(),
    "closes_at": CLOSES.isoformat(),
}


def _approval(
    option: str,
    name: str,
    area: int,
    owners: int,
    shares: tuple[str, str],
    pcts: tuple[str, str],
    passed: bool,
) -> dict[str, Any]:
    return {
        "option": option,
        "name": name,
        "area": area,
        "owners": owners,
        "area_share": shares[0],
        "owner_share": shares[1],
        "area_pct": pcts[0],
        "owner_pct": pcts[1],
        "passed": passed,
    }


# As release 0005 stored them: an election with a run-off, and a special matter that failed at 50.00 %.
ELECTION: dict[str, Any] = {
    **TERMS,
    "id": 7,
    "matter": 3,
    "special": False,
    "kind": "election",
    "candidates": ["张伟", "王秀英", "李娜", "赵强"],
    "seats": 2,
    "consultative": True,
    "shortened_reason": "任期已满",
    "outcome": "passed",
    "total_area": 57777,
    "total_owners": 6,
    "participating_area": 50000,
    "participating_owners": 5,
    "area_turnout": "50000/57777",
    "owner_turnout": "5/6",
    "area_turnout_pct": "86.54%",
    "owner_turnout_pct": "83.33%",
    "quorum": True,
    "approval_threshold": "1/2",
    "approval_inclusive": False,
    "approvals": [
        _approval("1", "张伟", 40000, 4, ("4/5", "4/5"), ("80.00%", "80.00%"), True),
        _approval("2", "王秀英", 30000, 3, ("3/5", "3/5"), ("60.00%", "60.00%"), True),
        _approval("3", "李娜", 30000, 3, ("3/5", "3/5"), ("60.00%", "60.00%"), True),
        _approval("4", "赵强", 0, 0, ("0/1", "0/1"), ("0.00%", "0.00%"), False),
    ],
    "no_area": 0,
    "no_owners": 0,
    "abstain_area": 0,
    "abstain_owners": 0,
    "elected": ["张伟"],
    "runoff": ["王秀英", "李娜"],
    "runoff_seats": 1,
    "ballots": 5,
    "digest": "ab" * 32,
}
DECISION: dict[str, Any] = {
    **TERMS,
    "id": 8,
    "matter": 8,
    "special": True,
    "kind": "decision",
    "candidates": [],
    "consultative": False,
    "outcome": "failed",
    "total_area": 30001,
    "total_owners": 3,
    "participating_area": 20001,
    "participating_owners": 2,
    "area_turnout": "20001/30001",
    "owner_turnout": "2/3",
    "area_turnout_pct": "66.67%",
    "owner_turnout_pct": "66.67%",
    "quorum": True,
    "approval_threshold": "3/4",
    "approval_inclusive": True,
    "approvals": [_approval("yes", "", 10001, 1, ("10001/20001", "1/2"), ("50.00%", "50.00%"), False)],
    "no_area": 10000,
    "no_owners": 1,
    "abstain_area": 0,
    "abstain_owners": 0,
    "elected": [],
    "runoff": [],
    "runoff_seats": 0,
    "ballots": 2,
    "digest": "cd" * 32,
}
TERM_KEYS = ("id", "event", "matter", "special", "kind", "candidates", "seats", "secret", "changeable")
TERM_KEYS += ("consultative", "shortened_reason", "opens_at", "closes_at")


def _counted() -> dict[int, dict[str, Any]]:
    """The same two results as this release counts and keeps them (numbers only)."""
    homes = [Home(f"h{i}", 10000, f"o{i}") for i in range(1, 6)] + [Home("h6", 7777, "o6")]
    picks = ({"1", "2"}, {"1", "3"}, {"1", "2"}, {"1", "3"}, {"2", "3"})
    ballots = [Ballot(f"h{i}", frozenset(p)) for i, p in enumerate(picks, 1)]
    election = tally(homes, ballots, 3, ("1", "2", "3", "4"), 2)
    decision = tally(
        [Home("a", 10001, "a"), Home("b", 10000, "b"), Home("c", 10000, "c")],
        [Ballot("a", "yes"), Ballot("b", "no")],
        8,
    )
    return {7: facts(election, "ab" * 32), 8: facts(decision, "cd" * 32)}


def _store(session: Session) -> None:
    """Two closed polls as release 0005 left them, with their result notices and queued pushes."""
    now = datetime(2026, 12, 20, 1, 0, tzinfo=UTC)
    # The org node and the person as release 0005's tables hold them: only the columns they had then.
    session.execute(text("INSERT INTO org_node (kind, name, path) VALUES ('compound', '议事小区', '')"))
    compound_id = session.execute(text("SELECT id FROM org_node WHERE name = '议事小区'")).scalar_one()
    session.execute(
        text(
            "INSERT INTO person (name, phone, locale, off_duty, created_at)"
            " VALUES ('周主任', '', 'zh_CN', :f, :now)"
        ),
        {"f": False, "now": now},
    )
    author_id = session.execute(text("SELECT id FROM person WHERE name = '周主任'")).scalar_one()
    for old in (ELECTION, DECISION):
        notice = Notice(
            kind="meeting",
            title="表决",
            body="说明",
            node_id=compound_id,
            send_at=now,
            created_at=now,
            data={"poll": old},
        )
        session.add(notice)
        session.flush()
        session.add(
            Poll(
                id=old["id"],
                node_id=compound_id,
                title="表决",
                body="说明",
                matter=old["matter"],
                kind=old["kind"],
                candidates=old["candidates"],
                seats=old["seats"],
                consultative=old["consultative"],
                shortened_reason=old["shortened_reason"],
                created_at=now,
                opens_at=OPENS,
                closes_at=CLOSES,
                state="closed",
                closed_at=now,
                result=copy.deepcopy(old),
                digest=old["digest"],
                result_notice_id=notice.id,
            )
        )
        pushes = [("notices.notice", notice.id, {"title": "表决", "notice_id": notice.id, "poll": old})] * 2
        pushes.append(("pollpush.closed_author", None, {"poll_id": old["id"], "title": "表决", "poll": old}))
        for template, notice_id, context in pushes:
            session.add(
                Outbox(
                    person_id=author_id,
                    template=template,
                    context=copy.deepcopy(context),
                    buttons=[],
                    created_at=now,
                    notice_id=notice_id,
                )
            )
    session.commit()


def _read(session: Session) -> tuple[dict[int, Any], list[Any], list[Any]]:
    polls = {p.id: p.result for p in session.exec(select(Poll)).all()}
    shown = [n.data["poll"] for n in session.exec(select(Notice).order_by(Notice.id)).all()]  # type: ignore[arg-type]
    queued = [o.context["poll"] for o in session.exec(select(Outbox).order_by(Outbox.id)).all()]  # type: ignore[arg-type]
    return polls, shown, queued  # type: ignore[return-value]


def test_stored_results_become_numbers_and_read_as_before(db_url: str) -> None:
    config = alembic_config(db_url)
    command.downgrade(config, "0005")
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            _store(session)
        command.upgrade(config, "head")
        counted = _counted()
        with Session(engine) as session:
            polls, shown, queued = _read(session)
        # What this release would have stored at the close, and published with the poll's terms.
        assert polls == counted
        old_of = {7: ELECTION, 8: DECISION}
        published = {
            i: {**{k: old_of[i][k] for k in TERM_KEYS}, "event": "result", **counted[i]} for i in (7, 8)
        }
        assert shown == [published[7], published[8]]
        assert queued == [published[7]] * 3 + [published[8]] * 3

        # Shown in both languages with the same numbers and names as before.
        renderer = Renderer(ZoneInfo("Asia/Shanghai"))
        zh = renderer.text("zh_CN", "pollpush.closed_author", {"title": "表决", "poll": published[7]})
        assert "参与表决：专有部分面积 500.00 ㎡ / 共 577.77 ㎡（86.54%），业主 5 / 共 6 人（83.33%）" in zh
        assert "1. 张伟：400.00 ㎡（80.00%），4 人（80.00%）　✅ 达到通过标准" in zh
        assert "4. 赵强：0.00 ㎡（0.00%），0 人（0.00%）　未达到通过标准" in zh
        assert "当选：张伟\n需另行选举：王秀英、李娜 得票相同，争夺剩余 1 个名额。" in zh
        en = renderer.text("en", "pollpush.closed_author", {"title": "表决", "poll": published[7]})
        assert "Elected: 张伟\nRun-off: 王秀英, 李娜 tied for the 1 remaining seat." in en
        zh = renderer.text("zh_CN", "pollpush.closed_author", {"title": "表决", "poll": published[8]})
        assert "（66.67%），业主 2 / 共 3 人（66.67%）" in zh
        assert "同意：面积 100.01 ㎡（占参与面积 50.00%），1 人（占参与人数 50.00%）" in zh

        # And back: release 0005's form again, exactly.
        command.downgrade(config, "0005")
        with Session(engine) as session:
            polls, shown, queued = _read(session)
        assert polls == {7: ELECTION, 8: DECISION}
        assert shown == [ELECTION, DECISION]
        assert queued == [ELECTION] * 3 + [DECISION] * 3
        command.upgrade(config, "head")
        with Session(engine) as session:
            assert _read(session)[0] == counted
    finally:
        engine.dispose()
