"""Secret ballots stay unreadable in the database and unlinkable after the close; poll notices reach all.

A ballot row is written in the voter's own transaction, so its choice is encrypted under a key kept
outside the database; the close rewrites every ballot in random order with new ids and ciphertexts.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.bootstrap import App, build
from bot.clock import FixedClock
from bot.settings import load_settings
from core.actions import Vote
from core.notify.notices import NOTICE
from db import notices, polls
from db.models import InboundLog, Notice, Outbox, Poll, PollBallot, WebMessage
from db.polls import ballots
from handlers.types import Inbound
from tests.conftest import TEST_KEYS, make_app
from tests.support import poll_cases
from tests.test_poll_schedule import advance, announce, join, vote


def _ballots(app: App, poll_id: int) -> list[PollBallot]:
    with app.sessions() as session:
        return list(session.exec(select(PollBallot).where(PollBallot.poll_id == poll_id)).all())


def _open(app: App, clock: FixedClock, **kw: object) -> int:
    poll_id = announce(app, None, timedelta(days=15), timedelta(days=7), **kw)
    clock.advance(days=15)
    assert advance(app)["opened"] == 1
    return poll_id


def test_choices_are_unreadable_while_open_and_rewritten_at_the_close(app: App, clock: FixedClock) -> None:
    owner, neighbour = join(app, "o1", "DEMO-OWNER"), join(app, "o2", "DEMO-OWNER2")
    poll_id = _open(app, clock, changeable=True)
    vote(app, poll_id, owner, "yes")
    vote(app, poll_id, neighbour, "no")
    while_open = _ballots(app, poll_id)
    assert len(while_open) == 2
    assert not {b.choice for b in while_open} & {"yes", "no", "abstain"}  # encrypted in the table
    assert all(b.unit is None for b in while_open)

    clock.advance(days=7)
    assert advance(app)["closed"] == 1
    after = _ballots(app, poll_id)
    assert not {b.choice for b in after} & {"yes", "no"}  # still unreadable without the application's key
    assert not {b.choice for b in after} & {b.choice for b in while_open}  # fresh ciphertexts
    assert sorted(polls.read_choice(app.settings.seal_key, b.choice) for b in after) == ["no", "yes"]
    assert {b.receipt for b in after} == {b.receipt for b in while_open}  # every receipt still checks
    assert not {b.id for b in after} & {b.id for b in while_open}  # new rows, new ids ...
    assert not {b.seal for b in after} & {b.seal for b in while_open}  # ... and no seal to find them by
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None and poll.result["outcome"] in ("passed", "failed", "no_quorum")
        assert poll.digest == polls.digest([b.receipt for b in after])


def test_an_open_poll_keeps_choices_readable_and_names_the_unit(app: App, clock: FixedClock) -> None:
    owner = join(app, "o1", "DEMO-OWNER")
    poll_id = _open(app, clock, secret=False)
    vote(app, poll_id, owner, "abstain")
    [ballot] = _ballots(app, poll_id)
    assert ballot.choice == "abstain" and ballot.unit is not None


def test_a_changed_ballot_key_refuses_a_change_clearly(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    first = make_app(sqlite_url, tmp_path, clock)
    owner = join(first, "o1", "DEMO-OWNER")
    poll_id = _open(first, clock, changeable=True)
    vote(first, poll_id, owner, "yes")
    first.engine.dispose()
    rekeying = {**TEST_KEYS, "BALLOT_KEY": "another-ballot-key-0123456789abcdef"}
    settings = load_settings(LINLI_VAR_DIR=tmp_path / "var", DATABASE_URL=sqlite_url, **rekeying)
    rekeyed = build(settings, clock=clock)
    with rekeyed.sessions() as session, pytest.raises(polls.PollError) as refused:
        ballots.vote(session, poll_id, owner, "no", clock.now(), rekeyed.settings.seal_key)
    assert refused.value.reason == "seal_lost"
    text = rekeyed.renderer.text(
        "zh_CN", "polls.refused", {"reason": "seal_lost", "title": "", "consultative": False, "voted_at": ""}
    )
    assert "密钥" in text and "仍然有效" in text
    rekeyed.engine.dispose()


def test_owners_who_muted_meeting_notices_still_get_the_poll_notices(app: App, clock: FixedClock) -> None:
    owner = join(app, "o1", "DEMO-OWNER")
    with app.sessions() as session:
        notices.mute(session, owner, "meeting")
        session.commit()
    poll_id = _open(app, clock)
    clock.advance(days=7)
    assert advance(app)["closed"] == 1
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        reached = set(
            session.exec(
                select(Outbox.notice_id).where(Outbox.person_id == owner, Outbox.template == NOTICE)
            ).all()
        )
    assert {poll.announce_notice_id, poll.result_notice_id} <= reached


def test_withdrawing_a_poll_marks_its_announcement(app: App, clock: FixedClock) -> None:
    staff = join(app, "s1", "DEMO-STAFF")
    join(app, "o1", "DEMO-OWNER")
    poll_id = announce(app, staff, timedelta(days=15), timedelta(days=7))
    with app.sessions() as session:
        poll_cases.withdraw(session, poll_id, staff, clock.now(), app.policy)
        session.commit()
        poll = session.get(Poll, poll_id)
        assert poll is not None and poll.state == "cancelled" and poll.next_due_at is None
        notice = session.get(Notice, poll.announce_notice_id)
        assert notice is not None and notice.data["poll"]["cancelled"] is True
    clock.advance(days=15)
    assert not advance(app)  # nothing opens
    with app.sessions() as session:
        shown = app.renderer.text("zh_CN", "notices.view", {**notices_view_context(session, poll_id)})
    assert "已撤销" in shown
    with app.sessions() as session:
        withdrawn = session.exec(
            select(Notice).where(Notice.id != poll.announce_notice_id, Notice.title == poll.title)
        ).one()  # everyone who had the announcement is told
    assert withdrawn.data["poll"]["cancelled"] is True and withdrawn.audience_size == 1


def notices_view_context(session: object, poll_id: int) -> dict[str, object]:
    """The context the notice view renders for a poll's announcement."""
    poll = session.get(Poll, poll_id)  # type: ignore[attr-defined]
    notice = session.get(Notice, poll.announce_notice_id)  # type: ignore[attr-defined]
    return {
        "title": notice.title,
        "body": notice.body,
        "kind": notice.kind,
        "date": notice.send_at.isoformat(),
        "urgent": False,
        "ack": False,
        "acked": False,
        "publicity_until": "",
        **notice.data,
    }


