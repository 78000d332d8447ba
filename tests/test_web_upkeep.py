"""Upkeep rules: stored photos no row refers to are deleted, people who never joined are forgotten."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from bot.runner import upkeep
from db.files import delete_orphaned_files
from db.models import Attachment, Conversation, Identity, Notice, Outbox, Person, Ticket, WebMessage
from db.unjoined import forget_unjoined
from tests.support.chat import ChatUser
from tests.test_webchat import Browser, count


def photo_name(ext: str = "jpg") -> str:
    """A name shaped like the web chat's stored photos."""
    return f"{secrets.token_urlsafe(24)}.{ext}"


def put_file(folder: Path, name: str, age: timedelta, clock: FixedClock) -> Path:
    """A file in the photo folder last changed `age` before the clock's now."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"photo")
    moment = (clock.now() - age).timestamp()
    os.utime(path, (moment, moment))
    return path


def person_of(app: App, user_ref: str) -> int:
    with app.sessions() as session:
        return session.exec(select(Identity.person_id).where(Identity.external_id == user_ref)).one()


def test_only_old_files_that_no_row_mentions_are_deleted(any_app: App, clock: FixedClock) -> None:
    app, folder, old = any_app, any_app.settings.files_dir, timedelta(days=3)
    owner = ChatUser(app.service, "owner-1")
    owner.say("/start DEMO-OWNER")
    owner.report("噪音扰民", "楼上每天半夜拖椅子")
    drafting = ChatUser(app.service, "owner-2")
    drafting.say("/start DEMO-OWNER2")
    drafting.say("/report")
    drafting.press("公共设施损坏")
    drafting.say("路灯不亮")
    names = {kind: photo_name() for kind in ("web", "ticket", "notice", "draft", "outbox", "lost", "young")}
    for name in names.values():
        put_file(folder, name, timedelta(hours=1) if name == names["young"] else old, clock)
    notes = put_file(folder, "notes.txt", old, clock)
    drafting.photo(names["draft"])  # held by a report still being written (the conversation's draft)
    assert "照片：1 张" in drafting.text
    owner_id = person_of(app, "owner-1")
    with app.sessions() as session:
        ticket = session.exec(select(Ticket)).one()
        identity = session.exec(select(Identity).where(Identity.external_id == "owner-1")).one()
        shown = {"photos": [names["web"]]}
        session.add(WebMessage(identity_id=identity.id, outgoing=False, body=shown, created_at=clock.now()))
        session.add(Attachment(ticket_id=ticket.id, kind="photo", channel="web", ref=names["ticket"]))
        session.add(
            Notice(
                kind="outage",
                title="停水",
                body="明天停水",
                attachment_kind="photo",
                attachment_channel="web",
                attachment_ref=names["notice"],
                node_id=ticket.compound_id,
                send_at=clock.now(),
                created_at=clock.now(),
            )
        )
        session.add(
            Outbox(
                person_id=owner_id,
                template="tasks.card",
                context={"_photos": [["web", names["outbox"]]]},
                created_at=clock.now(),
            )
        )
        session.commit()

    with app.sessions() as session:
        assert delete_orphaned_files(session, folder, clock.now() - timedelta(days=1)) == 1
    left = {path.name for path in folder.iterdir()}
    assert names["lost"] not in left  # old, and no row mentions it
    assert left == {notes.name} | {name for kind, name in names.items() if kind != "lost"}


def test_people_who_never_joined_are_forgotten_after_a_week_of_silence(
    any_app: App, clock: FixedClock
) -> None:
    app = any_app
    visitor = Browser(app)  # opened the page, began choosing an address, went away
    visitor.say("/start")
    visitor.say("你好")
    resident = Browser(app)
    resident.say("/start DEMO-OWNER")
    waiting = ChatUser(app.service, "tg-5", channel="telegram")  # has something still to be sent
    waiting.say("/help")
    with app.sessions() as session:
        session.add(Outbox(person_id=person_of(app, "tg-5"), template="common.error", created_at=clock.now()))
        session.commit()
    clock.advance(days=8)
    recent = ChatUser(app.service, "web-recent")
    recent.say("你好")
    people, messages = count(app, Person), count(app, WebMessage)

    with app.sessions() as session:
        assert forget_unjoined(session, clock.now() - timedelta(days=7)) == 1
        session.commit()
    assert count(app, Person) == people - 1
    assert count(app, WebMessage) == messages - 4  # the visitor's two messages and the two answers
    with app.sessions() as session:
        refs = set(session.exec(select(Identity.external_id)).all())
        assert {"tg-5", "web-recent"} <= refs and len(refs) == 3
        conversations = session.exec(select(Conversation.person_id)).all()
        assert all(session.get(Person, person_id) for person_id in conversations)
    # The resident is untouched; the visitor who comes back simply starts afresh.
    assert "绑定成功" in resident.client.get("/chat/api/messages").json()["messages"][1]["text"]
    assert visitor.client.get("/chat/api/messages").json() == {"messages": []}
    assert [m["outgoing"] for m in visitor.say("/start")] == [False, True]  # a new conversation


def test_the_upkeep_job_forgets_and_cleans_in_one_pass(app: App, clock: FixedClock) -> None:
    ChatUser(app.service, "web-gone").say("你好")
    orphan = put_file(app.settings.files_dir, photo_name("png"), timedelta(days=2), clock)
    clock.advance(days=app.settings.forget_unjoined_days, minutes=1)
    assert upkeep(app) == (1, 1)
    assert not orphan.exists()
    assert upkeep(app) == (0, 0)


def test_recorded_voices_nobody_mentions_are_cleaned_up_like_photos(app: App, clock: FixedClock) -> None:
    folder, old = app.settings.files_dir, timedelta(days=3)
    owner = ChatUser(app.service, "owner-1")
    owner.say("/start DEMO-OWNER")
    kept, discarded = photo_name("webm"), photo_name("webm")
    for name in (kept, discarded):
        put_file(folder, name, old, clock)
    owner.say("/report")
    owner.press("公共设施损坏")
    owner.voice(kept, 6)  # described by voice, then filed: the ticket holds the recording
    owner.press("提交")
    with app.sessions() as session:
        assert delete_orphaned_files(session, folder, clock.now() - timedelta(days=1)) == 1
    assert {p.name for p in folder.iterdir()} == {kept}  # the recording of a discarded draft is gone
