"""An owners' committee named in the organisation file: put in office with its members found among the
compound's verified owners, left alone when the file says the same again, refused with its line when a member
is not on the platform yet."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from bot.bootstrap import App
from core import notify
from core.org_import import import_org
from core.permissions import SYSTEM
from core.work import Work
from db.committee.tables import Committee, CommitteeMember
from db.org import ImportError_
from tests.support import committees as cm

DEMO_ORG = Path(__file__).resolve().parent.parent / "data" / "demo_org.yaml"
BLOCK = """\
            committee:
              starts: 2026-07-01
              ends: 2031-06-30
              filed: 2026-07-20
              members:
                - {home: 1栋/1单元/301, name: 周建国, post: 主任}
                - {home: 1栋/2单元/302, name: 吴秀英, post: 委员}
"""


def _file(block: str = BLOCK) -> bytes:
    text = DEMO_ORG.read_text(encoding="utf-8")
    return text.replace("          - name: 阳光花园\n", f"          - name: 阳光花园\n{block}", 1).encode()


def _import(app: App, data: bytes) -> int:
    with app.sessions() as session:
        work = Work(session, app.clock.now(), app.policy, via="cli")
        done = import_org(work, SYSTEM, "org.yaml", data)
        notify.publish(work)
        session.commit()
        return done.committees


def _in_office(app: App) -> list[tuple[int, str]]:
    with app.sessions() as session:
        held = session.exec(select(Committee).where(Committee.current == True)).all()  # noqa: E712
        assert len(held) <= 1
        if not held:
            return []
        assert (held[0].starts_on, held[0].ends_on, held[0].filed_on) == (
            date(2026, 7, 1),
            date(2031, 6, 30),
            date(2026, 7, 20),
        )
        rows = session.exec(
            select(CommitteeMember.person_id, CommitteeMember.post).where(
                CommitteeMember.committee_id == held[0].id
            )
        ).all()
        return sorted((p, post) for p, post in rows)


def test_the_files_committee_is_put_in_office_once(app: App) -> None:
    chair = cm.owner(app, "周建国", "1栋/1单元/301")
    member = cm.owner(app, "吴秀英", "1栋/2单元/302")
    assert _import(app, _file()) == 1
    assert _in_office(app) == sorted([(chair, "chair"), (member, "member")])
    told = cm.pushes(app, "committee.push_installed")
    assert told[chair] == 1 and told[member] == 1
    assert _import(app, _file()) == 0  # the same file again changes nothing and tells nobody again
    assert cm.pushes(app, "committee.push_installed") == told


@pytest.mark.parametrize(
    ("block", "says", "line"),
    [
        (BLOCK.replace("周建国", "周建设"), "not a verified owner", 14),
        (BLOCK.replace("1栋/1单元/301", "1栋/1单元/909"), "no home", 14),
        (BLOCK.replace("post: 委员", "post: 秘书长"), "not one of 主任", 15),
        (BLOCK.replace("ends: 2031-06-30", "ends: 2032-06-30"), "at most five years", 10),
    ],
)
def test_a_committee_that_cannot_be_set_refuses_the_whole_file(
    app: App, block: str, says: str, line: int
) -> None:
    cm.owner(app, "周建国", "1栋/1单元/301")
    cm.owner(app, "吴秀英", "1栋/2单元/302")
    with pytest.raises(ImportError_) as refused:
        _import(app, _file(block))
    assert says in refused.value.reason and refused.value.line == line, refused.value
    assert _in_office(app) == []