def test_the_published_receipts_hash_to_the_digest(app: App, clock: FixedClock) -> None:
    from fastapi.testclient import TestClient

    from bot.web import create_web_app

    owner = join(app, "o1", "DEMO-OWNER")
    poll_id = _open(app, clock)
    with app.sessions() as session:
        cast = ballots.vote(session, poll_id, owner, "no", clock.now(), app.settings.seal_key)
        session.commit()
    client = TestClient(create_web_app(app))
    assert client.get(f"/polls/{poll_id}/receipts.txt").status_code == 404  # published at the close
    clock.advance(days=7)
    assert advance(app)["closed"] == 1
    published = client.get(f"/polls/{poll_id}/receipts.txt")
    assert published.status_code == 200
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
    assert hashlib.sha256(published.content).hexdigest() == poll.digest  # what `sha256sum` prints
    assert polls.receipt_hash(poll_id, "no", cast.code) in published.text.splitlines()
    assert client.get("/polls/99999999999/receipts.txt").status_code == 404
    client.close()


def test_a_stored_button_press_drops_the_message_it_sat_on() -> None:
    from bot.channels.telegram import kept_payload

    receipt = {
        "message_id": 7,
        "chat": {"id": 1, "type": "private"},
        "date": 1,
        "text": "回执码：ABCD-EFGH-JKMN",
    }
    check = Vote("r", poll=1).encode()
    press = {"update_id": 5, "callback_query": {"id": "q", "data": check, "message": receipt}}
    kept = kept_payload(press)
    assert "ABCD" not in str(kept) and kept["callback_query"]["message"]["message_id"] == 7
    assert kept_payload({"update_id": 6, "message": {"text": "hi"}}) == {
        "update_id": 6,
        "message": {"text": "hi"},
    }


def test_a_vote_press_that_fails_keeps_neither_the_choice_nor_its_label(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should a vote's turn fail (a database error, a bug), the apology is kept, not what was pressed."""
    import dataclasses

    from core import actions
    from handlers import router
    from tests.test_webchat import Browser

    def broken(*_: object) -> list[object]:
        raise RuntimeError("the database went away")

    phone = Browser(app)
    phone.say("/start DEMO-OWNER")
    voting = dataclasses.replace(router.PRESSES[actions.Vote], on_press=broken)
    monkeypatch.setitem(router.PRESSES, actions.Vote, voting)
    yes = actions.Vote("c", poll=1, choice="yes").encode()
    answer = phone.post({"id": "vote-1", "button": yes, "label": "同意（赞成）"})
    assert answer.status_code == 200 and "出了点问题" in answer.text
    with app.sessions() as session:
        kept = [str(m.body) for m in session.exec(select(WebMessage)).all()]
    assert not any("同意" in body for body in kept) and any("🔒" in body for body in kept)
    # Telegram stores the update before the turn: a failed turn empties it as a successful one would.
    press = {"update_id": 77, "callback_query": {"id": "q", "data": yes, "from": {"id": 5}}}
    app.service.store("telegram", "77", press)
    app.service.handle(Inbound("telegram", "5", "5", "77", button=yes))
    with app.sessions() as session:
        stored = session.exec(select(InboundLog).where(InboundLog.update_id == "77")).one()
    assert stored.payload == {} and stored.processed_at is not None
